"""Deviation from the patient's own baseline: exact ticks, minimum history, the spread floor."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.arrays import FloatArray
from nabd.analytics.baseline import BaselineConfig, BaselineState, score
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer

S = 1_000_000_000
MINUTE = 60 * S
# recent_s = 270 s puts exactly five one-per-minute samples in the recent window (t-4 .. t), so
# the current level is the median of five and the expected ticks can be read off by hand.
CONFIG = BaselineConfig(min_scale=3.0, recent_s=270, clear_s=300)


def run(values: FloatArray, config: BaselineConfig = CONFIG) -> dict[str, list[list[int]]]:
    """One sample per minute (NaN: none), one tick per minute; transition minutes per patient."""
    minutes, patients = values.shape
    ring = RingBuffer(patients, capacity=400)
    state = BaselineState.initial(patients)
    log: dict[str, list[list[int]]] = {
        key: [[] for _ in range(patients)]
        for key in ("above_fired", "above_cleared", "below_fired", "below_cleared")
    }
    for minute in range(minutes):
        present = np.flatnonzero(~np.isnan(values[minute]))
        now = minute * MINUTE
        ring.push(present, np.full(present.shape, now), values[minute, present])
        state = state.step(now, score(ring.window(), now, config), config)
        for side, latch in (("above", state.high), ("below", state.low)):
            for p in np.flatnonzero(latch.fired):
                log[f"{side}_fired"][p].append(minute)
            for p in np.flatnonzero(latch.cleared):
                log[f"{side}_cleared"][p].append(minute)
    return log


def heart_rate(minutes: int) -> FloatArray:
    """60/min wobbling 58..62 in a five-minute cycle: median 60, MAD 1."""
    return 58.0 + (np.arange(minutes) % 5).astype(np.float64)


def test_a_step_up_fires_when_the_recent_median_moves_and_clears_with_hysteresis() -> None:
    hr = heart_rate(300)
    hr[180:240] = 80.0
    log = run(hr[:, None])
    # Minute 182 is the first whose five recent samples (178..182) are mostly 80.
    assert log["above_fired"] == [[182]]
    # From minute 242 the recent median is back near 60 (z < exit); cleared 300 s later.
    assert log["above_cleared"] == [[247]]
    assert log["below_fired"] == [[]]


def test_the_score_is_the_robust_z() -> None:
    hr = heart_rate(183)
    hr[180:] = 80.0
    ring = RingBuffer(1, capacity=400)
    ring.push(np.zeros(183, dtype=np.int64), np.arange(183) * MINUTE, hr)
    scored = score(ring.window(), 182 * MINUTE, CONFIG)
    assert scored.baseline.tolist() == [60.0]
    assert scored.spread.tolist() == [3.0]  # 1.4826 * MAD 1, floored at min_scale 3
    assert scored.current.tolist() == [80.0]
    assert scored.z.tolist() == [pytest.approx(20 / 3)]
    assert scored.history_count.tolist() == [178]  # minutes 0..177; 178..182 are "recent"
    assert scored.ready.tolist() == [True]


def test_nothing_fires_before_the_minimum_history() -> None:
    hr = heart_rate(300)
    hr[180:240] = 80.0
    late = hr.copy()
    late[:100] = np.nan  # admitted at minute 100: two hours of history only at minute 220
    log = run(np.c_[hr, late])
    assert log["above_fired"] == [[182], [220]]


def test_a_perfectly_steady_patient_is_judged_on_the_spread_floor() -> None:
    spo2 = np.full(200, 98.0)
    spo2[150:] = 95.0  # 3 points down: z = -3 with the 1 % floor, under 3.5
    spo2[170:] = 94.0  # 4 points down: z = -4
    log = run(spo2[:, None], BaselineConfig(min_scale=1.0, recent_s=270))
    assert log["below_fired"] == [[172]]


def test_all_patients_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    patients = 6
    values = 70 + np.cumsum(rng.normal(0, 1.5, size=(400, patients)), axis=0)
    values[200:260, ::2] += 25
    values[rng.random(values.shape) < 0.1] = np.nan
    together = run(values)
    assert sum(map(len, together["above_fired"])) >= 3
    for p in range(patients):
        alone = run(values[:, p : p + 1])
        assert {k: [v[p]] for k, v in together.items()} == alone


def test_bad_configurations_raise() -> None:
    with pytest.raises(AnalyticsInputError):
        BaselineConfig(min_scale=0)
    with pytest.raises(AnalyticsInputError):
        BaselineConfig(min_scale=1, recent_s=7 * 3600)
    with pytest.raises(AnalyticsInputError):
        BaselineConfig(min_scale=1, enter=2, exit=3)
