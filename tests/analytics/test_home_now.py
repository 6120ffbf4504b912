"""``judge_now``: the current level of every home rule per patient, as the service asks for it,
agrees with the rules judged reading by reading, and starts adherence at the plan's start."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from nabd.analytics.arrays import NS_PER_S
from nabd.analytics.home import RULES, Flat, judge_now
from nabd.contract.careplan import CarePlan, Programme, default_plan

DAY = 86_400 * NS_PER_S
HOUR = 3600 * NS_PER_S
# 2026-11-10 00:00 UTC
MIDNIGHT = int(datetime(2026, 11, 10, tzinfo=UTC).timestamp()) * NS_PER_S


def _flat(rows: list[int], times: list[int], values: list[float]) -> Flat:
    return (np.array(rows, np.int64), np.array(times, np.int64), np.array(values, np.float64))


def _hf(**weight: float) -> CarePlan:
    return default_plan([Programme.HEART_FAILURE]).with_changes({"weight": weight})


def test_weight_gain_is_on_while_the_newest_morning_breaches_and_off_after_a_normal_one() -> None:
    plans = [_hf(), _hf(dry_weight_kg=70.0)]
    morning = 7 * HOUR
    # Row 0: 80 kg for three mornings, then 81.8 (+1.8 kg overnight > 1.5). Row 1: 72.5 kg is
    # 2.5 kg above the dry weight (> 2).
    rows = [0, 0, 0, 0, 1]
    times = [MIDNIGHT + d * DAY + morning for d in range(4)] + [MIDNIGHT + 3 * DAY + morning]
    weights = [80.0, 80.0, 80.0, 81.8, 72.5]
    now = MIDNIGHT + 3 * DAY + 12 * HOUR
    since = np.full(2, MIDNIGHT, np.int64)
    found = judge_now({"body_weight": _flat(rows, times, weights)}, plans, now=now, since=since)
    col = RULES.index("weight_gain")
    assert found.level[:, col].tolist() == [2, 2]
    assert np.allclose(found.value[:, col], [1.8, 2.5])
    # A later weighing the same day is not judged: still on. The next morning back to 80: off.
    later = _flat([*rows, 0], [*times, MIDNIGHT + 3 * DAY + 18 * HOUR], [*weights, 80.0])
    found = judge_now({"body_weight": later}, plans, now=now + 8 * HOUR, since=since)
    assert found.level[0, col] == 2
    nxt = _flat([*rows, 0], [*times, MIDNIGHT + 4 * DAY + morning], [*weights, 80.0])
    found = judge_now({"body_weight": nxt}, plans, now=now + DAY, since=since)
    assert found.level[0, col] == 0


def test_adherence_counts_misses_from_the_plan_start_only() -> None:
    plan = _hf().with_changes({"adherence": {"misses_before_alert": 2}})
    now = MIDNIGHT + 3 * DAY + 12 * HOUR  # the morning slots (05:00-11:00) of 4 days are over
    col = RULES.index("adherence_weight")
    none: dict[str, Flat] = {}
    # On the plan for 4 mornings, none weighed: alert, 4 missed in a row.
    found = judge_now(none, [plan], now=now, since=np.array([MIDNIGHT], np.int64))
    assert (found.level[0, col], found.value[0, col]) == (1, 4.0)
    # Enrolled at noon the day before: only this morning counts, one miss: no alert yet.
    since = np.array([MIDNIGHT + 2 * DAY + 12 * HOUR], np.int64)
    found = judge_now(none, [plan], now=now, since=since)
    assert (found.level[0, col], found.value[0, col]) == (0, 1.0)
    # A weight this morning: taken, nothing missed.
    weighed = {"body_weight": _flat([0], [MIDNIGHT + 3 * DAY + 7 * HOUR], [80.0])}
    found = judge_now(weighed, [plan], now=now, since=np.array([MIDNIGHT], np.int64))
    assert found.level[0, col] == 0


def test_blood_pressure_needs_both_numbers_and_a_severe_repeat_escalates() -> None:
    plan = default_plan([Programme.HYPERTENSION])
    t = MIDNIGHT + 8 * HOUR
    sbp = _flat([0, 0, 0], [t, t + 5 * 60 * NS_PER_S, t + 9 * 60 * NS_PER_S], [185, 190, 200])
    dbp = _flat([0, 0], [t, t + 5 * 60 * NS_PER_S], [95, 100])  # the third has no diastolic
    found = judge_now({"systolic_bp": sbp, "diastolic_bp": dbp}, [plan], now=t + HOUR,
                      since=np.array([MIDNIGHT], np.int64))  # fmt: skip
    col = RULES.index("bp_severe")
    assert (found.level[0, col], found.value[0, col]) == (2, 190.0)


def test_no_readings_and_no_plans_judge_nothing() -> None:
    found = judge_now({}, [], now=MIDNIGHT, since=np.zeros(0, np.int64))
    assert found.level.shape == (0, len(RULES))
