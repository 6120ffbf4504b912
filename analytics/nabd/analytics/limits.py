"""Hard physiological limits: a value at or beyond a limit, held long enough, for every patient.

The simplest alarm, and the one that must never be missed: heart rate at or above 131/min, SpO2
at or below 91 %. Each metric has a low and a high limit, each an independent
:class:`~nabd.analytics.latch.Latch` with

* **persistence** ``persist_s``: the value must stay at or beyond the limit for that long before
  the condition fires (one artefact does not alarm);
* **hysteresis** ``margin`` and ``clear_s``: once fired, the condition clears only after the value
  has been strictly back inside the limit by more than ``margin`` (``value > low + margin``,
  ``value < high - margin``) for ``clear_s``; a value hovering at the limit cannot toggle it.

Limits are configured per ward (:class:`LimitConfig`, one per metric and ward) and may be
overridden per patient by a clinician (arrays of per-patient thresholds, NaN = "use the
ward's"); :func:`thresholds` resolves both into one :class:`Thresholds` of per-patient arrays, so
a tick is a handful of NumPy comparisons for the whole hospital.

Defaults (:data:`DEFAULT_LIMITS`, docs/analytics.md says why) put the limits at the edge of the
NEWS2 Chart 1 band that scores 3 for that parameter alone, the "red score" at which RCP asks for
an urgent clinical review.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    FloatArray,
    IntArray,
    check_duration,
    check_now,
    float_per_patient,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.latch import TwoSidedLatch

__all__ = ["DEFAULT_LIMITS", "LimitConfig", "LimitState", "Thresholds", "thresholds"]


@dataclass(frozen=True, kw_only=True)
class LimitConfig:
    """One metric's hard limits for one ward, in the metric's canonical unit.

    ``low``/``high`` fire at or beyond the value (``-inf``/``inf``: no such limit).
    """

    low: float = -math.inf
    high: float = math.inf
    margin: float
    persist_s: float
    clear_s: float

    def __post_init__(self) -> None:
        if math.isnan(self.low) or math.isnan(self.high) or not self.low < self.high:
            raise AnalyticsInputError("limits", f"need low < high, got {self.low}, {self.high}")
        if not math.isfinite(self.margin) or self.margin < 0:
            raise AnalyticsInputError("margin", f"must be finite and >= 0, got {self.margin}")
        check_duration("persist_s", self.persist_s)
        check_duration("clear_s", self.clear_s)


DEFAULT_LIMITS: Final[Mapping[str, LimitConfig]] = MappingProxyType(
    {
        # NEWS2 scores 3 at <= 40 and >= 131 /min.
        "heart_rate": LimitConfig(low=40, high=131, margin=5, persist_s=10, clear_s=30),
        "pulse_rate": LimitConfig(low=40, high=131, margin=5, persist_s=10, clear_s=30),
        # Scale 1 scores 3 at <= 91 %; no high limit on air.
        "spo2": LimitConfig(low=91, margin=2, persist_s=10, clear_s=30),
        # NEWS2 scores 3 at <= 8 and >= 25 /min.
        "respiration_rate": LimitConfig(low=8, high=25, margin=2, persist_s=10, clear_s=30),
        # NEWS2 scores 3 at <= 90 and >= 220 mmHg. Spot measurements: no persistence.
        "systolic_bp": LimitConfig(low=90, high=220, margin=5, persist_s=0, clear_s=0),
        # NEWS2 scores 3 at <= 35.0 degC; 39.1 degC (2 points) is its highest band.
        "body_temperature": LimitConfig(low=35.0, high=39.1, margin=0.2, persist_s=0, clear_s=0),
    }
)


@dataclass(frozen=True)
class Thresholds:
    """One metric's limits resolved per patient: arrays of shape ``(patients,)``."""

    low: FloatArray
    high: FloatArray
    margin: FloatArray
    persist_ns: IntArray
    clear_ns: IntArray


def thresholds(
    wards: Sequence[LimitConfig],
    ward_of_patient: npt.ArrayLike,
    *,
    low: npt.ArrayLike = np.nan,
    high: npt.ArrayLike = np.nan,
) -> Thresholds:
    """Per-patient limits: each patient's ward's, with per-patient ``low``/``high`` overrides.

    ``ward_of_patient`` indexes ``wards``. ``low`` and ``high`` are scalars or one per patient,
    NaN where the ward's limit applies (use ``-inf``/``inf`` to switch a limit off for one
    patient). Raises when an override leaves a patient with ``low >= high``.
    """
    if not wards:
        raise AnalyticsInputError("wards", "need at least one ward's limits")
    raw = np.asarray(ward_of_patient)
    if raw.ndim != 1 or raw.dtype.kind not in "iu":
        raise AnalyticsInputError("ward_of_patient", "must be a 1-D array of ward indices")
    ward: IntArray = raw.astype(np.int64)
    if ward.size and (ward.min() < 0 or ward.max() >= len(wards)):
        raise AnalyticsInputError("ward_of_patient", f"indices must be in 0..{len(wards) - 1}")
    patients = ward.shape[0]

    def column(name: str) -> FloatArray:
        values: FloatArray = np.array([getattr(c, name) for c in wards], dtype=np.float64)
        per_patient: FloatArray = values[ward]
        return per_patient

    low_override = float_per_patient("low", low, patients)
    high_override = float_per_patient("high", high, patients)
    resolved_low = np.where(np.isnan(low_override), column("low"), low_override)
    resolved_high = np.where(np.isnan(high_override), column("high"), high_override)
    bad = ~(resolved_low < resolved_high)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnalyticsInputError(
            "low/high",
            f"{int(bad.sum())} patient(s) would have low >= high, first patient {first}: "
            f"{resolved_low[first]} >= {resolved_high[first]}",
        )
    durations = {
        name: np.array([seconds_to_ns(getattr(c, name)) for c in wards], dtype=np.int64)[ward]
        for name in ("persist_s", "clear_s")
    }
    return Thresholds(
        low=resolved_low,
        high=resolved_high,
        margin=column("margin"),
        persist_ns=durations["persist_s"],
        clear_ns=durations["clear_s"],
    )


class LimitState(TwoSidedLatch):
    """The low-limit and high-limit latches of one metric for every patient."""

    def step(self, now: int, value: npt.ArrayLike, limits: Thresholds) -> LimitState:
        """The state after a tick at ``now`` seeing ``value`` (one per patient, NaN = missing).

        Pass the latest value of each patient, or NaN when there is none or it is too old to
        count (the shell decides staleness; ``nabd.analytics.technical`` reports it).
        """
        instant = check_now(now)
        patients = self.low.active.shape[0]
        current = float_per_patient("value", value, patients)
        if limits.low.shape != (patients,):
            raise AnalyticsInputError("limits", f"are for {limits.low.shape[0]} patients")
        return self.step_sides(
            instant,
            current,
            ~np.isnan(current),
            low=(limits.low, limits.low + limits.margin),
            high=(limits.high, limits.high - limits.margin),
            persist_ns=limits.persist_ns,
            clear_ns=limits.clear_ns,
        )
