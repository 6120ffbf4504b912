"""A spot SpO2 reading below the patient's prescribed target range.

BTS 2017 oxygen guideline [BTS17]: the target is 94-98 % for most patients and **88-92 %** for
those at risk of hypercapnic respiratory failure (COPD, the COPD programme's default); a
reading below the target (or a fall of 3 points or more) calls for assessment the same day.
A reading below ``target_low`` is **medium**; a second one within :data:`REPEAT_WITHIN_S`
(the next scheduled spot check) escalates to high: NICE NG115 favours hospital care for an
exacerbation with SaO2 < 90 %, and two low spot checks in a row are no longer a bad probe.
The upper bound of the range titrates oxygen; on room air it is not an alarm.

Oximeters overestimate SpO2 in darker skin [FDA21] [RHO21]: a reading within range never
silences symptoms (docs/home-monitoring.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from nabd.analytics.arrays import FloatArray, Int8Array, float_per_patient
from nabd.analytics.ring import Window
from nabd.analytics.spot import MEDIUM, escalate
from nabd.contract.careplan import CarePlan

__all__ = ["REPEAT_WITHIN_S", "spo2_below_target", "target_low_of"]

REPEAT_WITHIN_S: Final = 24 * 3600.0


def target_low_of(plans: Sequence[CarePlan]) -> FloatArray:
    """Each plan's lower SpO2 target (%)."""
    return np.array([plan.spo2.target_low for plan in plans], dtype=np.float64)


def spo2_below_target(window: Window, target_low: FloatArray) -> Int8Array:
    """Level per reading: medium below ``target_low`` (strict), high when repeated."""
    low = float_per_patient("target_low", target_low, window.values.shape[0])[:, None]
    with np.errstate(invalid="ignore"):
        below = window.valid & (window.values < low)
    return escalate(np.where(below, MEDIUM, 0).astype(np.int8), window, REPEAT_WITHIN_S)
