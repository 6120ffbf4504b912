"""The alert lifecycle: raise, de-duplicate, escalate, acknowledge, silence, resolve, no storms."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nabd.analytics.alerts import (
    CRITICAL,
    HIGH,
    MEDIUM,
    Actions,
    AlertEvent,
    AlertEventKind,
    AlertPolicy,
    AlertState,
    step,
)
from nabd.analytics.arrays import NEVER, BoolArray, IntArray
from nabd.analytics.errors import AnalyticsInputError
from nabd.contract.payloads import AlertPriority

S = 1_000_000_000
POLICY = AlertPolicy(
    conditions=("hr_high", "spo2_low"),
    raise_after_s=0,
    resolve_after_s=60,
    escalate_after_s=(1800, 600, 180, 60),
    max_level=3,
)
R, W, E, A, Q, X = (
    AlertEventKind.RAISED,
    AlertEventKind.WORSENED,
    AlertEventKind.ESCALATED,
    AlertEventKind.ACKNOWLEDGED,
    AlertEventKind.SILENCED,
    AlertEventKind.RESOLVED,
)

Script = Callable[[int], tuple[BoolArray, IntArray, Actions | None]]


def run(
    script: Script, seconds: int, patients: int = 1, policy: AlertPolicy = POLICY
) -> list[AlertEvent]:
    """Tick once a second; ``script(t)`` gives (active, priority, actions) for that tick."""
    state = AlertState.initial(patients, len(policy.conditions))
    events: list[AlertEvent] = []
    for second in range(seconds):
        active, priority, actions = script(second)
        state, found = step(
            state, policy, second * S, active=active, priority=priority, actions=actions
        )
        events += found.records(policy)
    return events


def brief(events: list[AlertEvent]) -> list[tuple[int, AlertEventKind, str, int]]:
    """(second, kind, priority, level) of each event."""
    return [(e.at // S, e.kind, e.priority.value, e.escalation_level) for e in events]


def hr_only(active: bool, priority: int = HIGH) -> tuple[BoolArray, IntArray]:
    return np.array([[active, False]]), np.array([[priority, MEDIUM]])


def ack_hr(second: int, at: int) -> Actions | None:
    if second != at:
        return None
    actions = Actions.none(1, 2)
    return Actions(acknowledge=np.array([[True, False]]), silence_until=actions.silence_until)


def test_one_alert_while_the_condition_lasts_escalating_until_acknowledged() -> None:
    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        return (*hr_only(100 <= t < 800), ack_hr(t, 500))

    assert brief(run(script, 1000)) == [
        (100, R, "high", 0),
        (280, E, "critical", 1),  # unacknowledged 180 s at high
        (340, E, "critical", 2),  # then every 60 s at critical
        (400, E, "critical", 3),  # max_level: no further escalation
        (500, A, "critical", 3),
        (860, X, "critical", 3),  # condition cleared at 800, held 60 s
    ]


def test_a_condition_that_does_not_escalate_stays_at_its_priority_unacknowledged() -> None:
    policy = AlertPolicy(conditions=("hr_high", "spo2_low"), escalates=[False, True])

    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        both = t >= 10
        return np.array([[both, both]]), np.array([[HIGH, HIGH]]), None

    events = run(script, 400, policy=policy)
    assert [(e.at // S, e.kind, e.condition) for e in events] == [
        (10, R, "hr_high"),
        (10, R, "spo2_low"),
        (190, E, "spo2_low"),  # only the one that escalates
        (250, E, "spo2_low"),
        (310, E, "spo2_low"),
    ]
    with pytest.raises(AnalyticsInputError, match="escalates"):
        AlertPolicy(conditions=("hr_high", "spo2_low"), escalates=[False])


def test_raise_after_and_resolve_after_are_exact() -> None:
    policy = AlertPolicy(conditions=("hr_high", "spo2_low"), raise_after_s=30, resolve_after_s=20)

    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        return (*hr_only(10 <= t < 100, MEDIUM), None)

    events = run(script, 200, policy=policy)
    assert [(e.at // S, e.kind) for e in events] == [(40, R), (120, X)]
    assert events[1].raised_at == 40 * S


def test_an_acknowledged_alert_re_alerts_when_the_condition_worsens() -> None:
    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        priority = MEDIUM if t < 300 else HIGH
        return (*hr_only(t >= 10, priority), ack_hr(t, 100))

    assert brief(run(script, 600)) == [
        (10, R, "medium", 0),
        (100, A, "medium", 0),
        (300, W, "high", 0),  # acknowledged, but worse: alert again
        (480, E, "critical", 1),  # unacknowledged again, so it escalates 180 s later
        (540, E, "critical", 2),
    ]


def test_an_acknowledged_alert_re_raises_when_the_condition_clears_and_returns() -> None:
    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        return (*hr_only(t < 100 or t >= 300), ack_hr(t, 50))

    events = run(script, 400)
    assert brief(events) == [
        (0, R, "high", 0),
        (50, A, "high", 0),
        (160, X, "high", 0),
        (300, R, "high", 0),  # a new alert...
    ]
    assert events[3].raised_at == 300 * S != events[0].raised_at  # ...with its own identity


def test_a_silence_mutes_events_and_delays_escalation_until_it_ends() -> None:
    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        actions = None
        if t == 20:  # silence hr_high until t=320
            none = Actions.none(1, 2)
            until = none.silence_until.copy()
            until[0, 0] = 320 * S
            actions = Actions(acknowledge=none.acknowledge, silence_until=until)
        return (*hr_only(t < 100 or t >= 200), actions)

    events = run(script, 700)
    assert [(e.at // S, e.kind, e.silenced) for e in events] == [
        (0, R, False),
        (20, Q, True),
        (160, X, True),
        (200, R, True),  # returned while silenced: recorded for the chart, not sounded
        (320, AlertEventKind.SILENCE_ENDED, False),
        (500, E, False),  # the escalation clock starts when the silence ends: 320 + 180
        (560, E, False),
        (620, E, False),
    ]


def test_a_flapping_condition_does_not_storm() -> None:
    """A condition toggling every 5 s for 30 min: one alert, not 180 raise/resolve pairs."""

    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        return (*hr_only((t // 5) % 2 == 0), ack_hr(t, 30))

    events = run(script, 1800)
    assert [(e.at // S, e.kind) for e in events] == [(0, R), (30, A)]
    without_hold = AlertPolicy(conditions=("hr_high", "spo2_low"), resolve_after_s=0)
    storm = run(script, 1800, policy=without_hold)
    assert sum(e.kind is R for e in storm) == 180  # what the resolve hold-down prevents


def test_actions_on_cells_without_an_open_alert_are_ignored() -> None:
    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        return (*hr_only(False), ack_hr(t, 5))

    assert run(script, 10) == []


def test_records_are_typed_for_the_database_and_mqtt() -> None:
    def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
        return np.array([[False, t >= 3]]), np.array([[HIGH, CRITICAL]]), None

    (event,) = run(script, 5)
    assert event == AlertEvent(
        kind=AlertEventKind.RAISED,
        patient=0,
        condition="spo2_low",
        at=3 * S,
        raised_at=3 * S,
        priority=AlertPriority.CRITICAL,
        escalation_level=0,
        silenced=False,
    )


def test_all_patients_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(9)
    patients, seconds = 6, 900
    active = np.cumsum(rng.random((seconds, patients, 2)) < 0.01, axis=0) % 2 == 1
    priority = rng.integers(0, 4, size=(seconds, patients, 2))
    acks = rng.random((seconds, patients, 2)) < 0.004
    silences = np.where(
        rng.random((seconds, patients, 2)) < 0.002,
        (np.arange(seconds)[:, None, None] + 120) * S,
        NEVER,
    )

    def script_for(rows: slice) -> Script:
        def script(t: int) -> tuple[BoolArray, IntArray, Actions | None]:
            return active[t, rows], priority[t, rows], Actions(acks[t, rows], silences[t, rows])

        return script

    together = run(script_for(slice(None)), seconds, patients)
    # every kind of event occurred (latching is off in POLICY)
    latching = {AlertEventKind.LATCHED, AlertEventKind.UNLATCHED}
    assert {e.kind for e in together} == set(AlertEventKind) - latching
    for p in range(patients):
        alone = run(script_for(slice(p, p + 1)), seconds, 1)
        mine = [e for e in together if e.patient == p]
        assert [(e.at, e.kind, e.condition, e.priority, e.escalation_level) for e in mine] == [
            (e.at, e.kind, e.condition, e.priority, e.escalation_level) for e in alone
        ]


def test_growing_keeps_open_alerts() -> None:
    state = AlertState.initial(1, 2)
    state, _ = step(state, POLICY, 0, active=np.array([[True, False]]), priority=np.array([2, 1]))
    grown = state.grow(3)
    assert grown.open.tolist() == [[True, False], [False, False], [False, False]]
    assert grown.raised_at[1:].tolist() == [[NEVER, NEVER]] * 2
    with pytest.raises(ValueError, match="read-only"):
        grown.open[0, 0] = False


@pytest.mark.parametrize(
    ("active", "priority", "parameter"),
    [
        (np.array([[1, 0]]), np.array([[1, 1]]), "active"),
        (np.array([[True, False]]), np.array([[4, 1]]), "priority"),
        (np.array([[True, False]]), np.array([[1.0, 1.0]]), "priority"),
        (np.array([[True, False, True]]), np.array([1, 1, 1]), "active/priority"),
    ],
)
def test_bad_conditions_raise(active: BoolArray, priority: IntArray, parameter: str) -> None:
    with pytest.raises(AnalyticsInputError) as info:
        step(AlertState.initial(1, 2), POLICY, 0, active=active, priority=priority)
    assert info.value.parameter == parameter


def test_bad_policies_raise() -> None:
    with pytest.raises(AnalyticsInputError):
        AlertPolicy(conditions=("HR high",))
    with pytest.raises(AnalyticsInputError):
        AlertPolicy(conditions=("a", "a"))
    with pytest.raises(AnalyticsInputError):
        AlertPolicy(conditions=("a", "b"), resolve_after_s=[1.0])
