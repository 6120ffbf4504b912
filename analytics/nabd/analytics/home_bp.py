"""Home blood pressure (HBPM) rules, for every home patient at once.

Three findings per cuff reading (systolic and diastolic in mmHg, one window each, same times):

* **severe** (``bp_severe``): SBP >= ``severe_sbp`` (180) and/or DBP >= ``severe_dbp`` (110),
  ESH 2023 grade 3 [ESH23] (secondary copy); AHA "hypertensive crisis" >= 180/120 [AHA-crisis].
  The AHA asks to re-measure after 1-5 min before acting, so one severe reading is **low**
  (re-measure) and a repeat within :data:`REPEAT_WITHIN_S` that is severe too is **medium**
  (nurse contact the same day; chest pain, breathlessness, weakness or vision change make it an
  emergency, which no cuff can see).
* **hypotension** (``bp_low``): SBP <= ``low_sbp`` (90), the NEWS2 band scoring 3 [NEWS2]; no
  home source gives a figure. Low, medium when repeated.
* **raised 7-day mean** (``bp_mean_high``): the mean of all readings of the last ``mean_days``
  (7) days >= ``mean_sbp``/``mean_dbp`` (135/85; ESH/ISH/Hypertension Canada [ESH23] [ISH20]
  [HC]; a plan following AHA/ACC sets 130/80 [ACC17] [AHA25]), once at least
  ``mean_min_readings`` (12) readings are in the window. Low (review next working day). The
  protocol's "discard day 1" belongs to a 7-day diagnostic series; a rolling mean over a
  monitored patient has no first day, so nothing is discarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from nabd.analytics.arrays import BoolArray, FloatArray, Int8Array, IntArray, float_per_patient
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import Window
from nabd.analytics.spot import DAY_NS, LOW, escalate, per_plan
from nabd.contract.careplan import CarePlan

__all__ = ["REPEAT_WITHIN_S", "BloodPressureFindings", "BloodPressureLimits", "home_bp"]

REPEAT_WITHIN_S: Final = 15 * 60.0
"""A second reading within 15 min is the repeat the AHA asks for (1-5 min after the first)."""


@dataclass(frozen=True)
class BloodPressureLimits:
    """Per-patient thresholds (arrays of shape ``(patients,)``)."""

    severe_sbp: FloatArray
    severe_dbp: FloatArray
    low_sbp: FloatArray
    mean_sbp: FloatArray
    mean_dbp: FloatArray
    mean_days: IntArray
    mean_min_readings: IntArray

    @classmethod
    def of(cls, plans: Sequence[CarePlan]) -> BloodPressureLimits:
        return per_plan(cls, [plan.blood_pressure for plan in plans])


@dataclass(frozen=True)
class BloodPressureFindings:
    """Per reading (the windows' shape)."""

    mean_sbp: FloatArray
    mean_dbp: FloatArray
    """Rolling means (NaN until enough readings)."""
    severe: Int8Array
    low: Int8Array
    mean_high: Int8Array


def home_bp(sbp: Window, dbp: Window, limits: BloodPressureLimits) -> BloodPressureFindings:
    """Judge every reading of ``sbp``/``dbp`` (same patients, columns and times)."""
    same = sbp.values.shape == dbp.values.shape
    if not same or not (
        np.array_equal(sbp.times, dbp.times) and np.array_equal(sbp.valid, dbp.valid)
    ):
        raise AnalyticsInputError("dbp", "must hold the same readings (times) as sbp")
    patients = sbp.values.shape[0]

    def limit(name: str) -> FloatArray:
        return float_per_patient(name, getattr(limits, name), patients)[:, None]

    valid = sbp.valid
    s, d = np.where(valid, sbp.values, np.nan), np.where(valid, dbp.values, np.nan)
    with np.errstate(invalid="ignore"):
        severe = valid & ((s >= limit("severe_sbp")) | (d >= limit("severe_dbp")))
        low = valid & (s <= limit("low_sbp"))
    mean_s, mean_d, count = _rolling_means(sbp.times, s, d, valid, limits.mean_days)
    enough = count >= np.asarray(limits.mean_min_readings).reshape(-1, 1)
    with np.errstate(invalid="ignore"):
        high = valid & enough & ((mean_s >= limit("mean_sbp")) | (mean_d >= limit("mean_dbp")))
    window = Window(sbp.times, s, valid)
    return BloodPressureFindings(
        mean_sbp=np.where(enough, mean_s, np.nan),
        mean_dbp=np.where(enough, mean_d, np.nan),
        severe=escalate(np.where(severe, LOW, 0).astype(np.int8), window, REPEAT_WITHIN_S),
        low=escalate(np.where(low, LOW, 0).astype(np.int8), window, REPEAT_WITHIN_S),
        mean_high=np.where(high, LOW, 0).astype(np.int8),
    )


def _rolling_means(
    times: IntArray, s: FloatArray, d: FloatArray, valid: BoolArray, days: IntArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Mean SBP, DBP and reading count over ``(t - days, t]`` at every reading.

    A ``(patients, n, n)`` mask of which readings fall in each reading's window: cheap for the
    few hundred readings a month of home BP holds, and indifferent to where invalid columns are.
    """
    span = np.asarray(days, dtype=np.int64).reshape(-1, 1, 1) * DAY_NS
    earlier = times[:, None, :]
    inside = valid[:, None, :] & (earlier <= times[:, :, None])
    inside &= earlier > times[:, :, None] - span
    count = inside.sum(axis=2, dtype=np.int64)
    weights = inside.astype(np.float64)
    total_s = np.einsum("pij,pj->pi", weights, np.where(valid, s, 0.0))
    total_d = np.einsum("pij,pj->pi", weights, np.where(valid, d, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return total_s / count, total_d / count, count
