"""Hand-off of committed observations to analytics, through the database.

Each flush that stores observations adds one row to ``observation_commit`` in the same
transaction, numbered from a single counter row updated as the transaction's last statement. That
row lock is held until COMMIT, so numbers are handed out in *commit order* even with several
ingest workers: when a reader sees entry n, every entry below n is already visible, and none can
appear later. A reader therefore needs only a watermark (the last ``seq`` it processed) and never
misses or double-reads a commit. The same transaction queues ``NOTIFY nabd_observations, '<seq>'``,
which PostgreSQL delivers only at COMMIT (and not at all on rollback): listeners wake within
milliseconds, and a reader that was away catches up from its watermark.

The rows of entry n are the observations with ``ingested_at = n.ingested_at`` (the flush
transaction's ``now()``, the column's default), for n's patients, between ``first_time`` and
``last_time``; :func:`observations_of` reads them with the patient/time index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

from nabd.contract.handoff import CHANNEL

__all__ = [
    "CHANNEL",
    "Commit",
    "HandedOff",
    "commits_after",
    "observations_of",
    "prune",
    "record_commit",
]


_RECORD_SQL: Final = """
WITH counter AS (
    UPDATE observation_commit_counter SET seq = seq + 1 WHERE one RETURNING seq
)
INSERT INTO observation_commit (seq, worker_id, ingested_at, committed_at, rows_stored, patients,
                                first_time, last_time)
SELECT counter.seq, %s, now(), clock_timestamp(), %s, %s, %s, %s FROM counter
RETURNING seq
"""

_COMMITS_SQL: Final = """
SELECT seq, worker_id, ingested_at, committed_at, rows_stored, patients, first_time, last_time
FROM observation_commit WHERE seq > %s ORDER BY seq LIMIT %s
"""

_ROWS_SQL: Final = """
SELECT o.patient_id, m.key, o.time, o.value, o.quality, o.device_id, o.seq
FROM observation o JOIN metric m ON m.id = o.metric_id
WHERE o.patient_id = ANY(%s) AND o.time BETWEEN %s AND %s AND o.ingested_at = %s
ORDER BY o.patient_id, o.time, m.key
"""


@dataclass(frozen=True, slots=True)
class Commit:
    """One journal entry: a flush that stored observations."""

    seq: int
    worker_id: str
    ingested_at: datetime
    committed_at: datetime
    rows_stored: int
    patients: tuple[str, ...]
    first_time: datetime
    last_time: datetime


@dataclass(frozen=True, slots=True)
class HandedOff:
    """One stored observation, as analytics receives it."""

    patient_id: str
    metric: str
    time: datetime
    value: float | None
    quality: tuple[str, ...]
    device_id: str
    seq: int


def record_commit(
    conn: psycopg.Connection[Any],
    worker_id: str,
    *,
    rows_stored: int,
    patients: list[str],
    first_time: datetime,
    last_time: datetime,
) -> int:
    """Add this transaction's journal entry and queue its NOTIFY; return its ``seq``.

    Must be the last statement before COMMIT: from here to COMMIT other workers' flushes wait
    for the counter row (that wait is what makes the numbering follow commit order).
    """
    row = conn.execute(
        _RECORD_SQL, (worker_id, rows_stored, patients, first_time, last_time)
    ).fetchone()
    assert row is not None  # the counter row always exists (migration 0007)
    seq = int(row[0])
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(seq)))
    return seq


def prune(conn: psycopg.Connection[Any], retention_s: float) -> None:
    """Forget journal entries older than ``retention_s`` (readers must keep up within it)."""
    conn.execute(
        "DELETE FROM observation_commit WHERE committed_at < now() - make_interval(secs => %s)",
        (retention_s,),
    )


def commits_after(conn: psycopg.Connection[Any], watermark: int, limit: int = 1000) -> list[Commit]:
    """Journal entries after ``watermark``, oldest first: what a reader has not processed yet."""
    return [
        Commit(int(seq), str(worker), ingested, committed, int(rows), tuple(patients), first, last)
        for seq, worker, ingested, committed, rows, patients, first, last in conn.execute(
            _COMMITS_SQL, (watermark, limit)
        )
    ]


def observations_of(conn: psycopg.Connection[Any], commit: Commit) -> list[HandedOff]:
    """The observations stored by the flush of ``commit``."""
    return [
        HandedOff(str(p), str(m), t, v, tuple(q), str(d), int(s))
        for p, m, t, v, q, d, s in conn.execute(
            _ROWS_SQL,
            (list(commit.patients), commit.first_time, commit.last_time, commit.ingested_at),
        )
    ]
