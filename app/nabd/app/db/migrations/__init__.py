"""Versioned schema migrations: ``NNNN_name.sql`` files beside this module, applied in order.

Each migration runs in its own transaction and is recorded in ``schema_migration`` with a checksum
of its text, so a second run is a no-op, a half-applied migration is impossible, and an edited
migration that was already applied is refused instead of silently diverging. A session advisory
lock lets several processes (two ingest workers starting at once) call ``apply_migrations``
safely: one applies, the others wait and then find nothing to do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

import psycopg

from nabd.contract.catalogue import METRICS

_FILE_RE: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY: Final = 0x6E616264  # "nabd": one advisory lock for all migrators of a database


class MigrationError(RuntimeError):
    """The database's schema history disagrees with the migrations shipped with this code."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version (``0003``), name and text."""

    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def shipped() -> tuple[Migration, ...]:
    """The migrations shipped with this code, in version order."""
    found = []
    for entry in resources.files(__name__).iterdir():
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(match[1], match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version: {versions}")
    return tuple(found)


def _applied(conn: psycopg.Connection[tuple[str, str]]) -> dict[str, str]:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migration (
               version     text PRIMARY KEY,
               name        text NOT NULL,
               checksum    text NOT NULL,
               applied_at  timestamptz NOT NULL DEFAULT now())"""
    )
    rows = conn.execute("SELECT version, checksum FROM schema_migration").fetchall()
    return dict(rows)


def _check_history(applied: dict[str, str], migrations: tuple[Migration, ...]) -> None:
    known = {m.version: m for m in migrations}
    for version, checksum in sorted(applied.items()):
        if version not in known:
            raise MigrationError(f"database has migration {version}, unknown to this code")
        if known[version].checksum != checksum:
            raise MigrationError(
                f"migration {version}_{known[version].name} was edited after it was applied"
            )


def apply_migrations(conninfo: str) -> list[str]:
    """Bring the database at ``conninfo`` up to date; return the versions applied now."""
    migrations = shipped()
    done: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            applied = _applied(conn)
            _check_history(applied, migrations)
            for migration in migrations:
                if migration.version in applied:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migration (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                done.append(migration.version)
            with conn.transaction():
                _sync_metrics(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done


def _sync_metrics(conn: psycopg.Connection[tuple[str, str]]) -> None:
    """Upsert the contract's catalogue into ``metric``; ids, once given, never change."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO metric (key, ucum, loinc, mdc_ref_id, mdc_code, kind,
                                  min_value, max_value, name_en, name_fr)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET
                   ucum = excluded.ucum, loinc = excluded.loinc,
                   mdc_ref_id = excluded.mdc_ref_id, mdc_code = excluded.mdc_code,
                   kind = excluded.kind, min_value = excluded.min_value,
                   max_value = excluded.max_value, name_en = excluded.name_en,
                   name_fr = excluded.name_fr""",
            [
                (
                    m.key,
                    m.unit,
                    m.loinc,
                    m.mdc_ref_id,
                    m.mdc_code,
                    m.kind.value,
                    m.min_value,
                    m.max_value,
                    m.name_en,
                    m.name_fr,
                )
                for m in METRICS.values()
            ],
        )
