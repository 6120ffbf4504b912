"""Slopes: exact on ramps, Theil-Sen against a brute-force median, evidence floors, latching."""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.arrays import FloatArray, IntArray
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer, Window
from nabd.analytics.trend import (
    MAX_THEIL_SEN_COLUMNS,
    Trend,
    TrendConfig,
    TrendState,
    least_squares_slope,
    theil_sen_slope,
    trend,
)

S = 1_000_000_000
HOUR = 3600 * S
T0 = 1_700_000_000 * S  # epoch-sized times: the estimators must not lose precision on them


def window_of(times: IntArray, values: FloatArray) -> Window:
    """One patient per row of ``values`` (NaN: no sample), all at ``times``."""
    ring = RingBuffer(values.shape[0], capacity=values.shape[1])
    for column, time in enumerate(times):
        present = np.flatnonzero(~np.isnan(values[:, column]))
        ring.push(present, np.full(present.shape, time), values[present, column])
    return ring.window()


def test_a_ramp_has_its_slope_by_both_estimators() -> None:
    times = T0 + np.arange(13) * 300 * S  # every 5 min for an hour
    ramp = 16.0 + 3.0 * np.arange(13) / 12  # respiratory rate +3/min per hour
    window = window_of(times, np.vstack([ramp, np.full(13, 16.0)]))
    assert least_squares_slope(window) == pytest.approx([3.0, 0.0])
    assert theil_sen_slope(window) == pytest.approx([3.0, 0.0])


def test_theil_sen_ignores_an_artefact_least_squares_does_not() -> None:
    times = T0 + np.arange(13) * 300 * S
    ramp = 16.0 + 3.0 * np.arange(13) / 12
    ramp[11] = 60.0  # one artefact near the end of the window
    window = window_of(times, ramp[None, :])
    assert theil_sen_slope(window) == pytest.approx([3.0])
    assert abs(least_squares_slope(window)[0] - 3.0) > 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.floats(-100, 100, allow_nan=False)),
        min_size=0,
        max_size=12,
        unique_by=lambda pair: pair[0],
    )
)
def test_theil_sen_is_the_median_of_pairwise_slopes(samples: list[tuple[int, float]]) -> None:
    samples.sort()
    times = np.array([T0 + t * S for t, _ in samples], dtype=np.int64)
    values = np.array([[v for _, v in samples]])
    slopes = [
        (v2 - v1) / ((t2 - t1) / 3600) for (t1, v1), (t2, v2) in itertools.combinations(samples, 2)
    ]
    got = theil_sen_slope(window_of(times, values.reshape(1, -1)) if samples else _empty())
    if slopes:
        assert got[0] == pytest.approx(statistics.median(slopes), rel=1e-9, abs=1e-9)
    else:
        assert np.isnan(got[0])


def _empty() -> Window:
    return RingBuffer(1, capacity=1).window()


def test_trend_needs_enough_points_over_enough_time() -> None:
    config = TrendConfig(rise_per_h=4, min_points=6, min_span_s=1800, window_s=3600)
    times = T0 + np.arange(13) * 300 * S
    values = np.tile(16.0 + 6.0 * np.arange(13) / 12, (3, 1))
    values[1, :8] = np.nan  # 5 points left
    values[2, :7] = np.nan  # 6 points spanning only 25 min
    now = int(times[-1])
    found = trend(window_of(times, values), now, config)
    assert found.ready.tolist() == [True, False, False]
    assert found.count.tolist() == [13, 5, 6]
    assert found.span_s.tolist() == [3600.0, 1200.0, 1500.0]
    assert found.slope_per_h[0] == pytest.approx(6.0)
    assert np.isnan(found.slope_per_h[1:]).all()
    later = trend(window_of(times, values), now + 1800 * S, config)  # half the ramp has aged out
    assert later.count.tolist() == [7, 5, 6]


def test_the_latch_fires_and_clears_at_the_expected_ticks() -> None:
    config = TrendConfig(rise_per_h=4, exit_fraction=0.5, persist_s=0, clear_s=600)
    slopes = [0, 1, 2, 3, 4, 5, 4, 3, 2, 1.9, 1, 0, 0, 0, 0, 0, 0, 0]  # one tick per 5 min
    state = TrendState.initial(1)
    fired, cleared = [], []
    for tick, slope in enumerate(slopes):
        current = Trend(
            slope_per_h=np.array([slope]),
            count=np.array([10]),
            span_s=np.array([3600.0]),
            ready=np.array([True]),
        )
        state = state.step(T0 + tick * 300 * S, current, config)
        fired += [tick] if state.high.fired[0] else []
        cleared += [tick] if state.high.cleared[0] else []
    assert fired == [4]  # first slope >= 4
    assert cleared == [11]  # below 2 from tick 9; 600 s (two ticks) later


def test_all_patients_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(11)
    times = T0 + np.arange(40) * 90 * S
    values = np.cumsum(rng.normal(0, 1, size=(9, 40)), axis=1)
    values[rng.random(values.shape) < 0.2] = np.nan
    window = window_of(times, values)
    for estimator in (least_squares_slope, theil_sen_slope):
        together = estimator(window)
        for p in range(9):
            alone = estimator(window_of(times, values[p : p + 1]))
            np.testing.assert_allclose(together[p : p + 1], alone)


def test_theil_sen_refuses_an_oversized_window() -> None:
    ring = RingBuffer(1, capacity=MAX_THEIL_SEN_COLUMNS + 1)
    with pytest.raises(AnalyticsInputError, match="Theil-Sen"):
        theil_sen_slope(ring.window())
    assert theil_sen_slope(ring.window(columns=MAX_THEIL_SEN_COLUMNS)).shape == (1,)
