"""Who on a simulated ward has diabetes, who is on insulin, and how their glucose is watched.

Inpatient hypoglycaemia happens overwhelmingly in people with diabetes treated with insulin or a
sulfonylurea (JBDS-IP, "The hospital management of hypoglycaemia in adults with diabetes
mellitus"; ADA Standards of Care, section 16 "Diabetes Care in the Hospital"). So the ward's
cohort is drawn first, each patient from its own stream and independently of any scenario, and
scenarios that need a cohort (hypoglycaemia: insulin-treated) are then dealt within it
(:func:`nabd.simulators.ward.build_ward`): the label never decides who wears what.

Prevalences:

* **diabetes** :data:`DIABETES_PREVALENCE` 18 % of adult inpatients: the National Diabetes
  Inpatient Audit (England and Wales) counted 15 % of beds in 2010 and 17 % in 2015-2016; a
  Melbourne point-prevalence survey found 24.7 % (Bach et al., Med J Aust 2014;201:334-338);
* **insulin-treated** :data:`INSULIN_SHARE` 40 % of those with diabetes (158 of 388, 40.7 %, in
  the same Melbourne survey); sulfonylureas are not modelled apart (they are counted with the
  non-insulin treatments, and wear no CGM here).

Glucose monitoring (:func:`monitor_of`): insulin-treated patients wear a **continuous glucose
monitor** (:data:`CGM_INTERVAL_S`, a reading every 5 min, as the Dexcom G6/G7 and FreeStyle
Libre 2/3 sensors report); other patients with diabetes keep **capillary checks** before meals
and at bedtime (:data:`CAPILLARY_TIMES_H`), the inpatient schedule for people eating
(ADA section 16); patients without diabetes have **no** glucose monitoring, as on a real ward.
The CGM is a monitoring schedule with its own error (:data:`CGM_ERROR_SD`), not one of
:class:`~nabd.simulators.devices.Device`: no BLE peripheral speaks the Continuous Glucose
Monitoring service (CGMS, 0x181F) yet, so it has no battery, transport faults or GATT profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np

from nabd.simulators.streams import stream
from nabd.simulators.timebase import FloatArray

if TYPE_CHECKING:
    from nabd.simulators.patient import PatientProfile

__all__ = [
    "CAPILLARY_TIMES_H",
    "CGM_ERROR_SD",
    "CGM_INTERVAL_S",
    "DIABETES_PREVALENCE",
    "INSULIN_SHARE",
    "Diabetes",
    "GlucoseMonitor",
    "draw_diabetes",
    "glucose_schedule",
    "monitor_of",
]

DIABETES_PREVALENCE: Final = 0.18
INSULIN_SHARE: Final = 0.40

CGM_INTERVAL_S: Final = 300
"""A CGM reading every 5 minutes."""
CAPILLARY_TIMES_H: Final = (7.5, 11.5, 17.5, 21.5)
"""Capillary checks, hours of the local day: before breakfast, lunch and dinner, and at bedtime."""

CGM_ERROR_SD: Final = 0.11
"""A CGM's relative error (1 SD), independent per reading (a capillary meter's is 4 %,
:data:`nabd.simulators.measurement.ERROR_SD`): a mean absolute relative difference
(MARD) of 9 % (Dexcom G6, Shah et al., Diabetes Technol Ther 2018;20:428-433; FreeStyle Libre 2
9.2 %) is an SD of 9 % / sqrt(2/pi) = 11 % for a normal error. Real CGM error is partly
correlated from reading to reading (calibration drift, lag of interstitial behind blood glucose,
5-10 min): not modelled."""


class Diabetes(StrEnum):
    """A patient's diabetes and its treatment, as far as hypoglycaemia risk goes."""

    NONE = "none"
    NON_INSULIN = "non_insulin"
    """Diet, metformin, sulfonylureas or other non-insulin treatment."""
    INSULIN = "insulin"


class GlucoseMonitor(StrEnum):
    """How a patient's glucose is measured on the ward."""

    NONE = "none"
    CAPILLARY = "capillary"
    CGM = "cgm"


def draw_diabetes(seed: int, index: int) -> Diabetes:
    """Patient ``index``'s diabetes, from its own stream: independent of the patient's vitals and
    of any scenario, and unchanged by the size of the ward."""
    u = float(stream(seed, f"profile-{index}", "diabetes").random())
    if u >= DIABETES_PREVALENCE:
        return Diabetes.NONE
    return Diabetes.INSULIN if u < DIABETES_PREVALENCE * INSULIN_SHARE else Diabetes.NON_INSULIN


def monitor_of(profile: PatientProfile) -> GlucoseMonitor:
    """A CGM for the insulin-treated, capillary checks for other diabetics, nothing otherwise."""
    return {
        Diabetes.INSULIN: GlucoseMonitor.CGM,
        Diabetes.NON_INSULIN: GlucoseMonitor.CAPILLARY,
        Diabetes.NONE: GlucoseMonitor.NONE,
    }[profile.diabetes]


def glucose_schedule(
    profiles: Sequence[PatientProfile],
    times: FloatArray,
    every_s: int | None = None,
    utc_offset_s: float = 0.0,
) -> np.ndarray:
    """``(patients, times)``: where each patient's glucose is measured, for ``times`` on a 1 s
    grid: by :func:`monitor_of`, or for everyone every ``every_s`` when given (a what-if:
    glucose watched for all the ward). A CGM's readings fall every :data:`CGM_INTERVAL_S` from
    the start; capillary checks at :data:`CAPILLARY_TIMES_H` local time."""
    steps = np.arange(times.shape[0])
    if every_s is not None:
        return np.broadcast_to(steps % every_s == 0, (len(profiles), times.shape[0]))
    second = np.rint(times + utc_offset_s).astype(np.int64) % 86400
    rows = {
        GlucoseMonitor.NONE: np.zeros(times.shape[0], dtype=np.bool_),
        GlucoseMonitor.CAPILLARY: np.isin(second, [round(h * 3600) for h in CAPILLARY_TIMES_H]),
        GlucoseMonitor.CGM: steps % CGM_INTERVAL_S == 0,
    }
    if not profiles:
        return np.zeros((0, times.shape[0]), dtype=np.bool_)
    return np.stack([rows[monitor_of(p)] for p in profiles])
