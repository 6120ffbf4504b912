"""Station users: who may sign in, with which role, in which wards (``nabd web user add``).

A user is a row in ``station_user`` plus her own NOLOGIN database role, mapped to her wards in
``ward_viewer``: the per-ward row-level security then scopes everything she reads. Creating a
role needs the schema owner, so these functions take the owner's connection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import psycopg

from nabd.station.errors import UserSetupError
from nabd.station.passwords import check_strength, hash_password

__all__ = [
    "Language",
    "NewUser",
    "Role",
    "UserRow",
    "add_user",
    "db_role_of",
    "list_users",
    "set_user",
]

_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Role(StrEnum):
    """What a user may do; each includes the ones above it."""

    NURSE = "nurse"
    """See her wards, acknowledge, silence with a reason, record observations."""
    CHARGE_NURSE = "charge_nurse"
    """And alarm limits, NEWS2 SpO2 Scale 2."""
    ADMIN = "admin"
    """And admissions, devices, gateways, users."""


class Language(StrEnum):
    FR = "fr"
    EN = "en"
    AR = "ar"


def db_role_of(name: str) -> str:
    """The NOLOGIN role a user's reads run under (``nabd_su_<name>``)."""
    return "nabd_su_" + name.replace(".", "_").replace("-", "_")


@dataclass(frozen=True)
class NewUser:
    """A user to create, validated on construction."""

    name: str
    display_name: str
    role: Role
    wards: tuple[str, ...]
    password: str
    lang: Language = Language.FR
    sees_identity: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise UserSetupError(
                f"user name {self.name!r} is not accepted: 1-63 lower-case letters, digits,"
                " '.', '_' or '-', starting with a letter or digit",
                phrase="bad_user_name",
                name=self.name[:63],
            )
        if not 1 <= len(self.display_name.strip()) <= 100:
            raise UserSetupError("the display name must be 1 to 100 characters",
                                 phrase="bad_display_name")  # fmt: skip
        if not self.wards:
            raise UserSetupError("give at least one ward (--ward WARD, repeatable)",
                                 phrase="no_ward_given")  # fmt: skip
        check_strength(self.password, self.name)


def add_user(conn: psycopg.Connection[Any], user: NewUser, *, by: str) -> None:
    """Create ``user`` (her role, ward mapping and row) in one transaction; audited.

    ``conn`` is the owner's (``nabd web user add``) or the station's login (the admin page):
    both call ``station_add_user`` (migration 0072), which runs with the owner's rights.
    Refused, with nothing written, when the name is taken or a ward does not exist.
    """
    _call(conn, "SELECT station_add_user(%s, %s, %s, %s, %s, %s, %s, %s)",
          (user.name, user.display_name.strip(), user.role.value, hash_password(user.password),
           user.lang.value, user.sees_identity, list(user.wards), by))  # fmt: skip


def set_user(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    role: Role,
    wards: Sequence[str],
    disabled: bool,
    by: str,
) -> None:
    """Change a user's role and wards, disable her (her sessions end at once) or enable her
    again (her failed sign-ins forgotten); audited with ``by`` (``station_set_user``, 0072)."""
    if not wards:
        raise UserSetupError("give at least one ward", phrase="no_ward_given")
    _call(conn, "SELECT station_set_user(%s, %s, %s, %s, %s)",
          (name, role.value, list(dict.fromkeys(wards)), disabled, by))  # fmt: skip


def _call(conn: psycopg.Connection[Any], query: str, params: tuple[object, ...]) -> None:
    """Run one of the functions; their refusals (bad value, name taken) become sentences."""
    try:
        with conn.transaction():
            conn.execute(query, params)
    except psycopg.errors.UniqueViolation as exc:
        raise UserSetupError(exc.diag.message_primary or "the user exists already",
                             phrase="user_taken") from None  # fmt: skip
    except (psycopg.errors.InvalidParameterValue, psycopg.errors.CheckViolation) as exc:
        detail = exc.diag.message_primary or "refused by the database"
        raise UserSetupError(detail, phrase="user_refused", detail=detail) from None


@dataclass(frozen=True)
class UserRow:
    name: str
    display_name: str
    role: Role
    lang: Language
    wards: tuple[str, ...]
    disabled: bool
    locked: bool


def list_users(conn: psycopg.Connection[Any]) -> list[UserRow]:
    """Every station user with her wards (read as the station's login or the owner)."""
    rows = conn.execute(
        """SELECT u.name, u.display_name, u.role, u.lang,
                  coalesce(array_agg(v.ward_id ORDER BY v.ward_id)
                           FILTER (WHERE v.ward_id IS NOT NULL), '{}'),
                  u.disabled_at IS NOT NULL, coalesce(u.locked_until > now(), false)
           FROM station_user u LEFT JOIN ward_viewer v ON v.role_name = u.db_role
           GROUP BY u.name ORDER BY u.name"""
    ).fetchall()
    return [UserRow(str(n), str(d), Role(r), Language(lang), tuple(w), bool(off), bool(lock))
            for n, d, r, lang, w, off, lock in rows]  # fmt: skip
