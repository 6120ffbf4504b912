"""Deviation from the patient's own baseline: a robust z-score against the last hours.

Population limits (``nabd.analytics.limits``) miss a patient whose usual heart rate is 55/min now
running at 95/min: still "normal", but a change a nurse who knew the patient would notice. Here
each patient is compared with themselves:

* **baseline**: the median of the patient's samples over ``history_s`` (default 6 h), *excluding*
  the most recent ``recent_s`` (default 5 min), so a deterioration under way does not pull the
  baseline towards itself;
* **spread**: the median absolute deviation (MAD) of the same samples, scaled by 1.4826 so it
  estimates the standard deviation of normally distributed data; floored at ``min_scale`` (a
  metric's smallest meaningful change), because a very steady patient (SpO2 98 % for hours)
  has a MAD of zero and every 1 % wobble would otherwise be infinitely many "SDs";
* **current level**: the median of the last ``recent_s``, which one artefact cannot move;
* **score** ``z = (current - baseline) / spread``. This is the modified z-score of Iglewicz and
  Hoaglin (*How to Detect and Handle Outliers*, ASQC 1993), ``0.6745 (x - median) / MAD``, which
  is the same number; they recommend ``|z| > 3.5`` as the outlier threshold, our ``enter``.

A score is ``ready`` only with enough history: at least ``min_samples`` samples in the baseline
period and the oldest at least ``min_history_s`` (default 2 h) ago; before that the detector
cannot fire (a newly admitted patient has no baseline). Median and MAD are computed with a sort
over the whole ``(patients, columns)`` window at once, so feed the baseline from a ring of
per-minute summaries (360 columns for 6 h), not raw per-second samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.analytics.arrays import (
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
    "DEFAULT_BASELINES",
    "MAD_TO_SD",
    "BaselineConfig",
    "BaselineScore",
    "BaselineState",
    "score",
]

MAD_TO_SD: Final = 1.4826
"""1 / Phi^-1(3/4): the MAD of normal data times this estimates its standard deviation."""


@dataclass(frozen=True, kw_only=True)
class BaselineConfig:
    """How one metric is compared with the patient's own baseline (durations in seconds)."""

    min_scale: float
    """Floor on the spread, in the metric's unit: the smallest change worth a z of 1."""
    history_s: float = 6 * 3600
    recent_s: float = 300
    min_history_s: float = 2 * 3600
    min_samples: int = 30
    enter: float = 3.5
    """``|z|`` at or above which the condition fires (Iglewicz and Hoaglin's outlier limit)."""
    exit: float = 2.0
    """``|z|`` strictly below which a fired condition may clear (hysteresis)."""
    persist_s: float = 0
    clear_s: float = 300

    def __post_init__(self) -> None:
        if not math.isfinite(self.min_scale) or self.min_scale <= 0:
            raise AnalyticsInputError("min_scale", f"must be > 0, got {self.min_scale}")
        for name in ("history_s", "recent_s", "min_history_s", "persist_s", "clear_s"):
            check_duration(name, getattr(self, name))
        if not self.recent_s < self.history_s or self.min_history_s > self.history_s:
            raise AnalyticsInputError(
                "history_s", "need recent_s < history_s and min_history_s <= history_s"
            )
        if self.min_samples < 1:
            raise AnalyticsInputError("min_samples", f"must be >= 1, got {self.min_samples}")
        if not 0 < self.exit <= self.enter:
            raise AnalyticsInputError("exit", f"need 0 < exit <= enter, got {self.exit}")


DEFAULT_BASELINES: Final[Mapping[str, BaselineConfig]] = MappingProxyType(
    {
        "heart_rate": BaselineConfig(min_scale=3.0),
        "pulse_rate": BaselineConfig(min_scale=3.0),
        "spo2": BaselineConfig(min_scale=1.0),
        "respiration_rate": BaselineConfig(min_scale=1.5),
        "body_temperature": BaselineConfig(min_scale=0.2),
        "systolic_bp": BaselineConfig(min_scale=5.0),
    }
)


@dataclass(frozen=True)
class BaselineScore:
    """Each patient's baseline comparison at one instant; arrays of shape ``(patients,)``.

    ``baseline``, ``spread`` and ``current`` are NaN where there were no samples; ``z`` is NaN
    wherever ``ready`` is False.
    """

    baseline: FloatArray
    spread: FloatArray
    current: FloatArray
    z: FloatArray
    history_count: IntArray
    ready: BoolArray


def score(window: Window, now: int, config: BaselineConfig) -> BaselineScore:
    """Score every patient's recent level against their baseline, from a ring-buffer window."""
    instant = check_now(now)
    recent_start = instant - seconds_to_ns(config.recent_s)
    history = (
        window.valid
        & (window.times >= instant - seconds_to_ns(config.history_s))
        & (window.times < recent_start)
    )
    recent = window.valid & (window.times >= recent_start) & (window.times <= instant)
    baseline, history_count = masked_median(window.values, history)
    deviation = np.abs(window.values - baseline[:, None])
    mad, _ = masked_median(deviation, history)
    spread = np.maximum(MAD_TO_SD * mad, config.min_scale)
    current, recent_count = masked_median(window.values, recent)
    oldest = np.where(history, window.times, instant).min(axis=1, initial=instant)
    ready = (
        (history_count >= config.min_samples)
        & (oldest <= instant - seconds_to_ns(config.min_history_s))
        & (recent_count >= 1)
    )
    z = np.where(ready, (current - baseline) / spread, np.nan)
    return BaselineScore(
        baseline=baseline,
        spread=np.where(history_count > 0, spread, np.nan),
        current=current,
        z=z,
        history_count=history_count,
        ready=ready,
    )


class BaselineState(TwoSidedLatch):
    """Latches for "well above" (``high``) and "well below" (``low``) the patient's own
    baseline."""

    def step(self, now: int, scored: BaselineScore, config: BaselineConfig) -> BaselineState:
        """Fire at ``|z| >= enter`` (after ``persist_s``); clear at ``|z| < exit`` (``clear_s``).

        A score that is not ready is evidence of neither (see ``nabd.analytics.latch``).
        """
        return self.step_sides(
            check_now(now),
            scored.z,
            scored.ready,
            low=(-config.enter, -config.exit),
            high=(config.enter, config.exit),
            persist_ns=seconds_to_ns(config.persist_s),
            clear_ns=seconds_to_ns(config.clear_s),
        )
