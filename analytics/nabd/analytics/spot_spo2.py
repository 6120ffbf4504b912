"""A spot SpO2 reading below the patient's prescribed target range, or well below their own
baseline.

BTS 2017 oxygen guideline [BTS17]: the target is 94-98 % for most patients and **88-92 %** for
those at risk of hypercapnic respiratory failure (COPD, the COPD programme's default); a
reading below the target, or a fall of 3 points or more from the patient's baseline, calls for
assessment the same day. The baseline is the median of the patient's readings of the previous
``baseline_days`` (7) days (the reading judged excluded), once at least
``baseline_min_readings`` (6) are there; a fall counts at ``<= baseline - fall_points`` (the
source's "3 points or more"). Either finding is **medium**; a second one within
:data:`REPEAT_WITHIN_S` (the next scheduled spot check) escalates to high: NICE NG115 favours
hospital care for an exacerbation with SaO2 < 90 %, and two low spot checks in a row are no
longer a bad probe. The upper bound of the range titrates oxygen; on room air it is not an alarm.

Oximeters overestimate SpO2 in darker skin [FDA21] [RHO21]: a reading within range never
silences symptoms (docs/home-monitoring.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from nabd.analytics.arrays import FloatArray, Int8Array, IntArray, float_per_patient, masked_median
from nabd.analytics.ring import Window
from nabd.analytics.spot import DAY_NS, MEDIUM, escalate, per_plan
from nabd.contract.careplan import CarePlan

__all__ = ["REPEAT_WITHIN_S", "Spo2Findings", "Spo2Limits", "spo2_spot"]

REPEAT_WITHIN_S: Final = 24 * 3600.0


@dataclass(frozen=True)
class Spo2Limits:
    """Per-patient settings (arrays of shape ``(patients,)``; NaN ``fall_points`` disables the
    baseline comparison)."""

    target_low: FloatArray
    fall_points: FloatArray
    baseline_days: IntArray
    baseline_min_readings: IntArray

    @classmethod
    def of(cls, plans: Sequence[CarePlan]) -> Spo2Limits:
        return per_plan(cls, [plan.spo2 for plan in plans])


@dataclass(frozen=True)
class Spo2Findings:
    """Per reading (the window's shape)."""

    baseline: FloatArray
    """The median of the previous days' readings (NaN: too few)."""
    level: Int8Array


def spo2_spot(window: Window, limits: Spo2Limits) -> Spo2Findings:
    """Judge every spot SpO2 reading (%) against the target and the patient's baseline."""
    n = window.values.shape[0]
    low = float_per_patient("target_low", limits.target_low, n)[:, None]
    fall = float_per_patient("fall_points", limits.fall_points, n)[:, None]
    baseline = _baseline(window, limits)
    with np.errstate(invalid="ignore"):
        below = window.valid & (window.values < low)
        below |= window.valid & (window.values <= baseline - fall)
    level = escalate(np.where(below, MEDIUM, 0).astype(np.int8), window, REPEAT_WITHIN_S)
    return Spo2Findings(baseline=baseline, level=level)


def _baseline(window: Window, limits: Spo2Limits) -> FloatArray:
    """Median of the readings in ``[t - days, t)`` before each reading, ``(patients, n, n)``
    masks: spot checks are a few a day, so n stays in the tens to low hundreds."""
    span = np.asarray(limits.baseline_days, dtype=np.int64).reshape(-1, 1, 1) * DAY_NS
    t = window.times
    earlier = window.valid[:, None, :] & (t[:, None, :] < t[:, :, None])
    earlier &= t[:, None, :] >= t[:, :, None] - span
    values = np.broadcast_to(window.values[:, None, :], earlier.shape)
    median, count = masked_median(values, earlier)
    enough = count >= np.asarray(limits.baseline_min_readings).reshape(-1, 1)
    result: FloatArray = np.where(enough & window.valid, median, np.nan)
    return result
