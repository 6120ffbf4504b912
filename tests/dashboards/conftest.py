"""A ward in a real TimescaleDB, filled the way ingest and analytics would fill it.

Twenty virtual patients from ``nabd.simulators`` (two wards, six devices each), 26 hours of
readings at realistic rates (pulse and SpO2 every 15 s, respiration and RR intervals every minute,
cuff and thermometer every 4 h...), NEWS2 scored every minute by ``nabd.analytics.news2`` from
the values a nurse would have had (stale values count as missing), alerts, ingest and analytics
bookkeeping. A few patients are set up for the behaviour the dashboards must show:

* ``septic``: sepsis at its peak now: high NEWS2, a critical unacknowledged escalated alert;
* ``stale_spo2``: the oximeter went silent two hours ago (battery): SpO2 is stale;
* ``sensor_off``: the oximeter probe came off 20 minutes ago: SpO2 has no value, flagged;
* ``stale_score``: analytics stopped scoring this patient 20 minutes ago.

The database is built once per session (``dashboards_ward``) and only read by the tests.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import psycopg
import pytest

from nabd.analytics import news2
from nabd.app.db.migrations import apply_migrations
from nabd.contract.careplan import Programme, default_plan
from nabd.dashboards.macros import QueryContext, Variable
from nabd.simulators.devices import DEVICE_METRICS, Device
from nabd.simulators.patient import PatientProfile, draw_profiles, simulate
from nabd.simulators.scenarios import sensor_off, sepsis
from nabd.simulators.timebase import regular_times

if TYPE_CHECKING:
    from nabd.app.stack.testing import RunningStack

FloatArray = npt.NDArray[np.float64]

HOURS: Final = 26
STEP_S: Final = 15.0
WARDS: Final = (("cardio", "Cardiology 3"), ("surgery", "Surgery 2"))
CARDIO_PATIENTS: Final = 12
PATIENTS: Final = 20
SPOT_EVERY_S: Final = {"thermometer": 4 * 3600, "bp_cuff": 4 * 3600, "glucose_meter": 6 * 3600}
DEVICE_PREFIX: Final = {
    Device.CHEST_STRAP: "hrs",
    Device.PULSE_OXIMETER: "plx",
    Device.THERMOMETER: "thm",
    Device.BP_CUFF: "bpm",
    Device.GLUCOSE_METER: "glu",
    Device.SCALE: "scl",
    Device.RESPIRATION_SENSOR: "ghs",
}


@dataclass(frozen=True)
class Ward:
    """What the filler wrote, for the tests to check the dashboards against."""

    url: str
    now: datetime
    start: datetime
    patients: tuple[str, ...]
    ward_of: Mapping[str, str]
    septic: str
    stale_spo2: str
    sensor_off: str
    stale_score: str
    latest_score: Mapping[str, tuple[datetime, int, str, bool]]
    """Newest NEWS2 per patient: time, total, risk, complete."""
    observations: int
    heart_rate_times: Mapping[str, FloatArray] = field(repr=False)
    """Epoch seconds of every stored heart-rate value, per patient."""


def _device_id(device: Device, index: int) -> str:
    return f"{DEVICE_PREFIX[device]}-{index:02d}"


def _gateway(ward: str) -> str:
    return f"gw-{ward}-1"


class _Rows:
    """Observation rows buffered as COPY text for a staging table (fast: no per-row objects)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.count = 0

    def add(
        self,
        source: tuple[str, str, str],
        times: FloatArray,
        values: FloatArray,
        flagged: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        """Rows of one (patient, device, metric) stream; NaN without a flag: nothing sent."""
        patient, device, metric = source
        flags = np.zeros(times.shape, dtype=np.bool_) if flagged is None else flagged
        for seq, (t, v, f) in enumerate(
            zip(times.tolist(), values.tolist(), flags.tolist(), strict=True)
        ):
            if math.isnan(v) and not f:
                continue  # the device sent nothing at this instant
            value = "\\N" if f else repr(v)
            self.buffer.write(
                f"{t}\t{patient}\t{device}\t{metric}\t{seq}\t{value}\t{'t' if f else 'f'}\n"
            )
            self.count += 1


def _spot(times: FloatArray, every_s: float, phase_s: float) -> npt.NDArray[np.bool_]:
    """Instants of a measurement taken every ``every_s`` seconds, starting at ``phase_s``."""
    relative = times - times[0] - phase_s
    taken: npt.NDArray[np.bool_] = (relative >= 0) & (np.mod(relative, every_s) < STEP_S)
    return taken


def _observations(
    profiles: Sequence[PatientProfile], times: FloatArray, now_s: float, seed: int
) -> tuple[_Rows, dict[str, dict[str, FloatArray]], dict[str, FloatArray]]:
    """Simulate and sample every patient; return the rows, the values and heart-rate times."""
    ids = [p.patient_id for p in profiles]
    scenarios = {
        ids[0]: [sepsis(now_s - 8 * 3600)],
        ids[2]: [sensor_off(Device.PULSE_OXIMETER, [(now_s - 1200, now_s + 600)])],
    }
    series = simulate(profiles, times, seed=seed, scenarios=scenarios)
    rows = _Rows()
    sampled: dict[str, dict[str, FloatArray]] = {}
    hr_times: dict[str, FloatArray] = {}
    minute = np.mod(times - times[0], 60.0) < STEP_S
    for i, profile in enumerate(profiles):
        pid = profile.patient_id
        mine: dict[str, FloatArray] = {}
        for device, metrics in DEVICE_METRICS.items():
            keep = np.ones(times.shape, dtype=np.bool_)
            if device is Device.PULSE_OXIMETER and i == 1:
                keep = times < now_s - 2 * 3600  # battery died two hours ago
            if device.value in SPOT_EVERY_S:
                keep &= _spot(times, SPOT_EVERY_S[device.value], (i * 17 * 60) % 3600)
            if device is Device.SCALE:
                keep &= _spot(times, 10 * 86400, 6 * 3600)
            for metric in metrics:
                mask = keep & (minute if metric == "respiration_rate" else True)
                values = np.where(mask, series.values[metric][i], np.nan)
                lost = mask & series.contact_lost[metric][i]
                rows.add((pid, _device_id(device, i), metric), times, values, lost)
                mine[metric] = values
            battery = series.battery_level[device][i].astype(np.float64)
            battery_mask = np.mod(times - times[0], 600.0) < STEP_S
            if device is Device.PULSE_OXIMETER and i == 1:
                battery_mask &= times < now_s - 2 * 3600
            battery = np.where(battery_mask, battery, np.nan)
            rows.add((pid, _device_id(device, i), "battery_level"), times, battery)
        strap = _device_id(Device.CHEST_STRAP, i)
        heart = series.values["heart_rate"][i]
        rows.add((pid, strap, "rr_interval"), times, np.where(minute, 60.0 / heart, np.nan))
        energy = np.where(minute, np.cumsum(np.full(times.shape, 0.8)), np.nan)
        rows.add((pid, strap, "energy_expended"), times, energy)
        scale = _device_id(Device.SCALE, i)
        once = np.where(_spot(times, 10 * 86400, 6 * 3600), 1.0, np.nan)
        bmi = profile.weight / profile.height**2
        rows.add((pid, scale, "bmi"), times, once * round(bmi, 1))
        rows.add((pid, scale, "body_height"), times, once * profile.height)
        sampled[pid] = mine
        hr_times[pid] = times[~np.isnan(heart)]
    return rows, sampled, hr_times


def _latest_before(
    values: FloatArray, times: FloatArray, at: FloatArray, max_age_s: float
) -> FloatArray:
    """At each instant of ``at``: the newest value at or before it, NaN if none or too old."""
    present = ~np.isnan(values)
    known_t, known_v = times[present], values[present]
    index = np.searchsorted(known_t, at, side="right") - 1
    safe = np.clip(index, 0, max(len(known_t) - 1, 0))
    if len(known_t) == 0:
        return np.full(at.shape, np.nan)
    ok = (index >= 0) & (at - known_t[safe] <= max_age_s)
    return np.where(ok, known_v[safe], np.nan)


def _scores(
    profiles: Sequence[PatientProfile],
    sampled: Mapping[str, Mapping[str, FloatArray]],
    times: FloatArray,
    minutes: FloatArray,
) -> news2.News2:
    """NEWS2 per patient (rows) and minute (columns) from what a nurse had: stale = missing."""

    def column(metric: str, max_age_s: float) -> FloatArray:
        return np.stack(
            [
                _latest_before(sampled[p.patient_id][metric], times, minutes, max_age_s)
                for p in profiles
            ]
        )

    n = len(profiles)
    known = np.array([i % 2 == 0 for i in range(n)])[:, None] & np.ones(minutes.shape, dtype=bool)
    consciousness = np.where(known, "A", "")
    on_oxygen = np.ma.masked_array(np.zeros(known.shape, dtype=bool), mask=~known)
    scale2 = np.array([i == 5 for i in range(n)])[:, None]
    return news2.score(
        column("respiration_rate", 180),
        column("spo2", 10),
        on_oxygen,
        column("body_temperature", 8 * 3600),
        column("systolic_bp", 8 * 3600),
        column("heart_rate", 10),
        consciousness,
        scale2=scale2,
    )


def _copy_observations(conn: psycopg.Connection[tuple[object, ...]], rows: _Rows) -> None:
    conn.execute(
        """CREATE TEMPORARY TABLE staging (t double precision, patient_id text, device_id text,
               metric text, seq bigint, value double precision, flagged boolean)"""
    )
    with conn.cursor().copy("COPY staging FROM STDIN") as copy:
        copy.write(rows.buffer.getvalue())
    conn.execute(
        """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value, quality,
                                    received_at, gateway_id, ingested_at)
           SELECT to_timestamp(s.t), s.patient_id, s.device_id, m.id, s.seq, s.value,
                  CASE WHEN s.flagged THEN '{unavailable,sensor_contact_lost}'::text[]
                       ELSE '{}'::text[] END,
                  to_timestamp(s.t + 0.4), d.gateway_id,
                  to_timestamp(s.t + 0.9 + (s.seq % 7) * 0.3)
           FROM staging s JOIN metric m ON m.key = s.metric JOIN device d ON d.id = s.device_id"""
    )
    conn.execute(
        """INSERT INTO observation_latest (patient_id, metric_id, time, value, quality, device_id)
           SELECT DISTINCT ON (patient_id, metric_id) patient_id, metric_id, time, value, quality,
                  device_id
           FROM observation ORDER BY patient_id, metric_id, time DESC"""
    )


def _registry(
    conn: psycopg.Connection[tuple[object, ...]],
    profiles: Sequence[PatientProfile],
    ward_of: Mapping[str, str],
    start: datetime,
    now: datetime,
) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO ward (id, name) VALUES (%s, %s)", WARDS)
        cur.executemany(
            "INSERT INTO gateway (id, ward_id, last_status, last_seen_at) VALUES (%s, %s, %s, %s)",
            [
                (_gateway("cardio"), "cardio", "online", now - timedelta(seconds=3)),
                (_gateway("surgery"), "surgery", "offline", now - timedelta(minutes=25)),
            ],
        )
        cur.executemany(
            "INSERT INTO patient (id, ward_id, news2_scale2, admitted_at) VALUES (%s, %s, %s, %s)",
            [(p.patient_id, ward_of[p.patient_id], i == 5, start) for i, p in enumerate(profiles)],
        )
        devices = [
            (_device_id(d, i), _gateway(ward_of[p.patient_id]), d.value, p.patient_id)
            for i, p in enumerate(profiles)
            for d in Device
        ]
        cur.executemany(
            "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, %s)",
            [d[:3] for d in devices],
        )
        cur.execute(
            "INSERT INTO device (id, gateway_id, kind) VALUES ('plx-spare', %s, 'pulse_oximeter')",
            (_gateway("cardio"),),
        )
        cur.executemany(
            """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
               VALUES (%s, %s, tstzrange(%s, NULL), 'nurse-1')""",
            [(d[0], d[3], start) for d in devices],
        )


def _alerts(
    conn: psycopg.Connection[tuple[object, ...]], ids: Sequence[str], now: datetime
) -> None:
    def ago(minutes: float) -> datetime:
        return now - timedelta(minutes=minutes)

    rows = [
        (
            ids[0],
            "news2_high",
            "critical",
            "raised",
            ago(40),
            None,
            None,
            None,
            1,
            "NEWS2 7 or more",
        ),
        (
            ids[0],
            "spo2_low",
            "high",
            "acknowledged",
            ago(120),
            ago(110),
            "nurse-4",
            None,
            0,
            "SpO2 low",
        ),
        (
            ids[2],
            "sensor_off",
            "medium",
            "raised",
            ago(18),
            None,
            None,
            None,
            0,
            "Oximeter probe off",
        ),
        (
            ids[4],
            "tachycardia",
            "low",
            "resolved",
            ago(360),
            None,
            None,
            ago(300),
            0,
            "Heart rate high",
        ),
        (
            ids[15],
            "news2_medium",
            "high",
            "acknowledged",
            ago(180),
            ago(170),
            "nurse-9",
            None,
            0,
            "NEWS2 5-6",
        ),
    ]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO alert (patient_id, condition, priority, state, raised_at,
                                  acknowledged_at, acknowledged_by, resolved_at,
                                  escalation_level, message)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )


def _home(conn: psycopg.Connection[tuple[object, ...]], ids: Sequence[str], now: datetime) -> None:
    """The last patients are followed at home: a heart-failure care plan each, and one with an
    open (acknowledged) "weight not measured" adherence alert (the remote-monitoring dashboard)."""
    plan = default_plan([Programme.HEART_FAILURE])
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO care_plan (patient_id, plan, programmes, set_by)
               VALUES (%s, %s::jsonb, %s, 'Dr Haddad')""",
            [(pid, plan.model_dump_json(), ["heart_failure"]) for pid in ids],
        )
        cur.execute(
            """INSERT INTO alert (patient_id, condition, kind, priority, state, raised_at,
                                  acknowledged_at, acknowledged_by, message)
               VALUES (%s, 'adherence_weight', 'technical', 'low', 'acknowledged', %s, %s,
                       'nurse-r', %s)""",
            (ids[0], now - timedelta(hours=3), now - timedelta(hours=2),
             "Weight not measured as planned: 2 scheduled in a row missed"),
        )  # fmt: skip


def _pipeline(
    conn: psycopg.Connection[tuple[object, ...]], now: datetime, patients: Sequence[str]
) -> None:
    rng = np.random.default_rng(7)
    instants = [now - timedelta(seconds=s) for s in range(7200, 0, -10)]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO ingested_batch (gateway_id, boot_id, batch_seq, readings, committed_at)
               VALUES (%s, 'boot-1', %s, %s, %s)""",
            [
                (_gateway(w), k, int(rng.integers(40, 80)), t)
                for w, _ in WARDS
                for k, t in enumerate(instants)
            ],
        )
        cur.executemany(
            """INSERT INTO observation_commit (seq, worker_id, ingested_at, committed_at,
                   rows_stored, patients, first_time, last_time)
               VALUES (%s, 'ingest-1', %s, %s, %s, %s, %s, %s)""",
            [
                (
                    k + 1,
                    t,
                    t,
                    120,
                    list(patients[:4]),
                    t - timedelta(seconds=12),
                    t - timedelta(seconds=float(rng.uniform(0.8, 3.0))),
                )
                for k, t in enumerate(instants)
            ],
        )
        cur.execute(
            """INSERT INTO ingest_health VALUES ('ingest-1', %s, %s, true, 3, 1440, 1440, 2, 172800,
                   0, 6, 1440, 0, %s, 0.012, 1.4)""",
            (now - timedelta(hours=3), now - timedelta(seconds=2), now - timedelta(seconds=2)),
        )
        cur.executemany(
            """INSERT INTO dead_letter (received_at, topic, gateway_id, payload, reason, field)
               VALUES (%s, 'nabd/v1/gw/gw-surgery-1/obs', 'gw-surgery-1', %s, %s, %s)""",
            [
                (
                    now - timedelta(minutes=7 * k),
                    b'{"schema":"nabd.obs/1"}',
                    "readings.0.unit: 'bpm' is not '/min'",
                    "readings.0.unit",
                )
                for k in range(1, 7)
            ],
        )
        cur.executemany(
            "INSERT INTO analytics_tick (time, duration_ms, patients) VALUES (%s, %s, %s)",
            [
                (now - timedelta(seconds=s), float(rng.uniform(5, 40)), len(patients))
                for s in range(7200, 0, -5)
            ],
        )


def _copy_scores(
    conn: psycopg.Connection[tuple[object, ...]],
    ids: Sequence[str],
    minutes: FloatArray,
    scores: news2.News2,
    cutoff: Mapping[str, float],
) -> dict[str, tuple[datetime, int, str, bool]]:
    subs = news2.PARAMETERS
    latest: dict[str, tuple[datetime, int, str, bool]] = {}
    with conn.cursor().copy(
        "COPY news2_score (time, patient_id, total, risk, complete, scale2, "
        + ", ".join(subs)
        + ") FROM STDIN"
    ) as copy:
        for i, pid in enumerate(ids):
            for k, t in enumerate(minutes.tolist()):
                if t > cutoff.get(pid, math.inf):
                    continue
                when = datetime.fromtimestamp(t, UTC)
                row = (
                    when,
                    pid,
                    int(scores.total[i, k]),
                    str(scores.risk[i, k]),
                    bool(scores.complete[i, k]),
                    bool(scores.scale2[i, 0]),
                    *(int(getattr(scores, s)[i, k]) for s in subs),
                )
                copy.write_row(row)
                latest[pid] = (
                    when,
                    int(scores.total[i, k]),
                    str(scores.risk[i, k]),
                    bool(scores.complete[i, k]),
                )
    return latest


def fill(url: str, seed: int = 20250301) -> Ward:
    """Write the ward described in the module docstring into the migrated database at ``url``."""
    now_s = math.floor(time.time() / STEP_S) * STEP_S
    start_s = now_s - HOURS * 3600
    times = regular_times(start_s, HOURS * 3600 + STEP_S / 2, STEP_S)
    now, start = datetime.fromtimestamp(now_s, UTC), datetime.fromtimestamp(start_s - 3600, UTC)
    profiles = draw_profiles(PATIENTS, seed)
    ids = tuple(p.patient_id for p in profiles)
    ward_of = {pid: ("cardio" if i < CARDIO_PATIENTS else "surgery") for i, pid in enumerate(ids)}
    rows, sampled, hr_times = _observations(profiles, times, now_s, seed)
    minutes = times[np.mod(times - times[0], 60.0) < STEP_S / 2]
    scores = _scores(profiles, sampled, times, minutes)
    with psycopg.connect(url) as conn:
        _registry(conn, profiles, ward_of, start, now)
        _copy_observations(conn, rows)
        latest = _copy_scores(conn, ids, minutes, scores, {ids[3]: now_s - 1200})
        _alerts(conn, ids, now)
        _home(conn, ids[-4:], now)
        _pipeline(conn, now, ids)
        conn.execute(
            """UPDATE device d SET battery_level = b.value, last_seen_at = s.time
               FROM (SELECT DISTINCT ON (device_id) device_id, value FROM observation
                     WHERE metric_id = (SELECT id FROM metric WHERE key = 'battery_level')
                     ORDER BY device_id, time DESC) b,
                    (SELECT device_id, max(time) AS time FROM observation GROUP BY device_id) s
               WHERE b.device_id = d.id AND s.device_id = d.id"""
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return Ward(
        url=url,
        now=now,
        start=start,
        patients=ids,
        ward_of=ward_of,
        septic=ids[0],
        stale_spo2=ids[1],
        sensor_off=ids[2],
        stale_score=ids[3],
        latest_score=latest,
        observations=rows.count,
        heart_rate_times=hr_times,
    )


@dataclass(frozen=True)
class Result:
    """Columns and rows of one query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Runner:
    """Runs panel SQL the way Grafana would, as the read-only ``nabd_dashboards`` role."""

    def __init__(self, ward: Ward, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.ward = ward
        self.conn = conn

    def context(self, *, timescaledb: bool = True, hours: float = 24) -> QueryContext:
        """The last ``hours`` before the fill, all wards, the septic patient selected."""
        return QueryContext(
            time_from=self.ward.now - timedelta(hours=hours),
            time_to=self.ward.now,
            interval=timedelta(minutes=1),
            variables={
                "ward": Variable(("cardio", "surgery"), multi=True, include_all=True),
                "patient": Variable(self.ward.septic),
            },
            timescaledb=timescaledb,
        )

    def query(self, sql: str, *, elapsed: timedelta | None = None, explain: bool = False) -> Result:
        """Run Grafana-expanded ``sql`` in a transaction that is rolled back at once.

        ``elapsed``: first move every newest value so it is that old relative to now() (in
        this transaction only): values fresh at the fill stay fresh (``timedelta(0)``) however
        long the session has run, since some metrics are stale after 10 s.
        """
        try:
            if elapsed is not None:
                self.conn.execute(
                    "UPDATE observation_latest SET time = time + (now() - %s) - %s",
                    (self.ward.now, elapsed),
                )
            # The owner joins the role inside this transaction only (rolled back below).
            self.conn.execute("GRANT nabd_dashboards TO current_user")
            self.conn.execute("SET ROLE nabd_dashboards")
            cur = self.conn.execute(("EXPLAIN (FORMAT JSON) " if explain else "") + sql)
            assert cur.description is not None
            return Result([d.name for d in cur.description], cur.fetchall())
        finally:
            self.conn.rollback()


@pytest.fixture(scope="session")
def dashboards_ward(nabd_stack: RunningStack) -> Iterator[Ward]:
    """A migrated database holding the ward above, for the whole session (read-only)."""
    from nabd.app.stack.testing import fresh_database  # noqa: PLC0415

    with fresh_database(nabd_stack.database_url, prefix="nabd_dash") as url:
        apply_migrations(url)
        yield fill(url)


@pytest.fixture(scope="session")
def dashboards_sql(dashboards_ward: Ward) -> Iterator[Runner]:
    """A :class:`Runner` on the session's ward."""
    with psycopg.connect(dashboards_ward.url) as conn:
        yield Runner(dashboards_ward, conn)
