"""Every query the dashboards run, as SQL text for Grafana's PostgreSQL data source.

Queries use Grafana's macros (``$__timeFilter``, ``$__timeGroupAlias``, ``$__interval``...) and
the dashboards' template variables, always through ``${var:sqlstring}`` so a value is quoted and
escaped by Grafana instead of pasted into the SQL. They read only what the ``nabd_dashboards``
role may read, and they are shaped for the indexes the schema has:

* latest values come from ``observation_latest`` (one row per patient and metric), never from a
  scan of the hypertable;
* one patient's series filter ``observation`` on ``patient_id``, ``metric_id`` and ``time``, the
  columns of ``observation_patient_metric_time_idx``, and are bucketed with the ``$__timeGroup``
  macro (``time_bucket`` on a TimescaleDB data source);
* the newest NEWS2 score per patient is a ``LIMIT 1`` on ``news2_score (patient_id, time DESC)``;
  trends take ``last(total, time)`` per bucket.

A value is *stale* once it is older than its metric's limit (:mod:`nabd.dashboards.freshness`).
Queries never show a stale value as current: the cell text says "stale" and how old the value
is, and the panels colour that text grey (:mod:`nabd.dashboards.style`).

Language-dependent queries (labels written into cells) take the :class:`Strings` of one
language; the rest are constants.
"""

# ruff: noqa: S608
# This module writes SQL text for Grafana to run; it never runs SQL itself. Values a user can
# choose reach the SQL only through Grafana's ``${var:sqlstring}`` quoting; labels are checked
# by ``Strings`` and quoted by ``literal``.

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from nabd.contract.alert_text import NAMES
from nabd.contract.catalogue import METRICS
from nabd.dashboards.bands import DECIMALS
from nabd.dashboards.freshness import EXPECTED_INTERVAL_S, NEWS2_STALE_AFTER_S, STALE_AFTER_S
from nabd.dashboards.i18n import Lang, Strings, metric_name

__all__ = [
    "ALERT_PRIORITY_RANK",
    "DEVICES_GATEWAYS",
    "DEVICES_TABLE",
    "OVERVIEW_VITALS",
    "PATIENT",
    "PATIENT_BATTERY",
    "PATIENT_DEVICES",
    "PATIENT_LAST_DATA",
    "PATIENT_NEWS2_TREND",
    "PATIENT_OPEN_ALERTS",
    "PIPELINE_DEAD_LETTERS",
    "PIPELINE_DEAD_LETTER_SERIES",
    "PIPELINE_DEAD_LETTER_TABLE",
    "PIPELINE_INGEST_RATE",
    "PIPELINE_LAG",
    "PIPELINE_LAST_BATCH",
    "PIPELINE_LAST_TICK",
    "PIPELINE_READINGS_PER_S",
    "PIPELINE_TICK_TIME",
    "PIPELINE_WORKERS",
    "VAR_PATIENT",
    "VAR_WARD",
    "WARD",
    "age_text",
    "alert_annotations",
    "alert_condition",
    "alert_text",
    "alerts_counts",
    "alerts_open",
    "alerts_raised",
    "devices_completeness",
    "devices_counts",
    "label_case",
    "literal",
    "news2_text",
    "patient_body",
    "patient_news2",
    "patient_vitals",
    "ward_counts",
    "ward_patients",
]

WARD: Final = "${ward:sqlstring}"
"""The selected wards, quoted and comma-separated by Grafana (``'w1','w2'``)."""
PATIENT: Final = "${patient:sqlstring}"
"""The selected patient, quoted by Grafana (``'p-1'``)."""

VAR_WARD: Final = "SELECT id AS __value, name AS __text FROM ward ORDER BY name"
VAR_PATIENT: Final = (
    f"SELECT id FROM patient WHERE ward_id IN ({WARD}) AND discharged_at IS NULL ORDER BY id"
)

OVERVIEW_VITALS: Final[Mapping[str, tuple[str, ...]]] = {
    "pulse": ("heart_rate", "pulse_rate"),
    "spo2": ("spo2",),
    "respiration": ("respiration_rate",),
    "temperature": ("body_temperature",),
    "systolic": ("systolic_bp",),
}
"""The ward overview's vital columns (the NEWS2 parameters a device measures) and the metrics
that fill them; "pulse" shows whichever of heart rate and pulse rate is newer."""

ALERT_PRIORITY_RANK: Final[Mapping[str, int]] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
_RISK_RANK: Final[Mapping[str, int]] = {"low": 1, "low-medium": 2, "medium": 3, "high": 4}
_SEP: Final = " · "


# ---- SQL text helpers -----------------------------------------------------------------------


def literal(text: str) -> str:
    """A SQL string literal (standard-conforming: ``'`` doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _number(value: float) -> str:
    return repr(float(value))


def _values(alias: str, columns: Sequence[str], rows: Iterable[Sequence[str | float | int]]) -> str:
    """``(VALUES (...), ...) AS alias (columns)``, literals quoted: a constant table in SQL."""

    def cell(value: str | float | int) -> str:
        if isinstance(value, str):
            return literal(value)
        return str(value) if isinstance(value, int) else _number(value)

    body = ", ".join("(" + ", ".join(cell(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) AS {alias} ({', '.join(columns)})"


def _in(keys: Iterable[str]) -> str:
    return ", ".join(literal(k) for k in keys)


def label_case(expression: str, labels: Mapping[str, str]) -> str:
    """``CASE expression WHEN 'key' THEN 'label' ... END``: a key shown in one language."""
    whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in labels.items())
    return f"CASE {expression} {whens} END"


def _rank(expression: str, ranks: Mapping[str, int]) -> str:
    whens = " ".join(f"WHEN {literal(k)} THEN {v}" for k, v in ranks.items())
    return f"CASE {expression} {whens} ELSE 0 END"


def age_text(seconds: str, s: Strings) -> str:
    """An age in seconds as a short text: ``25 min``, ``3 h``, ``2 d``."""
    return (
        f"CASE WHEN {seconds} < 3600 THEN floor({seconds} / 60)::int || ' {s.unit_min}'"
        f" WHEN {seconds} < 172800 THEN floor({seconds} / 3600)::int || ' {s.unit_hour}'"
        f" ELSE floor({seconds} / 86400)::int || ' {s.unit_day}' END"
    )


def _stale_suffix(stale: str, seconds: str, s: Strings) -> str:
    return f"CASE WHEN {stale} THEN '{_SEP}{s.stale} ' || {age_text(seconds, s)} ELSE '' END"


def _metric_name(lang: Lang) -> str:
    """The name of metric ``m`` in ``lang``: the ``metric`` table's ``name_en``/``name_fr``
    columns, and for Arabic the catalogue's ``name_ar`` written into the query (the table has
    no Arabic column: no migration for what the catalogue already holds); a key the catalogue
    does not know reads as its English name."""
    if lang is Lang.EN:
        return "m.name_en"
    if lang is Lang.FR:
        return "m.name_fr"
    whens = " ".join(
        f"WHEN {literal(key)} THEN {literal(metric_name(key, lang))}" for key in sorted(METRICS)
    )
    return f"CASE m.key {whens} ELSE m.name_en END"


def _stale_after(alias: str = "sa") -> str:
    """Each metric's staleness limit in seconds, as a VALUES table ``alias (key, seconds)``."""
    return _values(alias, ("key", "seconds"), sorted(STALE_AFTER_S.items()))


def news2_text(score: str, scale2: str, s: Strings) -> str:
    """The NEWS2 cell: ``7 · High``, ``≥ 3 · Low-medium (incomplete)``, with ``· stale 20 min``
    when the score is old and ``· SpO2 scale 2`` for Scale 2 patients; NULL without a score row,
    and ``no score (no parameter measured)`` (never 0 or Low) for a row with no parameter.

    ``score`` is the alias of a row with ``time``, ``total``, ``risk``, ``complete``; an
    incomplete total is a lower bound, hence the ``≥``; a NULL total is no score (0011).
    """
    age = f"extract(epoch FROM now() - {score}.time)"
    return (
        f"CASE WHEN {score}.time IS NOT NULL AND {score}.total IS NULL THEN '{s.no_score}'"
        f" WHEN {score}.time IS NOT NULL THEN"
        f" CASE WHEN {score}.complete THEN '' ELSE '≥ ' END || {score}.total"
        f" || '{_SEP}' || {label_case(f'{score}.risk', s.risks())}"
        f" || CASE WHEN {score}.complete THEN '' ELSE ' ({s.incomplete})' END"
        f" || {_stale_suffix(f'{age} > {_number(NEWS2_STALE_AFTER_S)}', age, s)}"
        f" || CASE WHEN {scale2} THEN '{_SEP}{s.scale2}' ELSE '' END END"
    )


def _latest_score(patient: str) -> str:
    return (
        "LEFT JOIN LATERAL (SELECT time, total, risk, complete FROM news2_score"
        f" WHERE patient_id = {patient} ORDER BY time DESC LIMIT 1) sc ON true"
    )


# ---- Ward overview ----------------------------------------------------------------------------

_WARD_PATIENT: Final = (
    "ward_patient AS (SELECT p.id, p.ward_id, p.news2_scale2 FROM patient p"
    f" WHERE p.ward_id IN ({WARD}) AND p.discharged_at IS NULL)"
)


def _overview_latest() -> str:
    """CTE ``latest``: the newest reading per patient and overview column, with its staleness."""
    rows = [
        (key, column, DECIMALS[key]) for column, keys in OVERVIEW_VITALS.items() for key in keys
    ]
    return (
        "latest AS (SELECT DISTINCT ON (l.patient_id, v.vital) l.patient_id, v.vital,"
        " v.decimals, l.value, l.quality, extract(epoch FROM now() - l.time) AS age_s,"
        " extract(epoch FROM now() - l.time) > sa.seconds AS stale"
        " FROM ward_patient wp JOIN observation_latest l ON l.patient_id = wp.id"
        " JOIN metric m ON m.id = l.metric_id"
        f" JOIN {_values('v', ('key', 'vital', 'decimals'), rows)} ON v.key = m.key"
        f" JOIN {_stale_after()} ON sa.key = m.key"
        " ORDER BY l.patient_id, v.vital, l.time DESC)"
    )


def _top_priority(s: Strings) -> str:
    """The label of ``al.top``, a highest open alert priority as ranked in SQL."""
    cases = " ".join(
        f"WHEN {rank} THEN {literal(s.priorities()[k])}" for k, rank in ALERT_PRIORITY_RANK.items()
    )
    return f"CASE al.top {cases} END"


def ward_patients(s: Strings) -> str:
    """One row per patient of the selected wards, most acute first (table)."""
    cell = (
        "CASE WHEN value IS NULL THEN CASE WHEN 'sensor_contact_lost' = ANY (quality)"
        f" THEN {literal(s.sensor_off)} ELSE {literal(s.no_value)} END"
        " ELSE round(value::numeric, decimals)::text END"
        f" || {_stale_suffix('stale', 'age_s', s)}"
    )
    pivot = ", ".join(
        f"max(text) FILTER (WHERE vital = {literal(column)}) AS {column}"
        for column in OVERVIEW_VITALS
    )
    top = _top_priority(s)
    return f"""WITH {_WARD_PATIENT},
{_overview_latest()},
vitals AS (SELECT patient_id, {pivot}
           FROM (SELECT patient_id, vital, {cell} AS text FROM latest) c GROUP BY patient_id),
alerts AS (SELECT a.patient_id, count(*) AS open,
                  max({_rank("a.priority", ALERT_PRIORITY_RANK)}) AS top
           FROM alert a JOIN ward_patient wp ON wp.id = a.patient_id
           WHERE a.state <> 'resolved' GROUP BY a.patient_id),
seen AS (SELECT l.patient_id, max(l.time) AS time
         FROM observation_latest l JOIN ward_patient wp ON wp.id = l.patient_id
         GROUP BY l.patient_id)
SELECT wp.id AS patient, w.name AS ward,
       {news2_text("sc", "wp.news2_scale2", s)} AS news2,
       {", ".join(f"v.{c}" for c in OVERVIEW_VITALS)},
       CASE WHEN al.open > 0 THEN al.open || '{_SEP}' || {top} END AS alerts,
       extract(epoch FROM now() - seen.time) AS last_seen
FROM ward_patient wp
JOIN ward w ON w.id = wp.ward_id
{_latest_score("wp.id")}
LEFT JOIN vitals v ON v.patient_id = wp.id
LEFT JOIN alerts al ON al.patient_id = wp.id
LEFT JOIN seen ON seen.patient_id = wp.id
ORDER BY {_rank("sc.risk", _RISK_RANK)} DESC, sc.total DESC NULLS LAST,
         al.top DESC NULLS LAST, wp.id"""


def ward_counts() -> Mapping[str, str]:
    """Stat queries of the ward overview, by the column each returns."""
    stale_vital = "EXISTS (SELECT 1 FROM latest WHERE latest.patient_id = wp.id AND latest.stale)"
    stale_score = (
        "NOT EXISTS (SELECT 1 FROM news2_score n WHERE n.patient_id = wp.id"
        f" AND n.time > now() - make_interval(secs => {_number(NEWS2_STALE_AFTER_S)}))"
    )
    return {
        "patients": f"WITH {_WARD_PATIENT} SELECT count(*) AS patients FROM ward_patient",
        "high_risk": f"""WITH {_WARD_PATIENT}
SELECT count(*) AS high_risk FROM ward_patient wp
{_latest_score("wp.id")}
WHERE sc.risk = 'high'""",
        "unacknowledged": f"""WITH {_WARD_PATIENT}
SELECT count(*) AS unacknowledged FROM alert a JOIN ward_patient wp ON wp.id = a.patient_id
WHERE a.state = 'raised'""",
        "stale_patients": f"""WITH {_WARD_PATIENT},
{_overview_latest()}
SELECT count(*) AS stale_patients FROM ward_patient wp
WHERE {stale_vital} OR {stale_score}""",
    }


# ---- Patient detail ---------------------------------------------------------------------------


def patient_vitals(keys: Sequence[str], lang: Lang) -> str:
    """One patient's metrics over the time range, averaged per ``$__interval`` (time series).

    The filter on ``patient_id``, ``metric_id`` and ``time`` is what the index
    ``observation_patient_metric_time_idx`` serves.
    """
    return f"""SELECT $__timeGroupAlias(o.time, $__interval), {_metric_name(lang)} AS metric,
       avg(o.value) AS value
FROM observation o
JOIN metric m ON m.id = o.metric_id
WHERE o.patient_id = {PATIENT}
  AND o.metric_id IN (SELECT id FROM metric WHERE key IN ({_in(keys)}))
  AND $__timeFilter(o.time)
  AND o.value IS NOT NULL
GROUP BY 1, 2
ORDER BY 1"""


def patient_news2(s: Strings) -> str:
    """The patient's newest NEWS2 as one text (stat)."""
    return f"""SELECT {news2_text("sc", "p.news2_scale2", s)} AS news2
FROM patient p
{_latest_score("p.id")}
WHERE p.id = {PATIENT}"""


PATIENT_NEWS2_TREND: Final = f"""SELECT $__timeGroupAlias(time, $__interval),
       last(total, time) AS news2
FROM news2_score
WHERE patient_id = {PATIENT} AND $__timeFilter(time)
GROUP BY 1
ORDER BY 1"""

PATIENT_OPEN_ALERTS: Final = f"""SELECT count(*) AS open_alerts FROM alert
WHERE patient_id = {PATIENT} AND state <> 'resolved'"""

PATIENT_LAST_DATA: Final = f"""SELECT extract(epoch FROM now() - max(time)) AS last_data
FROM observation_latest WHERE patient_id = {PATIENT}"""

PATIENT_BATTERY: Final = f"""SELECT $__timeGroupAlias(o.time, $__interval), o.device_id AS metric,
       last(o.value, o.time) AS value
FROM observation o
WHERE o.patient_id = {PATIENT}
  AND o.metric_id = (SELECT id FROM metric WHERE key = 'battery_level')
  AND $__timeFilter(o.time)
  AND o.value IS NOT NULL
GROUP BY 1, 2
ORDER BY 1"""

PATIENT_DEVICES: Final = f"""SELECT d.id AS device, d.kind, d.battery_level AS battery,
       extract(epoch FROM now() - d.last_seen_at) AS last_seen,
       coalesce(g.last_status, 'unknown') AS gateway_state
FROM device_assignment da
JOIN device d ON d.id = da.device_id
JOIN gateway g ON g.id = d.gateway_id
WHERE da.patient_id = {PATIENT} AND da.valid @> now()
ORDER BY d.kind, d.id"""


def patient_body(keys: Sequence[str], lang: Lang) -> str:
    """The newest of each rarely measured metric (weight, BMI, height) with its time (table)."""
    return f"""SELECT {_metric_name(lang)} AS metric, l.value, m.ucum AS unit, l.time
FROM observation_latest l JOIN metric m ON m.id = l.metric_id
WHERE l.patient_id = {PATIENT} AND m.key IN ({_in(keys)})
ORDER BY m.key"""


def alert_text(lang: Lang) -> str:
    """What the alert says, in ``lang``: the sentence its writer rendered from its facts with
    ``nabd.contract.alert_text`` (``alert.messages``, migration 0130: the nurse station's
    words, never a second copy of them in SQL); the stored English ``message`` for alerts
    without one (written before 0130, or by a writer that gives no facts)."""
    return f"coalesce(a.messages ->> {literal(str(lang))}, a.message)"


def alert_condition(lang: Lang) -> str:
    """The alert's condition as a nurse says it in ``lang`` (``nabd.contract.alert_text``'s
    names); a condition it does not name yet reads as its key."""
    whens = " ".join(
        f"WHEN {literal(k)} THEN {literal(v)}" for k, v in sorted(NAMES[str(lang)].items())
    )
    return f"CASE a.condition {whens} ELSE a.condition END"


def alert_annotations(s: Strings, lang: Lang) -> str:
    """The patient's alerts overlapping the time range, as annotations (a region while open)."""
    return f"""SELECT a.raised_at AS time, a.resolved_at AS timeend,
       {label_case("a.priority", s.priorities())} || ': ' || {alert_text(lang)} AS text,
       a.priority || ',' || a.condition AS tags
FROM alert a
WHERE a.patient_id = {PATIENT}
  AND a.raised_at <= $__timeTo()
  AND coalesce(a.resolved_at, 'infinity') >= $__timeFrom()
ORDER BY a.raised_at"""


# ---- Alerts -----------------------------------------------------------------------------------

_WARD_ALERT: Final = (
    "FROM alert a JOIN patient p ON p.id = a.patient_id"
    f" WHERE p.ward_id IN ({WARD}) AND a.state <> 'resolved'"
)


def alerts_counts() -> Mapping[str, str]:
    """Stat queries of the alerts dashboard, by the column each returns."""
    return {
        "critical": f"SELECT count(*) AS critical {_WARD_ALERT} AND a.priority = 'critical'",
        "high": f"SELECT count(*) AS high {_WARD_ALERT} AND a.priority = 'high'",
        "unacknowledged": f"SELECT count(*) AS unacknowledged {_WARD_ALERT} AND a.state = 'raised'",
        "escalated": f"SELECT count(*) AS escalated {_WARD_ALERT} AND a.escalation_level > 0",
    }


def alerts_open(lang: Lang) -> str:
    """Open alerts of the selected wards, unacknowledged first, then by priority and age; the
    condition and the message in ``lang`` (table)."""
    return f"""SELECT a.priority, a.state, a.patient_id AS patient, w.name AS ward,
       {alert_condition(lang)} AS condition, {alert_text(lang)} AS message,
       extract(epoch FROM now() - a.raised_at) AS age,
       a.escalation_level AS escalation, a.acknowledged_by
FROM alert a
JOIN patient p ON p.id = a.patient_id
JOIN ward w ON w.id = p.ward_id
WHERE p.ward_id IN ({WARD}) AND a.state <> 'resolved'
ORDER BY (a.state = 'raised') DESC, {_rank("a.priority", ALERT_PRIORITY_RANK)} DESC,
         a.raised_at"""


def alerts_raised(s: Strings) -> str:
    """Alerts raised per ``$__interval``, one series per priority (time series)."""
    return f"""SELECT $__timeGroupAlias(a.raised_at, $__interval),
       {label_case("a.priority", s.priorities())} AS metric, count(*) AS value
FROM alert a JOIN patient p ON p.id = a.patient_id
WHERE p.ward_id IN ({WARD}) AND $__timeFilter(a.raised_at)
GROUP BY 1, 2
ORDER BY 1"""


# ---- Devices and gateways ---------------------------------------------------------------------

GATEWAY_SILENT_AFTER_S: Final = 300.0
"""A gateway silent for five minutes counts as offline, whatever it last said."""

_GATEWAY_DOWN: Final = (
    "(g.last_status = 'offline' OR g.last_seen_at IS NULL"
    f" OR g.last_seen_at < now() - make_interval(secs => {_number(GATEWAY_SILENT_AFTER_S)}))"
)

_DEVICE_STATE: Final = f"""SELECT d.id AS device, d.kind, d.gateway_id AS gateway,
       da.patient_id AS patient, d.battery_level AS battery,
       extract(epoch FROM now() - d.last_seen_at) AS last_seen,
       CASE WHEN {_GATEWAY_DOWN} THEN 'gateway_offline'
            WHEN ds.readings = 0 THEN 'no_data'
            WHEN ds.all_stale THEN 'silent'
            ELSE 'connected' END AS connection
FROM device d
JOIN gateway g ON g.id = d.gateway_id
LEFT JOIN device_assignment da ON da.device_id = d.id AND da.valid @> now()
CROSS JOIN LATERAL (
    SELECT count(*) AS readings,
           coalesce(bool_and(extract(epoch FROM now() - l.time) > sa.seconds), true) AS all_stale
    FROM observation_latest l JOIN metric m ON m.id = l.metric_id
    JOIN {_stale_after()} ON sa.key = m.key
    WHERE l.device_id = d.id) ds
WHERE g.ward_id IN ({WARD}) AND g.revoked_at IS NULL"""


def devices_counts() -> Mapping[str, str]:
    """Stat queries of the devices dashboard, by the column each returns."""
    return {
        "gateways_offline": f"""SELECT count(*) AS gateways_offline FROM gateway g
WHERE g.ward_id IN ({WARD}) AND g.revoked_at IS NULL AND {_GATEWAY_DOWN}""",
        "devices_silent": f"""SELECT count(*) AS devices_silent FROM ({_DEVICE_STATE}) d
WHERE d.patient IS NOT NULL AND d.connection <> 'connected'""",
        "low_battery": f"""SELECT count(*) AS low_battery
FROM device d JOIN gateway g ON g.id = d.gateway_id
WHERE g.ward_id IN ({WARD}) AND g.revoked_at IS NULL AND d.battery_level <= 20""",
    }


DEVICES_GATEWAYS: Final = f"""SELECT g.id AS gateway, w.name AS ward,
       CASE WHEN g.last_status IS NULL THEN 'unknown'
            WHEN {_GATEWAY_DOWN} THEN 'offline' ELSE 'online' END AS state,
       extract(epoch FROM now() - g.last_seen_at) AS last_seen,
       (SELECT count(*) FROM device d WHERE d.gateway_id = g.id) AS devices
FROM gateway g JOIN ward w ON w.id = g.ward_id
WHERE g.ward_id IN ({WARD}) AND g.revoked_at IS NULL
ORDER BY (g.last_status = 'online') ASC NULLS FIRST, g.id"""

DEVICES_TABLE: Final = f"""SELECT * FROM ({_DEVICE_STATE}) d
ORDER BY (d.connection = 'connected'), d.battery NULLS FIRST, d.device"""


def devices_completeness(lang: Lang) -> str:
    """Per patient and metric: usable samples received / expected over the time range.

    Expected counts cover only the time the device that measures the metric was assigned to
    the patient (within the range, up to now), at the metric's expected rate; metrics without
    a known rate (spot checks on no schedule) are left out.
    """
    expectation = _values("e", ("key", "interval_s"), sorted(EXPECTED_INTERVAL_S.items()))
    return f"""WITH bounds AS (SELECT tstzrange($__timeFrom()::timestamptz,
                               least($__timeTo()::timestamptz, now())) AS r),
source AS (
    SELECT l.patient_id, l.metric_id, {_metric_name(lang)} AS metric, e.interval_s,
           sum(extract(epoch FROM upper(da.valid * b.r) - lower(da.valid * b.r))) AS covered_s
    FROM patient p
    JOIN observation_latest l ON l.patient_id = p.id
    JOIN metric m ON m.id = l.metric_id
    JOIN {expectation} ON e.key = m.key
    JOIN device_assignment da ON da.patient_id = l.patient_id AND da.device_id = l.device_id
    CROSS JOIN bounds b
    WHERE p.ward_id IN ({WARD}) AND NOT isempty(da.valid * b.r)
    GROUP BY 1, 2, 3, 4),
received AS (
    SELECT o.patient_id, o.metric_id, count(*) AS n
    FROM observation o JOIN source s USING (patient_id, metric_id)
    WHERE $__timeFilter(o.time) AND o.time <= now() AND o.value IS NOT NULL
    GROUP BY 1, 2),
counted AS (
    SELECT s.patient_id, s.metric, coalesce(r.n, 0) AS received,
           floor(s.covered_s / s.interval_s)::bigint AS expected
    FROM source s LEFT JOIN received r USING (patient_id, metric_id))
SELECT patient_id AS patient, metric, received, expected,
       least(1.0, received::numeric / nullif(expected, 0)) AS completeness
FROM counted
ORDER BY completeness NULLS LAST, patient, metric"""


# ---- Pipeline health --------------------------------------------------------------------------

PIPELINE_READINGS_PER_S: Final = """SELECT coalesce(sum(readings), 0) / 300.0 AS readings_per_s
FROM ingested_batch WHERE committed_at > now() - interval '5 minutes'"""

PIPELINE_LAST_BATCH: Final = """SELECT
       extract(epoch FROM now() - max(committed_at)) AS since_last_batch
FROM ingested_batch"""

PIPELINE_DEAD_LETTERS: Final = """SELECT count(*) AS dead_letters
FROM dead_letter WHERE $__timeFilter(received_at)"""

PIPELINE_LAST_TICK: Final = """SELECT extract(epoch FROM now() - max(time)) AS since_last_tick
FROM analytics_tick"""

PIPELINE_INGEST_RATE: Final = """SELECT $__timeGroupAlias(committed_at, $__interval),
       sum(readings) / ($__interval_ms / 1000.0) AS readings,
       count(*) / ($__interval_ms / 1000.0) AS batches
FROM ingested_batch
WHERE $__timeFilter(committed_at)
GROUP BY 1
ORDER BY 1"""

PIPELINE_LAG: Final = """SELECT $__timeGroupAlias(committed_at, $__interval),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS lag_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) AS lag_p95
FROM (SELECT committed_at, extract(epoch FROM committed_at - last_time) AS lag
      FROM observation_commit WHERE $__timeFilter(committed_at)) c
GROUP BY 1
ORDER BY 1"""
"""Seconds from the newest reading of each ingest flush to its commit (``observation_commit``)."""

PIPELINE_WORKERS: Final = """SELECT worker_id AS worker, mqtt_connected::text AS mqtt,
       pending_messages AS pending, extract(epoch FROM now() - updated_at) AS last_update,
       last_flush_seconds AS flush, last_lag_seconds AS lag, dead_letters, db_errors
FROM ingest_health
ORDER BY worker_id"""
"""One row per ingest worker (``ingest_health``, rewritten by each worker as it runs)."""

PIPELINE_TICK_TIME: Final = """SELECT $__timeGroupAlias(time, $__interval),
       max(duration_ms) AS tick_max, avg(duration_ms) AS tick_mean,
       max(readings_delay_ms) AS readings_delay
FROM analytics_tick
WHERE $__timeFilter(time)
GROUP BY 1
ORDER BY 1"""
"""How long analytics' ticks take, and how late the readings they were given arrived while that
was late (``readings_delay_ms``, migration 0153: NULL, so no point, while on time)."""

PIPELINE_DEAD_LETTER_SERIES: Final = """SELECT $__timeGroupAlias(received_at, $__interval),
       count(*) AS dead_letters
FROM dead_letter
WHERE $__timeFilter(received_at)
GROUP BY 1
ORDER BY 1"""

PIPELINE_DEAD_LETTER_TABLE: Final = """SELECT received_at AS time, topic, gateway_id AS gateway,
       field, reason
FROM dead_letter
WHERE $__timeFilter(received_at)
ORDER BY received_at DESC
LIMIT 100"""


# ---- Remote monitoring (patients at home) -----------------------------------------------------

_HOME_PATIENT: Final = (
    "home AS (SELECT p.id, p.ward_id, c.programmes FROM patient p"
    " JOIN care_plan c ON c.patient_id = p.id"
    f" WHERE p.ward_id IN ({WARD}) AND p.discharged_at IS NULL)"
)
"""A patient at home is one with a care plan (docs/home-monitoring.md)."""
_ADHERENCE: Final = "a.condition LIKE 'adherence\\_%'"
_CLINICAL: Final = "a.kind = 'physiological'"
"""An alert about the patient, not about the equipment or a missed measurement: the alert's
IEC 60601-1-8 kind (migration 0030), as analytics classifies its condition
(``nabd.analytics.service.conditions``): adherence and ``home_gateway_offline`` are technical."""


def remote_counts() -> Mapping[str, str]:
    """Stat queries of the remote-monitoring dashboard, by the column each returns: open
    adherence alerts, open clinical (physiological) alerts, and the other open technical
    alerts (a home gateway silent)."""
    open_alert = "FROM alert a JOIN home h ON h.id = a.patient_id WHERE a.state <> 'resolved'"
    return {
        "patients": f"WITH {_HOME_PATIENT} SELECT count(*) AS patients FROM home",
        "adherence": f"WITH {_HOME_PATIENT} SELECT count(*) AS adherence {open_alert}"
        f" AND {_ADHERENCE}",
        "clinical": f"WITH {_HOME_PATIENT} SELECT count(*) AS clinical {open_alert}"
        f" AND {_CLINICAL}",
        "technical": f"WITH {_HOME_PATIENT} SELECT count(*) AS technical {open_alert}"
        f" AND NOT {_CLINICAL} AND NOT {_ADHERENCE}",
        "silent": f"""WITH {_HOME_PATIENT}
SELECT count(*) AS silent FROM home h
WHERE NOT EXISTS (SELECT 1 FROM observation_latest l WHERE l.patient_id = h.id
                  AND l.time > now() - interval '24 hours')""",
    }


def remote_patients(s: Strings) -> str:
    """One row per patient at home of the selected wards, open alerts first (table): their
    programmes, time since the last measurement, days with data of the last 7, open alerts by
    highest priority, the newest weight and blood pressure."""
    top = _top_priority(s)
    return f"""WITH {_HOME_PATIENT},
latest AS (SELECT l.patient_id, m.key, l.value, l.time
           FROM observation_latest l JOIN home h ON h.id = l.patient_id
           JOIN metric m ON m.id = l.metric_id),
days AS (SELECT o.patient_id, count(DISTINCT date_trunc('day', o.time)) AS days
         FROM observation o JOIN home h ON h.id = o.patient_id
         WHERE o.time > now() - interval '7 days' GROUP BY o.patient_id),
alerts AS (SELECT a.patient_id, count(*) AS open,
                  max({_rank("a.priority", ALERT_PRIORITY_RANK)}) AS top
           FROM alert a JOIN home h ON h.id = a.patient_id
           WHERE a.state <> 'resolved' GROUP BY a.patient_id)
SELECT h.id AS patient, w.name AS ward, array_to_string(h.programmes, ' + ') AS programmes,
       (SELECT extract(epoch FROM now() - max(time)) FROM latest WHERE patient_id = h.id)
           AS last_seen,
       coalesce(d.days, 0) || '/7' AS days_with_data,
       CASE WHEN al.open > 0 THEN al.open || '{_SEP}' || {top} END AS alerts,
       (SELECT round(value::numeric, 1) FROM latest WHERE patient_id = h.id
        AND key = 'body_weight') AS weight,
       (SELECT round(s.value) || '/' || round(dv.value) FROM latest s JOIN latest dv
        ON dv.patient_id = s.patient_id AND dv.key = 'diastolic_bp'
        WHERE s.patient_id = h.id AND s.key = 'systolic_bp') AS blood_pressure
FROM home h
JOIN ward w ON w.id = h.ward_id
LEFT JOIN days d ON d.patient_id = h.id
LEFT JOIN alerts al ON al.patient_id = h.id
ORDER BY al.top DESC NULLS LAST, h.id"""


def remote_trend(key: str) -> str:
    """One metric of every patient at home over the time range, one series per patient."""
    return f"""WITH {_HOME_PATIENT}
SELECT $__timeGroupAlias(o.time, $__interval), o.patient_id AS metric, avg(o.value) AS value
FROM observation o
JOIN home h ON h.id = o.patient_id
WHERE o.metric_id = (SELECT id FROM metric WHERE key = {literal(key)})
  AND $__timeFilter(o.time) AND o.value IS NOT NULL
GROUP BY 1, 2
ORDER BY 1"""
