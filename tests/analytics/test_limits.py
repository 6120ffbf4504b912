"""Hard limits: exact firing and clearing ticks, ward and patient thresholds, vectorisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nabd.analytics.arrays import FloatArray
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.limits import DEFAULT_LIMITS, LimitConfig, LimitState, Thresholds, thresholds

S = 1_000_000_000
HR = LimitConfig(low=40, high=131, margin=5, persist_s=10, clear_s=30)


def run(values: FloatArray, limits: Thresholds) -> dict[str, list[list[int]]]:
    """Tick once per second over ``values`` (ticks x patients); fired/cleared ticks per patient."""
    state = LimitState.initial(values.shape[1])
    log: dict[str, list[list[int]]] = {
        key: [[] for _ in range(values.shape[1])]
        for key in ("high_fired", "high_cleared", "low_fired", "low_cleared")
    }
    for tick, row in enumerate(values):
        state = state.step(tick * S, row, limits)
        for side, latch in (("high", state.high), ("low", state.low)):
            for patient in np.flatnonzero(latch.fired):
                log[f"{side}_fired"][patient].append(tick)
            for patient in np.flatnonzero(latch.cleared):
                log[f"{side}_cleared"][patient].append(tick)
    return log


def one(config: LimitConfig, patients: int = 1) -> Thresholds:
    return thresholds([config], np.zeros(patients, dtype=np.int64))


def test_a_step_fires_after_persistence_and_clears_after_hysteresis() -> None:
    # 80/min, a step to 140 at t=100 held 60 s, then 128 (inside the 126..131 band) for 30 s,
    # then 100 from t=190.
    hr = np.r_[np.full(100, 80.0), np.full(60, 140.0), np.full(30, 128.0), np.full(60, 100.0)]
    log = run(hr[:, None], one(HR))
    assert log["high_fired"] == [[110]]  # 10 s after the first breaching tick
    assert log["high_cleared"] == [[220]]  # 30 s after the first tick below 126, not at 160
    assert log["low_fired"] == [[]]


def test_a_blip_shorter_than_the_persistence_does_not_fire() -> None:
    hr = np.r_[np.full(10, 80.0), np.full(10, 140.0), np.full(10, 80.0)]  # 140 for ticks 10..19
    assert run(hr[:, None], one(HR))["high_fired"] == [[]]
    hr[20] = 140.0  # held for 11 ticks: fires on the 11th, 10 s after the first
    assert run(hr[:, None], one(HR))["high_fired"] == [[20]]


def test_a_ramp_down_fires_at_the_first_tick_ten_seconds_after_crossing() -> None:
    spo2 = np.maximum(98.0 - 0.1 * np.arange(200), 85.0)  # crosses 91 % at tick 70
    log = run(spo2[:, None], one(DEFAULT_LIMITS["spo2"]))
    assert log["low_fired"] == [[80]]
    assert log["high_fired"] == [[]]


def test_a_dropout_resets_a_pending_breach_and_never_clears_an_active_one() -> None:
    hr = np.full(120, 140.0)
    hr[5] = np.nan  # breach 0..4, gap, breach again from 6: fires at 16, not 10
    hr[30:100] = np.nan  # a long dropout while active: no clear
    hr[100:] = 80.0
    log = run(hr[:, None], one(HR))
    assert log["high_fired"] == [[16]]
    assert log["high_cleared"] == [[]]  # 100 + 30 = 130 is past the end
    assert run(np.r_[hr, np.full(20, 80.0)][:, None], one(HR))["high_cleared"] == [[130]]


def test_zero_persistence_fires_on_the_first_breach() -> None:
    temperature = np.array([37.0, 39.1, 39.2, 38.9, 38.8])
    log = run(temperature[:, None], one(DEFAULT_LIMITS["body_temperature"]))
    assert log["high_fired"] == [[1]]
    assert log["high_cleared"] == [[4]]  # 38.9 is inside the 0.2 margin; 38.8 is below it


def test_ward_limits_and_patient_overrides() -> None:
    general = LimitConfig(low=40, high=131, margin=5, persist_s=10, clear_s=30)
    cardiac = LimitConfig(low=35, high=150, margin=5, persist_s=5, clear_s=10)
    limits = thresholds(
        [general, cardiac],
        np.array([0, 1, 1, 0]),
        low=np.array([np.nan, np.nan, 50.0, np.nan]),
        high=np.array([np.nan, np.nan, np.nan, math.inf]),
    )
    assert limits.low.tolist() == [40.0, 35.0, 50.0, 40.0]
    assert limits.high.tolist() == [131.0, 150.0, 150.0, math.inf]
    assert limits.persist_ns.tolist() == [10 * S, 5 * S, 5 * S, 10 * S]
    # 140/min for ticks 5..44, then 45/min for ticks 45..59.
    hr = np.tile(np.r_[np.full(5, 80.0), np.full(40, 140.0), np.full(15, 45.0)], (4, 1)).T
    log = run(hr, limits)
    assert log["high_fired"] == [[15], [], [], []]  # the general ward's 10 s; 150 elsewhere
    assert log["low_fired"] == [[], [], [50], []]  # only the patient whose low is 50, after 5 s


def test_overrides_that_cross_raise() -> None:
    with pytest.raises(AnalyticsInputError, match="low >= high"):
        thresholds([HR], np.array([0, 0]), low=np.array([np.nan, 140.0]))
    with pytest.raises(AnalyticsInputError):
        LimitConfig(low=50, high=40, margin=1, persist_s=0, clear_s=0)
    with pytest.raises(AnalyticsInputError):
        LimitConfig(low=50, margin=-1, persist_s=0, clear_s=0)
    with pytest.raises(AnalyticsInputError):
        thresholds([HR], np.array([1]))


def test_all_patients_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(7)
    patients, ticks = 12, 400
    walk = 90 + np.cumsum(rng.normal(0, 4, size=(ticks, patients)), axis=0)
    walk[rng.random(walk.shape) < 0.05] = np.nan
    limits = thresholds(
        [HR, LimitConfig(low=60, high=110, margin=3, persist_s=3, clear_s=5)],
        rng.integers(0, 2, patients),
        high=np.where(rng.random(patients) < 0.3, 120.0, np.nan),
    )
    together = run(walk, limits)
    assert sum(map(len, together["high_fired"] + together["low_fired"])) > 5
    for p in range(patients):
        alone = Thresholds(
            low=limits.low[p : p + 1],
            high=limits.high[p : p + 1],
            margin=limits.margin[p : p + 1],
            persist_ns=limits.persist_ns[p : p + 1],
            clear_ns=limits.clear_ns[p : p + 1],
        )
        single = run(walk[:, p : p + 1], alone)
        for key, per_patient in together.items():
            assert single[key] == [per_patient[p]], (key, p)


def test_growing_keeps_the_state_of_existing_patients() -> None:
    state = LimitState.initial(1)
    for tick in range(12):
        state = state.step(tick * S, [140.0], one(HR))
    grown = state.grow(3)
    assert grown.high.active.tolist() == [True, False, False]
    assert grown.active.tolist() == [True, False, False]
