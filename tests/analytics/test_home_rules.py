"""The home spot-measurement rules on hand-made series, at the sources' boundary values
(docs/home-monitoring.md), plus causality: a reading's level never depends on later readings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.adherence import Schedule, adherence, monthly_summary
from nabd.analytics.arrays import NS_PER_S
from nabd.analytics.glucose import GlucoseFindings, GlucoseLimits, glucose_levels, time_in_range
from nabd.analytics.home_bp import BloodPressureLimits, home_bp
from nabd.analytics.ring import Window
from nabd.analytics.spot import episodes, escalate, window_of
from nabd.analytics.spot_spo2 import Spo2Limits, spo2_spot
from nabd.analytics.weight import WeightLimits, weight_gain
from nabd.contract.careplan import (
    MG_DL_PER_MMOL_L,
    CarePlan,
    GlucoseThresholds,
    MeasurementKind,
    Programme,
    default_plan,
)

DAY = 86_400
T0 = 20_000 * DAY  # a UTC midnight (2024-10-04)
HF = default_plan([Programme.HEART_FAILURE])
HF_DRY = HF.with_changes({"weight": {"dry_weight_kg": 78.0}})


def series(values: Sequence[float], times_s: Sequence[float] | None = None) -> Window:
    """One patient's readings; default one a day at 07:00."""
    times = (
        times_s if times_s is not None else [T0 + d * DAY + 7 * 3600 for d in range(len(values))]
    )
    ns = (np.array(times, dtype=np.float64) * NS_PER_S).astype(np.int64)
    return window_of(1, np.zeros(len(values), np.int64), ns, np.array(values, np.float64))


def weight_levels(
    values: Sequence[float], times_s: Sequence[float] | None = None, plan: CarePlan = HF
) -> list[int]:
    window = series(values, times_s)
    return weight_gain(window, WeightLimits.of([plan]), 0).level[0].tolist()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("last", "expected"),
    [(80.0, 0), (81.5, 0), (81.6, 2)],  # day gain > 1.5 kg [MLP]: 1.5 is not more than 1.5
)
def test_weight_gain_in_a_day_is_strictly_more_than_the_limit(last: float, expected: int) -> None:
    assert weight_levels([80.0, 80.0, 80.0, last])[-1] == expected


def test_weight_gain_over_three_days_uses_the_lowest_previous_morning() -> None:
    # +2.0 kg over 3 days is not "> 2 kg"; +2.1 is, even with the day-2 weight missing.
    assert weight_levels([79.0, 79.0, 79.5, 80.2, 81.0])[-1] == 0  # 81.0 - 79.0 = 2.0
    times = [T0 + d * DAY + 7 * 3600 for d in (0, 1, 3, 4)]
    assert weight_levels([79.0, 79.0, 80.2, 81.1], times)[-1] == 2  # 81.1 - 79.0 > 2


def test_weight_against_dry_weight_and_only_the_morning_counts() -> None:
    assert weight_levels([79.5, 79.8, 80.0], plan=HF_DRY)[-1] == 0  # 2.0 above dry is not > 2
    assert weight_levels([79.5, 79.8, 80.1], plan=HF_DRY)[-1] == 2
    assert weight_levels([79.5, 79.8, 80.1])[-1] == 0  # no dry weight set: not compared
    evening = [T0 + 7 * 3600, T0 + DAY + 7 * 3600, T0 + DAY + 19 * 3600]
    assert weight_levels([78.0, 78.2, 80.5], evening, HF_DRY) == [
        0,
        0,
        0,
    ]  # evening weight not judged


def test_a_weight_breach_repeated_next_morning_escalates_to_high() -> None:
    assert weight_levels([78.0, 78.0, 78.0, 79.7, 80.2, 78.0])[-3:] == [2, 3, 0]


def bp_levels(readings: Sequence[tuple[float, float]], gap_s: float = 60) -> dict[str, list[int]]:
    times = [T0 + 8 * 3600 + i * gap_s for i in range(len(readings))]
    sbp = series([r[0] for r in readings], times)
    dbp = series([r[1] for r in readings], times)
    found = home_bp(sbp, dbp, BloodPressureLimits.of([HF]))
    return {"severe": found.severe[0].tolist(), "low": found.low[0].tolist(),
            "mean": found.mean_high[0].tolist()}  # fmt: skip


def test_severe_blood_pressure_needs_a_repeat_to_reach_medium() -> None:
    # >= 180 and/or >= 110 [ESH23] [AHA-crisis]: one reading low, the repeat 1 min later medium.
    assert bp_levels([(179, 109), (180, 100), (150, 110)])["severe"] == [0, 1, 2]
    assert bp_levels([(180, 100), (185, 100)], gap_s=3600)["severe"] == [1, 1]  # not a repeat


def test_hypotension_is_sbp_at_or_below_90() -> None:
    assert bp_levels([(91, 60), (90, 60), (88, 55)])["low"] == [0, 1, 2]


def test_the_seven_day_mean_needs_twelve_readings_and_reaches_135_85() -> None:
    twice_daily = 12 * 3600
    assert bp_levels([(135, 80)] * 11, twice_daily)["mean"] == [0] * 11
    assert bp_levels([(135, 80)] * 12, twice_daily)["mean"][-1] == 1
    assert bp_levels([(134, 84)] * 14, twice_daily)["mean"] == [0] * 14
    assert bp_levels([(120, 85)] * 12, twice_daily)["mean"][-1] == 1
    # A week later the old readings have left the window: the mean is back below.
    old = [(150.0, 95.0)] * 12 + [(120.0, 75.0)] * 14
    assert bp_levels(old, twice_daily)["mean"][-1] == 0


def glucose(
    values_mmol: Sequence[float], plan_unit_mg: bool = False, gap_s: float = 6 * 3600
) -> GlucoseFindings:
    plan = default_plan([Programme.DIABETES])
    if plan_unit_mg:
        plan = plan.with_changes({"glucose": GlucoseThresholds.mg_dl().model_dump()})
    times = [T0 + i * gap_s for i in range(len(values_mmol))]
    return glucose_levels(series(values_mmol, times), GlucoseLimits.of([plan]))


def test_glucose_levels_in_mmol_per_l_at_the_consensus_boundaries() -> None:
    found = glucose([3.9, 3.8, 3.0, 2.9, 13.9, 14.0])
    # Level 1 < 3.9, level 2 < 3.0 [Battelino19] [ADA25]; high level 2 > 13.9.
    assert found.low[0].tolist()[:4] == [0, 2, 2, 3]
    assert found.high[0].tolist()[4:] == [0, 1]


def test_glucose_in_a_mg_dl_plan_is_judged_at_70_54_and_250_exactly() -> None:
    mg = [70, 69, 54, 53, 250, 251]
    found = glucose([v / MG_DL_PER_MMOL_L for v in mg], plan_unit_mg=True)
    assert found.value[0].tolist() == mg
    assert found.low[0].tolist()[:4] == [0, 2, 2, 3]
    assert found.high[0].tolist()[4:] == [0, 1]


def test_a_low_rechecked_within_the_hour_escalates() -> None:
    found = glucose([3.5, 3.4, 5.0], gap_s=15 * 60)
    assert found.low[0].tolist() == [2, 3, 0]


def test_time_in_range_per_day() -> None:
    times = [T0 + h * 3600 for h in (7, 12, 18, 22)] + [T0 + DAY + 7 * 3600]
    window = series([3.8, 3.9, 10.0, 10.1, 6.0], times)
    limits = GlucoseLimits.of([default_plan([Programme.DIABETES])])
    share, count = time_in_range(window, limits, 0, first_day=T0 // DAY, days=3)
    assert count.tolist() == [[4, 1, 0]]
    assert share[0, :2].tolist() == [0.5, 1.0]
    assert np.isnan(share[0, 2])


def spo2_levels(values: Sequence[float], plan: CarePlan, gap_s: float = 12 * 3600) -> list[int]:
    times = [T0 + i * gap_s for i in range(len(values))]
    found = spo2_spot(series(values, times), Spo2Limits.of([plan]))
    return found.level[0].tolist()  # type: ignore[no-any-return]


def test_spo2_below_the_copd_target_and_repeated() -> None:
    copd = default_plan([Programme.COPD])
    assert spo2_levels([88, 87, 87, 90], copd) == [0, 2, 3, 0]  # 88 is inside 88-92 [BTS17]
    assert spo2_levels([94, 93], default_plan([Programme.HEART_FAILURE])) == [0, 2]


def test_spo2_a_fall_of_three_points_from_the_baseline() -> None:
    copd = default_plan([Programme.COPD])
    # Baseline: median of the previous 7 days once 6 readings are there ([BTS17] ">= 3 points").
    assert spo2_levels([93] * 6 + [90], copd)[-1] == 2
    assert spo2_levels([93] * 6 + [91], copd)[-1] == 0
    assert spo2_levels([93] * 5 + [90], copd)[-1] == 0  # five readings: no baseline yet
    assert spo2_levels([93] * 6 + [90], copd, gap_s=2 * 86400)[-1] == 0  # 3 in the last 7 days
    off = copd.with_changes({"spo2": {"fall_points": None}})
    assert spo2_levels([93] * 6 + [90], off)[-1] == 0


def test_episodes_raise_worsen_and_resolve() -> None:
    window = series([0, 0, 0, 0, 0, 0])
    level = np.array([[0, 1, 2, 1, 0, 2]], dtype=np.int8)
    found = episodes(level, window)
    assert found.kind.tolist() == ["raised", "worsened", "resolved", "raised"]
    assert found.level.tolist() == [1, 2, 0, 2]


def test_missed_weights_raise_one_adherence_alert_until_the_next_weight() -> None:
    # Weight window 05:00-11:00: taken day 0, missed days 1-2, late (12:00) day 3, taken day 4.
    times = [T0 + 7 * 3600, T0 + 3 * DAY + 12 * 3600, T0 + 4 * DAY + 6 * 3600]
    window = series([80.0, 80.0, 80.0], times)
    schedule = Schedule.of([HF], MeasurementKind.WEIGHT)
    judged = adherence(window, schedule, 0, first_day=T0 // DAY, days=5,
                       now=(T0 + 5 * DAY) * NS_PER_S)  # fmt: skip
    assert judged.taken[0, :, 0].tolist() == [True, False, False, False, True]
    assert judged.level[0].tolist() == [0, 0, 1, 1, 0]  # two in a row missed
    found = episodes(judged.level, judged.occasions)
    assert found.kind.tolist() == ["raised", "resolved"]
    assert (found.time // NS_PER_S).tolist() == [T0 + 2 * DAY + 11 * 3600, T0 + 4 * DAY + 11 * 3600]
    no_glucose = (np.full((1, 1), np.nan), np.zeros((1, 1), np.int64))
    summary = monthly_summary([window], [judged], no_glucose, 0, first_day=T0 // DAY, days=5)
    assert (summary.days_with_data.tolist(), summary.taken.tolist(), summary.planned.tolist()) == (
        [3],
        [2],
        [5],
    )
    assert summary.taken_share.tolist() == [0.4]


def test_an_occasion_is_judged_only_once_its_window_has_ended() -> None:
    schedule = Schedule.of([HF], MeasurementKind.WEIGHT)
    judged = adherence(series([80.0], [T0 + 7 * 3600]), schedule, 0, first_day=T0 // DAY,
                       days=2, now=(T0 + DAY + 10 * 3600) * NS_PER_S)  # fmt: skip
    assert judged.planned[0, :, 0].tolist() == [True, False]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(60, 100, allow_nan=False), min_size=2, max_size=25),
    st.lists(st.floats(1.5, 20, allow_nan=False), min_size=25, max_size=25),
    st.integers(1, 24),
)
def test_home_rules_are_causal(weights: list[float], glucose_mmol: list[float], cut: int) -> None:
    """Judging a prefix gives the prefix of judging everything: no rule looks ahead."""
    times = [T0 + i * 0.7 * DAY for i in range(len(weights))]
    full = weight_levels(weights, times)
    cut_w = min(cut, len(weights))
    assert weight_levels(weights[:cut_w], times[:cut_w]) == full[:cut_w]
    all_g = glucose(glucose_mmol, gap_s=1800)
    some_g = glucose(glucose_mmol[:cut], gap_s=1800)
    assert some_g.low[0].tolist() == all_g.low[0].tolist()[:cut]
    assert some_g.high[0].tolist() == all_g.high[0].tolist()[:cut]


def test_local_days_follow_each_patients_utc_offset() -> None:
    """A weight at 04:30 UTC is 05:30 in UTC+1 (inside the 05:00-11:00 window) but 04:30 at
    UTC+0 (before it); at 23:30 UTC on day 0 it is already day 1's first weight in UTC+1."""
    ns = np.array([T0 + 4 * 3600 + 1800, T0 + 4 * 3600 + 1800], dtype=np.int64) * NS_PER_S
    window = window_of(2, np.array([0, 1]), ns, np.array([80.0, 80.0]))
    schedule = Schedule.of([HF, HF], MeasurementKind.WEIGHT)
    judged = adherence(window, schedule, np.array([0, 3600]), first_day=T0 // DAY, days=1,
                       now=(T0 + DAY) * NS_PER_S)  # fmt: skip
    assert judged.taken[:, 0, 0].tolist() == [False, True]
    late = [T0 + 7 * 3600, T0 + 23 * 3600 + 1800]
    both = window_of(2, np.array([0, 0, 1, 1]),
                     (np.array(late + late) * NS_PER_S).astype(np.int64),
                     np.array([80.0, 82.0, 80.0, 82.0]))  # fmt: skip
    found = weight_gain(both, WeightLimits.of([HF, HF]), np.array([0, 3600]))
    assert found.morning.tolist() == [[True, False], [True, True]]
    assert found.level[:, 1].tolist() == [0, 2]  # +2 kg overnight counts only as a new day


def test_a_gap_in_the_window_is_skipped_not_read_as_a_normal_reading() -> None:
    """An invalid column between two breaches (a window filtered by time, say) neither resolves
    the episode nor hides the repeat."""
    times = np.array([[T0, 0, T0 + 600]], dtype=np.int64) * NS_PER_S
    window = Window(times, np.array([[3.5, np.nan, 3.4]]), np.array([[True, False, True]]))
    level = np.array([[2, 0, 2]], dtype=np.int8)
    escalated = escalate(level, window, 3600)
    assert escalated[0].tolist() == [2, 0, 3]
    found = episodes(escalated, window)
    assert found.kind.tolist() == ["raised", "worsened"]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.01, 3.0), st.floats(80, 200), st.floats(40, 120)),
        min_size=1,
        max_size=40,
    )
)
def test_the_rolling_bp_mean_is_the_mean_of_the_last_seven_days(
    readings: list[tuple[float, float, float]],
) -> None:
    """Against a plain loop: every reading in (t - 7 days, t]."""
    times = (T0 + np.cumsum([gap * DAY for gap, _, _ in readings])).tolist()
    sbp = [s for _, s, _ in readings]
    dbp = [d for _, _, d in readings]
    plan = HF.with_changes({"blood_pressure": {"mean_min_readings": 1}})
    found = home_bp(series(sbp, times), series(dbp, times), BloodPressureLimits.of([plan]))
    for i, t in enumerate(times):
        inside = [j for j, u in enumerate(times) if t - 7 * DAY < u <= t]
        assert found.mean_sbp[0, i] == pytest.approx(np.mean([sbp[j] for j in inside]))
        assert found.mean_dbp[0, i] == pytest.approx(np.mean([dbp[j] for j in inside]))
