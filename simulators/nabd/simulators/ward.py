"""A simulated ward: patients, the scenario each lives through, and the answer key.

:func:`build_ward` is what the demo and the load tests start from. The scenario mix gives each
scenario kind a weight; counts are allotted in proportion (largest remainders, so 50 patients
at 0.5 stable get exactly 25 stable patients) and shuffled over the beds. A mix key may join
kinds with ``+`` (``"sepsis+sensor_off"``) to give a patient several at once.

Some scenarios happen only to some patients (:data:`COHORT_OF`: hypoglycaemia to the
insulin-treated, :mod:`~nabd.simulators.cohort`). The cohort is drawn with the profiles, before
and apart from any scenario; when the shuffle deals such a scenario to a patient outside its
cohort, it is exchanged with a patient of the cohort dealt ``stable`` (so no other patient's
scenario moves), else with one dealt any scenario open to all, chosen by the seed. With nobody
in the cohort the scenario is not placed (``Ward.unplaced``) and the patient stays stable.

Everything follows from ``seed``: the same call builds the same ward, and each patient's
scenario parameters come from its own stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.simulators.cohort import Diabetes
from nabd.simulators.errors import ScenarioError, SimulatorError
from nabd.simulators.labels import Label
from nabd.simulators.patient import PatientProfile, draw_profiles, simulate
from nabd.simulators.scenarios import SCENARIO_KINDS, Scenario, draw
from nabd.simulators.series import VitalSeries
from nabd.simulators.streams import check_seed, stream
from nabd.simulators.timebase import DAY_S, DEFAULT_START, FloatArray, regular_times

__all__ = ["COHORT_OF", "DEFAULT_MIX", "Ward", "build_ward"]

DEFAULT_MIX: Final[Mapping[str, float]] = MappingProxyType(
    {
        "stable": 0.50,
        "sepsis": 0.06,
        "opioid_respiratory_depression": 0.05,
        "hypoxaemia": 0.05,
        "paroxysmal_af": 0.06,
        "bradycardia": 0.03,
        "hypertensive_crisis": 0.03,
        "hypoglycaemia": 0.04,
        "sensor_off": 0.04,
        "motion_artefacts": 0.03,
        "flatline": 0.02,
        "battery_drain": 0.02,
        "disconnects": 0.03,
        "clock_drift": 0.02,
        "duplicated_payloads": 0.01,
        "garbled_payloads": 0.01,
    }
)
"""Half the ward stable, the rest spread over every clinical and technical scenario."""

COHORT_OF: Final[Mapping[str, Callable[[PatientProfile], bool]]] = MappingProxyType(
    {"hypoglycaemia": lambda profile: profile.diabetes is Diabetes.INSULIN}
)
"""Scenario kinds dealt only within a cohort: who may live through them."""


@dataclass(frozen=True, eq=False)
class Ward:
    """Profiles, each patient's scenarios (by patient id) and every label, over ``[start, end)``."""

    seed: int
    start: float
    end: float
    profiles: tuple[PatientProfile, ...]
    assignments: Mapping[str, tuple[Scenario, ...]]
    labels: tuple[Label, ...]
    unplaced: tuple[str, ...] = ()
    """Mix keys dealt to nobody because the ward had no patient in their cohort."""

    def times(self, step_s: float = 1.0) -> FloatArray:
        """Regular sampling instants over the ward's span."""
        return regular_times(self.start, self.end - self.start, step_s)

    def simulate(
        self,
        times: npt.ArrayLike | None = None,
        *,
        patients: slice = slice(None),
        utc_offset_s: float = 0.0,
    ) -> VitalSeries:
        """Simulate the ward (or the ``patients`` slice of it: chunks give identical rows) at
        ``times`` (default: every second of the span), with the ward's seed."""
        profiles = self.profiles[patients]
        return simulate(
            profiles,
            self.times() if times is None else times,
            seed=self.seed,
            scenarios={p.patient_id: self.assignments[p.patient_id] for p in profiles},
            utc_offset_s=utc_offset_s,
        )


def build_ward(
    n_patients: int,
    seed: int,
    scenario_mix: Mapping[str, float] = DEFAULT_MIX,
    *,
    start: float = DEFAULT_START,
    duration_s: float = DAY_S,
) -> Ward:
    """``n_patients`` patients with scenarios drawn from ``scenario_mix`` inside the span."""
    seed = check_seed(seed)
    if not (math.isfinite(start) and math.isfinite(duration_s) and duration_s > 0):
        raise SimulatorError(
            f"need a finite start and positive duration, got {start}, {duration_s}"
        )
    profiles = draw_profiles(n_patients, seed)
    kinds = _allotted(scenario_mix, n_patients)
    order = stream(seed, "ward", "beds").permutation(n_patients)
    dealt, unplaced = _within_cohorts(
        [kinds[int(i)] for i in order], profiles, stream(seed, "ward", "cohorts")
    )
    end = start + duration_s
    assignments: dict[str, tuple[Scenario, ...]] = {}
    for profile, key in zip(profiles, dealt, strict=True):
        assignments[profile.patient_id] = tuple(
            draw(kind, stream(seed, profile.patient_id, "scenario", kind), start, end)
            for kind in key.split("+")
        )
    labels = tuple(
        label
        for profile in profiles
        for scenario in assignments[profile.patient_id]
        for label in scenario.labels(profile.patient_id)
    )
    return Ward(
        seed=seed,
        start=start,
        end=end,
        profiles=profiles,
        assignments=MappingProxyType(assignments),
        labels=labels,
        unplaced=tuple(unplaced),
    )


def _may_live(key: str, profile: PatientProfile) -> bool:
    """Whether every scenario of mix key ``key`` is open to ``profile``."""
    return all(kind not in COHORT_OF or COHORT_OF[kind](profile) for kind in key.split("+"))


def _within_cohorts(
    dealt: list[str], profiles: Sequence[PatientProfile], rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """``dealt`` (one mix key per patient) with every cohort scenario moved into its cohort:
    exchanged with a patient of the cohort dealt ``stable``, else with one dealt a key open to
    the patient losing it; a key nobody may take is dropped (the patient is stable)."""
    out, unplaced = list(dealt), []
    for row, key in enumerate(dealt):
        if _may_live(key, profiles[row]):
            continue
        partners = [
            other
            for other, theirs in enumerate(out)
            if other != row
            and _may_live(key, profiles[other])
            and _may_live(theirs, profiles[row])
            and _may_live(theirs, profiles[other])
        ]
        stable = [other for other in partners if out[other] == "stable"]
        pool = stable or partners
        if not pool:
            unplaced.append(key)
            out[row] = "stable"
            continue
        other = pool[int(rng.integers(0, len(pool)))]
        out[row], out[other] = out[other], key
    return out, unplaced


def _allotted(mix: Mapping[str, float], count: int) -> list[str]:
    """``count`` mix keys in proportion to their weights (largest remainder), in mix order."""
    names = list(mix)
    for kind in {part for name in names for part in name.split("+")} - set(SCENARIO_KINDS):
        raise ScenarioError(f"unknown scenario {kind!r}; known: {', '.join(SCENARIO_KINDS)}")
    weights = np.array([mix[name] for name in names], dtype=np.float64)
    if not names or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ScenarioError(
            "the scenario mix needs finite, non-negative weights with a positive sum"
        )
    shares = weights / weights.sum() * count
    counts = np.floor(shares).astype(np.int64)
    by_remainder = np.argsort(-(shares - counts), kind="stable")
    counts[by_remainder[: count - int(counts.sum())]] += 1
    return [name for name, times in zip(names, counts, strict=True) for _ in range(int(times))]
