"""Per-ward dashboard logins (migration 0040): create, map to wards, list, revoke.

A ward viewer is a login role in ``nabd_ward_dashboards`` with rows in ``ward_viewer``; the
database's policies then show it only its wards' patients. Passwords are generated here and
sent to the server as SCRAM verifiers computed by libpq, so the plain text reaches neither the
server nor its log; the caller shows it once to the operator.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Final

import psycopg
from psycopg import sql

GROUP: Final = "nabd_ward_dashboards"
SEARCH_PATH: Final = "nabd_ward, public"
"""The per-ward role reads the hypertables through filtered views in ``nabd_ward``."""
_LOGIN_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class WardViewerError(ValueError):
    """A request the database cannot honour: unknown ward, bad login name, unknown viewer."""


@dataclass(frozen=True)
class NewViewer:
    """A login just created: its name and its password (shown once, stored nowhere)."""

    login: str
    password: str | None = field(repr=False)
    """``None`` when the login existed already and only gained a ward."""


def default_login(ward_id: str) -> str:
    """``ward_<ward>``: one login per ward, named after it."""
    return f"ward_{ward_id}"


def _check_login(login: str) -> None:
    if not _LOGIN_RE.match(login) or login.startswith(("nabd", "pg_")):
        raise WardViewerError(
            f"login {login!r} must match {_LOGIN_RE.pattern} and not start with nabd or pg_"
        )


def add(conninfo: str, ward_id: str, login: str | None = None) -> NewViewer:
    """Map ``login`` (created with a fresh password if missing) to ``ward_id``."""
    login = login or default_login(ward_id)
    _check_login(login)
    with psycopg.connect(conninfo) as conn:
        if conn.execute("SELECT 1 FROM ward WHERE id = %s", (ward_id,)).fetchone() is None:
            raise WardViewerError(f"no ward {ward_id!r}")
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
        password = None
        role = sql.Identifier(login)
        if exists is None:
            password = secrets.token_urlsafe(24)
            verifier = conn.pgconn.encrypt_password(
                password.encode(), login.encode(), b"scram-sha-256"
            ).decode()
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
                ).format(role, sql.Literal(verifier))
            )
        elif (
            conn.execute(
                "SELECT 1 FROM ward_viewer WHERE role_name = %s LIMIT 1", (login,)
            ).fetchone()
            is None
        ):
            raise WardViewerError(f"role {login!r} exists and is not a ward viewer")
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(GROUP), role))
        conn.execute(
            sql.SQL("ALTER ROLE {} SET search_path = {}").format(role, sql.SQL(SEARCH_PATH))
        )
        conn.execute(
            "INSERT INTO ward_viewer (role_name, ward_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (login, ward_id),
        )
    return NewViewer(login, password)


def remove(conninfo: str, login: str, ward_id: str | None = None) -> None:
    """Take a ward (or every ward, dropping the login) from a viewer; effective at once."""
    with psycopg.connect(conninfo) as conn:
        if ward_id is None:
            deleted = conn.execute("DELETE FROM ward_viewer WHERE role_name = %s", (login,))
        else:
            deleted = conn.execute(
                "DELETE FROM ward_viewer WHERE role_name = %s AND ward_id = %s", (login, ward_id)
            )
        if deleted.rowcount == 0:
            raise WardViewerError(f"{login!r} is not a viewer of {ward_id or 'any ward'}")
        if ward_id is None:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def listing(conninfo: str) -> list[tuple[str, str]]:
    """(login, ward) of every mapping, sorted."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT role_name, ward_id FROM ward_viewer ORDER BY 1, 2").fetchall()
    return [(str(a), str(b)) for a, b in rows]
