"""Reading the database: committed observations through ingest's hand-off journal, the registry.

**Observations.** Ingest numbers every flush that stored observations in ``observation_commit``,
in commit order, and sends ``NOTIFY nabd_observations`` at its COMMIT (migration 0007,
:mod:`nabd.ingest.handoff`). The source keeps a *watermark*, the last journal entry folded in:
:meth:`ObservationSource.fetch` reads the entries after it (at most ``fetch_limit``) and their
observations in one statement, so nothing committed is missed or read twice, and a listener on
the channel wakes the service within milliseconds of a commit. The observations come back with
each patient's *row* already attached: the source keeps a temporary table ``monitor_patient``
(pseudonymous id -> row) on its connection and the database does the join, which is much
cheaper than mapping strings in Python.

**Wards.** Only the observations and registry rows of patients in the wards this worker holds
(:mod:`nabd.analytics.service.leases`) are read.

**Warm-up.** When patients are adopted (at start, a ward taken over, an admission) their windows
are refilled from the hypertable (raw observations of the last ``warmup_s``, per-minute medians
of the last ``baseline_warmup_s`` for the baselines), after the watermark has been taken, so the
overlap is read twice and the ring buffers drop the copies; this also covers what a ward's
earlier owner folded in before it stopped.

Every statement runs under the connection's ``statement_timeout``; every wait has a deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
import psycopg

from nabd.analytics.arrays import NEVER, IntArray
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import DOUBTFUL_FLAGS, METRIC_KEYS, Samples, metric_index
from nabd.analytics.service.state import PatientIndex
from nabd.contract.handoff import CHANNEL

__all__ = [
    "CHANNEL",
    "Fetched",
    "ObservationSource",
    "load_registry",
    "to_ns",
]

log = logging.getLogger(__name__)

Conn: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]


_US: Final = 1000


def to_ns(microseconds: int | None) -> int:
    """Epoch microseconds (what the SQL below returns) as int64 ns; None is NEVER."""
    return NEVER if microseconds is None else int(microseconds) * _US


_TEMP_SQL: Final = """
CREATE TEMPORARY TABLE IF NOT EXISTS monitor_patient (
    patient_id text PRIMARY KEY,
    row int4 NOT NULL
)
"""

_REGISTER_SQL: Final = """
INSERT INTO pg_temp.monitor_patient (patient_id, row)
SELECT * FROM unnest(%s::text[], %s::int4[]) ON CONFLICT (patient_id) DO NOTHING
"""

_COMMITS_SQL: Final = """
SELECT seq, committed_us FROM (
    SELECT seq, committed_us, sum(rows_stored) OVER (ORDER BY seq) - rows_stored AS before
    FROM (SELECT seq, (extract(epoch FROM committed_at) * 1000000)::int8 AS committed_us,
                 rows_stored
          FROM observation_commit WHERE seq > %s ORDER BY seq LIMIT %s) AS first_entries
) AS entries
WHERE before < %s ORDER BY seq
"""
"""The next journal entries: at most ``fetch_limit`` of them, and only as many as hold fewer than
``fetch_rows`` rows before the last (the first entry always comes). Counting entries alone let a
backlog ask for 500 flushes of 5 000 rows at once: at 4 000 beds, once analytics had fallen a
little behind, that read outlasted the statement timeout, the session restarted, and every
retry asked for the same backlog again (bench/capacity.py): monitoring stopped for good."""

_ROWS_SQL: Final = """
WITH c AS MATERIALIZED (
    SELECT c.ingested_at, c.first_time, c.last_time,
           CASE WHEN EXISTS (SELECT FROM observation_commit x
                             WHERE x.ingested_at = c.ingested_at AND x.seq <> c.seq)
                THEN c.patients END AS shared_with
    FROM observation_commit c WHERE c.seq > %(after)s AND c.seq <= %(upto)s
)
SELECT coalesce(r.row, -1), CASE WHEN r.row IS NULL THEN o.patient_id END, m.key,
       (extract(epoch FROM o.time) * 1000000)::int8, o.value,
       'sensor_contact_lost' = ANY (o.quality), o.quality && %(doubtful)s::text[]
FROM c
CROSS JOIN LATERAL (
    SELECT o.patient_id, o.metric_id, o.time, o.value, o.quality FROM observation o
    WHERE o.ingested_at = c.ingested_at AND o.time BETWEEN c.first_time AND c.last_time
    OFFSET 0
) o
JOIN metric m ON m.id = o.metric_id
JOIN patient p ON p.id = o.patient_id
LEFT JOIN pg_temp.monitor_patient r ON r.patient_id = o.patient_id
WHERE p.ward_id = ANY (%(wards)s)
  AND (c.shared_with IS NULL OR o.patient_id = ANY (c.shared_with))
"""
"""The observations of journal entries ``after`` < seq <= ``upto`` for this worker's wards.

Each entry's rows are found by its ``ingested_at`` through the B-tree of migration 0150, in a
subquery the planner must plan alone (``OFFSET 0``): offered the entry's patients as well, it
preferred ``observation_patient_metric_time_idx``, which reads every row of those patients since
midnight, so a tick cost more with every hour of the day (220 ms instead of 21 ms at 1 000 beds
after 12 minutes).

Only an entry whose ``ingested_at`` another entry shares (two flushes whose transactions began in
the same microsecond) has its rows checked against its patients (``shared_with``), and that is
decided once per entry: the check on every row detoasted the entry's patient list (1 200
patients at 3 000 beds) and searched it for each row, 30 pages and a linear scan per row, which
made this the server's costliest statement (180 ms instead of 37 ms for 10 entries, measured on
bench/capacity.py's data)."""

_WARMUP_SQL: Final = """
SELECT coalesce(r.row, -1), CASE WHEN r.row IS NULL THEN o.patient_id END, m.key,
       (extract(epoch FROM o.time) * 1000000)::int8, o.value,
       'sensor_contact_lost' = ANY (o.quality), o.quality && %(doubtful)s::text[]
FROM observation o
JOIN metric m ON m.id = o.metric_id
JOIN pg_temp.monitor_patient r ON r.patient_id = o.patient_id
WHERE o.time >= to_timestamp(%(since)s / 1e6) AND m.key = ANY (%(metrics)s)
  AND o.patient_id = ANY (%(patients)s)
"""

_MINUTES_SQL: Final = """
SELECT r.row, m.key,
       (extract(epoch FROM time_bucket('1 minute', o.time)) * 1000000)::int8 AS minute,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY o.value)
FROM observation o
JOIN metric m ON m.id = o.metric_id
JOIN pg_temp.monitor_patient r ON r.patient_id = o.patient_id
WHERE o.time >= to_timestamp(%(since)s / 1e6) AND o.time < to_timestamp(%(until)s / 1e6)
  AND m.key = ANY (%(metrics)s) AND o.value IS NOT NULL AND o.patient_id = ANY (%(patients)s)
  AND NOT (o.quality && %(doubtful)s::text[] OR 'sensor_contact_lost' = ANY (o.quality))
GROUP BY 1, 2, 3
"""

_PATIENTS_SQL: Final = """
WITH p AS MATERIALIZED (
    SELECT id, ward_id, news2_scale2, admitted_at FROM patient
    WHERE discharged_at IS NULL AND ward_id = ANY (%s)
)
SELECT p.id, p.ward_id, p.news2_scale2, (extract(epoch FROM p.admitted_at) * 1000000)::int8,
       coalesce(d.gateway_id, ''), d.battery
FROM p
LEFT JOIN (
    SELECT a.patient_id, min(dv.gateway_id) AS gateway_id, min(dv.battery_level)::float8 AS battery
    FROM device_assignment a JOIN device dv ON dv.id = a.device_id
    WHERE a.valid @> now() AND a.patient_id IN (SELECT id FROM p)
    GROUP BY a.patient_id
) d ON d.patient_id = p.id
LEFT JOIN consent_restricted_periods(ARRAY(SELECT id FROM p)) r ON r.patient_id = p.id
WHERE r.periods IS NULL OR r.periods @> now()
ORDER BY p.id
"""
"""The patients monitored: admitted, and whose consent allows collection now (docs/consent.md;
a patient who withdrew is not watched for data that must not come, so raises no "no data").

Set-based: consent is asked once for all patients (``consent_restricted_periods`` returns only
those not collected at every instant, migration 0152), and devices are aggregated in one pass.
Asking ``consent_collection_periods`` per patient took 207 of 224 ms at 7 000 beds; this takes
about 70 ms on the same data."""

_GATEWAYS_SQL: Final = """
SELECT id, last_status IS DISTINCT FROM 'offline',
       (extract(epoch FROM last_seen_at) * 1000000)::int8
FROM gateway WHERE revoked_at IS NULL ORDER BY id
"""

_LINKS_SQL: Final = """
SELECT a.patient_id, s.device_id, (extract(epoch FROM s.since) * 1000000)::int8
FROM device_assignment a
JOIN patient p ON p.id = a.patient_id AND p.discharged_at IS NULL AND p.ward_id = ANY (%s)
JOIN device dv ON dv.id = a.device_id
JOIN gateway_device_state s ON s.device_id = dv.id AND s.gateway_id = dv.gateway_id
JOIN gateway_state g ON g.gateway_id = s.gateway_id AND g.state = 'online'
WHERE a.valid @> now() AND s.state IN ('searching', 'connecting', 'lost')
ORDER BY a.patient_id, s.device_id
"""
"""Assigned devices of admitted patients whose Bluetooth link the gateway's latest ``online``
status reports down (ingest's ``gateway_device_state``, migration 0008). ``silent`` is a link
that is up: a device quiet between spot measurements is normal, and a continuous one going quiet
is ``stale_data``. A gateway that is ``offline`` is its own alert; its last device states are
not news."""

_ENTRIES_SQL: Final = """
SELECT DISTINCT ON (e.patient_id, e.parameter) e.patient_id, e.parameter, e.value,
       (extract(epoch FROM e.valid_until) * 1000000)::int8,
       (extract(epoch FROM e.observed_at) * 1000000)::int8
FROM nurse_entry e JOIN patient p ON p.id = e.patient_id AND p.discharged_at IS NULL
WHERE e.valid_until > now() AND e.observed_at <= now()
ORDER BY e.patient_id, e.parameter, e.observed_at DESC, e.id DESC
"""

_LIMITS_SQL: Final = """
SELECT coalesce(ward_id, ''), coalesce(patient_id, ''), metric,
       coalesce(low, 'NaN'::float8), coalesce(high, 'NaN'::float8)
FROM alarm_limit
"""


@dataclass(frozen=True)
class Fetched:
    """One micro-batch read from the journal."""

    samples: Samples
    unknown: tuple[str, ...]
    """Patient ids of observations whose patient has no row yet (admitted since the last
    registry refresh); their samples are not in ``samples``: refresh, then :meth:`refetch`."""
    watermark: int
    """The newest journal entry included (unchanged when there was nothing new)."""
    oldest_commit: int
    """Commit time (ns) of the oldest entry included; NEVER when none."""
    commits: int
    skipped: int
    """Journal entries that were pruned before we read them (we fell behind retention)."""


class ObservationSource:
    """Committed observations after a watermark, with rows attached by the database."""

    def __init__(self, conn: Conn, fetch_limit: int = 500, fetch_rows: int = 50_000) -> None:
        self._conn = conn
        self._limit = fetch_limit
        self._rows = fetch_rows
        self._registered = 0

    async def setup(self) -> None:
        """Create the row-mapping temporary table (again, after a reconnect)."""
        await self._conn.execute(_TEMP_SQL)
        await self._conn.execute("TRUNCATE pg_temp.monitor_patient")
        self._registered = 0

    async def register(self, index: PatientIndex) -> None:
        """Tell the database the rows of patients admitted since the last call.

        Only the tail of ``index.ids`` (every row, in order) is sent, less retired rows.
        """
        ids = index.ids
        new = list(ids[self._registered :])
        if new:
            rows = np.arange(self._registered, len(ids), dtype=np.int64)
            current = index.rows(new) == rows
            await self._conn.execute(
                _REGISTER_SQL,
                ([i for i, c in zip(new, current, strict=True) if c], rows[current].tolist()),
            )
            self._registered = len(ids)

    async def moved_away(self, ids: list[str], wards: list[str]) -> list[str]:
        """Of ``ids``, the patients still admitted but in none of ``wards`` (transferred to a
        ward another worker scores)."""
        cur = await self._conn.execute(
            "SELECT id FROM patient WHERE id = ANY(%s) AND discharged_at IS NULL"
            " AND ward_id <> ALL(%s)",
            (ids, wards),
        )
        return [str(r[0]) for r in await cur.fetchall()]

    async def forget(self, ids: list[str]) -> None:
        """Drop the rows of retired patients (a later admission registers a new row)."""
        if ids:
            await self._conn.execute(
                "DELETE FROM pg_temp.monitor_patient WHERE patient_id = ANY(%s)", (ids,)
            )

    async def head(self) -> int:
        """The newest journal entry now (0 when empty): where a fresh reader starts."""
        cur = await self._conn.execute("SELECT coalesce(max(seq), 0) FROM observation_commit")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def fetch(self, watermark: int, wards: list[str]) -> Fetched:
        """The journal entries after ``watermark`` (at most ``fetch_limit``) and the rows of
        their observations of patients in ``wards`` (this worker's)."""
        cur = await self._conn.execute(_COMMITS_SQL, (watermark, self._limit, self._rows))
        commits = await cur.fetchall()
        if not commits:
            return Fetched(Samples.empty(), (), watermark, NEVER, 0, 0)
        upto = int(commits[-1][0])
        skipped = int(commits[0][0]) - watermark - 1 if watermark > 0 else 0
        if skipped > 0:
            log.warning(
                "hand-off journal entries %d..%d were pruned unread",
                watermark + 1,
                int(commits[0][0]) - 1,
            )
        cur = await self._conn.execute(
            _ROWS_SQL,
            {"doubtful": list(DOUBTFUL_FLAGS), "after": watermark, "upto": upto, "wards": wards},
        )
        samples, unknown = _columns(await cur.fetchall())
        return Fetched(
            samples=samples,
            unknown=unknown,
            watermark=upto,
            oldest_commit=min(to_ns(c[1]) for c in commits),
            commits=len(commits),
            skipped=max(skipped, 0),
        )

    async def refetch_unknown(self, watermark_before: int, upto: int, wards: list[str]) -> Samples:
        """Re-read a batch's entries once their patients have rows (rare: admissions)."""
        cur = await self._conn.execute(
            _ROWS_SQL,
            {
                "doubtful": list(DOUBTFUL_FLAGS),
                "after": watermark_before,
                "upto": upto,
                "wards": wards,
            },
        )
        samples, _ = _columns(await cur.fetchall())
        return samples

    async def warmup(self, since: int, metrics: tuple[str, ...], patients: list[str]) -> Samples:
        """Raw observations of ``metrics`` since ``since`` (ns) of ``patients``, for the
        windows."""
        cur = await self._conn.execute(
            _WARMUP_SQL,
            {
                "doubtful": list(DOUBTFUL_FLAGS),
                "since": since // _US,
                "metrics": list(metrics),
                "patients": patients,
            },
        )
        samples, _ = _columns(await cur.fetchall())
        return samples

    async def minute_medians(
        self, since: int, until: int, metrics: tuple[str, ...], patients: list[str]
    ) -> tuple[IntArray, IntArray, IntArray, np.ndarray[Any, np.dtype[np.float64]]]:
        """Per-minute medians ``(rows, metric indices, minute starts ns, medians)`` of
        ``patients``."""
        cur = await self._conn.execute(
            _MINUTES_SQL,
            {
                "doubtful": list(DOUBTFUL_FLAGS),
                "since": since // _US,
                "until": until // _US,
                "metrics": list(metrics),
                "patients": patients,
            },
        )
        rows = await cur.fetchall()
        if not rows:
            empty = np.zeros(0, np.int64)
            return empty, empty.copy(), empty.copy(), np.zeros(0)
        row, key, minute, median = zip(*rows, strict=True)
        return (
            np.array(row, np.int64),
            np.array([metric_index(k) for k in key], np.int64),
            np.array(minute, np.int64) * _US,
            np.array(median, np.float64),
        )


def _columns(rows: list[tuple[Any, ...]]) -> tuple[Samples, tuple[str, ...]]:
    """Rows of ``_ROWS_SELECT`` as sample columns; unknown patients' rows set aside."""
    if not rows:
        return Samples.empty(), ()
    row, patient, key, time, value, lost, doubtful = zip(*rows, strict=True)
    rows_array = np.array(row, dtype=np.int64)
    unknown = tuple(sorted({p for p in patient if p is not None}))
    index = {k: i for i, k in enumerate(METRIC_KEYS)}
    samples = Samples(
        row=rows_array,
        metric=np.array([index[k] for k in key], dtype=np.int64),
        time=np.array(time, dtype=np.int64) * _US,
        value=np.array([np.nan if v is None else v for v in value], dtype=np.float64),
        contact_lost=np.array(lost, dtype=np.bool_),
        doubtful=np.array(doubtful, dtype=np.bool_),
    )
    return samples, unknown


async def load_registry(conn: Conn, wards: list[str]) -> Registry:
    """Everything :class:`~nabd.analytics.service.registry.Registry` holds about the patients
    of ``wards`` (this worker's), read in one go."""
    patients = await (await conn.execute(_PATIENTS_SQL, (wards,))).fetchall()
    gateways = await (await conn.execute(_GATEWAYS_SQL)).fetchall()
    entries = await (await conn.execute(_ENTRIES_SQL)).fetchall()
    limits = await (await conn.execute(_LIMITS_SQL)).fetchall()
    links = await (await conn.execute(_LINKS_SQL, (wards,))).fetchall()

    def col(rows: list[tuple[Any, ...]], i: int) -> list[Any]:
        return [r[i] for r in rows]

    return Registry(
        patient=np.array(col(patients, 0), dtype=np.str_),
        ward=np.array(col(patients, 1), dtype=np.str_),
        scale2=np.array(col(patients, 2), dtype=np.bool_),
        admitted_at=np.array(col(patients, 3), dtype=np.int64) * _US,
        gateway=np.array(col(patients, 4), dtype=np.str_),
        battery=np.array([np.nan if b is None else b for b in col(patients, 5)], np.float64),
        gateway_id=np.array(col(gateways, 0), dtype=np.str_),
        gateway_online=np.array(col(gateways, 1), dtype=np.bool_),
        gateway_last_seen=np.array([to_ns(t) for t in col(gateways, 2)], dtype=np.int64),
        entry_patient=np.array(col(entries, 0), dtype=np.str_),
        entry_parameter=np.array(col(entries, 1), dtype=np.str_),
        entry_value=np.array(col(entries, 2), dtype=np.str_),
        entry_valid_until=np.array(col(entries, 3), dtype=np.int64) * _US,
        entry_observed_at=np.array(col(entries, 4), dtype=np.int64) * _US,
        limit_ward=np.array(col(limits, 0), dtype=np.str_),
        limit_patient=np.array(col(limits, 1), dtype=np.str_),
        limit_metric=np.array(col(limits, 2), dtype=np.str_),
        limit_low=np.array(col(limits, 3), dtype=np.float64),
        limit_high=np.array(col(limits, 4), dtype=np.float64),
        link_patient=np.array(col(links, 0), dtype=np.str_),
        link_device=np.array(col(links, 1), dtype=np.str_),
        link_down_since=np.array([to_ns(t) for t in col(links, 2)], dtype=np.int64),
    )
