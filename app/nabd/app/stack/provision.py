"""Roles, the ``nabd`` database and its TimescaleDB extension inside the private cluster.

The owner role is deliberately not a superuser (CREATEDB to make test databases, CREATEROLE for
the migrations' group roles): what works locally then also works against a hospital's server
where the DBA hands Nabd an ordinary owner role. TimescaleDB is a *trusted* extension, so the
owner creates it in its own databases. Passwords are sent to the server as SCRAM verifiers
computed by libpq, so the plain text never reaches the server or its logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import psycopg
from psycopg import sql

from nabd.app.stack.env import database_url

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 5


def _verifier(conn: psycopg.Connection[object], role: str, password: str) -> str:
    raw = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    return raw.decode()


def _ensure_login(
    conn: psycopg.Connection[object], role: str, password: str, options: sql.SQL
) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        log.info("postgres: created role %s", role)
    conn.execute(
        sql.SQL("ALTER ROLE {} LOGIN {} PASSWORD {}").format(
            sql.Identifier(role), options, sql.Literal(_verifier(conn, role, password))
        )
    )


def ensure_roles_and_database(
    admin_url: str,
    owner: str,
    owner_password: str,
    database: str,
    service_logins: Mapping[str, str],
) -> None:
    """Create (or re-password) the owner and service logins and the owner's database."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
        _ensure_login(conn, owner, owner_password, sql.SQL("NOSUPERUSER CREATEDB CREATEROLE"))
        for role, password in service_logins.items():
            _ensure_login(conn, role, password, sql.SQL("NOSUPERUSER NOCREATEDB NOCREATEROLE"))
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(owner)
                )
            )
            log.info("postgres: created database %s owned by %s", database, owner)


def ensure_timescaledb(owner_url: str) -> None:
    """``CREATE EXTENSION IF NOT EXISTS timescaledb`` in the database of ``owner_url``."""
    with psycopg.connect(owner_url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


def grant_service_groups(admin_url: str, services: Iterable[str]) -> list[str]:
    """Make each service login a member of the group role ``nabd_<service>`` if it exists.

    The group roles come from the migrations; detecting them (rather than assuming) keeps the
    stack usable with any schema version. Returns the groups granted.
    """
    granted: list[str] = []
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
        for service in services:
            group = f"nabd_{service}"
            found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,))
            if found.fetchone() is None:
                continue
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(service))
            )
            granted.append(group)
    return granted


def admin_url(port: int | Sequence[int], superuser: str, password: str) -> str:
    """The superuser's URL to the maintenance database ``postgres`` (the primary's, when
    ``port`` lists an HA cluster's servers)."""
    return database_url(superuser, password, port, "postgres")
