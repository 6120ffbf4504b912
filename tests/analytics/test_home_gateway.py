"""A patient's home gateway gone silent (``nabd.analytics.home_gateway``): silence counted from
its last ``online`` status or the plan start, the plan's limit, no gateway never silent; and in
``judge_now``, the ``home_gateway_offline`` column and adherence alerts that say the gateway was
silent through their missed window."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from nabd.analytics.arrays import NEVER, NS_PER_S
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.home import RULES, Flat, judge_now
from nabd.analytics.home_gateway import gateway_silence, silent_after_s, silent_through
from nabd.contract.careplan import CarePlan, CarePlanError, Programme, default_plan

S = NS_PER_S
HOUR = 3600 * S
DAY = 24 * HOUR
MIDNIGHT = int(datetime(2026, 11, 10, tzinfo=UTC).timestamp()) * S  # a Tuesday, UTC


def _hf(**gateway: float) -> CarePlan:
    return default_plan([Programme.HEART_FAILURE]).with_changes({"gateway": gateway})


def test_the_default_limit_is_twelve_hours_and_a_plan_may_change_it() -> None:
    assert silent_after_s([_hf(), _hf(silent_after_h=4)]).tolist() == [12 * 3600.0, 4 * 3600.0]
    with pytest.raises(CarePlanError, match=r"gateway\.silent_after_h"):
        _hf(silent_after_h=0)
    with pytest.raises(CarePlanError, match=r"gateway\.silent_after_h"):
        _hf(silent_after_h=24 * 8)  # at most a week: a longer silence is not monitoring


def test_silence_counts_from_the_last_status_or_the_plan_start_whichever_is_later() -> None:
    now = MIDNIGHT + 2 * DAY
    start = now - 3 * DAY
    last_seen = np.array(
        [
            now - 11 * HOUR,  # a night with the box off: under 12 h
            now - 12 * HOUR,  # exactly the limit: not yet (strictly longer)
            now - 12 * HOUR - S,  # one second more
            NEVER,  # never heard since the plan started 3 days ago
            start - 5 * DAY,  # last heard at its previous home: counted from the plan start
            now + 5 * S,  # a status stamped ahead of our clock: not silence
            now - 2 * DAY,  # no home gateway: never silent
        ],
        np.int64,
    )
    since = np.array([start] * 6 + [start], np.int64)
    has = np.array([True] * 6 + [False])
    found = gateway_silence(now, last_seen, since, np.full(7, 12 * 3600.0), has)
    assert found.active.tolist() == [False, False, True, True, True, False, False]
    assert found.heard_at.tolist()[3:5] == [start, start]
    assert found.heard_at[6] == NEVER
    assert found.silent_s[2] == 12 * 3600 + 1
    assert found.silent_s[5] == 0.0
    assert np.isnan(found.silent_s[6])
    # A plan started an hour ago: a gateway never heard is not silent yet.
    recent = gateway_silence(now, [NEVER], [now - HOUR], [12 * 3600.0], [True])
    assert not recent.active[0]
    # Each patient's own limit.
    two = gateway_silence(now, [now - 5 * HOUR] * 2, [start] * 2, [4 * 3600.0, 12 * 3600.0],
                          [True, True])  # fmt: skip
    assert two.active.tolist() == [True, False]


def test_bad_inputs_are_refused_with_the_field_named() -> None:
    now = MIDNIGHT
    with pytest.raises(AnalyticsInputError, match="last_seen"):
        gateway_silence(now, np.array([1.5]), [0], [60.0], [True])
    with pytest.raises(AnalyticsInputError, match="limit_s"):
        gateway_silence(now, [0], [0], [0.0], [True])
    with pytest.raises(AnalyticsInputError, match="one per patient"):
        gateway_silence(now, [0, 0], [0], [60.0], [True])


def test_a_window_passed_silent_only_when_not_heard_since_it_opened() -> None:
    opened = MIDNIGHT + 5 * HOUR
    now = MIDNIGHT + 11 * HOUR
    heard = np.array([opened - S, opened, opened + HOUR, NEVER], np.int64)
    assert silent_through(now, heard, opened).tolist() == [True, False, False, False]
    # A window shorter than the gap between two statuses of a healthy box (30 s): heard 20 s
    # before a 12-s window opened, judged as it ends: not silence (the grace is 120 s).
    short = MIDNIGHT + 20 * S
    assert not silent_through(short + 12 * S, short - 20 * S, short)[()]
    assert silent_through(short + 12 * S + 101 * S, short - 20 * S, short)[()]


def _weights(times: list[int]) -> dict[str, Flat]:
    n = len(times)
    return {
        "body_weight": (np.zeros(n, np.int64), np.array(times, np.int64), np.full(n, 80.0)),
        "systolic_bp": (np.zeros(n, np.int64), np.array(times, np.int64), np.full(n, 120.0)),
        "diastolic_bp": (np.zeros(n, np.int64), np.array(times, np.int64), np.full(n, 80.0)),
    }


def test_judge_now_raises_the_gateway_alert_and_notes_the_adherence_alerts_it_explains() -> None:
    """A heart-failure patient (morning slot 05:00-11:00 UTC) weighed on day 0 at 07:00, and
    their box was unplugged at 08:00. Judged on day 2 at 12:00: two mornings missed, 52 h of
    silence."""
    plan = _hf()
    since = np.array([MIDNIGHT - DAY], np.int64)
    readings = _weights([MIDNIGHT + 7 * HOUR])
    now = MIDNIGHT + 2 * DAY + 12 * HOUR
    unplugged = MIDNIGHT + 8 * HOUR
    found = judge_now(readings, [plan], now=now, since=since,
                      gateway_seen=np.array([unplugged], np.int64),
                      has_gateway=np.array([True]))  # fmt: skip
    gateway, weight = RULES.index("home_gateway_offline"), RULES.index("adherence_weight")
    assert found.level[0, gateway] == 1  # low: a call, not an alarm
    assert np.isnan(found.value[0, gateway])  # its message shows the duration instead
    assert found.heard_at[0] == unplugged
    assert (found.level[0, weight], found.value[0, weight]) == (1, 2.0)
    assert found.gateway_silent[0, weight]
    assert found.gateway_silent[0, RULES.index("adherence_blood_pressure")]
    assert not found.gateway_silent[0, gateway]
    # The same misses with the box heard this morning (at 09:00, inside the window): the
    # patient did not measure; no note, no gateway alert.
    heard = judge_now(readings, [plan], now=now, since=since,
                      gateway_seen=np.array([MIDNIGHT + 2 * DAY + 9 * HOUR], np.int64),
                      has_gateway=np.array([True]))  # fmt: skip
    assert heard.level[0, weight] == 1
    assert not heard.gateway_silent[0].any()
    assert heard.level[0, gateway] == 0


def test_a_night_with_the_box_off_raises_nothing_and_no_gateway_judges_nothing() -> None:
    plan = _hf()
    since = np.array([MIDNIGHT - DAY], np.int64)
    # Weighed at 07:00 today; the box was off from 22:00 to 07:30 (9.5 h): heard at 07:30.
    readings = _weights([MIDNIGHT + 7 * HOUR])
    now = MIDNIGHT + 12 * HOUR
    found = judge_now(readings, [plan], now=now, since=since,
                      gateway_seen=np.array([MIDNIGHT + 7 * HOUR + HOUR // 2], np.int64),
                      has_gateway=np.array([True]))  # fmt: skip
    assert not found.level[0].any()
    # The box switched off at 22:00 and still off at 09:30 (11.5 h): nothing yet.
    found = judge_now(readings, [plan], now=MIDNIGHT + DAY + 9 * HOUR + HOUR // 2, since=since,
                      gateway_seen=np.array([MIDNIGHT + 22 * HOUR], np.int64),
                      has_gateway=np.array([True]))  # fmt: skip
    assert found.level[0, RULES.index("home_gateway_offline")] == 0
    # Without gateway arguments (or without a home gateway) the gateway is not judged.
    plain = judge_now({}, [plan], now=now + 3 * DAY, since=since)
    assert plain.level[0, RULES.index("home_gateway_offline")] == 0
    assert not plain.gateway_silent.any()
