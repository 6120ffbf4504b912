"""Virtual patients: reproducible profiles and the coherent vital-sign series they produce.

:func:`draw_profiles` draws adult ward patients whose resting vitals are normal (NEWS2 0 at
baseline), so anything alarming comes from a scenario. :func:`simulate` turns profiles,
instants and scenarios into a :class:`~nabd.simulators.series.VitalSeries`:

1. latent physiology (:mod:`~nabd.simulators.physiology`): baseline, circadian rhythm, slow
   1/f-like variation and scenario excursions, for all patients at once;
2. beats (:mod:`~nabd.simulators.heartbeat`), one patient at a time: RR intervals with
   respiratory sinus arrhythmia, or atrial fibrillation, from which heart rate is derived;
3. measurement (:mod:`~nabd.simulators.measurement`): device error and device rounding;
4. device faults (:mod:`~nabd.simulators.faults`): flatlines, spikes, dead batteries, probes off.

Everything is keyed by (seed, patient id, purpose) (:mod:`~nabd.simulators.streams`), so the
same call gives identical arrays, a patient's series do not depend on the rest of the ward, and
a ward may be simulated in chunks of patients.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from nabd.simulators.cohort import (
    CGM_ERROR_SD,
    Diabetes,
    GlucoseMonitor,
    draw_diabetes,
    monitor_of,
)
from nabd.simulators.errors import SimulatorError
from nabd.simulators.faults import apply_faults
from nabd.simulators.heartbeat import detected_beats, true_beats
from nabd.simulators.measurement import ERROR_SD, measure
from nabd.simulators.physiology import Physiology
from nabd.simulators.scenarios import EXCURSION_METRICS, Scenario
from nabd.simulators.series import VitalSeries
from nabd.simulators.streams import check_seed, stream
from nabd.simulators.timebase import checked_times

__all__ = ["PatientProfile", "Sex", "draw_profile", "draw_profiles", "simulate"]

Sex = Literal["female", "male"]

_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

_PLAUSIBLE: Final = {
    "age": (16, 110),
    "resting_heart_rate": (30.0, 150.0),
    "resting_respiration_rate": (4.0, 40.0),
    "spo2_baseline": (70.0, 100.0),
    "temperature_baseline": (34.0, 39.0),
    "systolic_baseline": (70.0, 220.0),
    "diastolic_baseline": (30.0, 130.0),
    "glucose_baseline": (2.5, 25.0),
    "weight": (25.0, 300.0),
    "height": (1.2, 2.3),
}
"""Bounds a *resting* adult profile must lie in; anything beyond is a typo, not a patient."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientProfile:
    """Who a virtual patient is at rest. The id is pseudonymous (no name, no record number)."""

    patient_id: str
    age: int
    """Years."""
    sex: Sex
    resting_heart_rate: float
    """/min."""
    resting_respiration_rate: float
    """/min."""
    spo2_baseline: float
    """%."""
    temperature_baseline: float
    """degC, the 24-hour mean (the circadian rhythm swings about it)."""
    systolic_baseline: float
    """mm[Hg], 24-hour mean."""
    diastolic_baseline: float
    """mm[Hg], 24-hour mean."""
    glucose_baseline: float
    """mmol/L, fasting."""
    weight: float
    """kg."""
    height: float
    """m."""
    diabetes: Diabetes = Diabetes.NONE
    """Drawn apart from everything else (:mod:`~nabd.simulators.cohort`); decides how the ward
    watches the patient's glucose and whether a hypoglycaemia scenario may be dealt to them."""

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.patient_id):
            raise SimulatorError(f"patient id {self.patient_id!r} must match {_ID.pattern}")
        if self.sex not in ("female", "male"):
            raise SimulatorError(f"sex must be 'female' or 'male', got {self.sex!r}")
        if not isinstance(self.diabetes, Diabetes):
            raise SimulatorError(f"diabetes must be one of {', '.join(Diabetes)}")
        for name, (low, high) in _PLAUSIBLE.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and low <= value <= high):
                raise SimulatorError(f"{name} = {value} is outside [{low}, {high}]")
        if self.systolic_baseline - self.diastolic_baseline < 15:
            raise SimulatorError("systolic baseline must exceed diastolic by at least 15 mm[Hg]")

    def baseline(self, metric: str) -> float:
        """The resting value of a latent metric (a key of the contract's catalogue)."""
        return float(getattr(self, _BASELINE_FIELD[metric]))


_BASELINE_FIELD: Final = {
    "heart_rate": "resting_heart_rate",
    "respiration_rate": "resting_respiration_rate",
    "spo2": "spo2_baseline",
    "body_temperature": "temperature_baseline",
    "systolic_bp": "systolic_baseline",
    "diastolic_bp": "diastolic_baseline",
    "glucose": "glucose_baseline",
    "body_weight": "weight",
}
assert set(_BASELINE_FIELD) == set(EXCURSION_METRICS)
assert set(_BASELINE_FIELD.values()) <= {f.name for f in fields(PatientProfile)}


def draw_profile(seed: int, index: int = 0) -> PatientProfile:
    """Patient ``index`` of the population drawn from ``seed``.

    Each patient comes from its own stream, so ``draw_profiles(n, seed)[:k]`` equals
    ``draw_profiles(k, seed)``: growing a ward keeps the patients it had.
    """
    rng = stream(check_seed(seed), f"profile-{index}", "profile")
    diabetes = draw_diabetes(seed, index)
    age = int(np.clip(rng.normal(66, 15), 18, 95))
    sex: Sex = "female" if rng.random() < 0.5 else "male"
    height = rng.normal(1.63, 0.065) if sex == "female" else rng.normal(1.76, 0.07)
    height = float(np.clip(height, 1.45, 2.0))
    bmi = float(np.clip(rng.normal(26.5, 4.5), 18.0, 42.0))
    systolic = float(np.clip(rng.normal(118 + 0.35 * (age - 40), 12), 118, 160))
    diastolic = min(float(np.clip(rng.normal(74, 7), 60, 90)), systolic - 30)
    return PatientProfile(
        patient_id=f"p-{rng.bytes(6).hex()}",
        age=age,
        sex=sex,
        resting_heart_rate=round(float(np.clip(rng.normal(72, 8), 58, 84)), 1),
        resting_respiration_rate=round(float(np.clip(rng.normal(15.5, 1.3), 13, 18)), 1),
        spo2_baseline=round(float(np.clip(rng.normal(97.5 - 0.02 * (age - 50), 0.8), 96, 99)), 1),
        temperature_baseline=round(float(np.clip(rng.normal(36.8, 0.15), 36.5, 37.1)), 2),
        systolic_baseline=round(systolic, 1),
        diastolic_baseline=round(diastolic, 1),
        glucose_baseline=_glucose_baseline(rng, diabetes),
        weight=round(bmi * height**2, 1),
        height=round(height, 2),
        diabetes=diabetes,
    )


COUNTER_REGULATED: Final = 4.0
"""mmol/L: glucose of a patient without diabetes never falls below this here. Glucagon and
adrenaline answer a fall from about 3.6-3.8 mmol/L (Cryer, the glycaemic thresholds of
counter-regulation), so a fasting adult without diabetes or glucose-lowering drugs stays at
or above 3.9 (the simulator gives them no hypoglycaemia scenario)."""


def _glucose_baseline(rng: np.random.Generator, diabetes: Diabetes) -> float:
    """Mean glucose (mmol/L), one draw of ``rng`` whatever the status (the draws before it keep
    their values). Without diabetes: fasting 4.7-5.8 (normal below 5.6-6.1, ADA/WHO); counter-
    regulation (glucagon, then adrenaline from about 3.6-3.8 mmol/L, Cryer) keeps a non-diabetic
    adult above 3.9, and from 4.7 the model's variation (0.29 mmol/L SD) stays above it in
    practice. With diabetes, inpatients run 6-14 mmol/L (ADA section 16 targets 7.8-10.0 for
    most): log-normal around 8.5."""
    if diabetes is Diabetes.NONE:
        return round(float(np.clip(rng.lognormal(np.log(5.1), 0.06), 4.7, 5.8)), 1)
    return round(float(np.clip(rng.lognormal(np.log(8.5), 0.18), 6.0, 14.0)), 1)


def draw_profiles(n: int, seed: int) -> tuple[PatientProfile, ...]:
    """``n`` reproducible patients; SimulatorError for a negative ``n`` or a bad seed."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise SimulatorError(f"the number of patients must be a non-negative integer, got {n!r}")
    profiles = tuple(draw_profile(seed, index) for index in range(n))
    if len({p.patient_id for p in profiles}) != n:  # 48 random bits: never in practice
        raise SimulatorError(f"seed {seed} drew two patients with one id; use another seed")
    return profiles


def simulate(
    profiles: Sequence[PatientProfile],
    times: npt.ArrayLike,
    *,
    seed: int,
    scenarios: Mapping[str, Sequence[Scenario]] | None = None,
    utc_offset_s: float = 0.0,
) -> VitalSeries:
    """Simulate ``profiles`` at ``times`` (s since the Unix epoch, increasing).

    ``scenarios`` maps patient ids to the scenarios each lives through (none: stable).
    ``utc_offset_s`` places local midnight, which the circadian rhythms and meals follow.
    """
    seed = check_seed(seed)
    instants = checked_times(times)
    ids = tuple(p.patient_id for p in profiles)
    if not ids or len(set(ids)) != len(ids):
        raise SimulatorError("need at least one profile, with unique patient ids")
    plans = dict(scenarios or {})
    if unknown := set(plans) - set(ids):
        raise SimulatorError(f"scenarios for patients not simulated: {sorted(unknown)}")
    if not math.isfinite(utc_offset_s):
        raise SimulatorError("utc_offset_s must be finite")
    own = [tuple(plans.get(i, ())) for i in ids]
    start, end = float(instants[0]), float(instants[-1])
    physiology = Physiology(
        ids,
        {m: np.array([p.baseline(m) for p in profiles]) for m in EXCURSION_METRICS},
        [[e for s in mine for e in s.excursions] for mine in own],
        seed=seed,
        start=start,
        end=end,
        utc_offset_s=utc_offset_s,
        glucose_floor=np.array(
            [COUNTER_REGULATED if p.diabetes is Diabetes.NONE else -np.inf for p in profiles]
        ),
    )
    beats = [
        true_beats(
            physiology,
            row,
            patient_id=profile.patient_id,
            age=profile.age,
            rhythms=[r for s in own[row] for r in s.rhythms],
            seed=seed,
            start=start,
            end=end,
        )
        for row, profile in enumerate(profiles)
    ]
    cgm = np.array([monitor_of(p) is GlucoseMonitor.CGM for p in profiles])
    values = measure(
        physiology,
        beats,
        ids,
        instants,
        seed,
        glucose_error_sd=np.where(cgm, CGM_ERROR_SD, ERROR_SD["glucose"]),
    )
    effects = apply_faults(
        values, instants, ids, [[f for s in m for f in s.faults] for m in own], seed
    )
    return VitalSeries(
        patient_ids=ids,
        times=instants,
        values=values,
        contact_lost=effects.contact_lost,
        battery_level=effects.battery_level,
        beats=tuple(
            detected_beats(i, b, start, end, gaps)
            for i, b, gaps in zip(ids, beats, effects.strap_gaps, strict=True)
        ),
    )
