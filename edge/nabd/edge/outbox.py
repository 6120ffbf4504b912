"""The durable outbox: every reading is on disk before it is published, until ingest has it.

SQLite in WAL mode with ``synchronous=FULL``: a committed append survives ``kill -9`` and power
loss (the WAL is fsynced at every commit). A reading leaves the outbox only through
:meth:`Outbox.remove`, which the agent calls for the readings of a batch that ingest acknowledged
end to end (``IngestAck``, sent after its database commit), never on the broker's PUBACK.

Bounded, with a stated policy:

* **size**: at most ``max_readings``; appending to a full outbox drops the *oldest* readings to
  make room (the newest data matter most to a clinician, and the oldest have had the longest to
  get through);
* **age**: :meth:`expire` drops readings received more than ``max_age`` ago.

Both drops are counted in the database (``dropped_full``, ``dropped_expired``, surviving
restarts) and reported by the agent as technical events in its status.

The database also holds each device's next sequence number, written in the same transaction as
the readings that used it, so numbering resumes after a restart without reuse, and each glucose
meter's last stored record received, written with that record's readings, so the agent asks the
meter for exactly the records it does not hold (:mod:`nabd.edge.records`).

A reading whose identity ``(device_id, seq, metric)`` is in the outbox already is the same
reading (a glucose record the meter sent twice): it is kept once, not refused.

Not thread-safe: the agent uses one outbox from one worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from nabd.contract.payloads import Reading, to_json
from nabd.edge.errors import OutboxError

__all__ = ["Outbox", "OutboxLimits", "OutboxStats", "Stored"]

SCHEMA_VERSION: Final = 2
_READABLE_VERSIONS: Final = (0, 1, SCHEMA_VERSION)
"""0: a new file; 1: before ``device_record`` (added, empty, by opening it)."""
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS reading (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
    device_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    metric TEXT NOT NULL,
    received_at REAL NOT NULL,       -- Unix seconds, for expiry
    body TEXT NOT NULL,              -- the contract Reading as JSON
    UNIQUE (device_id, seq, metric)
);
CREATE INDEX IF NOT EXISTS reading_received_at ON reading (received_at);
CREATE TABLE IF NOT EXISTS device_seq (
    device_id TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_record (
    device_id TEXT PRIMARY KEY,
    last_record INTEGER NOT NULL     -- a meter's last stored record received (edge.records)
);
CREATE TABLE IF NOT EXISTS counter (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
DROPPED_FULL: Final = "dropped_full"
DROPPED_EXPIRED: Final = "dropped_expired"
_VARIABLES_PER_QUERY: Final = 500
"""Ids per ``IN (...)`` list, well below SQLite's limit on bound variables."""


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    max_readings: int
    max_age: timedelta


@dataclass(frozen=True, slots=True)
class Stored:
    """A reading in the outbox, with its row id (insertion order)."""

    id: int
    reading: Reading


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    oldest_received_at: datetime | None
    dropped_full: int
    dropped_expired: int


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _VARIABLES_PER_QUERY):
        yield ids[start : start + _VARIABLES_PER_QUERY]


class Outbox:
    """The outbox database at ``path`` (created if missing)."""

    def __init__(self, path: Path, limits: OutboxLimits) -> None:
        self.limits = limits
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: every write below is one explicit transaction.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._setup()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        except OSError as exc:
            raise OutboxError(f"cannot create the outbox folder {path.parent}: {exc}") from exc
        self._count = int(self._db.execute("SELECT count(*) FROM reading").fetchone()[0])

    def _setup(self) -> None:
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
        self._db.execute("PRAGMA synchronous=FULL")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version not in _READABLE_VERSIONS:
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        self._db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return self._count

    # Writing ------------------------------------------------------------------------------

    def append(self, readings: Sequence[Reading], records: Mapping[str, int] | None = None) -> int:
        """Store ``readings`` and the devices' last ``records`` received durably (one
        transaction, fsynced); returns how many of the oldest readings were dropped to stay
        within ``max_readings``."""
        if not readings and not records:
            return 0
        rows = [
            (r.device_id, r.seq, r.metric, r.received_at.timestamp(), to_json(r).decode())
            for r in readings
        ]
        next_seqs: dict[str, int] = {}
        for r in readings:
            next_seqs[r.device_id] = max(next_seqs.get(r.device_id, 0), r.seq + 1)
        with self._transaction():
            added = self._db.executemany(
                "INSERT INTO reading (device_id, seq, metric, received_at, body) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, seq, metric) DO NOTHING",
                rows,
            ).rowcount
            self._db.executemany(
                "INSERT INTO device_record (device_id, last_record) VALUES (?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET last_record = excluded.last_record",
                (records or {}).items(),
            )
            self._db.executemany(
                "INSERT INTO device_seq (device_id, next_seq) VALUES (?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)",
                next_seqs.items(),
            )
            excess = max(0, self._count + added - self.limits.max_readings)
            dropped = self._drop_oldest(excess) if excess else 0
        self._count += added - dropped
        return dropped

    def _drop_oldest(self, count: int) -> int:
        cursor = self._db.execute(
            "DELETE FROM reading WHERE id IN (SELECT id FROM reading ORDER BY id LIMIT ?)",
            (count,),
        )
        self._bump(DROPPED_FULL, cursor.rowcount)
        return cursor.rowcount

    def remove(self, ids: Sequence[int]) -> int:
        """Delete the readings ``ids`` (acknowledged by ingest); returns how many were there."""
        removed = 0
        with self._transaction():
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                removed += self._db.execute(
                    f"DELETE FROM reading WHERE id IN ({marks})",  # noqa: S608 (only '?' marks)
                    tuple(chunk),
                ).rowcount
        self._count -= removed
        return removed

    def expire(self, now: datetime) -> int:
        """Drop readings received before ``now - max_age``; returns how many."""
        cutoff = (now - self.limits.max_age).timestamp()
        with self._transaction():
            dropped = self._db.execute(
                "DELETE FROM reading WHERE received_at < ?", (cutoff,)
            ).rowcount
            if dropped:
                self._bump(DROPPED_EXPIRED, dropped)
        self._count -= dropped
        return dropped

    def _bump(self, counter: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO counter (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (counter, by),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # Reading ------------------------------------------------------------------------------

    def next_seqs(self) -> dict[str, int]:
        """Each device's next sequence number, as persisted."""
        rows = self._db.execute("SELECT device_id, next_seq FROM device_seq").fetchall()
        return {str(device): int(seq) for device, seq in rows}

    def last_records(self) -> dict[str, int]:
        """Each glucose meter's last stored record received, as persisted."""
        rows = self._db.execute("SELECT device_id, last_record FROM device_record").fetchall()
        return {str(device): int(record) for device, record in rows}

    def peek(self, cursor: int, limit: int) -> tuple[int, datetime | None]:
        """How many readings (at most ``limit``) wait above ``cursor``, and the oldest one's
        receive time: enough to decide whether to send, without parsing them."""
        count, oldest = self._db.execute(
            "SELECT count(*), min(received_at) FROM "
            "(SELECT received_at FROM reading WHERE id > ? ORDER BY id LIMIT ?)",
            (cursor, limit),
        ).fetchone()
        return int(count), None if oldest is None else datetime.fromtimestamp(oldest, UTC)

    def after(self, cursor: int, limit: int) -> list[Stored]:
        """Up to ``limit`` readings with an id above ``cursor``, oldest first."""
        rows = self._db.execute(
            "SELECT id, body FROM reading WHERE id > ? ORDER BY id LIMIT ?", (cursor, limit)
        ).fetchall()
        return [self._stored(row) for row in rows]

    def get(self, ids: Sequence[int]) -> list[Stored]:
        """The readings among ``ids`` still in the outbox, oldest first."""
        found: list[Stored] = []
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, body FROM reading WHERE id IN ({marks})",  # noqa: S608
                tuple(chunk),
            ).fetchall()
            found += (self._stored(row) for row in rows)
        return sorted(found, key=lambda stored: stored.id)

    def stats(self) -> OutboxStats:
        oldest = self._db.execute("SELECT min(received_at) FROM reading").fetchone()[0]
        counters = dict(self._db.execute("SELECT name, value FROM counter").fetchall())
        return OutboxStats(
            pending=self._count,
            oldest_received_at=None if oldest is None else datetime.fromtimestamp(oldest, UTC),
            dropped_full=int(counters.get(DROPPED_FULL, 0)),
            dropped_expired=int(counters.get(DROPPED_EXPIRED, 0)),
        )

    @staticmethod
    def _stored(row: tuple[int, str]) -> Stored:
        try:
            return Stored(int(row[0]), Reading.model_validate_json(row[1]))
        except ValidationError as exc:
            raise OutboxError(f"outbox row {row[0]} is not a valid reading: {exc}") from exc


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``), errors as :class:`OutboxError`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox: cannot start a transaction: {exc}") from exc

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _: object
    ) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as error:
                self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox: commit failed: {error}") from error
        self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise OutboxError(f"outbox: write failed: {exc}") from exc
