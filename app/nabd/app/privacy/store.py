"""The database side of retention: read and set policies, report and apply them.

Runs as the schema owner (``NABD_DATABASE_URL``): only the owner may drop chunks, delete from the
audit log (through ``audit_log_prune``, migration 0080) and from the identity schema. An identity
deleted is audited as an erasure of that patient, in the same transaction as the delete. Each batch
of a plain table is its own transaction, so a large first run never holds a long lock or a huge
transaction; a hypertable loses whole chunks (``drop_chunks``), which costs the same whatever
their size. Two applies never run at once (a session advisory lock): the second reports that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from nabd.app.privacy.retention import (
    AUDIT_LOG,
    CLASSES,
    DataClass,
    RetentionError,
    Table,
    cutoff,
)
from nabd.care.rights import IDENTITY_FIELDS

Connection = psycopg.Connection[tuple[Any, ...]]
BATCH: Final = 10_000
_APPLY_LOCK: Final = 0x6E726574  # "nret": one retention apply per database at a time


@dataclass(frozen=True, slots=True)
class Policy:
    """What the hospital decided for one class: ``days`` None is "kept for ever"."""

    days: int | None
    set_by: str
    set_at: datetime


@dataclass(frozen=True, slots=True)
class TableReport:
    """What a cutoff reaches in one table: rows (and chunks of a hypertable), the oldest kept.

    For an applied hypertable ``rows`` is None: counting what a chunk held would cost the scan
    that dropping it avoids.
    """

    table: str
    rows: int | None
    chunks: int | None
    oldest_kept: datetime | None


@dataclass(frozen=True, slots=True)
class ClassReport:
    """One class with a period: its cutoff and each table's report."""

    key: str
    days: int
    cutoff: datetime
    tables: tuple[TableReport, ...]


class ApplyBusy(RuntimeError):
    """Another ``retention apply`` holds the database's retention lock."""


def policies(conn: Connection) -> dict[str, Policy]:
    """Every recorded decision, by class key (a class without a row is kept for ever)."""
    rows = conn.execute("SELECT data_class, days, set_by, set_at FROM retention_policy").fetchall()
    return {str(k): Policy(None if d is None else int(d), str(by), at) for k, d, by, at in rows}


def set_policy(conn: Connection, cls: DataClass, days: int | None, actor: str) -> None:
    """Record ``days`` for ``cls`` in one transaction; migration 0080's trigger audits it."""
    if not actor.strip() or len(actor) > 100:
        raise RetentionError("the person setting a period must be named (1-100 characters)")
    with conn.transaction():
        conn.execute(
            "INSERT INTO retention_policy (data_class, days, set_by) VALUES (%s, %s, %s)"
            " ON CONFLICT (data_class) DO UPDATE"
            " SET days = excluded.days, set_by = excluded.set_by, set_at = now()",
            (cls.key, days, actor),
        )


def _ident(table: str) -> sql.Composable:
    return sql.Identifier(*table.split("."))


def _chunks_before(conn: Connection, table: Table, before: datetime) -> tuple[int, datetime | None]:
    """How many chunks lie wholly before ``before``, and where the last of them ends."""
    row = conn.execute(
        "SELECT count(*), max(range_end) FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = 'public' AND hypertable_name = %s AND range_end <= %s",
        (table.name, before),
    ).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def _oldest(
    conn: Connection, table: Table, where: sql.Composable, params: Mapping[str, Any]
) -> Any:
    if table.time_column is None:
        return None
    query = sql.SQL("SELECT min({}) FROM {} WHERE {}").format(
        sql.Identifier(table.time_column), _ident(table.name), where
    )
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _plan_table(conn: Connection, table: Table, before: datetime) -> TableReport:
    params = {"cutoff": before}
    if table.hypertable:
        chunks, end = _chunks_before(conn, table, before)
        if end is None:
            return TableReport(table.name, 0, 0, _oldest(conn, table, sql.SQL("true"), params))
        bound = {"cutoff": end}
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE time < %(cutoff)s").format(_ident(table.name)),
            bound,
        ).fetchone()
        kept = _oldest(conn, table, sql.SQL("time >= %(cutoff)s"), bound)
        return TableReport(table.name, int(count[0]) if count else 0, chunks, kept)
    expired = sql.SQL(table.expired)  # constants of retention.py
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(_ident(table.name), expired), params
    ).fetchone()
    kept_where = sql.SQL("({}) IS NOT TRUE").format(expired)
    return TableReport(
        table.name, int(row[0]) if row else 0, None, _oldest(conn, table, kept_where, params)
    )


def _audit_through(conn: Connection, before: datetime) -> int | None:
    """The last seq of the chain's prefix dated before ``before`` (None: nothing that old).

    A prefix, never a row after the first one at or past the cutoff, so the kept rows stay one
    unbroken chain even if the clock once stepped back.
    """
    first_kept = conn.execute(
        "SELECT seq FROM audit_log WHERE at >= %s ORDER BY seq LIMIT 1", (before,)
    ).fetchone()
    if first_kept is not None:
        row = conn.execute(
            "SELECT max(seq) FROM audit_log WHERE seq < %s", (first_kept[0],)
        ).fetchone()
    else:
        row = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _plan_audit(conn: Connection, before: datetime) -> TableReport:
    through = _audit_through(conn, before)
    bound = -1 if through is None else through
    row = conn.execute(
        "SELECT (SELECT count(*) FROM audit_log WHERE seq <= %(s)s),"
        " (SELECT at FROM audit_log WHERE seq > %(s)s ORDER BY seq LIMIT 1)",
        {"s": bound},
    ).fetchone()
    assert row is not None
    return TableReport(AUDIT_LOG, int(row[0]), None, row[1])


def _decided(found: Mapping[str, Policy]) -> Iterator[tuple[DataClass, int]]:
    for cls in CLASSES:
        policy = found.get(cls.key)
        if policy is not None and policy.days is not None:
            yield cls, policy.days


def plan(conn: Connection, now: datetime) -> list[ClassReport]:
    """What ``apply`` would remove now, per class with a period, changing nothing."""
    reports = []
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for cls, days in _decided(policies(conn)):
            before = cutoff(now, days)
            tables = tuple(
                _plan_audit(conn, before) if t.name == AUDIT_LOG else _plan_table(conn, t, before)
                for t in cls.tables
            )
            reports.append(ClassReport(cls.key, days, before, tables))
    return reports


def _drop_chunks(conn: Connection, table: Table, before: datetime) -> TableReport:
    dropped = conn.execute(
        "SELECT count(*) FROM drop_chunks(%s::regclass, older_than => %s::timestamptz)",
        (table.name, before),
    ).fetchone()
    kept = _oldest(conn, table, sql.SQL("true"), {})
    return TableReport(table.name, None, int(dropped[0]) if dropped else 0, kept)


_ERASED_SQL: Final = """
INSERT INTO audit_log (actor, action, subject, details)
SELECT %(actor)s, 'identity_erased', 'patient:' || p, %(details)s
FROM unnest(%(patients)s::text[]) p
"""
"""One ``identity_erased`` entry per patient whose identity retention deleted, as ``nabd patient
erase`` writes (nabd.care.rights): the pseudonym and which fields went, never their values."""


def _audit_erasures(conn: Connection, erased: list[str], actor: str, before: datetime) -> None:
    details = {
        "fields": list(IDENTITY_FIELDS),
        "by": "retention",
        "discharged_before": before.isoformat(),
    }
    conn.execute(
        _ERASED_SQL, {"actor": actor, "details": Jsonb(details), "patients": sorted(erased)}
    )


def _delete_batches(
    conn: Connection, table: Table, before: datetime, batch: int, actor: str
) -> TableReport:
    params = {"cutoff": before, "batch": batch}
    expired = sql.SQL(table.expired)  # constants of retention.py
    statement = sql.SQL(
        "DELETE FROM {t} WHERE ctid IN (SELECT ctid FROM {t} WHERE {e} LIMIT %(batch)s){r}"
    ).format(
        t=_ident(table.name),
        e=expired,
        r=sql.SQL(" RETURNING patient_id" if table.erases_identity else ""),
    )
    total = 0
    while True:
        with conn.transaction():
            # The one DELETE the access log's append-only guard lets through (migration 0085).
            conn.execute("SELECT set_config('nabd.retention_cutoff', %s, true)", (str(before),))
            cursor = conn.execute(statement, params)
            removed = cursor.rowcount
            if table.erases_identity and removed:
                _audit_erasures(conn, [str(r[0]) for r in cursor.fetchall()], actor, before)
        total += removed
        if removed < batch:
            break
    kept = _oldest(conn, table, sql.SQL("({}) IS NOT TRUE").format(expired), params)
    return TableReport(table.name, total, None, kept)


def _prune_audit(conn: Connection, before: datetime, actor: str, batch: int) -> TableReport:
    through = _audit_through(conn, before)
    total = 0
    while through is not None:
        row = conn.execute(
            "SELECT seq FROM audit_log WHERE seq <= %s ORDER BY seq OFFSET %s LIMIT 1",
            (through, batch - 1),
        ).fetchone()
        step = through if row is None else int(row[0])
        with conn.transaction():
            found = conn.execute(
                "SELECT audit_log_prune(%s, %s, %s)", (step, actor, before)
            ).fetchone()
        total += int(found[0]) if found else 0
        if step >= through:
            break
    kept = conn.execute("SELECT min(at) FROM audit_log").fetchone()
    return TableReport(AUDIT_LOG, total, None, kept[0] if kept else None)


@contextmanager
def _apply_lock(conn: Connection) -> Iterator[None]:
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (_APPLY_LOCK,)).fetchone()
    if got is None or not got[0]:
        raise ApplyBusy("another `nabd privacy retention apply` is running on this database")
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_APPLY_LOCK,))


def apply(
    conn: Connection,
    now: datetime,
    actor: str,
    batch: int = BATCH,
    progress: Callable[[ClassReport], None] | None = None,
) -> list[ClassReport]:
    """Remove what each decided period no longer covers at ``now``; ``conn`` in autocommit.

    Classes go in the order of :data:`~nabd.app.privacy.retention.CLASSES`; a class's tables in
    their listed order (an alert's actions before the alert). ``progress`` hears each class as
    it is done, so a long first run shows where it is.
    """
    reports = []
    with _apply_lock(conn):
        for cls, days in _decided(policies(conn)):
            before = cutoff(now, days)
            tables = []
            for table in cls.tables:
                if table.name == AUDIT_LOG:
                    tables.append(_prune_audit(conn, before, actor, batch))
                elif table.hypertable:
                    tables.append(_drop_chunks(conn, table, before))
                else:
                    tables.append(_delete_batches(conn, table, before, batch, actor))
            report = ClassReport(cls.key, days, before, tuple(tables))
            if progress is not None:
                progress(report)
            reports.append(report)
    return reports
