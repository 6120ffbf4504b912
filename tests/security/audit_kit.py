"""A migrated database with a real audit log, and the schema owner's ways to rewrite it.

Every write here is made by the schema owner (the login ``nabd stack`` migrates with), not a
superuser: the owner may ``ALTER TABLE audit_log DISABLE TRIGGER USER``, so the append-only
trigger does not stop it, and it knows the public hashing rule (``audit_log_row_digest``), so it
can re-hash every row after the one it changed. That is the attacker the checkpoints are for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from nabd.app.audit.chain import AuditRow, digest
from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.testing import fresh_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AUDITED_ACTIONS = 8
"""Rows the kit writes through the real triggers; each is preceded by a gap in ``seq``."""


def record_actions(url: str, count: int, first: int = 0) -> None:
    """``count`` audited threshold changes, each after a consumed ``seq`` (gaps are normal)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(first, first + count):
            conn.execute("SELECT nextval('audit_log_seq')")
            conn.execute(
                "INSERT INTO alarm_limit (ward_id, metric, low, high, set_by)"
                " VALUES ('w1', 'spo2', %s, 'Infinity', %s)"
                " ON CONFLICT (ward_id, metric) WHERE ward_id IS NOT NULL"
                " DO UPDATE SET low = excluded.low, set_by = excluded.set_by",
                (80 + i % 15, f"nurse-{i}"),
            )


@contextmanager
def audited_database(owner_url: str, actions: int = AUDITED_ACTIONS) -> Iterator[str]:
    """A migrated database of its own with ``actions`` clinical actions in its audit log."""
    with fresh_database(owner_url, prefix="nabd_audit") as url:
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO ward (id, name) VALUES ('w1', 'Ward 1')")
        record_actions(url, actions)
        yield url


@contextmanager
def as_owner_without_triggers(url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """One transaction of the owner with audit_log's triggers off, as an attacker would."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        yield conn
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


def tamper(url: str, *statements: str) -> None:
    """Run ``statements`` as the owner with the append-only trigger disabled."""
    with as_owner_without_triggers(url) as conn:
        for statement in statements:
            conn.execute(statement)


REHASH = """
DO $$
DECLARE r record; prev bytea;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY seq LOOP
        UPDATE audit_log
           SET prev_hash = coalesce(prev, '\\x'::bytea),
               hash = audit_log_row_digest(coalesce(prev, '\\x'::bytea), r.seq, r.at, r.actor,
                                           r.action, r.subject, r.details)
         WHERE seq = r.seq
        RETURNING hash INTO prev;
    END LOOP;
END
$$
"""
"""Re-hash the whole chain from its first row, as the owner can: afterwards every link holds."""


def seqs(url: str) -> list[int]:
    """The ``seq`` of every audit_log row, in order."""
    with psycopg.connect(url) as conn:
        return [int(r[0]) for r in conn.execute("SELECT seq FROM audit_log ORDER BY seq")]


def chain_of(n: int) -> list[AuditRow]:
    """``n`` correctly chained rows, seq 1..n, built in Python (no database)."""
    rows: list[AuditRow] = []
    prev = b""
    for i in range(n):
        row = AuditRow(
            i + 1, T0 + timedelta(seconds=i), "nurse", "acknowledge", f"alert:{i}", "{}", prev, b""
        )
        rows.append(replace(row, hash=digest(prev, row)))
        prev = rows[-1].hash
    return rows


def rehashed(rows: list[AuditRow]) -> list[AuditRow]:
    """The rows re-chained from the first, as a forger who knows the rule would."""
    out: list[AuditRow] = []
    prev = b""
    for row in rows:
        linked = replace(row, prev_hash=prev)
        out.append(replace(linked, hash=digest(prev, linked)))
        prev = out[-1].hash
    return out
