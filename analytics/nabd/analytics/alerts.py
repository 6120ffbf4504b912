"""The clinical alert lifecycle: a pure state machine over (patients, conditions) arrays.

Detectors say, every tick, which conditions are active for which patient and how severe they are;
this module turns that into alerts a nurse can act on, and emits the events the shell writes to
the ``alert`` table and publishes on MQTT. Its purpose is to catch deterioration early *without*
drowning nurses in duplicate alarms (alarm fatigue makes real alarms go unanswered), so:

* **raise** when a condition has been active for ``raise_after_s`` (per condition; 0 by default
  because the detectors already apply their own persistence);
* **de-duplicate**: at most one open alert per patient x condition; while it is open, the
  condition staying active produces nothing new;
* **escalate** an alert nobody has acknowledged within ``escalate_after_s[priority]``: its
  escalation level goes up by one and its priority by one step (at most ``critical``), and the
  clock restarts; it stops at ``max_level``;
* **acknowledge** (a nurse's action): the alert stops escalating and does not re-fire while the
  condition persists. It re-alerts if the condition *worsens* (a higher priority than any seen
  while open: ``worsened``, which also breaks through a silence) or if it *clears and returns*
  (the old alert resolves, a new one is raised);
* **silence** (a nurse's action) for a duration: the cell's events carry ``silenced=True`` so the
  shell records but does not sound them, and escalation waits until the silence ends;
* **resolve** once the condition has been inactive for ``resolve_after_s`` (per condition). This
  hold-down is the lifecycle's own hysteresis: a condition that flaps faster than it keeps one
  alert open instead of a storm of raise/resolve pairs;
* **latch** (optional, ``latch_priority``): an alert at or above that priority that nobody has
  acknowledged does not resolve when its condition clears; it stays open, ``latched``, until a
  nurse acknowledges it (IEC 60601-1-8's latching alarm signal: a high-priority event that came
  and went must still be seen). If the condition returns first, the alert is simply active again
  (``unlatched``); a latched alert keeps escalating;
* a silence **ends** by itself at its expiry (``silence_ended``), so the record shows when the
  alert could sound again.

Priorities are int codes 0..3 for 'low', 'medium', 'high', 'critical'
(``nabd.contract.payloads.AlertPriority``). Times are int64 ns since the epoch. :func:`step`
never mutates its inputs: it returns the new state and the events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    NEVER,
    BoolArray,
    Int8Array,
    IntArray,
    check_duration,
    check_now,
    elapsed_at_least,
    pad_rows,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.contract.payloads import AlertPriority

__all__ = [
    "CRITICAL",
    "HIGH",
    "LOW",
    "MEDIUM",
    "PRIORITIES",
    "Actions",
    "AlertEvent",
    "AlertEventKind",
    "AlertEvents",
    "AlertPolicy",
    "AlertState",
    "step",
]

PRIORITIES: Final = (
    AlertPriority.LOW,
    AlertPriority.MEDIUM,
    AlertPriority.HIGH,
    AlertPriority.CRITICAL,
)
"""Priority names by code: ``PRIORITIES[code]``."""
LOW: Final = 0
MEDIUM: Final = 1
HIGH: Final = 2
CRITICAL: Final = 3
_CLOSED: Final = -1
"""Priority of a cell with no open alert."""

_CONDITION_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""The contract's ``AlertKind`` (``nabd.contract.payloads``): the name goes on the wire."""


class AlertEventKind(StrEnum):
    """What happened to an alert at a tick."""

    RAISED = "raised"
    """A new alert opened (condition active for ``raise_after_s``, no alert open)."""
    WORSENED = "worsened"
    """The condition's priority rose above any seen while open: re-alert, even if acknowledged."""
    ESCALATED = "escalated"
    """Unacknowledged for ``escalate_after_s[priority]``: level + 1, priority + 1 (max critical)."""
    ACKNOWLEDGED = "acknowledged"
    SILENCED = "silenced"
    RESOLVED = "resolved"
    """The condition has been inactive for ``resolve_after_s``: the alert closed."""
    LATCHED = "latched"
    """The condition cleared, but the alert (priority >= ``latch_priority``, unacknowledged)
    stays open until acknowledged."""
    UNLATCHED = "unlatched"
    """The condition of a latched alert returned: the alert is active again."""
    SILENCE_ENDED = "silence_ended"
    """A silence reached its expiry: the alert may sound (and escalate) again."""


@dataclass(frozen=True)
class AlertPolicy:
    """How alerts for each condition (a column of the arrays) are raised, escalated, resolved.

    ``raise_after_s`` and ``resolve_after_s`` are one value for all conditions or one per
    condition; ``escalate_after_s`` is indexed by the alert's current priority (low..critical).
    ``latch_priority`` (a code 0..3, or None for no latching) is the current priority at or
    above which an unacknowledged alert latches instead of resolving. ``escalates`` (one value
    or one per condition) says whether an unacknowledged alert of the condition escalates at
    all: a missed home measurement is a call for the remote nurse, never an alarm by waiting.
    """

    conditions: tuple[str, ...]
    raise_after_s: float | Sequence[float] = 0.0
    resolve_after_s: float | Sequence[float] = 60.0
    escalate_after_s: tuple[float, float, float, float] = (1800.0, 600.0, 180.0, 60.0)
    max_level: int = 3
    latch_priority: int | None = None
    escalates: bool | Sequence[bool] = True
    raise_after_ns: IntArray = field(init=False, repr=False, compare=False)
    resolve_after_ns: IntArray = field(init=False, repr=False, compare=False)
    escalate_after_ns: IntArray = field(init=False, repr=False, compare=False)
    escalating: BoolArray = field(init=False, repr=False, compare=False)
    """Per condition, ``escalates``."""

    def __post_init__(self) -> None:
        if not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise AnalyticsInputError("conditions", "need at least one, no repeats")
        for name in self.conditions:
            if not _CONDITION_NAME.fullmatch(name):
                raise AnalyticsInputError("conditions", f"{name!r} is not a valid alert kind")
        if len(self.escalate_after_s) != len(PRIORITIES):
            raise AnalyticsInputError("escalate_after_s", "need one duration per priority")
        if not 0 <= self.max_level <= 127:
            raise AnalyticsInputError("max_level", f"must be in 0..127, got {self.max_level}")
        if self.latch_priority is not None and not LOW <= self.latch_priority <= CRITICAL:
            raise AnalyticsInputError("latch_priority", "must be a priority code 0..3 or None")
        object.__setattr__(self, "raise_after_ns", self._per_condition("raise_after_s"))
        object.__setattr__(self, "resolve_after_ns", self._per_condition("resolve_after_s"))
        object.__setattr__(
            self, "escalate_after_ns", self._durations("escalate_after_s", self.escalate_after_s)
        )
        flags = self.escalates
        each = [flags] * len(self.conditions) if isinstance(flags, bool) else list(flags)
        if len(each) != len(self.conditions):
            raise AnalyticsInputError(
                "escalates", f"need one value or {len(self.conditions)} values"
            )
        object.__setattr__(self, "escalating", np.array(each, dtype=np.bool_))

    def restricted(self, columns: Sequence[int]) -> AlertPolicy:
        """The same policy for the conditions ``columns`` only, in that order (to step a block
        of the cells: the conditions something is happening to)."""

        def pick(value: float | Sequence[float]) -> float | list[float]:
            return value if isinstance(value, int | float) else [value[c] for c in columns]

        def pick_flags(value: bool | Sequence[bool]) -> bool | list[bool]:
            return value if isinstance(value, bool) else [value[c] for c in columns]

        return AlertPolicy(
            conditions=tuple(self.conditions[c] for c in columns),
            raise_after_s=pick(self.raise_after_s),
            resolve_after_s=pick(self.resolve_after_s),
            escalate_after_s=self.escalate_after_s,
            max_level=self.max_level,
            latch_priority=self.latch_priority,
            escalates=pick_flags(self.escalates),
        )

    def _per_condition(self, name: str) -> IntArray:
        value: float | Sequence[float] = getattr(self, name)
        seconds = [value] * len(self.conditions) if isinstance(value, int | float) else value
        if len(seconds) != len(self.conditions):
            raise AnalyticsInputError(name, f"need one value or {len(self.conditions)} values")
        return self._durations(name, seconds)

    @staticmethod
    def _durations(name: str, seconds: Sequence[float]) -> IntArray:
        for value in seconds:
            check_duration(name, float(value))
        return np.array([seconds_to_ns(float(s)) for s in seconds], dtype=np.int64)


@dataclass(frozen=True)
class AlertState:
    """Every patient x condition cell, shape ``(patients, conditions)``; read-only arrays.

    A cell is *open* while it has an unresolved alert, identified by ``(patient, condition,
    raised_at)``. ``priority`` is the alert's current priority (escalation included; -1 when
    closed) and ``worst`` the highest condition priority seen while open.
    """

    open: BoolArray
    raised_at: IntArray
    priority: Int8Array
    worst: Int8Array
    level: Int8Array
    acknowledged: BoolArray
    notified_at: IntArray
    """Start of the escalation clock: raised, worsened, last escalated or silence ended."""
    silenced_until: IntArray
    """End of the silence in force (NEVER: not silenced)."""
    active_since: IntArray
    inactive_since: IntArray
    latched: BoolArray
    """The condition has cleared but the alert is held open until acknowledged."""

    def __post_init__(self) -> None:
        for value in vars(self).values():
            value.flags.writeable = False

    @classmethod
    def initial(cls, patients: int, conditions: int) -> AlertState:
        shape = (patients, conditions)
        never = np.full(shape, NEVER, dtype=np.int64)
        closed = np.full(shape, _CLOSED, dtype=np.int8)
        return cls(
            open=np.zeros(shape, dtype=np.bool_),
            raised_at=never,
            priority=closed,
            worst=closed.copy(),
            level=np.zeros(shape, dtype=np.int8),
            acknowledged=np.zeros(shape, dtype=np.bool_),
            notified_at=never.copy(),
            silenced_until=never.copy(),
            active_since=never.copy(),
            inactive_since=never.copy(),
            latched=np.zeros(shape, dtype=np.bool_),
        )

    def grow(self, patients: int) -> AlertState:
        """Room for new patients (admissions), with no alerts; existing cells unchanged."""
        fresh = AlertState.initial(1, self.open.shape[1])
        grown = {
            name: pad_rows(value, patients, fill=getattr(fresh, name)[0, 0])
            for name, value in vars(self).items()
        }
        return AlertState(**grown)

    @property
    def shape(self) -> tuple[int, int]:
        patients, conditions = self.open.shape
        return patients, conditions


@dataclass(frozen=True)
class Actions:
    """Nurse actions received since the last tick, per cell, shape ``(patients, conditions)``.

    ``silence_until`` is the end of a requested silence (int64 ns), NEVER for none. Actions on a
    cell with no open alert are ignored (the alert resolved before the nurse's click arrived).
    """

    acknowledge: BoolArray
    silence_until: IntArray

    @classmethod
    def none(cls, patients: int, conditions: int) -> Actions:
        shape = (patients, conditions)
        return cls(
            acknowledge=np.zeros(shape, dtype=np.bool_),
            silence_until=np.full(shape, NEVER, dtype=np.int64),
        )


@dataclass(frozen=True)
class AlertEvent:
    """One event, as the shell writes it to the database and MQTT."""

    kind: AlertEventKind
    patient: int
    """The patient's row index (the shell maps it to the pseudonymous patient id)."""
    condition: str
    at: int
    raised_at: int
    """With ``patient`` and ``condition``, identifies the alert."""
    priority: AlertPriority
    escalation_level: int
    silenced: bool


@dataclass(frozen=True)
class AlertEvents:
    """One tick's events as parallel arrays (one element per event).

    Order: acknowledged, silenced, silence_ended, unlatched, resolved, latched, raised, worsened,
    escalated (nurse actions first: they happened before the tick); within a kind by patient,
    then condition.
    """

    kind: npt.NDArray[np.str_]
    patient: IntArray
    condition: IntArray
    at: int
    raised_at: IntArray
    priority: Int8Array
    level: Int8Array
    silenced: BoolArray

    def __len__(self) -> int:
        return int(self.patient.shape[0])

    def records(self, policy: AlertPolicy) -> list[AlertEvent]:
        """The events as typed records (a Python loop over events, which are few)."""
        return [
            AlertEvent(
                kind=AlertEventKind(str(self.kind[i])),
                patient=int(self.patient[i]),
                condition=policy.conditions[int(self.condition[i])],
                at=self.at,
                raised_at=int(self.raised_at[i]),
                priority=PRIORITIES[int(self.priority[i])],
                escalation_level=int(self.level[i]),
                silenced=bool(self.silenced[i]),
            )
            for i in range(len(self))
        ]

    def count(self, kind: AlertEventKind) -> int:
        return int((self.kind == kind.value).sum())


def step(
    state: AlertState,
    policy: AlertPolicy,
    now: int,
    *,
    active: npt.ArrayLike,
    priority: npt.ArrayLike,
    actions: Actions | None = None,
) -> tuple[AlertState, AlertEvents]:
    """Advance every cell to ``now``: apply nurse actions, then the conditions.

    ``active`` (bool) and ``priority`` (int codes 0..3, read only where active) broadcast to
    ``(patients, conditions)``; a ``(conditions,)`` priority gives each condition a fixed one.
    """
    instant = check_now(now)
    shape = state.shape
    if shape[1] != len(policy.conditions):
        raise AnalyticsInputError(
            "policy", f"has {len(policy.conditions)} conditions, the state {shape[1]}"
        )
    on, level_in = _conditions(active, priority, shape)
    todo = actions or Actions.none(*shape)
    if todo.acknowledge.shape != shape or todo.silence_until.shape != shape:
        raise AnalyticsInputError("actions", f"must have shape {shape}")
    cells = _Cells.of(state)
    log = _Log(instant)
    log.add(AlertEventKind.ACKNOWLEDGED, cells, cells.acknowledge(todo.acknowledge))
    log.add(AlertEventKind.SILENCED, cells, cells.silence(todo.silence_until, instant))
    log.add(AlertEventKind.SILENCE_ENDED, cells, cells.end_silences(instant))
    log.add(AlertEventKind.UNLATCHED, cells, cells.unlatch(on))
    cells.track(on, instant)
    resolving, holding = cells.due_to_resolve(on, instant, policy)
    log.add(AlertEventKind.RESOLVED, cells, resolving)
    cells.close(resolving)
    log.add(AlertEventKind.LATCHED, cells, cells.latch(holding))
    opened = cells.raise_(on, level_in, instant, policy)
    log.add(AlertEventKind.RAISED, cells, opened)
    log.add(AlertEventKind.WORSENED, cells, cells.worsen(on & ~opened, level_in, instant))
    sounding = (on | cells.latched) & ~opened
    log.add(AlertEventKind.ESCALATED, cells, cells.escalate(sounding, instant, policy))
    return cells.freeze(), log.events()


def _conditions(
    active: npt.ArrayLike, priority: npt.ArrayLike, shape: tuple[int, int]
) -> tuple[BoolArray, Int8Array]:
    on_raw = np.asarray(active)
    level_raw = np.asarray(priority)
    if on_raw.dtype != np.bool_:
        raise AnalyticsInputError("active", f"must be bool, got {on_raw.dtype}")
    if level_raw.dtype.kind not in "iu":
        raise AnalyticsInputError("priority", f"must be int codes 0..3, got {level_raw.dtype}")
    try:
        on = np.broadcast_to(on_raw, shape)
        level = np.broadcast_to(level_raw, shape)
    except ValueError as exc:
        raise AnalyticsInputError("active/priority", f"do not broadcast to {shape}") from exc
    if ((level < LOW) | (level > CRITICAL))[on].any():
        raise AnalyticsInputError("priority", "active conditions need priorities 0..3")
    return on, np.where(on, level, LOW).astype(np.int8)


@dataclass
class _Cells:
    """Mutable working copy of an :class:`AlertState` during one tick."""

    open: BoolArray
    raised_at: IntArray
    priority: Int8Array
    worst: Int8Array
    level: Int8Array
    acknowledged: BoolArray
    notified_at: IntArray
    silenced_until: IntArray
    active_since: IntArray
    inactive_since: IntArray
    latched: BoolArray

    @classmethod
    def of(cls, state: AlertState) -> _Cells:
        return cls(**{name: value.copy() for name, value in vars(state).items()})

    def freeze(self) -> AlertState:
        names = AlertState.__dataclass_fields__
        return AlertState(**{name: getattr(self, name) for name in names})

    def acknowledge(self, request: BoolArray) -> BoolArray:
        done = request & self.open & ~self.acknowledged
        self.acknowledged |= done
        return done

    def silence(self, until: IntArray, now: int) -> BoolArray:
        done = self.open & (until > now) & (until > self.silenced_until)
        self.silenced_until = np.where(done, until, self.silenced_until)
        return done

    def end_silences(self, now: int) -> BoolArray:
        """Open alerts whose silence reached its expiry; their escalation clock restarts then.

        A silence belongs to the patient x condition cell, so it also covers an alert raised
        again in that cell before it expires; one that expires while the cell is closed just
        ends, with no event.
        """
        expired = (self.silenced_until != NEVER) & (self.silenced_until <= now)
        done: BoolArray = self.open & expired
        self.notified_at = np.where(
            done, np.maximum(self.notified_at, self.silenced_until), self.notified_at
        )
        self.silenced_until = np.where(expired, NEVER, self.silenced_until)
        return done

    def unlatch(self, on: BoolArray) -> BoolArray:
        done = self.latched & on
        self.latched &= ~done
        return done

    def latch(self, holding: BoolArray) -> BoolArray:
        done = holding & ~self.latched
        self.latched |= done
        return done

    def track(self, on: BoolArray, now: int) -> None:
        self.active_since = np.where(
            on, np.where(self.active_since == NEVER, now, self.active_since), NEVER
        )
        self.inactive_since = np.where(
            on, NEVER, np.where(self.inactive_since == NEVER, now, self.inactive_since)
        )

    def due_to_resolve(
        self, on: BoolArray, now: int, policy: AlertPolicy
    ) -> tuple[BoolArray, BoolArray]:
        """Cells that resolve now, and cells that would but are held (latched) instead."""
        due: BoolArray = (
            self.open & ~on & elapsed_at_least(self.inactive_since, now, policy.resolve_after_ns)
        )
        if policy.latch_priority is None:
            return due, np.zeros_like(due)
        held = due & ~self.acknowledged & (self.priority >= policy.latch_priority)
        return due & ~held, held

    def close(self, done: BoolArray) -> None:
        self.open &= ~done
        self.raised_at = np.where(done, NEVER, self.raised_at)
        self.priority = np.where(done, _CLOSED, self.priority).astype(np.int8)
        self.worst = np.where(done, _CLOSED, self.worst).astype(np.int8)
        self.level = np.where(done, 0, self.level).astype(np.int8)
        self.acknowledged &= ~done
        self.notified_at = np.where(done, NEVER, self.notified_at)
        self.latched &= ~done

    def raise_(
        self, on: BoolArray, level_in: Int8Array, now: int, policy: AlertPolicy
    ) -> BoolArray:
        done = ~self.open & on & elapsed_at_least(self.active_since, now, policy.raise_after_ns)
        self.open |= done
        self.raised_at = np.where(done, now, self.raised_at)
        self.priority = np.where(done, level_in, self.priority).astype(np.int8)
        self.worst = np.where(done, level_in, self.worst).astype(np.int8)
        self.level = np.where(done, 0, self.level).astype(np.int8)
        self.acknowledged &= ~done
        self.notified_at = np.where(done, now, self.notified_at)
        return done

    def worsen(self, on: BoolArray, level_in: Int8Array, now: int) -> BoolArray:
        done = self.open & on & (level_in > self.worst)
        self.worst = np.where(done, level_in, self.worst).astype(np.int8)
        self.priority = np.where(done, np.maximum(self.priority, level_in), self.priority).astype(
            np.int8
        )
        self.acknowledged &= ~done
        self.notified_at = np.where(done, now, self.notified_at)
        self.silenced_until = np.where(done, NEVER, self.silenced_until)
        return done

    def escalate(self, on: BoolArray, now: int, policy: AlertPolicy) -> BoolArray:
        clock = np.maximum(self.notified_at, self.silenced_until)
        wait = policy.escalate_after_ns[np.clip(self.priority, LOW, CRITICAL)]
        done = (
            self.open
            & on
            & ~self.acknowledged
            & ~(self.silenced_until > now)
            & (self.level < policy.max_level)
            & policy.escalating[None, :]
            & elapsed_at_least(clock, now, wait)
        )
        self.level = np.where(done, self.level + 1, self.level).astype(np.int8)
        self.priority = np.where(done, np.minimum(self.priority + 1, CRITICAL), self.priority)
        self.priority = self.priority.astype(np.int8)
        self.notified_at = np.where(done, now, self.notified_at)
        return done


class _Log:
    """Collects one tick's events, reading each alert's values at the moment of its event."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.parts: list[tuple[AlertEventKind, IntArray, IntArray, _Snapshot]] = []

    def add(self, kind: AlertEventKind, cells: _Cells, mask: BoolArray) -> None:
        rows, cols = np.nonzero(mask)
        snapshot = _Snapshot(
            raised_at=cells.raised_at[rows, cols],
            priority=cells.priority[rows, cols],
            level=cells.level[rows, cols],
            silenced=cells.silenced_until[rows, cols] > self.now,
        )
        self.parts.append((kind, rows.astype(np.int64), cols.astype(np.int64), snapshot))

    def events(self) -> AlertEvents:
        return AlertEvents(
            kind=np.concatenate(
                [np.full(rows.shape[0], kind.value) for kind, rows, _, _ in self.parts]
            ).astype(np.str_),
            patient=np.concatenate([rows for _, rows, _, _ in self.parts]),
            condition=np.concatenate([cols for _, _, cols, _ in self.parts]),
            at=self.now,
            raised_at=np.concatenate([snap.raised_at for *_, snap in self.parts]),
            priority=np.concatenate([snap.priority for *_, snap in self.parts]),
            level=np.concatenate([snap.level for *_, snap in self.parts]),
            silenced=np.concatenate([snap.silenced for *_, snap in self.parts]),
        )


@dataclass(frozen=True)
class _Snapshot:
    raised_at: IntArray
    priority: Int8Array
    level: Int8Array
    silenced: BoolArray
