"""Simulated home patients: deterministic, every scenario labelled, routines that miss."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.simulators.errors import SimulatorError
from nabd.simulators.home import build_home
from nabd.simulators.labels import Condition
from nabd.simulators.timebase import DAY_S


def test_the_same_seed_gives_the_same_cohort() -> None:
    a, b = build_home(12, days=10, seed=4), build_home(12, days=10, seed=4)
    assert a.labels == b.labels
    assert a.scenarios == b.scenarios
    for metric, readings in a.readings.items():
        assert np.array_equal(readings.value, b.readings[metric].value)
        assert np.array_equal(readings.time, b.readings[metric].time)
    assert build_home(12, days=10, seed=5).labels != a.labels


def test_a_cohort_has_every_programme_scenario_and_labels_inside_the_period() -> None:
    cohort = build_home(80, days=30, seed=1)
    conditions = {label.condition for label in cohort.labels}
    assert conditions == {
        Condition.HEART_FAILURE_DECOMPENSATION,
        Condition.NOCTURNAL_HYPOGLYCAEMIA,
        Condition.HYPERTENSIVE_EPISODE,
        Condition.COPD_EXACERBATION,
        Condition.NON_ADHERENCE,
    }
    assert all(cohort.start <= lb.onset < lb.offset <= cohort.end for lb in cohort.labels)
    weights = cohort.readings["body_weight"]
    assert weights.value.size > 0
    assert weights.value.min() > 0.25
    assert weights.value.max() < 635


def test_routines_forget_and_holidays_leave_gaps() -> None:
    cohort = build_home(80, days=30, seed=2)
    away = [i for i, s in enumerate(cohort.scenarios) if s == "holiday_away"]
    assert away
    for row in away:
        times = np.concatenate([r.time[r.row == row] for r in cohort.readings.values()])
        days = np.unique(np.floor((times - cohort.start) / DAY_S))
        assert days.size <= 30 - 5  # at least five days away from the gateway
    forgetting = [lb for lb in cohort.labels if lb.scenario == "forgetting"]
    assert forgetting, "everyday forgetting produces runs of missed measurements"


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(SimulatorError, match="at least 1 patient"):
        build_home(0)
    with pytest.raises(SimulatorError, match="midnight"):
        build_home(1, start=1_740_787_201.0)
