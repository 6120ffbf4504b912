"""Heart-failure weight gain from the morning weight, for every home patient at once.

Fluid retention shows on the scale days before breathlessness, so heart-failure programmes ask
for a weight every morning (after voiding, before eating, same scale [MLP]) and alert on gain:

* more than ``three_day_gain_kg`` (2 kg) in 3 days: ESC 2021 HF guidelines, patient-education
  table [ESC-HF21] (the ESC-HFA patient site [HFM] repeats it);
* more than ``day_gain_kg`` (1.5 kg) in a day or ``week_gain_kg`` (2 kg) in a week:
  NLM MedlinePlus [MLP] ("2-3 lb (1-1.5 kg) in a day or 5 lb (2 kg) in a week");
* more than ``above_dry_kg`` above the clinician's dry (target) weight: no guideline figure,
  a plan setting (docs/home-monitoring.md).

Definitions (the sources leave them open):

* only a day's **first** reading (local calendar day) is judged: later ones carry meals and
  clothes; they are kept but not compared.
* "in N days" compares today's morning weight with the **lowest** morning weight of the N
  previous calendar days, so a missing morning does not hide a gain (the reference is any
  earlier morning in the span) and a gain spread over any part of the span counts. A day with
  no morning weight in the span is simply absent; with none at all, that comparison is not made.
* comparisons are strict (``>``), as the sources word them.
* a breach is **medium** (nurse contact the same day; "U" in the reference table); a breach on
  the next morning too (within 36 h) escalates to high (:func:`~nabd.analytics.spot.escalate`).

Tele-HF [TeleHF] found weight telemonitoring alone did not cut readmission or death: this is a
prompt for a nurse's call, not a diagnosis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import BoolArray, FloatArray, Int8Array, float_per_patient
from nabd.analytics.ring import Window
from nabd.analytics.spot import MEDIUM, escalate, first_of_day, local_day, per_plan
from nabd.contract.careplan import CarePlan

__all__ = ["REPEAT_WITHIN_S", "WeightFindings", "WeightLimits", "weight_gain"]

REPEAT_WITHIN_S: Final = 36 * 3600.0
"""A breach on the next morning (up to 36 h later) is a repeat."""


@dataclass(frozen=True)
class WeightLimits:
    """Per-patient thresholds in kg (arrays of shape ``(patients,)``; NaN disables one)."""

    day_gain_kg: FloatArray
    three_day_gain_kg: FloatArray
    week_gain_kg: FloatArray
    dry_weight_kg: FloatArray
    above_dry_kg: FloatArray

    @classmethod
    def of(cls, plans: Sequence[CarePlan]) -> WeightLimits:
        """The plans' weight thresholds, one row per plan."""
        return per_plan(cls, [plan.weight for plan in plans])


@dataclass(frozen=True)
class WeightFindings:
    """Per reading (the window's shape); gains are NaN where not judged."""

    morning: BoolArray
    day_gain: FloatArray
    three_day_gain: FloatArray
    week_gain: FloatArray
    above_dry: FloatArray
    level: Int8Array


def weight_gain(
    window: Window, limits: WeightLimits, utc_offset_s: npt.ArrayLike
) -> WeightFindings:
    """Judge every morning weight in ``window`` (kg) against its patient's earlier mornings."""
    patients = window.values.shape[0]
    day = local_day(window, np.broadcast_to(np.asarray(utc_offset_s), (patients,)))
    morning = first_of_day(window, day)
    first = int(day[morning].min()) if morning.any() else 0
    days = int(day[morning].max()) - first + 1 if morning.any() else 1
    by_day = np.full((patients, days + 7), np.nan)
    r, c = np.nonzero(morning)
    by_day[r, day[r, c] - first + 7] = window.values[r, c]  # 7 empty days of history in front
    lowest = _lowest_before(by_day, (1, 3, 7))
    col = np.where(morning, day - first + 7, 0)
    value = np.where(morning, window.values, np.nan)
    gains = [value - np.take_along_axis(low, col, axis=1) for low in lowest]
    day_limit, three_limit, week_limit, dry, above = (
        float_per_patient(name, getattr(limits, name), patients)[:, None]
        for name in ("day_gain_kg", "three_day_gain_kg", "week_gain_kg", "dry_weight_kg",
                     "above_dry_kg")
    )  # fmt: skip
    above_dry = value - dry
    with np.errstate(invalid="ignore"):
        breach = (gains[0] > day_limit) | (gains[1] > three_limit) | (gains[2] > week_limit)
        breach |= above_dry > above
    level = np.where(morning & breach, MEDIUM, 0).astype(np.int8)
    return WeightFindings(
        morning=morning,
        day_gain=gains[0],
        three_day_gain=gains[1],
        week_gain=gains[2],
        above_dry=above_dry,
        level=escalate(level, window, REPEAT_WITHIN_S),
    )


def _lowest_before(by_day: FloatArray, spans: tuple[int, ...]) -> list[FloatArray]:
    """Per span N, the lowest value of the N columns before each column (NaN: none)."""
    out = []
    running = np.full(by_day.shape, np.nan)
    lag = 0
    for span in spans:
        while lag < span:
            lag += 1
            shifted = np.full(by_day.shape, np.nan)
            shifted[:, lag:] = by_day[:, :-lag]
            running = np.fmin(running, shifted)
        out.append(running.copy())
    return out
