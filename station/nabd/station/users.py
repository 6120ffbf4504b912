"""Station users: who may sign in, with which role, in which wards (``nabd web user add``).

A user is a row in ``station_user`` plus her own NOLOGIN database role, mapped to her wards in
``ward_viewer``: the per-ward row-level security then scopes everything she reads. Creating a
role needs the schema owner, so these functions take the owner's connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from nabd.station.errors import UserSetupError
from nabd.station.passwords import MIN_LENGTH, hash_password

__all__ = ["Language", "NewUser", "Role", "add_user", "db_role_of"]

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
                " '.', '_' or '-', starting with a letter or digit"
            )
        if not 1 <= len(self.display_name.strip()) <= 100:
            raise UserSetupError("the display name must be 1 to 100 characters")
        if not self.wards:
            raise UserSetupError("give at least one ward (--ward WARD, repeatable)")
        if len(self.password) < MIN_LENGTH:
            raise UserSetupError(f"the password must be at least {MIN_LENGTH} characters")


def add_user(owner: psycopg.Connection[Any], user: NewUser, *, by: str) -> None:
    """Create ``user`` (her role, ward mapping and row) in one transaction; audited.

    Refused, with nothing written, when the name is taken or a ward does not exist.
    """
    role = db_role_of(user.name)
    with owner.transaction():
        known = {r[0] for r in owner.execute("SELECT id FROM ward").fetchall()}
        missing = sorted(set(user.wards) - known)
        if missing:
            raise UserSetupError(
                f"unknown ward(s) {', '.join(missing)}; known: {', '.join(sorted(known)) or 'none'}"
            )
        taken = owner.execute("SELECT 1 FROM station_user WHERE name = %s", (user.name,)).fetchone()
        if taken:
            raise UserSetupError(f"user {user.name!r} already exists")
        ident = sql.Identifier(role)
        if not owner.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            owner.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(ident))
        owner.execute(sql.SQL("GRANT nabd_ward_dashboards TO {}").format(ident))
        owner.execute(sql.SQL("GRANT {} TO nabd_station").format(ident))
        for ward in user.wards:
            owner.execute(
                "INSERT INTO ward_viewer (role_name, ward_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (role, ward),
            )
        owner.execute(
            """INSERT INTO station_user (name, display_name, role, password_hash, lang,
                                         sees_identity, db_role)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (user.name, user.display_name.strip(), user.role.value,
             hash_password(user.password), user.lang.value, user.sees_identity, role),
        )  # fmt: skip
        owner.execute(
            "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s)",
            (by, "station_user_added", f"station_user:{user.name}",
             Jsonb({"role": user.role.value, "wards": list(user.wards)})),
        )  # fmt: skip
