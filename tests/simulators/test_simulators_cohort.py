"""The ward's cohort: diabetes and insulin drawn apart from scenarios, hypoglycaemia dealt only
to the insulin-treated, glucose watched by cohort (CGM, capillary checks, nothing)."""

from __future__ import annotations

import dataclasses

import numpy as np

from nabd.simulators.cohort import (
    CGM_INTERVAL_S,
    DIABETES_PREVALENCE,
    INSULIN_SHARE,
    Diabetes,
    GlucoseMonitor,
    glucose_schedule,
    monitor_of,
)
from nabd.simulators.labels import Condition
from nabd.simulators.patient import COUNTER_REGULATED, draw_profiles, simulate
from nabd.simulators.timebase import DEFAULT_START, regular_times
from nabd.simulators.ward import DEFAULT_MIX, build_ward


def test_prevalences_are_as_stated() -> None:
    drawn = [p.diabetes for p in draw_profiles(3000, seed=9)]
    diabetic = np.mean([d is not Diabetes.NONE for d in drawn])
    insulin = np.mean([d is Diabetes.INSULIN for d in drawn])
    assert abs(diabetic - DIABETES_PREVALENCE) < 0.02
    assert abs(insulin - DIABETES_PREVALENCE * INSULIN_SHARE) < 0.015


def test_the_cohort_does_not_depend_on_the_scenario_mix() -> None:
    """The label never decides who has diabetes: the same beds whatever scenarios are dealt."""
    mixes = (DEFAULT_MIX, {"stable": 1.0}, {"hypoglycaemia": 0.5, "sepsis": 0.5})
    cohorts = [[p.diabetes for p in build_ward(60, 3, mix).profiles] for mix in mixes]
    assert cohorts[0] == cohorts[1] == cohorts[2]
    others = draw_profiles(60, 3)
    assert [dataclasses.replace(p, diabetes=Diabetes.NONE) for p in others] == [
        dataclasses.replace(p, diabetes=Diabetes.NONE) for p in build_ward(60, 3).profiles
    ]


def test_hypoglycaemia_is_dealt_only_to_insulin_treated_patients() -> None:
    for seed in range(6):
        ward = build_ward(40, seed, duration_s=3600)
        insulin = {p.patient_id for p in ward.profiles if p.diabetes is Diabetes.INSULIN}
        lows = {lb.patient_id for lb in ward.labels if lb.condition is Condition.HYPOGLYCAEMIA}
        assert lows <= insulin
        assert len(lows) + len(ward.unplaced) == 2  # 4 % of 40: placed, or said not to be


def test_moving_hypoglycaemia_into_the_cohort_moves_nothing_else() -> None:
    """The exchange is with a stable insulin-treated patient: every other scenario stays."""
    ward = build_ward(100, 1, duration_s=3600)
    names = {pid: tuple(s.name for s in sc) for pid, sc in ward.assignments.items()}
    counts = {kind: sum(n == (kind,) for n in names.values()) for kind in DEFAULT_MIX}
    assert counts["hypoglycaemia"] == 4
    assert counts["stable"] == 50


def test_a_ward_without_anyone_on_insulin_says_what_it_could_not_deal() -> None:
    mix = {"stable": 0.5, "hypoglycaemia": 0.5}
    seed = next(s for s in range(50) if not any(
        p.diabetes is Diabetes.INSULIN for p in draw_profiles(2, s)))  # fmt: skip
    ward = build_ward(2, seed, mix, duration_s=3600)
    assert ward.unplaced == ("hypoglycaemia",)
    assert not [lb for lb in ward.labels if lb.condition is Condition.HYPOGLYCAEMIA]


def test_glucose_is_watched_by_cohort() -> None:
    base = draw_profiles(1, 2)[0]
    profiles = [dataclasses.replace(base, patient_id=f"p-{d.value.replace('_', '-')}",
                                    diabetes=d) for d in Diabetes]  # fmt: skip
    assert [monitor_of(p) for p in profiles] == [
        GlucoseMonitor.NONE, GlucoseMonitor.CAPILLARY, GlucoseMonitor.CGM]  # fmt: skip
    times = regular_times(DEFAULT_START, 86400, 1.0)
    plan = glucose_schedule(profiles, times)
    assert plan.sum(axis=1).tolist() == [0, 4, 86400 // CGM_INTERVAL_S]
    assert glucose_schedule(profiles, times, every_s=600).sum(axis=1).tolist() == [144] * 3


def test_non_diabetic_glucose_stays_above_level_1_and_cgm_readings_are_noisier() -> None:
    profiles = draw_profiles(200, seed=4)
    plain = [p for p in profiles if p.diabetes is Diabetes.NONE][:40]
    assert all(4.7 <= p.glucose_baseline <= 5.8 for p in plain)
    times = regular_times(DEFAULT_START, 86400, 60.0)
    glucose = simulate(plain, times, seed=4).values["glucose"]
    # a day of every minute: the meter's 4 % error can show a lone reading just below 3.9
    # (why a capillary low is re-checked), never a run of them
    assert glucose.min() >= COUNTER_REGULATED * (1 - 4 * 0.04)
    assert np.mean(glucose < 3.9) < 0.002
    base = dataclasses.replace(plain[0], diabetes=Diabetes.NON_INSULIN, glucose_baseline=8.0)
    worn = dataclasses.replace(base, diabetes=Diabetes.INSULIN, patient_id="p-cgm")
    series = simulate([base, worn], times, seed=4).values["glucose"]
    meter, cgm = np.std(np.diff(series, axis=1), axis=1)
    assert cgm > 2 * meter
