"""The two-sided latch shared by hard limits, baselines and trends (``TwoSidedLatch``), against a
one-patient-at-a-time model written from the rules in ``nabd.analytics.latch`` (hypothesis: random
signals, gaps, thresholds and durations), through each detector's own ``step``: the mapping from
a detector's configuration to the four thresholds is the one each detector used before the latch
was shared (baseline ``±enter``/``±exit``, trend ``rise``/``exit_fraction``, limits ``margin``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.arrays import BoolArray, FloatArray, IntArray
from nabd.analytics.baseline import BaselineConfig, BaselineScore, BaselineState
from nabd.analytics.latch import Latch
from nabd.analytics.limits import LimitConfig, LimitState, thresholds
from nabd.analytics.trend import Trend, TrendConfig, TrendState

S = 1_000_000_000


@dataclass
class Side:
    """One patient's latch on one side, stepped by the rules of ``nabd.analytics.latch``."""

    active: bool = False
    breach_since: int | None = None
    recovered_since: int | None = None
    fired: bool = False
    cleared: bool = False

    def step(self, now: int, breach: bool, recovered: bool, persist: int, clear: int) -> None:
        if breach:
            self.breach_since = now if self.breach_since is None else self.breach_since
        else:
            self.breach_since = None
        self.fired = (
            not self.active and self.breach_since is not None and now - self.breach_since >= persist
        )
        self.active = self.active or self.fired
        recovering = self.active and recovered
        if recovering:
            self.recovered_since = now if self.recovered_since is None else self.recovered_since
        else:
            self.recovered_since = None
        self.cleared = self.recovered_since is not None and now - self.recovered_since >= clear
        if self.cleared:
            self.active, self.recovered_since = False, None


@dataclass
class Model:
    """Both sides of one patient: low fires at ``<= low[0]`` and recovers at ``> low[1]``; high
    fires at ``>= high[0]`` and recovers at ``< high[1]``; an unknown value is neither."""

    low: tuple[float, float]
    high: tuple[float, float]
    persist: int
    clear: int

    def __post_init__(self) -> None:
        self.sides = {"low": Side(), "high": Side()}

    def step(self, now: int, value: float, known: bool) -> None:
        lo, hi, times = self.sides["low"], self.sides["high"], (self.persist, self.clear)
        lo.step(now, known and value <= self.low[0], known and value > self.low[1], *times)
        hi.step(now, known and value >= self.high[0], known and value < self.high[1], *times)


def _same(latch: Latch, side: Side, patient: int) -> bool:
    return (
        bool(latch.active[patient]),
        bool(latch.fired[patient]),
        bool(latch.cleared[patient]),
    ) == (side.active, side.fired, side.cleared)


signals = st.lists(
    st.lists(st.tuples(st.floats(-6, 6, allow_nan=False), st.booleans()), min_size=3, max_size=3),
    min_size=1,
    max_size=25,
)
"""Ticks x 3 patients of (value, known)."""
gaps = st.lists(st.integers(1, 90), min_size=25, max_size=25)
"""Seconds between ticks."""


def _run(
    rows: list[list[tuple[float, bool]]],
    gap_s: list[int],
    models: list[Model],
    state: Any,
    step: Callable[[Any, int, FloatArray, BoolArray], Any],
) -> None:
    now = 1_700_000_000 * S
    for tick, row in enumerate(rows):
        now += gap_s[tick] * S
        value: FloatArray = np.array([v for v, _ in row])
        known: BoolArray = np.array([k for _, k in row])
        state = step(state, now, value, known)
        for patient, (model, (v, k)) in enumerate(zip(models, row, strict=True)):
            model.step(now, v, k)
            assert _same(state.low, model.sides["low"], patient), (tick, patient, "low")
            assert _same(state.high, model.sides["high"], patient), (tick, patient, "high")


@settings(max_examples=150)
@given(
    rows=signals,
    gap_s=gaps,
    enter=st.floats(0.5, 4),
    exit_share=st.floats(0.1, 1),
    persist_s=st.integers(0, 120),
    clear_s=st.integers(0, 300),
)
def test_baseline_latches_follow_the_two_sided_rules(
    *,
    rows: list[list[tuple[float, bool]]],
    gap_s: list[int],
    enter: float,
    exit_share: float,
    persist_s: int,
    clear_s: int,
) -> None:
    config = BaselineConfig(
        min_scale=1.0, enter=enter, exit=enter * exit_share, persist_s=persist_s, clear_s=clear_s
    )
    models = [
        Model(
            (-config.enter, -config.exit), (config.enter, config.exit), persist_s * S, clear_s * S
        )
        for _ in range(3)
    ]

    def step(state: BaselineState, now: int, z: FloatArray, ready: BoolArray) -> BaselineState:
        nan = np.full(3, np.nan)
        count: IntArray = np.zeros(3, dtype=np.int64)
        scored = BaselineScore(nan, nan, nan, np.where(ready, z, np.nan), count, ready)
        return state.step(now, scored, config)

    _run(rows, gap_s, models, BaselineState.initial(3), step)


@settings(max_examples=150)
@given(
    rows=signals,
    gap_s=gaps,
    rise=st.one_of(st.floats(0.5, 4), st.just(math.inf)),
    fall=st.one_of(st.floats(0.5, 4), st.just(math.inf)),
    keep=st.floats(0.1, 1),
    persist_s=st.integers(0, 120),
    clear_s=st.integers(0, 300),
)
def test_trend_latches_follow_the_two_sided_rules(
    *,
    rows: list[list[tuple[float, bool]]],
    gap_s: list[int],
    rise: float,
    fall: float,
    keep: float,
    persist_s: int,
    clear_s: int,
) -> None:
    config = TrendConfig(
        rise_per_h=rise, fall_per_h=fall, exit_fraction=keep, persist_s=persist_s, clear_s=clear_s
    )
    models = [
        Model((-fall, -keep * fall), (rise, keep * rise), persist_s * S, clear_s * S)
        for _ in range(3)
    ]

    def step(state: TrendState, now: int, slope: FloatArray, ready: BoolArray) -> TrendState:
        count: IntArray = np.zeros(3, dtype=np.int64)
        current = Trend(np.where(ready, slope, np.nan), count, np.zeros(3), ready)
        return state.step(now, current, config)

    _run(rows, gap_s, models, TrendState.initial(3), step)


@settings(max_examples=150)
@given(
    rows=signals,
    gap_s=gaps,
    low=st.floats(-5, -0.5),
    high=st.floats(0.5, 5),
    margin=st.floats(0, 0.5),
    persist_s=st.integers(0, 120),
    clear_s=st.integers(0, 300),
)
def test_limit_latches_follow_the_two_sided_rules(
    *,
    rows: list[list[tuple[float, bool]]],
    gap_s: list[int],
    low: float,
    high: float,
    margin: float,
    persist_s: int,
    clear_s: int,
) -> None:
    config = LimitConfig(low=low, high=high, margin=margin, persist_s=persist_s, clear_s=clear_s)
    limits = thresholds([config], np.zeros(3, dtype=np.int64))
    models = [
        Model((low, low + margin), (high, high - margin), persist_s * S, clear_s * S)
        for _ in range(3)
    ]

    def step(state: LimitState, now: int, value: FloatArray, known: BoolArray) -> LimitState:
        return state.step(now, np.where(known, value, np.nan), limits)

    _run(rows, gap_s, models, LimitState.initial(3), step)


def test_growing_keeps_both_sides_and_adds_quiet_patients() -> None:
    state = TrendState.initial(1)
    current = Trend(np.array([9.0]), np.array([6]), np.array([3600.0]), np.array([True]))
    state = state.step(S, current, TrendConfig(rise_per_h=2.0))
    grown = state.grow(3)
    assert type(grown) is TrendState
    assert grown.high.active.tolist() == [True, False, False]
    assert grown.active.tolist() == [True, False, False]
    assert not grown.low.active.any()
