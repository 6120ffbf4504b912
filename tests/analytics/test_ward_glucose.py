"""Hypoglycaemia on a ward, levels 1 and 2 (International Consensus on Time in Range 2019, the
contract's care-plan defaults) on each patient's newest glucose reading while it is current."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.arrays import NEVER
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.glucose import (
    LEVEL_1_MMOL_L,
    LEVEL_2_MMOL_L,
    WardGlucose,
    ward_hypoglycaemia,
)
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
