"""Glucose from a meter (or CGM) at home: hypo- and hyperglycaemia levels and time in range.

Levels from the International consensus on time in range [Battelino19] and the ADA Standards
of Care [ADA25] sec. 6 (unchanged since 2018), in the plan's unit:

* **level 2 hypoglycaemia** ``< level2_low`` (54 mg/dL, 3.0 mmol/L): high ("immediate action");
* **level 1 hypoglycaemia** ``< level1_low`` and >= level 2 (70 mg/dL, 3.9 mmol/L; "54-69"):
  medium (the patient treats now; the nurse calls the same day);
* **level 2 hyperglycaemia** ``> level2_high`` (250 mg/dL, 13.9 mmol/L): low (review);
  level 1 hyperglycaemia (> 180) is counted in time above range, not alerted.

A low reading repeated within :data:`LOW_REPEAT_WITHIN_S` (the 15-min re-check after treating a
low, ADA's "15-15 rule") escalates one step; a high one repeated within a day escalates to
medium (both via :func:`~nabd.analytics.spot.escalate`).

The contract stores glucose in **mmol/L**; a plan in mg/dL is judged in mg/dL, the reading
converted with 18.016 mg/dL per mmol/L and rounded to 3 decimals, so a meter's 70 mg/dL stored
as 3.8854... mmol/L is judged as 70 (not level 1), exactly as the source's boundary says.

**On a ward** (:func:`ward_hypoglycaemia`), glucose is a capillary check before meals and at
bedtime, or a continuous glucose monitor (CGM) every few minutes for the insulin-treated: the
detector judges each patient's newest clean reading while it is current
(``WardGlucose.valid_s``, 1 h: protocols re-test 10-15 min after treating a low, and an older
reading says nothing about now) against the same levels, in mmol/L, taken from the contract's
:class:`~nabd.contract.careplan.GlucoseThresholds` defaults so that ward and home never
disagree about what a level is. A CGM's readings (a **series**: each within
``WardGlucose.series_gap_s`` of the one before) count only once they have stayed below a level
for ``WardGlucose.persist_s`` (15 min): the event definition of the international consensus on
CGM metrics (Danne et al., Diabetes Care 2017;40:1631-1640; Battelino et al., Lancet Diabetes
Endocrinol 2023;11:42-57: "at least 15 consecutive minutes" below 70 or 54 mg/dL), which keeps
a sensor's single noisy reading from paging a nurse. A reading with none before it within the
gap (a capillary check, or the first of a run that began with one) stands alone, as before.

**Time in range** per local day (and per week, day 0-6 of the period, ...): the share of
readings within ``[range_low, range_high]`` (70-180 mg/dL). For a CGM's evenly spaced readings
that is the share of time [Battelino19]; for meter readings it is only the share of readings,
biased by when people measure, and docs say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    BoolArray,
    FloatArray,
    Int8Array,
    IntArray,
    check_duration,
    check_now,
    float_per_patient,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import Window
from nabd.analytics.spot import HIGH, LOW, MEDIUM, escalate, local_day, per_plan
from nabd.contract.careplan import CarePlan, GlucoseThresholds

__all__ = [
    "HIGH_REPEAT_WITHIN_S",
    "LEVEL_1_MMOL_L",
    "LEVEL_2_MMOL_L",
    "LOW_REPEAT_WITHIN_S",
    "GlucoseFindings",
    "GlucoseLimits",
    "WardGlucose",
    "WardHypoglycaemia",
    "glucose_levels",
    "held",
    "time_in_range",
    "ward_hypoglycaemia",
]

LOW_REPEAT_WITHIN_S: Final = 3600.0
HIGH_REPEAT_WITHIN_S: Final = 86400.0


@dataclass(frozen=True)
class GlucoseLimits:
    """Per-patient thresholds in the plan's unit, and that unit's factor from mmol/L."""

    factor: FloatArray
    """1 for mmol/L plans, 18.016 for mg/dL plans."""
    level2_low: FloatArray
    level1_low: FloatArray
    range_low: FloatArray
    range_high: FloatArray
    level2_high: FloatArray

    @classmethod
    def of(cls, plans: Sequence[CarePlan]) -> GlucoseLimits:
        return per_plan(cls, [plan.glucose for plan in plans])

    def column(self, name: str, patients: int) -> FloatArray:
        return float_per_patient(name, getattr(self, name), patients)[:, None]


@dataclass(frozen=True)
class GlucoseFindings:
    """Per reading (the window's shape)."""

    value: FloatArray
    """The reading in the plan's unit (NaN where not valid)."""
    low: Int8Array
    high: Int8Array
    in_range: BoolArray


def _in_plan_unit(window: Window, limits: GlucoseLimits) -> FloatArray:
    factor = limits.column("factor", window.values.shape[0])
    result: FloatArray = np.round(np.where(window.valid, window.values, np.nan) * factor, 3)
    return result


def glucose_levels(window: Window, limits: GlucoseLimits) -> GlucoseFindings:
    """Judge every glucose reading (``window`` in mmol/L, the contract's unit)."""
    n = window.values.shape[0]
    value = _in_plan_unit(window, limits)
    with np.errstate(invalid="ignore"):
        level2 = value < limits.column("level2_low", n)
        level1 = value < limits.column("level1_low", n)
        high = value > limits.column("level2_high", n)
        in_range = (value >= limits.column("range_low", n)) & (
            value <= limits.column("range_high", n)
        )
    low = np.where(level2, HIGH, np.where(level1, MEDIUM, 0)).astype(np.int8)
    return GlucoseFindings(
        value=value,
        low=escalate(low, window, LOW_REPEAT_WITHIN_S),
        high=escalate(np.where(high, LOW, 0).astype(np.int8), window, HIGH_REPEAT_WITHIN_S),
        in_range=in_range & window.valid,
    )


def time_in_range(
    window: Window,
    limits: GlucoseLimits,
    utc_offset_s: npt.ArrayLike,
    *,
    first_day: int,
    days: int,
    period_days: int = 1,
) -> tuple[FloatArray, IntArray]:
    """``(share in range, readings)`` per patient and period, shape ``(patients, periods)``.

    Periods are ``period_days`` local days long from local day ``first_day`` (days since
    1970-01-01) over ``days`` days; the share is NaN for a period without readings.
    """
    n = window.values.shape[0]
    found = glucose_levels(window, limits)
    day = local_day(window, np.broadcast_to(np.asarray(utc_offset_s), (n,)))
    inside = window.valid & (day >= first_day) & (day < first_day + days)
    periods = -(-days // period_days)
    slot = np.where(inside, (day - first_day) // period_days, 0)
    rows = np.broadcast_to(np.arange(n)[:, None], slot.shape)
    flat = rows[inside] * periods + slot[inside]
    count = np.bincount(flat, minlength=n * periods).reshape(n, periods)
    good = np.bincount(flat, weights=found.in_range[inside].astype(np.float64),
                       minlength=n * periods).reshape(n, periods)  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(count > 0, good / count, np.nan)
    return share, count.astype(np.int64)


_DEFAULTS: Final = GlucoseThresholds()
LEVEL_1_MMOL_L: Final = _DEFAULTS.level1_low
"""Level 1 hypoglycaemia: below 3.9 mmol/L (70 mg/dL), the contract's default."""
LEVEL_2_MMOL_L: Final = _DEFAULTS.level2_low
"""Level 2 hypoglycaemia: below 3.0 mmol/L (54 mg/dL), the contract's default."""


@dataclass(frozen=True, kw_only=True)
class WardGlucose:
    """A ward's levels (mmol/L, strictly below) and how long a reading stands (s)."""

    level_1: float = LEVEL_1_MMOL_L
    level_2: float = LEVEL_2_MMOL_L
    valid_s: float = 3600.0
    persist_s: float = 900.0
    """A CGM event: readings below a level for at least 15 min (first to newest)."""
    series_gap_s: float = 600.0
    """Readings closer than this to the one before form a series (a CGM reads every 1-5 min; a
    capillary re-check after treating a low comes 10-15 min later, ADA's 15-15 rule)."""
    readings: int = 24
    """Glucose readings kept per patient for the persistence: 2 h of a 5-min CGM."""

    def __post_init__(self) -> None:
        if not (np.isfinite(self.level_1) and 0 < self.level_2 < self.level_1):
            raise AnalyticsInputError("level_1/level_2", "need 0 < level_2 < level_1 (mmol/L)")
        for name in ("valid_s", "persist_s", "series_gap_s"):
            check_duration(name, getattr(self, name))
        if self.readings < 2:
            raise AnalyticsInputError("readings", "must be >= 2")


@dataclass(frozen=True)
class WardHypoglycaemia:
    """Per patient: the level of hypoglycaemia now (0 none, 1, 2) and the reading behind it."""

    level: Int8Array
    value: FloatArray

    @property
    def active(self) -> BoolArray:
        result: BoolArray = self.level > 0
        return result


def ward_hypoglycaemia(
    now: int,
    value: npt.ArrayLike,
    time: npt.ArrayLike,
    config: WardGlucose | None = None,
    *,
    recent: Window | None = None,
) -> WardHypoglycaemia:
    """Each patient's newest clean glucose (mmol/L, NaN: none) taken at ``time`` (int64 ns,
    NEVER: none), judged at ``now``: level 2 below ``level_2``, level 1 below ``level_1``,
    while the reading is not older than ``valid_s``. With ``recent`` (each patient's newest
    readings, the newest last), a reading in a series holds a level only as :func:`held` says.
    The caller maps levels to priorities (the analytics service: level 2 high, level 1
    medium)."""
    cfg = config or WardGlucose()
    instant = check_now(now)
    glucose = np.asarray(value, dtype=np.float64)
    taken = np.asarray(time)
    if taken.dtype.kind not in "iu" or taken.shape != glucose.shape:
        raise AnalyticsInputError("time", "must be int64 ns, one per value")
    current = (taken >= instant - seconds_to_ns(cfg.valid_s)) & ~np.isnan(glucose)
    seen = np.where(current, glucose, np.inf)
    below_2, below_1 = seen < cfg.level_2, seen < cfg.level_1
    if recent is not None:
        if recent.values.shape[0] != glucose.shape[0]:
            raise AnalyticsInputError("recent", "needs one row per patient")
        below_2 &= held(recent, cfg.level_2, cfg)
        below_1 &= held(recent, cfg.level_1, cfg)
    level = np.where(below_2, 2, np.where(below_1, 1, 0)).astype(np.int8)
    return WardHypoglycaemia(level=level, value=np.where(current, glucose, np.nan))


def held(recent: Window, level: float, config: WardGlucose | None = None) -> BoolArray:
    """Per patient: the newest readings of ``recent`` are below ``level`` and count as an event.

    The *run* is the newest readings all below ``level``, each within ``series_gap_s`` of the
    one before. It holds when it spans ``persist_s`` (first to newest reading: 15 min is four
    readings of a 5-min CGM) or when its first reading had no reading before it within the gap
    (a capillary check: one reading is the measurement). A run filling the whole window has an
    unknown start and is judged by its span.
    """
    cfg = config or WardGlucose()
    times, values, valid = recent.times, recent.values, recent.valid
    n, k = values.shape
    if k == 0:
        return np.zeros(n, dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        below = valid & (values < level)
    linked = np.zeros((n, k), dtype=np.bool_)  # within the gap of the reading before
    linked[:, 1:] = (
        valid[:, :-1]
        & valid[:, 1:]
        & (times[:, 1:] - times[:, :-1] <= seconds_to_ns(cfg.series_gap_s))
    )
    chained = below.copy()
    chained[:, :-1] &= linked[:, 1:]  # a reading joins the run only if the next one links to it
    run = np.flip(np.logical_and.accumulate(np.flip(chained, axis=1), axis=1), axis=1)
    first = np.argmax(run, axis=1)
    rows = np.arange(n)
    span = times[:, -1] - times[rows, first]
    alone = ~linked[rows, first] & ~((first == 0) & valid[:, 0])
    result: BoolArray = run[:, -1] & ((span >= seconds_to_ns(cfg.persist_s)) | alone)
    return result
