"""The database side: one flush of received messages, committed in one transaction.

A flush, in order, all inside one transaction:

1. batches already in ``ingested_batch`` (or twice in this flush) are duplicates: no rows, acked;
2. the registry rows of the new batches' devices are read; a batch with a device that is not
   its gateway's becomes a dead letter; every other row gets its patient at its sample time
   (:mod:`nabd.ingest.attribution`); rows no consent of their patient covers are withheld, their
   message kept as a ``no_consent`` dead letter (:mod:`nabd.ingest.consent`);
3. the rows go to ``observation`` / ``unattributed_observation`` by binary COPY (falling back
   to staging and one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` of the identities that
   stores only the new readings, if some reading is stored already, see
   :mod:`nabd.ingest.staging`), and ``observation_latest`` is upserted;
4. the new batches are recorded in ``ingested_batch``, dead letters in ``dead_letter``;
5. if observations were stored, a hand-off journal entry is numbered in commit order and a
   NOTIFY is queued (both delivered by the COMMIT, see :mod:`nabd.ingest.handoff`).

Nothing is acknowledged before this commits; if it fails, nothing of it happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar

import psycopg
from psycopg import errors as pg_errors

from nabd.contract.catalogue import METRICS
from nabd.ingest import consent, dead_letter_rows, handoff, sample_times
from nabd.ingest.array_literals import float_array, int_array, text_array, time_array
from nabd.ingest.attribution import (
    REGISTRY_SQL,
    Attributed,
    Registry,
    attribute,
    identities,
    unregistered_reason,
)
from nabd.ingest.errors import (
    DatabaseUnavailableError,
    RefusedByDatabaseError,
    SchemaMismatchError,
)
from nabd.ingest.inbox import Pending
from nabd.ingest.metrics import HEALTH_UPSERT_SQL, HealthSnapshot
from nabd.ingest.reattribution import Reattributed, reattribute
from nabd.ingest.registry_cache import VERSION_SQL, RegistryCache
from nabd.ingest.staging import (
    CREATE_STAGING_SQL,
    FROM_STAGING_SQL,
    IDENTITY_COPY,
    IDENTITY_TYPES,
    OBSERVATION_COPY,
    OBSERVATION_TYPES,
    STAGING_COPY,
    UNATTRIBUTED_COPY,
    UNATTRIBUTED_TYPES,
)
from nabd.ingest.validate import Accepted, BatchId, Category, Rejected, refuse

__all__ = ["FlushOutcome", "Writer"]

log = logging.getLogger(__name__)

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]
_T = TypeVar("_T")

_KNOWN_SQL: Final = """
SELECT b.gateway_id, b.boot_id, b.batch_seq
FROM ingested_batch b
JOIN unnest(%s::text[], %s::text[], %s::int8[]) AS k (gateway_id, boot_id, batch_seq)
  USING (gateway_id, boot_id, batch_seq)
"""

_LATEST_SQL: Final = """
INSERT INTO observation_latest AS l (patient_id, metric_id, time, value, quality, device_id)
SELECT p, m, t, v, q::text[], d
FROM unnest(%s::text[], %s::int2[], %s::timestamptz[], %s::float8[], %s::text[], %s::text[])
     AS k (p, m, t, v, q, d)
ORDER BY p, m  -- one lock order for every worker: no deadlock between concurrent flushes
ON CONFLICT (patient_id, metric_id) DO UPDATE
    SET time = excluded.time, value = excluded.value, quality = excluded.quality,
        device_id = excluded.device_id
    WHERE excluded.time >= l.time
"""

_RECORD_BATCHES_SQL: Final = """
INSERT INTO ingested_batch (gateway_id, boot_id, batch_seq, readings, committed_at)
SELECT g, b, s, n, clock_timestamp()
FROM unnest(%s::text[], %s::text[], %s::int8[], %s::int4[]) AS k (g, b, s, n)
ON CONFLICT DO NOTHING
"""

_PURGE_DEAD_LETTERS_SQL: Final = """
DELETE FROM dead_letter WHERE received_at < now() - make_interval(secs => %s)
"""


@dataclass(frozen=True, slots=True)
class FlushOutcome:
    """What one committed flush did."""

    stored: tuple[Pending, ...]
    """Messages whose batch was stored now."""
    duplicates: tuple[Pending, ...]
    """Messages whose batch was already stored (re-delivered, re-sent, or twice in the flush)."""
    dead: tuple[Rejected, ...]
    """Messages now in ``dead_letter``."""
    rows_stored: int
    rows_unattributed: int
    commit_seq: int | None
    """The hand-off journal entry of this flush, if it stored observations."""
    withheld: tuple[Rejected, ...] = ()
    """Stored batches with readings no consent covers, kept as ``no_consent`` dead letters
    (their batch is acknowledged as stored; :mod:`nabd.ingest.consent`)."""

    @property
    def committed_batches(self) -> list[BatchId]:
        """Batches the gateways may forget: stored now, before, or held as dead letters."""
        ids = [_accepted(p).batch_id for p in (*self.stored, *self.duplicates)]
        return ids + [r.batch_id for r in self.dead if r.batch_id is not None]


def _split(items: Sequence[Pending]) -> tuple[list[Pending], list[Pending], list[Rejected]]:
    """First copy of each batch, later copies of one, and the messages validation refused."""
    first: dict[BatchId, Pending] = {}
    repeats: list[Pending] = []
    rejected: list[Rejected] = []
    for item in items:
        verdict = item.verdict
        if isinstance(verdict, Rejected):
            rejected.append(verdict)
        elif verdict.batch_id in first:
            repeats.append(item)
        else:
            first[verdict.batch_id] = item
    return list(first.values()), repeats, rejected


def _take_out_unregistered(
    items: list[Pending], registry: Registry
) -> tuple[list[Pending], list[Rejected]]:
    """Batches whose devices are all their gateway's, and dead letters for the others."""
    keep: list[Pending] = []
    refused: list[Rejected] = []
    for item in items:
        accepted = _accepted(item)
        gateway = accepted.batch_id.gateway_id
        found = registry.unregistered(gateway, [row[1] for row in item.rows])
        if found is None:
            keep.append(item)
            continue
        index, device, owner = found
        reason = unregistered_reason(device, gateway, owner)
        field = f"readings.{index}.device_id"
        refused.append(refuse(accepted, Category.UNREGISTERED_DEVICE, reason, field))
    return keep, refused


def _copy(cur: Any, statement: str, types: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    with cur.copy(statement) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _accepted(item: Pending) -> Accepted:
    assert isinstance(item.verdict, Accepted)  # only accepted messages are staged
    return item.verdict


class Writer:
    """Owns ingest's database connection; writes flushes, health and journal retention."""

    def __init__(
        self,
        conninfo: str,
        worker_id: str,
        *,
        statement_timeout_s: float = 30.0,
        journal_retention_s: float = 86_400.0,
        dead_letter_retention_s: float = 0.0,
        reattribute_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conninfo = conninfo
        self._worker_id = worker_id
        self._statement_timeout_ms = round(statement_timeout_s * 1000)
        self._journal_retention_s = journal_retention_s
        self._dead_letter_retention_s = dead_letter_retention_s
        self._reattribute_interval_s = reattribute_interval_s
        self._clock = clock
        self._next_reattribution = 0.0
        self._conn: Conn | None = None
        self._registry_cache = RegistryCache()

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> dict[str, int]:
        """(Re)connect, prepare the staging table; return the metric ids by catalogue key."""
        self.close()
        self._registry_cache.clear()
        try:
            conn: Conn = psycopg.connect(
                self._conninfo,
                autocommit=False,
                connect_timeout=10,
                application_name=f"nabd-ingest-{self._worker_id}",
                options=f"-c statement_timeout={self._statement_timeout_ms}",
            )
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(f"cannot connect to the database: {exc}") from exc
        try:
            with conn.transaction():
                conn.execute(CREATE_STAGING_SQL)
                ids = {str(k): int(v) for k, v in conn.execute("SELECT key, id FROM metric")}
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseUnavailableError(f"cannot prepare the session: {exc}") from exc
        missing = sorted(set(METRICS) - set(ids))
        if missing:
            conn.close()
            raise SchemaMismatchError(
                f"metrics {missing} are not in the database's metric table: run `nabd db migrate`"
            )
        self._conn = conn
        return ids

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _require(self) -> Conn:
        if self._conn is None or self._conn.closed:
            raise DatabaseUnavailableError("not connected to the database")
        return self._conn

    def _run(self, work: str, body: Any) -> Any:
        """Run ``body(conn)`` in one transaction, classifying failures."""
        conn = self._require()
        try:
            with conn.transaction():
                return body(conn)
        except (pg_errors.DataError, pg_errors.IntegrityError) as exc:
            raise RefusedByDatabaseError(f"{work}: {exc.sqlstate} {exc}") from exc
        except psycopg.Error as exc:
            # Connection lost, timeout, deadlock, server shutting down...: start afresh later.
            self.close()
            raise DatabaseUnavailableError(f"{work}: {exc}") from exc

    # -- flush ------------------------------------------------------------------------------

    def write(self, items: Sequence[Pending]) -> FlushOutcome:
        """Commit one flush; raises :class:`DatabaseUnavailableError` (retry later) or
        :class:`RefusedByDatabaseError` (isolate the offending message)."""
        result: FlushOutcome = self._run("flush", lambda conn: self._flush(conn, items))
        return result

    def dead_letter(self, rejected: Sequence[Rejected]) -> None:
        """Commit dead letters alone (a message the database refused, isolated)."""
        self._run("dead letter", lambda conn: self._insert_dead(conn, rejected))

    def transaction(self, work: str, body: Callable[[Conn], _T]) -> _T:
        """Run ``body(conn)`` in one transaction on this writer's connection; failures raised as
        :class:`RefusedByDatabaseError` or :class:`DatabaseUnavailableError` (operator tools)."""
        result: _T = self._run(work, body)
        return result

    def flush_in(
        self,
        conn: Conn,
        items: Sequence[Pending],
        *,
        record_dead: bool = True,
        again: bool = False,
    ) -> FlushOutcome:
        """A flush inside the caller's transaction (:meth:`transaction`). With ``record_dead``
        false, refusals are only reported in the outcome (a replay updates its dead letter).
        With ``again``, batches stored already are flushed again (a replay of readings once
        withheld for lack of consent: only readings not stored yet are added)."""
        return self._flush(conn, items, record_dead=record_dead, again=again)

    def _flush(
        self,
        conn: Conn,
        items: Sequence[Pending],
        *,
        record_dead: bool = True,
        again: bool = False,
    ) -> FlushOutcome:
        firsts, repeats, rejected = _split(items)
        known = set() if again else self._known(conn, [_accepted(p).batch_id for p in firsts])
        new = [p for p in firsts if _accepted(p).batch_id not in known]
        duplicates = repeats + [p for p in firsts if _accepted(p).batch_id in known]
        rows_stored = rows_unattributed = 0
        seq = None
        withheld: list[Rejected] = []
        if new:
            registry = self._registry(conn, new)
            new, refused = _take_out_unregistered(new, registry)
            rejected += refused
            split = attribute([row for p in new for row in p.rows], registry)
            split, withheld = self._withhold_unconsented(conn, split, new)
            if new:
                rows_stored, rows_unattributed, split = self._insert(conn, split)
                self._upsert_latest(conn, split)
                self._record_batches(conn, new)
                if not again:  # noted when the batch was first stored
                    self._record_restamped(conn, new)
        if record_dead:
            self._insert_dead(conn, [*rejected, *withheld])
        if rows_stored:
            seq = self._journal(conn, split)
        return FlushOutcome(
            tuple(new),
            tuple(duplicates),
            tuple(rejected),
            rows_stored,
            rows_unattributed,
            seq,
            tuple(withheld),
        )

    @staticmethod
    def _withhold_unconsented(
        conn: Conn, split: Attributed, items: Sequence[Pending]
    ) -> tuple[Attributed, list[Rejected]]:
        """``split`` without the readings no consent covers, and a ``no_consent`` dead letter
        for each message that had some (:mod:`nabd.ingest.consent`)."""
        patients = sorted({row[0] for row in split.observed})
        if not patients:
            return split, []
        periods = consent.periods_from_rows(conn.execute(consent.PERIODS_SQL, (patients,)))
        kept, withheld = consent.withhold(split, periods)
        notes: list[Rejected] = []
        if not withheld.readings:
            return kept, notes
        for item in items:
            of = withheld.of(item.rows)
            if of:
                reason = consent.reason(of, len(item.rows))
                notes.append(refuse(_accepted(item), Category.NO_CONSENT, reason, None))
        log.warning(
            "readings without consent withheld",
            extra={"readings": len(withheld.readings), "messages": len(notes)},
        )
        return kept, notes

    @staticmethod
    def _known(conn: Conn, ids: Sequence[BatchId]) -> set[BatchId]:
        if not ids:
            return set()
        rows = conn.execute(
            _KNOWN_SQL,
            (
                [i.gateway_id for i in ids],
                [i.boot_id for i in ids],
                [i.batch_seq for i in ids],
            ),
        ).fetchall()
        return {BatchId(str(g), str(b), int(s)) for g, b, s in rows}

    def _registry(self, conn: Conn, items: Iterable[Pending]) -> Registry:
        """The registry of the flush's devices, as of this transaction (read again only if the
        registry changed since it was last read: :mod:`nabd.ingest.registry_cache`)."""
        found = conn.execute(VERSION_SQL).fetchone()
        if found is None:  # the counter's row is gone: trust nothing kept
            self._registry_cache.clear()
        version = int(found[0]) if found is not None else -1
        return self._registry_cache.registry(
            (row[1] for p in items for row in p.rows),
            version,
            lambda devices: conn.execute(REGISTRY_SQL, (list(devices),)).fetchall(),
        )

    @staticmethod
    def _insert(conn: Conn, split: Attributed) -> tuple[int, int, Attributed]:
        """Fast path: identities and rows by COPY in a savepoint. A reading stored already (or
        its identity, with another time): staging, and only the new identities' rows.

        Returns the rows stored in each table and the part of ``split`` actually stored."""
        try:
            with conn.transaction(), conn.cursor() as cur:
                _copy(cur, IDENTITY_COPY, IDENTITY_TYPES, identities(split))
                _copy(cur, OBSERVATION_COPY, OBSERVATION_TYPES, split.observed)
                _copy(cur, UNATTRIBUTED_COPY, UNATTRIBUTED_TYPES, split.unattributed)
        except pg_errors.UniqueViolation:
            log.info("some readings were stored already; inserting only the new ones")
        else:
            return len(split.observed), len(split.unattributed), split
        with conn.cursor() as cur:
            unattributed = [(None, *row) for row in split.unattributed]
            _copy(cur, STAGING_COPY, OBSERVATION_TYPES, [*split.observed, *unattributed])
            stored = cur.execute(FROM_STAGING_SQL).fetchall()
        new = {(d, s, m, t) for d, s, m, t, _ in stored}
        attributed = sum(1 for *_, a in stored if a)
        kept = split.only(lambda row: (row[1], row[3], row[2], row[0]) in new)
        return attributed, len(stored) - attributed, kept

    @staticmethod
    def _upsert_latest(conn: Conn, split: Attributed) -> None:
        if not split.latest:
            return
        keys = sorted(split.latest)
        rows = [split.latest[k] for k in keys]
        conn.execute(  # literals, not lists: psycopg adapts lists element by element in Python
            _LATEST_SQL,
            (
                text_array([p for p, _ in keys]),
                int_array([m for _, m in keys]),
                time_array([r[0] for r in rows]),
                float_array([r[4] for r in rows]),
                text_array(["{" + ",".join(r[5]) + "}" for r in rows]),
                text_array([r[1] for r in rows]),
            ),
        )

    def _journal(self, conn: Conn, split: Attributed) -> int | None:
        first, last = split.first_time, split.last_time
        if first is None or last is None:
            return None
        return handoff.record_commit(
            conn,
            self._worker_id,
            rows_stored=len(split.observed),
            patients=split.patients,
            first_time=first,
            last_time=last,
        )

    @staticmethod
    def _record_batches(conn: Conn, items: Sequence[Pending]) -> None:
        batches = [_accepted(p).batch_id for p in items]
        conn.execute(
            _RECORD_BATCHES_SQL,
            (
                [b.gateway_id for b in batches],
                [b.boot_id for b in batches],
                [b.batch_seq for b in batches],
                [len(p.rows) for p in items],
            ),
        )

    @staticmethod
    def _record_restamped(conn: Conn, items: Sequence[Pending]) -> None:
        """Keep the bytes of batches stored with restamped readings (their device's times)."""
        notes = [
            Rejected(
                a.topic,
                a.payload,
                a.batch_id.gateway_id,
                Category.IMPLAUSIBLE_TIME,
                f"{a.implausible} of {len(a.rows)} readings had a sample time implausibly far "
                "from ingest's clock: stored at their receipt time, flagged "
                f"{sample_times.FLAG}; this copy keeps the times they claimed",
                None,
                a.batch_id,
            )
            for a in map(_accepted, items)
            if a.implausible
        ]
        if notes:
            log.warning(
                "readings with implausible sample times stored at their receipt time",
                extra={
                    "batches": len(notes),
                    "gateways": sorted({str(n.gateway_id) for n in notes}),
                },
            )
            dead_letter_rows.insert(conn, notes, record=True)

    @staticmethod
    def _insert_dead(conn: Conn, rejected: Sequence[Rejected]) -> None:
        dead_letter_rows.insert(conn, rejected)

    # -- health and retention ---------------------------------------------------------------

    def write_health(self, snapshot: HealthSnapshot) -> None:
        """Rewrite this worker's ``ingest_health`` row, prune the hand-off journal and old dead
        letters, and re-attribute readings newly covered by an assignment when that is due."""

        def body(conn: Conn) -> None:
            conn.execute(HEALTH_UPSERT_SQL, snapshot.params())
            handoff.prune(conn, self._journal_retention_s)
            if self._dead_letter_retention_s > 0:
                conn.execute(_PURGE_DEAD_LETTERS_SQL, (self._dead_letter_retention_s,))

        self._run("health", body)
        now = self._clock()
        if self._reattribute_interval_s > 0 and now >= self._next_reattribution:
            self._next_reattribution = now + self._reattribute_interval_s
            done = self.reattribute()
            if done.moved:
                log.info(
                    "readings re-attributed",
                    extra={"moved": done.moved, "stored": done.stored, "seq": done.commit_seq},
                )

    def reattribute(self, device_id: str | None = None) -> Reattributed:
        """Move the unattributed readings an assignment now covers (one transaction)."""
        result: Reattributed = self._run(
            "re-attribution", lambda conn: reattribute(conn, self._worker_id, device_id)
        )
        return result
