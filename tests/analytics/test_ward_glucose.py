"""Hypoglycaemia on a ward, levels 1 and 2 (International Consensus on Time in Range 2019, the
contract's care-plan defaults) on each patient's newest glucose reading while it is current; a
CGM's readings once below a level for 15 min (consensus on CGM metrics, Battelino 2023)."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.arrays import NEVER
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.glucose import (
    LEVEL_1_MMOL_L,
    LEVEL_2_MMOL_L,
    WardGlucose,
    held,
    ward_hypoglycaemia,
)
from nabd.analytics.ring import Window
from nabd.contract.careplan import GlucoseThresholds

S = 1_000_000_000
NOW = 1_750_000_000 * S


def test_levels_are_strictly_below_3_9_and_3_0_mmol_per_litre_as_at_home() -> None:
    assert (LEVEL_1_MMOL_L, LEVEL_2_MMOL_L) == (3.9, 3.0)  # 70 and 54 mg/dL
    home = GlucoseThresholds()
    assert (home.level1_low, home.level2_low) == (LEVEL_1_MMOL_L, LEVEL_2_MMOL_L)
    values = np.array([5.6, 3.9, 3.8, 3.0, 2.9, np.nan])
    found = ward_hypoglycaemia(NOW, values, np.full(values.shape, NOW - 60 * S))
    assert found.level.tolist() == [0, 0, 1, 1, 2, 0]
    assert found.active.tolist() == [False, False, True, True, True, False]


def test_a_reading_stands_for_its_validity_then_says_nothing() -> None:
    values = np.array([2.5, 2.5, 2.5])
    times = np.array([NOW - 3600 * S, NOW - 3601 * S, NEVER])
    found = ward_hypoglycaemia(NOW, values, times)
    assert found.active.tolist() == [True, False, False]
    assert np.isnan(found.value[1:]).all()
    shorter = ward_hypoglycaemia(NOW, values, times, WardGlucose(valid_s=600))
    assert not shorter.active.any()


def test_bad_configuration_and_input_are_refused() -> None:
    with pytest.raises(AnalyticsInputError):
        WardGlucose(level_1=3.0, level_2=3.9)
    with pytest.raises(AnalyticsInputError):
        ward_hypoglycaemia(NOW, np.array([3.0]), np.array([1.5]))


def _series(values: list[float], every_s: int, capacity: int = 24) -> tuple[Window, int]:
    """One patient's readings every ``every_s`` ending at NOW, as the engine's window holds
    them (oldest to newest, unused slots first), and the newest time."""
    k = len(values)
    times = np.zeros((1, capacity), dtype=np.int64)
    vals = np.full((1, capacity), np.nan)
    valid = np.zeros((1, capacity), dtype=np.bool_)
    times[0, capacity - k :] = NOW - np.arange(k - 1, -1, -1) * every_s * S
    vals[0, capacity - k :] = values
    valid[0, capacity - k :] = True
    return Window(times=times, values=vals, valid=valid), int(times[0, -1])


def _level(values: list[float], every_s: int = 300) -> int:
    recent, newest = _series(values, every_s)
    found = ward_hypoglycaemia(NOW, np.array([values[-1]]), np.array([newest]), recent=recent)
    return int(found.level[0])


def test_a_cgm_level_needs_15_minutes_of_readings_below_it() -> None:
    """Consensus event definition (Battelino 2023): >= 15 consecutive minutes below."""
    assert _level([6.0, 3.8, 3.7, 3.6]) == 0  # 10 min below: not yet
    assert _level([6.0, 3.8, 3.7, 3.6, 3.5]) == 1  # 15 min below: level 1
    assert _level([6.0, 3.8, 4.0, 3.6, 3.5]) == 0  # interrupted: the run restarts
    assert _level([5.0, 3.5, 2.9, 2.8, 2.7]) == 1  # 10 min below 3.0: level 1 only
    assert _level([5.0, 3.5, 2.9, 2.8, 2.7, 2.6]) == 2  # 15 min below 3.0: level 2
    assert _level([6.0, 6.1, 3.4]) == 0  # one noisy reading pages nobody
    every_minute = [6.0] + [3.7] * 16
    assert _level(every_minute[:-1], every_s=60) == 0  # 14 min, first to newest
    assert _level(every_minute, every_s=60) == 1  # 15 min


def test_a_capillary_check_stands_alone_and_its_recheck_keeps_it() -> None:
    assert _level([3.5], every_s=300) == 1  # a lone reading is the measurement
    assert _level([6.0, 3.5], every_s=4 * 3600) == 1  # hours after the previous check
    assert _level([6.0, 3.5, 3.6], every_s=700) == 1  # re-checked after the 600 s gap
    recent, newest = _series([6.0, 3.5, 3.6], 300)
    recent.times[0, -3] -= 4 * 3600 * S  # the first low came hours after the check before it
    held_low = ward_hypoglycaemia(NOW, np.array([3.6]), np.array([newest]), recent=recent)
    assert held_low.level.tolist() == [1]  # a re-check 5 min later does not clear it


def test_a_run_filling_the_window_is_judged_by_its_span() -> None:
    cfg = WardGlucose(readings=4)
    recent, _ = _series([3.5, 3.5, 3.5, 3.5], 60, capacity=4)  # 3 min, start unknown
    assert not held(recent, 3.9, cfg).any()
    recent, _ = _series([3.5, 3.5, 3.5, 3.5], 300, capacity=4)  # 15 min
    assert held(recent, 3.9, cfg).all()
    with pytest.raises(AnalyticsInputError):
        WardGlucose(readings=1)
