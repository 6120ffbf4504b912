"""The alert lifecycle as the service runs it (``AlertBook`` over the scoring core), checked with
hypothesis on random event sequences: conditions switching on and off at random priorities,
nurses acknowledging and silencing random open alerts.

Invariants: never two open alerts for one patient x condition; a high-priority alert nobody
acknowledged is never resolved (latching); every change of an alert's state is a transition (so
it is written and audited); stepping only the busy rows gives exactly the core's full step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.alerts import (
    HIGH,
    PRIORITIES,
    Actions,
    AlertEventKind,
    AlertPolicy,
    AlertState,
    step,
)
from nabd.analytics.arrays import NEVER
from nabd.analytics.service.lifecycle import AlertBook, NurseAction, OpenAlert, Transition

S = 1_000_000_000
T0 = 1_750_000_000 * S
POLICY = AlertPolicy(
    conditions=("spo2_low", "news2", "no_data"),
    resolve_after_s=3,
    escalate_after_s=(8, 5, 3, 2),
    max_level=2,
    latch_priority=HIGH,
)
K = AlertEventKind


@dataclass
class Tick:
    active: list[list[bool]]
    priority: list[list[int]]
    acks: list[int]
    silences: list[tuple[int, int]]


ticks = st.integers(2, 3).flatmap(
    lambda patients: st.lists(
        st.builds(
            Tick,
            active=st.lists(
                st.lists(st.booleans(), min_size=3, max_size=3),
                min_size=patients,
                max_size=patients,
            ),
            priority=st.lists(
                st.lists(st.integers(0, 3), min_size=3, max_size=3),
                min_size=patients,
                max_size=patients,
            ),
            acks=st.lists(st.integers(0, 20), max_size=2),
            silences=st.lists(st.tuples(st.integers(0, 20), st.integers(1, 6)), max_size=1),
        ),
        min_size=1,
        max_size=40,
    )
)


@dataclass
class Model:
    """What the transitions say, replayed: open alert per cell, acknowledged or not."""

    open: dict[tuple[int, int], uuid.UUID] = field(default_factory=dict)
    acknowledged: set[uuid.UUID] = field(default_factory=set)
    priority: dict[uuid.UUID, int] = field(default_factory=dict)

    def apply(self, t: Transition) -> None:
        cell = (t.row, t.column)
        if t.kind is K.RAISED:
            assert cell not in self.open, "a second open alert for one patient x condition"
            self.open[cell] = t.alert_id
        else:
            assert self.open.get(cell) == t.alert_id, f"{t.kind} on an alert that is not open"
        if t.kind is K.ACKNOWLEDGED:
            self.acknowledged.add(t.alert_id)
        if t.kind is K.WORSENED:
            self.acknowledged.discard(t.alert_id)
        if t.kind is K.RESOLVED:
            never_seen = t.alert_id not in self.acknowledged
            assert not (never_seen and self.priority[t.alert_id] >= HIGH), "lost a latched alert"
            del self.open[cell]
        self.priority[t.alert_id] = PRIORITIES.index(t.priority)


def _actions(book: AlertBook, tick: Tick, now: int) -> list[NurseAction]:
    ids = sorted(
        alert
        for r in range(book.patients)
        for c in range(3)
        if (alert := book.alert_id(r, c)) is not None
    )
    todo: list[NurseAction] = []
    for pick in tick.acks:
        if ids:
            todo.append(NurseAction(len(todo), ids[pick % len(ids)], "acknowledge", "nurse"))
    for pick, seconds in tick.silences:
        if ids:
            until = now + seconds * S
            todo.append(NurseAction(len(todo), ids[pick % len(ids)], "silence", "nurse", until))
    return todo


def _snapshot(state: AlertState) -> np.ndarray:
    return np.stack(
        [
            state.open,
            state.acknowledged,
            state.priority,
            state.level,
            state.latched,
            state.silenced_until != NEVER,
        ],
        axis=-1,
    )


@settings(max_examples=150, deadline=None)
@given(ticks)
def test_random_sequences_keep_the_lifecycle_invariants(script: list[Tick]) -> None:
    patients = len(script[0].active)
    book = AlertBook(POLICY, patients)
    model = Model()
    for second, tick in enumerate(script):
        now = T0 + second * S
        before = _snapshot(book.state)
        found = book.step(
            now,
            np.array(tick.active),
            np.array(tick.priority, dtype=np.int8),
            _actions(book, tick, now),
        )
        for t in found:
            model.apply(t)
        after = _snapshot(book.state)
        changed = {
            (int(r), int(c)) for r, c in zip(*np.nonzero((before != after).any(-1)), strict=True)
        }
        touched = {(t.row, t.column) for t in found}
        # Silences that expire while the cell is closed end quietly (no alert to tell about).
        quiet = {cell for cell in changed - touched if not before[cell][0] and not after[cell][0]}
        assert changed - quiet <= touched, "a state change without a transition"
        assert {k: v for k, v in model.open.items()} == {
            (r, c): book.alert_id(r, c)
            for r in range(patients)
            for c in range(3)
            if book.alert_id(r, c) is not None
        }
        # The core's own state agrees: the cells with an id are exactly the open ones.
        assert {(int(r), int(c)) for r, c in zip(*np.nonzero(book.state.open), strict=True)} == set(
            model.open
        )


@settings(max_examples=60, deadline=None)
@given(ticks)
def test_stepping_busy_rows_equals_the_cores_full_step(script: list[Tick]) -> None:
    patients = len(script[0].active)
    book = AlertBook(POLICY, patients)
    state = AlertState.initial(patients, 3)
    for second, tick in enumerate(script):
        now = T0 + second * S
        requests = _actions(book, tick, now)
        acknowledge = np.zeros((patients, 3), dtype=np.bool_)
        until = np.full((patients, 3), NEVER, dtype=np.int64)
        for a in requests:
            cell = book.cell(a.alert_id)
            assert cell is not None
            if a.action == "acknowledge":
                acknowledge[cell] = True
            else:
                until[cell] = max(until[cell], a.silence_until)
        mine = book.step(
            now, np.array(tick.active), np.array(tick.priority, dtype=np.int8), requests
        )
        state, events = step(
            state,
            POLICY,
            now,
            active=np.array(tick.active),
            priority=np.array(tick.priority),
            actions=Actions(acknowledge, until),
        )
        theirs = events.records(POLICY)
        assert sorted((t.kind, t.row, t.condition, t.priority, t.level) for t in mine) == sorted(
            (e.kind, e.patient, e.condition, e.priority, e.escalation_level) for e in theirs
        )
        for name in ("open", "priority", "level", "acknowledged", "latched", "silenced_until"):
            assert np.array_equal(getattr(book.state, name), getattr(state, name)), name


def test_a_latched_high_alert_waits_for_its_acknowledgement() -> None:
    book = AlertBook(POLICY, 1)
    on = np.array([[True, False, False]])
    off = np.zeros((1, 3), dtype=np.bool_)
    high = np.full((1, 3), HIGH, dtype=np.int8)
    kinds = [t.kind for t in book.step(T0, on, high)]
    for second in range(1, 30):  # the condition cleared at 1 s; resolve_after is 3 s
        kinds += [t.kind for t in book.step(T0 + second * S, off, high)]
    # Held open, and nobody answered: it keeps escalating (3 s at high, then 2 s at critical).
    assert kinds == [K.RAISED, K.LATCHED, K.ESCALATED, K.ESCALATED]
    alert = book.alert_id(0, 0)
    assert alert is not None
    ack = [NurseAction(1, alert, "acknowledge", "nurse")]
    assert [t.kind for t in book.step(T0 + 31 * S, off, high, ack)] == [
        K.ACKNOWLEDGED,
        K.RESOLVED,
    ]
    assert book.open_count == 0


def test_restored_alerts_continue_where_they_were() -> None:
    book = AlertBook(POLICY, 2)
    alert = uuid.uuid4()
    book.restore(
        [
            OpenAlert(
                alert_id=alert,
                row=1,
                column=0,
                raised_at=T0,
                priority=HIGH,
                condition_priority=HIGH,
                level=0,
                acknowledged=False,
                notified_at=T0 + 9 * S,
                silenced_until=NEVER,
                latched=True,
            )
        ]
    )
    off = np.zeros((2, 3), dtype=np.bool_)
    high = np.full((2, 3), HIGH, dtype=np.int8)
    assert book.step(T0 + 10 * S, off, high) == []  # still latched, still there
    again = book.step(T0 + 11 * S, np.array([[False] * 3, [True, False, False]]), high)
    assert [(t.kind, t.alert_id) for t in again] == [(K.UNLATCHED, alert)]
