"""Slope of each patient's recent values: is this vital sign drifting, and how fast?

A respiratory rate creeping from 16 to 22/min over two hours crosses no hard limit and, being
slow, is absorbed by a 6-hour baseline; its slope is what shows it. Two estimators, both over a
``(patients, columns)`` window at once, both in the metric's unit **per hour**:

* :func:`least_squares_slope`, the ordinary least-squares slope of value on time, from masked
  sums (``cov(t, v) / var(t)``): cheap, but one artefact can tip it;
* :func:`theil_sen_slope`, the median of the slopes between every pair of samples (Theil 1950,
  Sen 1968, *J. Am. Stat. Assoc.* 63:1379): it ignores up to ~29 % of arbitrary outliers. It is
  computed for all pairs of all patients at once, ``patients * columns * (columns - 1) / 2``
  slopes, so its window is capped at :data:`MAX_THEIL_SEN_COLUMNS` columns (use
  ``RingBuffer.window(columns=...)`` or a ring of per-minute summaries).

:func:`trend` adds the minimum evidence (``min_points`` samples spanning ``min_span_s``) below
which no slope is reported, and :class:`TrendState` latches "rising"/"falling" (its ``high`` and
``low`` sides) with persistence and hysteresis (clears once the slope is back under
``exit_fraction`` of the threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from nabd.analytics.arrays import (
    NS_PER_S,
    BoolArray,
    FloatArray,
    IntArray,
    check_duration,
    check_now,
    masked_median,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.latch import TwoSidedLatch
from nabd.analytics.ring import Window

__all__ = [
    "MAX_THEIL_SEN_COLUMNS",
    "Trend",
    "TrendConfig",
    "TrendState",
    "least_squares_slope",
    "theil_sen_slope",
    "trend",
]

MAX_THEIL_SEN_COLUMNS: Final = 240
"""28 680 pairwise slopes per patient: ~2.3 MB per 10 patients, sorted in well under 0.1 s."""

_S_PER_H: Final = 3600.0


@dataclass(frozen=True, kw_only=True)
class TrendConfig:
    """When a metric's slope counts as a trend. Thresholds are magnitudes per hour (inf: off)."""

    rise_per_h: float = math.inf
    fall_per_h: float = math.inf
    window_s: float = 3600
    min_points: int = 6
    min_span_s: float = 1800
    method: Literal["theil_sen", "least_squares"] = "theil_sen"
    exit_fraction: float = 0.5
    persist_s: float = 0
    clear_s: float = 600

    def __post_init__(self) -> None:
        for name in ("rise_per_h", "fall_per_h"):
            value = getattr(self, name)
            if math.isnan(value) or value <= 0:
                raise AnalyticsInputError(name, f"must be > 0 (inf: off), got {value}")
        for name in ("window_s", "min_span_s", "persist_s", "clear_s"):
            check_duration(name, getattr(self, name))
        if self.min_points < 2:
            raise AnalyticsInputError("min_points", f"must be >= 2, got {self.min_points}")
        if not 0 < self.exit_fraction <= 1:
            raise AnalyticsInputError(
                "exit_fraction", f"must be in (0, 1], got {self.exit_fraction}"
            )
        if self.method not in ("theil_sen", "least_squares"):
            raise AnalyticsInputError("method", f"unknown method {self.method!r}")


@dataclass(frozen=True)
class Trend:
    """Each patient's slope (unit per hour; NaN unless ``ready``) and the evidence behind it."""

    slope_per_h: FloatArray
    count: IntArray
    span_s: FloatArray
    ready: BoolArray


def _hours(window: Window) -> FloatArray:
    """Sample times in hours relative to each patient's newest sample (0 where not valid).

    Relative times keep float64 exact: epoch nanoseconds (~1.7e18) do not fit its 53 bits.
    """
    newest = np.where(window.valid, window.times, 0).max(axis=1, initial=0)
    relative = np.where(window.valid, window.times - newest[:, None], 0)
    hours: FloatArray = relative / (NS_PER_S * _S_PER_H)
    return hours


def least_squares_slope(window: Window) -> FloatArray:
    """Least-squares slope per patient, unit per hour; NaN with < 2 distinct sample times."""
    valid = window.valid
    count = valid.sum(axis=1)
    has = count > 0
    safe = np.where(has, count, 1)
    t = _hours(window)
    v = np.where(valid, window.values, 0.0)
    t_mean = t.sum(axis=1) / safe
    v_mean = v.sum(axis=1) / safe
    dt = np.where(valid, t - t_mean[:, None], 0.0)
    dv = np.where(valid, v - v_mean[:, None], 0.0)
    spread = (dt * dt).sum(axis=1)
    usable = spread > 0
    slope: FloatArray = np.where(
        usable, (dt * dv).sum(axis=1) / np.where(usable, spread, 1.0), np.nan
    )
    return slope


def theil_sen_slope(window: Window) -> FloatArray:
    """Median pairwise slope per patient, unit per hour; NaN with < 2 distinct sample times."""
    columns = window.valid.shape[1]
    if columns > MAX_THEIL_SEN_COLUMNS:
        raise AnalyticsInputError(
            "window",
            f"{columns} columns; Theil-Sen takes at most {MAX_THEIL_SEN_COLUMNS} "
            "(read fewer columns or use per-minute summaries)",
        )
    first, second = np.triu_indices(columns, k=1)
    t = _hours(window)
    dt = t[:, second] - t[:, first]
    pair = window.valid[:, first] & window.valid[:, second] & (dt > 0)
    dv = window.values[:, second] - window.values[:, first]
    slopes = np.where(pair, dv / np.where(pair, dt, 1.0), 0.0)
    median, _ = masked_median(slopes, pair)
    return median


def trend(window: Window, now: int, config: TrendConfig) -> Trend:
    """Slopes over the last ``window_s`` before ``now``, where the evidence is sufficient."""
    instant = check_now(now)
    recent = window.valid & (window.times >= instant - seconds_to_ns(config.window_s))
    recent &= window.times <= instant
    used = Window(
        times=np.where(recent, window.times, 0),
        values=np.where(recent, window.values, np.nan),
        valid=recent,
    )
    estimator = theil_sen_slope if config.method == "theil_sen" else least_squares_slope
    slope = estimator(used)
    count = recent.sum(axis=1, dtype=np.int64)
    span_s = np.where(count > 0, -_hours(used).min(axis=1, initial=0.0) * _S_PER_H, 0.0)
    ready = (count >= config.min_points) & (span_s >= config.min_span_s) & ~np.isnan(slope)
    return Trend(
        slope_per_h=np.where(ready, slope, np.nan), count=count, span_s=span_s, ready=ready
    )


class TrendState(TwoSidedLatch):
    """Latches for "rising" (``high``) and "falling" (``low``) faster than the configured
    rates."""

    def step(self, now: int, current: Trend, config: TrendConfig) -> TrendState:
        """Fire at slope >= rise (or <= -fall); clear below ``exit_fraction`` of it."""
        rise, fall, keep = config.rise_per_h, config.fall_per_h, config.exit_fraction
        return self.step_sides(
            check_now(now),
            current.slope_per_h,
            current.ready,
            low=(-fall, -keep * fall),
            high=(rise, keep * rise),
            persist_ns=seconds_to_ns(config.persist_s),
            clear_ns=seconds_to_ns(config.clear_s),
        )
