"""The ward builder: reproducible beds, scenario counts as mixed, labels for every scenario."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from nabd.contract.catalogue import METRICS as CATALOGUE
from nabd.simulators.devices import DEVICE_METRICS, METRICS, device_of
from nabd.simulators.errors import ScenarioError, SimulatorError
from nabd.simulators.scenarios import SCENARIO_KINDS
from nabd.simulators.timebase import DEFAULT_START
from nabd.simulators.ward import DEFAULT_MIX, build_ward


def test_same_seed_same_ward_other_seed_other_ward() -> None:
    first, again, other = build_ward(30, 4), build_ward(30, 4), build_ward(30, 5)
    assert first.profiles == again.profiles
    assert first.labels == again.labels
    assert dict(first.assignments) == dict(again.assignments)
    assert first.labels != other.labels
    assert first.profiles != other.profiles


def test_counts_follow_the_mix_exactly() -> None:
    ward = build_ward(50, 1)
    kinds = Counter(s.name for scenarios in ward.assignments.values() for s in scenarios)
    assert kinds["stable"] == 25
    assert sum(kinds.values()) == 50
    assert set(kinds) <= set(DEFAULT_MIX)
    small = build_ward(10, 1, {"stable": 0.7, "sepsis": 0.3})
    assert Counter(s[0].name for s in small.assignments.values()) == {"stable": 7, "sepsis": 3}


def test_default_mix_covers_every_scenario_kind() -> None:
    assert set(DEFAULT_MIX) == set(SCENARIO_KINDS)
    assert sum(DEFAULT_MIX.values()) == pytest.approx(1.0)


def test_combined_scenarios_and_their_labels() -> None:
    ward = build_ward(4, 2, {"sepsis+sensor_off": 1.0}, duration_s=12 * 3600)
    for profile in ward.profiles:
        names = [s.name for s in ward.assignments[profile.patient_id]]
        assert names == ["sepsis", "sensor_off"]
    expected = tuple(
        label
        for p in ward.profiles
        for s in ward.assignments[p.patient_id]
        for label in s.labels(p.patient_id)
    )
    assert ward.labels == expected
    assert all(ward.start <= label.onset < label.offset <= ward.end for label in ward.labels)
    conditions = Counter(label.condition.value for label in ward.labels)
    assert conditions["sepsis"] == conditions["news2_high"] == 4
    assert conditions["sensor_off"] >= 4


def test_a_ward_simulates_in_chunks_identically() -> None:
    ward = build_ward(6, 3, duration_s=1800)
    times = ward.times(step_s=5.0)
    assert times[0] == DEFAULT_START
    assert times.size == 360
    whole = ward.simulate(times)
    for chunk in (slice(0, 2), slice(2, 6)):
        part = ward.simulate(times, patients=chunk)
        for key, array in part.values.items():
            assert np.array_equal(array, whole.values[key][chunk], equal_nan=True)


@pytest.mark.parametrize(
    "mix",
    [
        {},
        {"influenza": 1.0},
        {"stable": -1.0},
        {"stable": 0.0},
        {"stable": float("nan")},
        {"stable": 1.0, "sepsis+flu": 0.0},
    ],
)
def test_bad_mixes_are_refused(mix: dict[str, float]) -> None:
    with pytest.raises(ScenarioError):
        build_ward(5, 1, mix)


@pytest.mark.parametrize(("n", "seed", "duration"), [(-1, 1, 60.0), (3, -2, 60.0), (3, 1, 0.0)])
def test_bad_ward_parameters_are_refused(n: int, seed: int, duration: float) -> None:
    with pytest.raises(SimulatorError):
        build_ward(n, seed, duration_s=duration)


def test_simulated_metrics_are_catalogue_metrics_of_one_device_each() -> None:
    assert len(set(METRICS)) == len(METRICS)
    for device, keys in DEVICE_METRICS.items():
        for key in keys:
            assert key in CATALOGUE
            assert device_of(key) is device
    with pytest.raises(SimulatorError):
        device_of("rr_interval")  # beats, not a sampled series
