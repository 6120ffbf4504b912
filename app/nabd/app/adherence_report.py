"""The monthly adherence report from the database (``nabd report adherence --month``).

For every patient with a care plan whose stay overlaps the month: their stored home readings of
the month are judged by the core's adherence and glucose functions
(:func:`nabd.analytics.adherence.monthly_summary`), exactly as ``nabd evaluate --setting home``
judges simulated ones, and formatted by :mod:`nabd.app.home_report`. Occasions count from the
plan's start (``care_plan.started_at``) to the end of the month, the discharge or now, whichever
is first. The plan judged is the *current* one (a change during the month is in the audit log,
not replayed here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import psycopg

from nabd.analytics.adherence import MonthlySummary, Schedule, adherence, monthly_summary
from nabd.analytics.arrays import IntArray
from nabd.analytics.glucose import GlucoseLimits, time_in_range
from nabd.analytics.home import ADHERENCE_METRIC, HOME_METRICS
from nabd.analytics.spot import DAY_NS, window_of
from nabd.contract.careplan import CarePlan

__all__ = ["MonthReport", "month_report", "parse_month"]

Conn = psycopg.Connection[tuple[Any, ...]]

_MONTH: Final = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")
_US: Final = 1000

_PATIENTS_SQL: Final = """
SELECT c.patient_id, c.plan, (extract(epoch FROM c.started_at) * 1000000)::int8,
       (extract(epoch FROM p.discharged_at) * 1000000)::int8
FROM care_plan c JOIN patient p ON p.id = c.patient_id
WHERE p.admitted_at < %(end)s AND (p.discharged_at IS NULL OR p.discharged_at >= %(start)s)
ORDER BY c.patient_id
"""
_READINGS_SQL: Final = """
SELECT o.patient_id, m.key, (extract(epoch FROM o.time) * 1000000)::int8, o.value
FROM observation o JOIN metric m ON m.id = o.metric_id
WHERE o.patient_id = ANY (%(patients)s) AND m.key = ANY (%(metrics)s) AND o.value IS NOT NULL
  AND o.time >= %(start)s AND o.time < %(end)s
"""


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the month's first day; ``ValueError`` saying what is accepted."""
    found = _MONTH.fullmatch(text)
    if found is None or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"--month {text!r} is not accepted: write YYYY-MM, e.g. 2026-11")
    return date(int(found[1]), int(found[2]), 1)


@dataclass(frozen=True)
class MonthReport:
    """One month's summary, per patient in ``patient_ids`` order, with their plans."""

    month: date
    patient_ids: list[str]
    plans: list[CarePlan]
    summary: MonthlySummary


def month_report(conn: Conn, month: date, *, now: datetime | None = None) -> MonthReport:
    """Judge every patient at home of ``month`` on their stored readings."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    days = (end - start).days
    # A day of margin either side: a local day starts up to 14 h off UTC midnight.
    bounds = {"start": start - timedelta(days=1), "end": end + timedelta(days=1)}
    rows = conn.execute(_PATIENTS_SQL, {"start": start, "end": end}).fetchall()
    ids = [str(r[0]) for r in rows]
    plans = [CarePlan.model_validate(r[1]) for r in rows]
    since = np.array([int(r[2]) * _US for r in rows], np.int64)
    stop = min(end, now or datetime.now(UTC))
    until = np.array(
        [min(_ns(stop), int(r[3]) * _US if r[3] is not None else _ns(stop)) for r in rows],
        np.int64,
    )
    readings = _readings(conn, ids, bounds)
    middle = start + timedelta(days=days // 2)
    offsets = np.array([plan.utc_offset_s(middle) for plan in plans], np.int64)
    first_day = _ns(start) // DAY_NS
    windows = {key: readings.get(key, _empty(len(ids))) for key in HOME_METRICS}
    judged = [
        adherence(
            windows[metric],
            Schedule.of(plans, kind),
            offsets,
            first_day=first_day,
            days=days,
            now=until,
            since=since,
        )
        for kind, metric in ADHERENCE_METRIC.items()
    ]
    glucose = windows["glucose"]
    in_range = time_in_range(glucose, GlucoseLimits.of(plans), offsets, first_day=first_day,
                             days=days, period_days=days)  # fmt: skip
    kinds = [windows[k] for k in ("body_weight", "systolic_bp", "glucose", "spo2")]
    summary = monthly_summary(kinds, judged, in_range, offsets, first_day=first_day, days=days)
    return MonthReport(month, ids, plans, summary)


def _ns(at: datetime) -> int:
    return round(at.timestamp() * 1e6) * _US


def _empty(patients: int) -> Any:
    none = np.zeros(0, np.int64)
    return window_of(patients, none, none, np.zeros(0))


def _readings(conn: Conn, ids: list[str], bounds: dict[str, datetime]) -> dict[str, Any]:
    """Each home metric's readings as a window, rows numbered as ``ids``."""
    if not ids:
        return {}
    position = {pid: i for i, pid in enumerate(ids)}
    flat: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for pid, key, at_us, value in conn.execute(
        _READINGS_SQL, {"patients": ids, "metrics": list(HOME_METRICS), **bounds}
    ).fetchall():
        rows, times, values = flat.setdefault(str(key), ([], [], []))
        rows.append(position[pid])
        times.append(int(at_us) * _US)
        values.append(float(value))
    out: dict[str, Any] = {}
    for key, (rows, times, values) in flat.items():
        row: IntArray = np.array(rows, np.int64)
        out[key] = window_of(len(ids), row, np.array(times, np.int64), np.array(values))
    return out
