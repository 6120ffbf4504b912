"""Technical conditions: dropouts, sensor off, flatlines, impossible values, battery, gateways."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.arrays import NEVER
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer
from nabd.analytics.technical import (
    DEFAULT_EXPECTATIONS,
    BatteryConfig,
    BatteryState,
    MetricExpectation,
    data_flow,
    flatline,
    gateway_offline,
    impossible,
    links_down,
    possible_range,
    sensor_off,
    stale_after_s,
)

S = 1_000_000_000


def test_a_dropout_goes_stale_at_the_expected_tick() -> None:
    """Heart rate once a second until t=100, then nothing: stale from t=111 (10 intervals)."""
    ring = RingBuffer(2, capacity=8)
    stale_ticks = []
    for second in range(130):
        if second <= 100:
            ring.push([0], [second * S], [70.0])
        flow = data_flow(
            second * S, ring.newest_time, DEFAULT_EXPECTATIONS["heart_rate"].stale_after_s
        )
        assert flow.no_data.tolist() == [False, True]
        assert not flow.stale[1]
        if flow.stale[0]:
            stale_ticks.append(second)
    assert stale_ticks == list(range(111, 130))


def test_staleness_per_metric_broadcasts() -> None:
    keys = ("heart_rate", "body_temperature")
    limits = stale_after_s([DEFAULT_EXPECTATIONS[k] for k in keys])
    assert limits.tolist() == [10.0, 8 * 3600.0]
    newest = np.array([[0, 0], [NEVER, 7 * 3600 * S]])
    flow = data_flow(7 * 3600 * S + 20 * S, newest, limits)
    assert flow.no_data.tolist() == [[False, False], [True, False]]
    assert flow.stale.tolist() == [[True, False], [False, False]]
    with pytest.raises(AnalyticsInputError):
        data_flow(0, newest, [0.0, 1.0])


def test_sensor_off_from_flags_or_a_zero_that_cannot_be_real() -> None:
    keys = ("spo2", "heart_rate")
    zero_off = np.array([DEFAULT_EXPECTATIONS[k].zero_means_off for k in keys])
    latest = np.array([[0.0, 0.0], [97.0, 72.0], [np.nan, np.nan]])
    contact_lost = np.array([[False, False], [False, True], [False, False]])
    # SpO2 0 is a probe off; heart rate 0 may be asystole and must reach the limit detector.
    assert sensor_off(latest, contact_lost, zero_off).tolist() == [
        [True, False],
        [False, True],
        [False, False],
    ]


def test_a_stuck_value_is_a_flatline_after_a_full_window() -> None:
    expectation = DEFAULT_EXPECTATIONS["heart_rate"]  # 300 s window
    ring = RingBuffer(2, capacity=600)
    flat_from = []
    for second in range(900):
        varying = 70.0 + (second % 3)
        stuck = varying if second < 500 else 72.0
        ring.push([0, 1], [second * S, second * S], [varying, stuck])
        flat = flatline(second * S, ring.window(), expectation)
        assert not flat[0]
        if flat[1]:
            flat_from.append(second)
    # 499 is 71, so the window [t-300, t] is all 72 only from t=800.
    assert flat_from == list(range(800, 900))


def test_a_flatline_needs_enough_points_and_a_metric_that_should_vary() -> None:
    ring = RingBuffer(1, capacity=20)
    ring.push(np.zeros(5, dtype=np.int64), np.arange(5) * S, np.full(5, 0.8))
    rr = DEFAULT_EXPECTATIONS["rr_interval"]
    assert flatline(5 * S, ring.window(), rr).tolist() == [False]  # 5 < 10 points
    ring.push(np.zeros(10, dtype=np.int64), np.arange(5, 15) * S, np.full(10, 0.8))
    assert flatline(15 * S, ring.window(), rr).tolist() == [True]
    assert flatline(15 * S, ring.window(), DEFAULT_EXPECTATIONS["spo2"]).tolist() == [False]


def test_impossible_values_against_the_catalogue() -> None:
    low, high = possible_range(["spo2", "heart_rate"])
    assert (low.tolist(), high.tolist()) == ([0.0, 0.0], [100.0, 350.0])
    values = np.array([[101.0, 72.0], [97.0, -1.0], [np.nan, np.inf], [100.0, 350.0]])
    assert impossible(values, low, high).tolist() == [
        [True, False],
        [False, True],
        [False, True],
        [False, False],
    ]
    with pytest.raises(AnalyticsInputError, match="unknown metric"):
        possible_range(["pulse"])


def test_low_battery_fires_at_20_and_clears_only_above_30_for_a_minute() -> None:
    levels = [50, 25, 21, 20, 22, 19, 29, 30, 30, 31, 31, 31, 31, 31, 31, 31, 31]
    state = BatteryState.initial(1)
    fired, cleared = [], []
    for tick, level in enumerate(levels):  # one tick every 10 s
        state = state.step(tick * 10 * S, [float(level)], config=BatteryConfig())
        fired += [tick] if state.latch.fired[0] else []
        cleared += [tick] if state.latch.cleared[0] else []
    assert fired == [3]
    assert cleared == [13]  # >= 30 % from tick 7; 60 s later


def test_the_devices_own_low_battery_flag_holds_the_condition() -> None:
    state = BatteryState.initial(2)
    state = state.step(0, [80.0, np.nan], low_flag=np.array([True, False]))
    assert state.latch.active.tolist() == [True, False]
    state = state.step(100 * S, [80.0, np.nan], low_flag=np.array([True, False]))
    assert state.latch.active.tolist() == [True, False]


def test_gateway_offline_by_status_or_silence() -> None:
    now = 1000 * S
    online = np.array([True, False, True, True])
    last_seen = np.array([990 * S, 999 * S, 800 * S, NEVER])
    patients = np.array([0, 1, 2, 3, -1, 0])
    assert gateway_offline(now, online, last_seen, patients, timeout_s=120).tolist() == [
        False,  # online, heard 10 s ago
        True,  # said offline (last will)
        True,  # silent for 200 s
        True,  # never heard
        False,  # no gateway assigned: that is "no data", not "gateway offline"
        False,
    ]
    with pytest.raises(AnalyticsInputError):
        gateway_offline(now, online, last_seen, np.array([4]))


def test_expectations_validate() -> None:
    with pytest.raises(AnalyticsInputError):
        MetricExpectation(interval_s=0)
    with pytest.raises(AnalyticsInputError):
        MetricExpectation(interval_s=1, stale_factor=0.5)
    with pytest.raises(AnalyticsInputError):
        BatteryConfig(low_at=30, ok_at=20)


def test_a_link_pages_only_after_the_grace_and_per_patient() -> None:
    now = 1_750_000_000 * 1_000_000_000
    s = 1_000_000_000
    rows = np.array([0, 0, 2, 1])
    since = np.array([now - 61 * s, NEVER, now - 59 * s, now - 3600 * s])
    per_link, per_patient = links_down(now, rows, since, 4, grace_s=60)
    assert per_link.tolist() == [True, False, False, True]
    assert per_patient.tolist() == [True, True, False, False]
    empty_link, nobody = links_down(now, np.zeros(0, np.int64), np.zeros(0, np.int64), 2)
    assert empty_link.shape == (0,)
    assert not nobody.any()
    with pytest.raises(AnalyticsInputError):
        links_down(now, np.array([5]), np.array([now]), 2)
