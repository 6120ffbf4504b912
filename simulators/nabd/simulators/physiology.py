"""Latent physiology: the true (unmeasured) vitals of virtual patients, as functions of time.

Each vital is the patient's baseline, plus a circadian rhythm, plus slow physiological variation,
plus the excursions of the patient's scenarios, clamped to what a living patient can have:

    latent(t) = baseline + circadian(local hour) + variation(t) + sum of excursions(t)

* **Circadian rhythm** (cosinor): core temperature is lowest around 04:00-05:00 and highest in
  the late afternoon (about +/-0.3 degC); heart rate and blood pressure fall at night (a
  nocturnal "dip" of roughly 10-15 % peak to trough); glucose follows meals instead.
* **Variation** is a sum of Ornstein-Uhlenbeck (AR(1)) processes with time constants from a
  minute to hours, roughly equal power per decade: a 1/f-like spectrum between them, as in
  long-term recordings of heart rate and blood pressure. Systolic and diastolic pressure share a
  component, so they move together.
* **Excursions** come from scenarios (see :mod:`nabd.simulators.scenarios`).

The variation is drawn once on a knot grid (every 15 s, far shorter than its shortest time
constant) and interpolated, so the same latent path can be read at the sampling instants (for
all patients at once) and on the fine beat grid (one patient at a time), consistently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.simulators.scenarios import EXCURSION_METRICS, Excursion
from nabd.simulators.streams import stream
from nabd.simulators.timebase import DAY_S, FloatArray

__all__ = [
    "CIRCADIAN",
    "KNOT_STEP_S",
    "LIMITS",
    "VARIATION",
    "Circadian",
    "Physiology",
    "Variation",
]

KNOT_STEP_S: Final = 15.0


@dataclass(frozen=True, slots=True)
class Circadian:
    """A cosinor term: peak at ``acrophase_h`` local time, ``amplitude`` either in the metric's
    unit (``relative`` False) or as a fraction of the patient's baseline (``relative`` True)."""

    amplitude: float
    acrophase_h: float
    relative: bool


CIRCADIAN: Final[Mapping[str, Circadian]] = MappingProxyType(
    {
        "heart_rate": Circadian(0.07, 15.0, relative=True),
        "respiration_rate": Circadian(0.04, 15.0, relative=True),
        "spo2": Circadian(0.3, 14.0, relative=False),
        "body_temperature": Circadian(0.3, 17.0, relative=False),
        "systolic_bp": Circadian(0.06, 14.0, relative=True),
        "diastolic_bp": Circadian(0.06, 14.0, relative=True),
        "body_weight": Circadian(0.4, 20.0, relative=False),
    }
)


@dataclass(frozen=True, slots=True)
class Variation:
    """One OU component: time constant, standard deviation, and how much of it each metric gets."""

    tau_s: float
    sigma: float
    loads: Mapping[str, float]


VARIATION: Final = (
    Variation(60.0, 1.5, {"heart_rate": 1.0}),
    Variation(600.0, 2.0, {"heart_rate": 1.0}),
    Variation(3 * 3600.0, 3.0, {"heart_rate": 1.0}),
    Variation(120.0, 0.7, {"respiration_rate": 1.0}),
    Variation(3600.0, 0.8, {"respiration_rate": 1.0}),
    Variation(120.0, 0.3, {"spo2": 1.0}),
    Variation(3600.0, 0.4, {"spo2": 1.0}),
    Variation(900.0, 0.05, {"body_temperature": 1.0}),
    Variation(3 * 3600.0, 0.1, {"body_temperature": 1.0}),
    Variation(600.0, 4.0, {"systolic_bp": 1.0, "diastolic_bp": 0.6}),
    Variation(3 * 3600.0, 5.0, {"systolic_bp": 1.0, "diastolic_bp": 0.6}),
    Variation(600.0, 2.0, {"diastolic_bp": 1.0}),
    Variation(1800.0, 0.15, {"glucose": 1.0}),
    Variation(4 * 3600.0, 0.25, {"glucose": 1.0}),
    Variation(12 * 3600.0, 0.3, {"body_weight": 1.0}),
)
"""Units are the metric's (/min, %, degC, mm[Hg], mmol/L, kg)."""

LIMITS: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "heart_rate": (20.0, 250.0),
        "respiration_rate": (2.0, 60.0),
        "spo2": (50.0, 100.0),
        "body_temperature": (30.0, 43.0),
        "systolic_bp": (50.0, 280.0),
        "diastolic_bp": (25.0, 180.0),
        "glucose": (1.0, 40.0),
        "body_weight": (20.0, 400.0),
    }
)
"""Clamps on the latent value: a scenario pushed too far still describes a living patient."""

MEALS_H: Final = (7.5, 12.5, 18.5)
"""Breakfast, lunch and dinner, local time."""
MEAL_PEAK_H: Final = 0.75
"""Post-prandial glucose peaks about 45 minutes after a meal."""
MEAL_RISE: Final = 0.3
"""Peak post-prandial rise as a fraction of the fasting baseline (higher in diabetes)."""


class Physiology:
    """The latent vitals of a set of patients over one simulated span.

        ``baselines`` maps each metric of :data:`EXCURSION_METRICS` to one baseline per patient;
        ``excursions[i]`` are patient ``i``'s excursions; ``glucose_floor`` (one per patient, -inf:
        none) is where counter-regulation holds glucose's own variation (a scenario's excursion,
    an insulin overdose, may still take it below). Reading before
        ``start - margin`` or after ``end + margin`` extrapolates the variation flat.
    """

    def __init__(
        self,
        patient_ids: Sequence[str],
        baselines: Mapping[str, FloatArray],
        excursions: Sequence[Sequence[Excursion]],
        *,
        seed: int,
        start: float,
        end: float,
        utc_offset_s: float,
        margin_s: float = 60.0,
        glucose_floor: FloatArray | None = None,
    ) -> None:
        self._glucose_floor = (
            None if glucose_floor is None else np.asarray(glucose_floor, dtype=np.float64)
        )
        self._baselines = {m: np.asarray(baselines[m], dtype=np.float64) for m in EXCURSION_METRICS}
        self._excursions = [
            {m: [e for e in own if e.metric == m] for m in EXCURSION_METRICS} for own in excursions
        ]
        self._utc_offset_s = utc_offset_s
        self._local_midnight = np.floor((start + utc_offset_s) / DAY_S) * DAY_S - utc_offset_s
        self._knot_start = start - margin_s - KNOT_STEP_S
        count = int(np.ceil((end + margin_s - self._knot_start) / KNOT_STEP_S)) + 2
        self._knots = _variation(patient_ids, seed, count)

    def latent(self, metric: str, times: FloatArray, rows: slice) -> FloatArray:
        """The latent ``metric`` of patients ``rows`` at increasing ``times``: (rows, times)."""
        base = self._baselines[metric][rows, np.newaxis]
        value = base + self._interpolated(metric, times, rows)
        rhythm = CIRCADIAN.get(metric)
        if rhythm is not None:
            days = (times - self._local_midnight) / DAY_S  # cos is periodic: no modulo needed
            wave = rhythm.amplitude * np.cos(2 * np.pi * (days - rhythm.acrophase_h / 24.0))
            value += base * wave if rhythm.relative else wave
        meal = None
        if metric == "glucose":
            meal = MEAL_RISE * base * _meals(times + self._utc_offset_s)
            value += meal
            if self._glucose_floor is not None:  # a scenario's excursion may go below it
                np.maximum(value, self._glucose_floor[rows, np.newaxis], out=value)
        for index, row in enumerate(range(*rows.indices(len(self._excursions)))):
            for excursion in self._excursions[row][metric]:
                first, last = np.searchsorted(times, (excursion.onset, excursion.offset))
                amount = excursion.amount(float(self._baselines[metric][row]))
                envelope = excursion.envelope(times[first:last])
                value[index, first:last] += amount * envelope
                if meal is not None and excursion.target is not None:
                    # A glucose target holds whatever was eaten (insulin overrides the meal).
                    value[index, first:last] -= meal[index, first:last] * envelope
        low, high = LIMITS[metric]
        clamped: FloatArray = np.clip(value, low, high)
        return clamped

    def _interpolated(self, metric: str, times: FloatArray, rows: slice) -> FloatArray:
        knots = self._knots[metric][rows]
        position = np.clip((times - self._knot_start) / KNOT_STEP_S, 0.0, knots.shape[1] - 1.0)
        left = np.minimum(position.astype(np.intp), knots.shape[1] - 2)
        weight = position - left
        result: FloatArray = knots[:, left]
        result += (knots[:, left + 1] - result) * weight
        return result


def _variation(patient_ids: Sequence[str], seed: int, count: int) -> dict[str, FloatArray]:
    """Each metric's summed OU variation on the knot grid: (patients, knots).

    The recursion runs once over the knots for every component and patient together; each
    patient's innovations come from its own stream.
    """
    taus = np.array([v.tau_s for v in VARIATION])
    sigmas = np.array([v.sigma for v in VARIATION])[:, np.newaxis]
    decay = np.exp(-KNOT_STEP_S / taus)[:, np.newaxis]
    innovation = sigmas * np.sqrt(1.0 - decay**2)
    shocks = np.empty((count, len(VARIATION), len(patient_ids)))
    for column, patient_id in enumerate(patient_ids):
        draws = stream(seed, patient_id, "variation").standard_normal((len(VARIATION), count))
        shocks[:, :, column] = draws.T
    path = np.empty_like(shocks)
    path[0] = sigmas * shocks[0]  # start in the stationary distribution
    for k in range(1, count):
        path[k] = decay * path[k - 1] + innovation * shocks[k]
    result: dict[str, FloatArray] = {}
    for metric in EXCURSION_METRICS:
        loads = np.array([v.loads.get(metric, 0.0) for v in VARIATION])
        result[metric] = np.einsum("c,kcp->pk", loads, path)
    return result


def _meals(local_s: FloatArray) -> FloatArray:
    """Sum of post-prandial responses (peak 1) to every meal that can reach ``local_s``."""
    total = np.zeros_like(local_s)
    first_day = int(np.floor(local_s[0] / DAY_S)) - 1
    last_day = int(np.floor(local_s[-1] / DAY_S))
    for day in range(first_day, last_day + 1):
        for meal_h in MEALS_H:
            since_h = (local_s - (day * DAY_S + meal_h * 3600.0)) / 3600.0
            ratio = np.maximum(since_h, 0.0) / MEAL_PEAK_H
            total += ratio * np.exp(1.0 - ratio)
    return total
