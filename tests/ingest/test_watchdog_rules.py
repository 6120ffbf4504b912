"""The watchdog's decisions, without a database: when analytics counts as stopped, and which
rows a pass changes (raise, latch, unlatch, resolve) for every combination of an open alert's
state. The running watchdog is tested in ``tests/monitor/test_watchdog.py``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.payloads import MAX_MESSAGE_CHARS
from nabd.ingest.watchdog import ChangeKind, OpenAlert, interrupted, message, plan

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "watching", "stale", "expected"),
    [
        (14.9, 100.0, 15.0, False),
        (15.0, 100.0, 15.0, False),  # "older than": exactly N is not yet
        (15.1, 100.0, 15.0, True),
        (0.5, 100.0, 15.0, False),
        (None, 10.0, 15.0, False),  # never ticked, but analytics may still be starting
        (None, 15.1, 15.0, True),  # never ticked for as long as we have watched
        (3.0, 1.0, 15.0, False),  # a fresh tick counts however short we have watched
        (400.0, 1.0, 15.0, True),  # an old tick counts however short we have watched
    ],
)
def test_analytics_is_stopped_when_its_newest_tick_is_older_than_the_limit(
    age: float | None, watching: float, stale: float, expected: bool
) -> None:
    assert interrupted(age, watching, stale) is expected


@given(
    age=st.none() | st.floats(0, 1e6),
    watching=st.floats(0, 1e6),
    stale=st.floats(0.1, 1e4),
)
def test_the_verdict_is_the_age_or_the_watch_against_the_limit(
    age: float | None, watching: float, stale: float
) -> None:
    assert interrupted(age, watching, stale) == ((watching if age is None else age) > stale)


def _open(patient: str, *, acknowledged: bool = False, latched: bool = False) -> OpenAlert:
    return OpenAlert(uuid.uuid4(), patient, "w", acknowledged, latched, T, "text")


def test_an_interruption_raises_one_alert_per_admitted_patient_without_one() -> None:
    have = _open("p1")
    changes = plan(True, {"p1": "w", "p2": "w", "p3": "x"}, [have])
    assert [(c.kind, c.patient_id, c.ward_id) for c in changes] == [
        (ChangeKind.RAISED, "p2", "w"),
        (ChangeKind.RAISED, "p3", "x"),
    ]
    assert len({c.alert_id for c in changes} | {have.alert_id}) == 3


@pytest.mark.parametrize(
    ("stopped", "acknowledged", "latched", "expected"),
    [
        (True, False, False, None),  # raised and still interrupted: nothing new
        (True, True, False, None),  # a nurse has seen it: it stays acknowledged while it lasts
        (True, False, True, ChangeKind.UNLATCHED),  # interrupted again before anyone saw it
        (False, False, False, ChangeKind.LATCHED),  # over, but nobody has seen it: it stays
        (False, False, True, None),  # latched until a nurse acknowledges it
        (False, True, False, ChangeKind.RESOLVED),  # over and seen
    ],
)
def test_each_open_alert_follows_the_latching_rules(
    stopped: bool, acknowledged: bool, latched: bool, expected: ChangeKind | None
) -> None:
    alert = _open("p1", acknowledged=acknowledged, latched=latched)
    changes = plan(stopped, {"p1": "w"}, [alert])
    assert [(c.kind, c.alert_id) for c in changes] == (
        [] if expected is None else [(expected, alert.alert_id)]
    )


def test_a_discharged_patients_alert_is_left_to_the_discharge() -> None:
    assert plan(False, {}, [_open("gone", acknowledged=True)]) == []
    assert plan(True, {}, [_open("gone", latched=True)]) == []


def test_nothing_changes_while_analytics_runs_and_nothing_is_open() -> None:
    assert plan(False, {"p1": "w", "p2": "w"}, []) == []


@given(age=st.none() | st.floats(0, 1e12, allow_nan=False))
def test_the_message_fits_the_contract_and_says_what_stopped(age: float | None) -> None:
    text = message(age)
    assert len(text) <= MAX_MESSAGE_CHARS
    assert text.startswith("Monitoring interrupted")
    assert text.isprintable()
