"""Adherence: scheduled home measurements taken in their windows, and the monthly summary.

A care plan's slots (:class:`nabd.contract.careplan.Slot`) expect a measurement kind in a
local-time window every day. An **occasion** (one slot on one day) is *taken* when a reading of
that kind falls in ``[start, end)`` local time; a reading outside every window still feeds the
clinical rules but does not count as taken. An occasion is judged once its window has ended.

A **missed** occasion is not a physiological alarm: after ``misses_before_alert`` occasions of
one kind missed in a row (the plan's setting, 2 by default), a **low**-priority adherence alert
is raised at the end of the last missed window for the remote-monitoring nurse; the next taken
occasion of that kind resolves it. :func:`~nabd.analytics.spot.episodes` turns the levels into
those events.

The monthly summary counts what remote patient monitoring programmes count: **days with data**
(a local calendar day with at least one reading of any kind; Medicare pays device supply from 16
days in 30 [CMS21], from 2 days since 2026 [CMS26]), occasions taken against planned, and
glucose time in range (:func:`nabd.analytics.glucose.time_in_range`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import NS_PER_S, BoolArray, FloatArray, Int8Array, IntArray
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import Window
from nabd.analytics.spot import DAY_NS, LOW, local_day
from nabd.contract.careplan import CarePlan, MeasurementKind

__all__ = ["Adherence", "MonthlySummary", "Schedule", "adherence", "monthly_summary"]


@dataclass(frozen=True)
class Schedule:
    """One measurement kind's slots per patient, ``(patients, slots)``, in the order of the day;
    ``planned`` False pads patients with fewer slots (or none)."""

    start_s: IntArray
    end_s: IntArray
    planned: BoolArray
    misses_before_alert: IntArray

    @classmethod
    def of(cls, plans: Sequence[CarePlan], kind: MeasurementKind) -> Schedule:
        slots = [plan.slots(kind) for plan in plans]
        width = max((len(s) for s in slots), default=0)
        start = np.zeros((len(plans), width), np.int64)
        end = np.zeros((len(plans), width), np.int64)
        planned = np.zeros((len(plans), width), np.bool_)
        for row, own in enumerate(slots):
            for col, slot in enumerate(own):
                start[row, col], end[row, col] = slot.window_s
                planned[row, col] = True
        misses = np.array([plan.adherence.misses_before_alert for plan in plans], np.int64)
        return cls(start, end, planned, misses)


@dataclass(frozen=True)
class Adherence:
    """Occasions ``(patients, days, slots)`` and, flattened in time order, their alert levels."""

    planned: BoolArray
    """Scheduled and already over at ``now``."""
    taken: BoolArray
    occasions: Window
    """One column per (day, slot): time = the window's end (ns), valid = planned."""
    level: Int8Array
    """Low where ``misses_before_alert`` or more planned occasions in a row were missed."""
    missed_in_a_row: IntArray
    """Per occasion (``occasions``' shape), planned occasions missed in a row up to it."""


def adherence(
    readings: Window,
    schedule: Schedule,
    utc_offset_s: npt.ArrayLike,
    *,
    first_day: int,
    days: int,
    now: int | npt.ArrayLike,
    since: npt.ArrayLike | None = None,
) -> Adherence:
    """Judge the occasions of local days ``first_day .. first_day + days - 1`` up to ``now``
    (int ns, or one per patient: a discharged patient's occasions end at the discharge).

    ``since`` (int ns, one per patient): occasions whose window opens earlier are not planned
    (the patient was not on this plan yet, e.g. admitted or enrolled mid-morning).
    """
    n, k = schedule.planned.shape
    if readings.values.shape[0] != n:
        raise AnalyticsInputError("readings", f"has {readings.values.shape[0]} rows for {n}")
    offset = np.broadcast_to(np.asarray(utc_offset_s, dtype=np.int64), (n,))
    day = local_day(readings, offset)
    second = np.floor_divide(np.mod(readings.times + offset[:, None] * NS_PER_S, DAY_NS), NS_PER_S)
    inside = readings.valid & (day >= first_day) & (day < first_day + days)
    taken = np.zeros((n, days, k), np.bool_)
    rows = np.broadcast_to(np.arange(n)[:, None], day.shape)
    for slot in range(k):
        hit = inside & (second >= schedule.start_s[:, slot : slot + 1])
        hit &= second < schedule.end_s[:, slot : slot + 1]
        taken[rows[hit], day[hit] - first_day, slot] = True
    midnight = (first_day + np.arange(days, dtype=np.int64))[None, :, None] * DAY_NS
    ends = midnight + schedule.end_s[:, None, :] * NS_PER_S - offset[:, None, None] * NS_PER_S
    until = np.broadcast_to(np.asarray(now, dtype=np.int64), (n,))
    planned = schedule.planned[:, None, :] & (ends <= until[:, None, None])
    if since is not None:
        starts = ends - (schedule.end_s - schedule.start_s)[:, None, :] * NS_PER_S
        began = np.broadcast_to(np.asarray(since, dtype=np.int64), (n,))
        planned &= starts >= began[:, None, None]
    taken &= planned
    flat_planned = planned.reshape(n, days * k)
    flat_taken = taken.reshape(n, days * k)
    ordinal = np.cumsum(flat_planned, axis=1)
    last_taken = np.maximum.accumulate(np.where(flat_taken, ordinal, 0), axis=1)
    run = np.where(flat_planned & ~flat_taken, ordinal - last_taken, 0)
    level = np.where(run >= schedule.misses_before_alert[:, None], LOW, 0).astype(np.int8)
    occasions = Window(
        times=np.where(flat_planned, ends.reshape(n, days * k), 0),
        values=np.where(flat_taken, 1.0, 0.0),
        valid=flat_planned,
    )
    return Adherence(planned=planned, taken=taken, occasions=occasions, level=level,
                     missed_in_a_row=run.astype(np.int64))  # fmt: skip


@dataclass(frozen=True)
class MonthlySummary:
    """Per patient (arrays of shape ``(patients,)``) over one period of ``days`` days."""

    days: int
    days_with_data: IntArray
    taken: IntArray
    planned: IntArray
    time_in_range: FloatArray
    """Share of glucose readings in range (NaN without glucose readings)."""

    @property
    def taken_share(self) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = np.where(self.planned > 0, self.taken / self.planned, np.nan)
        return result


def monthly_summary(
    readings: Sequence[Window],
    kinds: Sequence[Adherence],
    glucose_in_range: tuple[FloatArray, IntArray],
    utc_offset_s: npt.ArrayLike,
    *,
    first_day: int,
    days: int,
) -> MonthlySummary:
    """Summarise one period: ``readings`` of every kind (for days with data), each kind's
    :func:`adherence` over the same days, and :func:`~nabd.analytics.glucose.time_in_range`
    with ``period_days = days`` (one period)."""
    n = kinds[0].planned.shape[0] if kinds else readings[0].values.shape[0]
    with_data = np.zeros((n, days), np.bool_)
    for window in readings:
        day = local_day(window, np.broadcast_to(np.asarray(utc_offset_s), (n,)))
        inside = window.valid & (day >= first_day) & (day < first_day + days)
        rows = np.broadcast_to(np.arange(n)[:, None], day.shape)
        with_data[rows[inside], day[inside] - first_day] = True
    taken = sum((a.taken.sum(axis=(1, 2)) for a in kinds), np.zeros(n, np.int64))
    planned = sum((a.planned.sum(axis=(1, 2)) for a in kinds), np.zeros(n, np.int64))
    share, _count = glucose_in_range
    return MonthlySummary(
        days=days,
        days_with_data=with_data.sum(axis=1).astype(np.int64),
        taken=np.asarray(taken, np.int64),
        planned=np.asarray(planned, np.int64),
        time_in_range=share[:, 0] if share.shape[1] else np.full(n, np.nan),
    )
