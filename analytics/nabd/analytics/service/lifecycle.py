"""Every patient's alerts: the core's lifecycle state, alert identities and nurses' actions.

:class:`AlertBook` keeps the scoring core's :class:`~nabd.analytics.alerts.AlertState` for all
``(patients, conditions)`` cells in writable master arrays and steps only the block of rows
and conditions where something is going on (a condition active or recently active, an alert
open, a silence, a nurse's action): on a ward almost every row is quiet, a busy row is busy
with one or two conditions, and stepping a quiet cell changes nothing that matters (it is
closed and stays closed), so the tick costs what the busy cells cost. The block is gathered,
stepped with :func:`nabd.analytics.alerts.step` (under the policy of its conditions) and
scattered back, all vectorised.

It also gives each alert its identity (a UUID, the ``alert.id`` and the contract's ``alert_id``)
when it is raised, maps nurses' actions (which name an alert id) to cells, and restores open
alerts from the database when the service starts, so a restart neither duplicates nor loses an
alert (a latched one included).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from nabd.analytics.alerts import (
    PRIORITIES,
    Actions,
    AlertEventKind,
    AlertEvents,
    AlertPolicy,
    AlertState,
    step,
)
from nabd.analytics.arrays import NEVER, BoolArray, IntArray, flat_view, pad_rows
from nabd.analytics.service.errors import MonitorInputError
from nabd.contract.payloads import AlertPriority

__all__ = ["AlertBook", "NurseAction", "OpenAlert", "Transition"]

_FIELDS = tuple(AlertState.__dataclass_fields__)
_POLICIES_KEPT = 256
_CLEARS: Final = frozenset({AlertEventKind.RESOLVED, AlertEventKind.LATCHED})
"""The events of a condition that has cleared (their transitions carry when it did)."""


@dataclass(frozen=True)
class NurseAction:
    """An acknowledgement or silence a nurse recorded (``alert_action``), not yet applied."""

    action_id: int
    alert_id: uuid.UUID
    action: Literal["acknowledge", "silence"]
    actor: str
    silence_until: int = NEVER


@dataclass(frozen=True)
class OpenAlert:
    """An alert row that is not resolved, as the service restores it at start."""

    alert_id: uuid.UUID
    row: int
    column: int
    raised_at: int
    priority: int
    condition_priority: int
    level: int
    acknowledged: bool
    notified_at: int
    silenced_until: int
    latched: bool
    silenced_by: str | None = None


@dataclass(frozen=True)
class Transition:
    """One event of one alert, with what the store writes and publishes.

    ``priority``, ``level`` and ``silenced`` are the alert's values at the event; the others are
    its values after the whole tick.
    """

    kind: AlertEventKind
    alert_id: uuid.UUID
    row: int
    column: int
    condition: str
    at: int
    raised_at: int
    priority: AlertPriority
    level: int
    silenced: bool
    condition_priority: AlertPriority
    silenced_until: int
    notified_at: int
    actions: tuple[NurseAction, ...] = ()
    """The nurses' actions that caused an ``acknowledged`` or ``silenced`` event."""
    silenced_by: str | None = None
    """Who set the silence in force after the tick (a silence belongs to the cell, so an alert
    raised again before it expires inherits it)."""
    reason: str | None = None
    """Why an alert was closed by someone else than the service (``discharged``): the database
    already resolved and audited it, so the store only publishes it."""
    cleared_at: int = NEVER
    """For ``resolved`` and ``latched``: when the condition became inactive (the first tick it
    was off; NEVER: unknown, or closed by someone else). The event itself comes later, after
    the ``resolve_after_s`` hold-down or a nurse's acknowledgement: a silence alert says how
    long the silence lasted up to this moment, not up to the event (the store)."""


class AlertBook:
    """The alert lifecycle of every patient x condition cell."""

    def __init__(self, policy: AlertPolicy, patients: int = 0) -> None:
        self.policy = policy
        initial = AlertState.initial(patients, len(policy.conditions))
        self._cells = {name: getattr(initial, name).copy() for name in _FIELDS}
        self._ids: dict[tuple[int, int], uuid.UUID] = {}
        self._where: dict[uuid.UUID, tuple[int, int]] = {}
        self._silencer: dict[tuple[int, int], str] = {}
        self._open_rows = np.zeros(patients, dtype=np.int64)
        """Open alerts per row (kept with the ids, so finding busy rows scans no cells)."""
        self._was_active = np.zeros(patients, dtype=np.bool_)
        """Rows with a condition active at the last step: their clocks must be reset."""
        conditions = len(policy.conditions)
        self._open_cols = np.zeros(conditions, dtype=np.int64)
        self._was_active_cols = np.zeros(conditions, dtype=np.bool_)
        self._silenced: set[tuple[int, int]] = set()
        """Cells whose ``silenced_until`` is set (an expired one is reset by a step)."""
        self._policies: dict[tuple[int, ...], AlertPolicy] = {}

    @property
    def patients(self) -> int:
        return int(self._cells["open"].shape[0])

    @property
    def state(self) -> AlertState:
        """A read-only copy of the whole state."""
        return AlertState(**{name: value.copy() for name, value in self._cells.items()})

    @property
    def open_count(self) -> int:
        return len(self._ids)

    def alert_id(self, row: int, column: int) -> uuid.UUID | None:
        return self._ids.get((row, column))

    def cell(self, alert_id: uuid.UUID) -> tuple[int, int] | None:
        return self._where.get(alert_id)

    def grow(self, patients: int) -> None:
        """Room for newly admitted patients (no alerts)."""
        fresh = AlertState.initial(1, len(self.policy.conditions))
        for name in _FIELDS:
            self._cells[name] = pad_rows(self._cells[name], patients, getattr(fresh, name)[0, 0])
        self._open_rows = pad_rows(self._open_rows, patients, 0)
        self._was_active = pad_rows(self._was_active, patients, False)

    def restore(self, alerts: Iterable[OpenAlert]) -> None:
        """Reopen alerts read back from the database (service start)."""
        for alert in alerts:
            cell = (alert.row, alert.column)
            if cell in self._ids:
                raise MonitorInputError(f"two open alerts for one cell: {alert.alert_id}")
            values = {
                "open": True,
                "raised_at": alert.raised_at,
                "priority": alert.priority,
                "worst": alert.condition_priority,
                "level": alert.level,
                "acknowledged": alert.acknowledged,
                "notified_at": alert.notified_at,
                "silenced_until": alert.silenced_until,
                "latched": alert.latched,
            }
            for name, value in values.items():
                self._cells[name][cell] = value
            self._ids[cell] = alert.alert_id
            self._where[alert.alert_id] = cell
            self._open_rows[alert.row] += 1
            self._open_cols[alert.column] += 1
            if alert.silenced_until != NEVER:
                self._silenced.add(cell)
            if alert.silenced_by is not None:
                self._silencer[cell] = alert.silenced_by

    def forget_rows(self, rows: Iterable[int]) -> int:
        """Drop every open alert of ``rows`` from memory, writing and publishing nothing (their
        ward went to another worker, which restores them from the database); return how many."""
        return len(self.close_rows(rows, NEVER, "handed over"))

    def close_rows(self, rows: Iterable[int], now: int, reason: str) -> list[Transition]:
        """Close every open alert of ``rows`` at once, without stepping the core (the patient
        was discharged: the database has resolved the alerts already, migration 0032); return
        their ``resolved`` transitions, with ``reason``, for the store to publish."""
        out = []
        initial = AlertState.initial(1, 1)
        wanted = set(rows)
        for cell in sorted(c for c in self._ids if c[0] in wanted):
            alert_id = self._ids.pop(cell)
            del self._where[alert_id]
            self._open_rows[cell[0]] -= 1
            self._open_cols[cell[1]] -= 1
            self._silenced.discard(cell)
            self._silencer.pop(cell, None)
            out.append(
                Transition(
                    kind=AlertEventKind.RESOLVED,
                    alert_id=alert_id,
                    row=cell[0],
                    column=cell[1],
                    condition=self.policy.conditions[cell[1]],
                    at=now,
                    raised_at=int(self._cells["raised_at"][cell]),
                    priority=PRIORITIES[int(self._cells["priority"][cell])],
                    level=int(self._cells["level"][cell]),
                    silenced=False,
                    condition_priority=PRIORITIES[max(int(self._cells["worst"][cell]), 0)],
                    silenced_until=NEVER,
                    notified_at=int(self._cells["notified_at"][cell]),
                    reason=reason,
                )
            )
            for name in _FIELDS:
                self._cells[name][cell] = getattr(initial, name)[0, 0]
        return out

    def step(
        self,
        now: int,
        active: BoolArray,
        priority: npt.NDArray[np.int8],
        actions: Sequence[NurseAction] = (),
    ) -> list[Transition]:
        """Advance every cell to ``now``; return the tick's transitions in event order.

        ``active`` and ``priority`` have shape ``(patients, conditions)``. Actions on alerts
        that are no longer open are ignored (the alert resolved before the click arrived).
        """
        shape = self._cells["open"].shape
        if active.shape != shape or priority.shape != shape:
            raise MonitorInputError(f"active and priority must have shape {shape}")
        placed = [(a, self._where[a.alert_id]) for a in actions if a.alert_id in self._where]
        rows, cols = self._busy(active, placed)
        found: list[Transition] = []
        if rows.size and cols.size:
            flat = (rows[:, None] * shape[1] + cols).reshape(-1)
            block = (rows.shape[0], cols.shape[0])
            sub = AlertState(
                **{n: flat_view(v)[flat].reshape(block) for n, v in self._cells.items()}
            )
            new, events = step(
                sub,
                self._policy_of(cols),
                now,
                active=active[rows][:, cols],
                priority=priority[rows][:, cols],
                actions=self._actions(rows, cols, placed),
            )
            for name in _FIELDS:
                flat_view(self._cells[name])[flat] = getattr(new, name).reshape(-1)
            found = self._transitions(rows, cols, events, placed)
        self._forget_ended_silences(placed)
        return found + self._expired_silences(now, found, placed)

    def _busy(
        self, active: BoolArray, placed: list[tuple[NurseAction, tuple[int, int]]]
    ) -> tuple[IntArray, IntArray]:
        """The rows and the conditions with something going on: a condition active now or at
        the last step (its clocks must be reset), an alert open, a silence set, a nurse's
        action. Every other cell is closed and quiet, and stepping it would change nothing;
        a busy row is usually busy with one or two conditions."""
        any_active = _any_per_row(active)
        active_cols: BoolArray = np.asarray(active.any(axis=0))
        busy = any_active | (self._open_rows > 0) | self._was_active
        going = active_cols | (self._open_cols > 0) | self._was_active_cols
        for row, column in [*(cell for _, cell in placed), *self._silenced]:
            busy[row] = going[column] = True
        self._was_active, self._was_active_cols = any_active, active_cols
        return np.flatnonzero(busy), np.flatnonzero(going)

    def _forget_ended_silences(self, placed: list[tuple[NurseAction, tuple[int, int]]]) -> None:
        """Keep :attr:`_silenced` to the cells whose silence is set (few: nurses set them)."""
        until = self._cells["silenced_until"]
        cells = {*self._silenced, *(cell for a, cell in placed if a.action == "silence")}
        self._silenced = {cell for cell in cells if until[cell] != NEVER}

    def _policy_of(self, cols: IntArray) -> AlertPolicy:
        """The policy of the conditions ``cols`` (kept: a ward has few distinct busy sets)."""
        key = tuple(cols.tolist())
        policy = self._policies.get(key)
        if policy is None:
            if len(self._policies) >= _POLICIES_KEPT:
                self._policies.clear()
            policy = self._policies[key] = self.policy.restricted(key)
        return policy

    def _expired_silences(
        self,
        now: int,
        found: list[Transition],
        placed: list[tuple[NurseAction, tuple[int, int]]],
    ) -> list[Transition]:
        """Silences that began and ended between two ticks (their end had passed when they
        were applied): the core ignores them, but the nurse's action already set the row's
        ``silenced_until``, so the end is a transition of its own."""
        silenced = {(t.row, t.column) for t in found if t.kind is AlertEventKind.SILENCED}
        out = []
        for action, cell in placed:
            if (
                action.action != "silence"
                or action.silence_until > now
                or cell in silenced
                or cell not in self._ids
            ):
                continue
            silenced.add(cell)
            out.append(
                Transition(
                    kind=AlertEventKind.SILENCE_ENDED,
                    alert_id=self._ids[cell],
                    row=cell[0],
                    column=cell[1],
                    condition=self.policy.conditions[cell[1]],
                    at=now,
                    raised_at=int(self._cells["raised_at"][cell]),
                    priority=PRIORITIES[int(self._cells["priority"][cell])],
                    level=int(self._cells["level"][cell]),
                    silenced=False,
                    condition_priority=PRIORITIES[max(int(self._cells["worst"][cell]), 0)],
                    silenced_until=int(self._cells["silenced_until"][cell]),
                    notified_at=int(self._cells["notified_at"][cell]),
                    actions=(action,),
                )
            )
        return out

    def _actions(
        self, rows: IntArray, cols: IntArray, placed: list[tuple[NurseAction, tuple[int, int]]]
    ) -> Actions:
        todo = Actions.none(rows.shape[0], cols.shape[0])
        acknowledge = todo.acknowledge.copy()
        until = todo.silence_until.copy()
        for action, (row, column) in placed:
            at = int(np.searchsorted(rows, row)), int(np.searchsorted(cols, column))
            if action.action == "acknowledge":
                acknowledge[at] = True
            else:
                until[at] = max(int(until[at]), action.silence_until)
        return Actions(acknowledge=acknowledge, silence_until=until)

    def _transitions(
        self,
        rows: IntArray,
        cols: IntArray,
        events: AlertEvents,
        placed: list[tuple[NurseAction, tuple[int, int]]],
    ) -> list[Transition]:
        out = []
        for i in range(len(events)):
            kind = AlertEventKind(str(events.kind[i]))
            cell = (int(rows[events.patient[i]]), int(cols[events.condition[i]]))
            if kind is AlertEventKind.RAISED:
                self._ids[cell] = uuid.uuid4()
                self._where[self._ids[cell]] = cell
                self._open_rows[cell[0]] += 1
                self._open_cols[cell[1]] += 1
            alert_id = self._ids[cell]
            if kind is AlertEventKind.RESOLVED:
                del self._ids[cell], self._where[alert_id]
                self._open_rows[cell[0]] -= 1
                self._open_cols[cell[1]] -= 1
            wanted = {
                AlertEventKind.ACKNOWLEDGED: "acknowledge",
                AlertEventKind.SILENCED: "silence",
            }.get(kind)
            mine = tuple(a for a, c in placed if c == cell and a.action == wanted)
            if kind is AlertEventKind.SILENCED:
                self._silencer[cell] = max(mine, key=lambda a: a.silence_until).actor
            silenced_until = int(self._cells["silenced_until"][cell])
            out.append(
                Transition(
                    kind=kind,
                    alert_id=alert_id,
                    row=cell[0],
                    column=cell[1],
                    condition=self.policy.conditions[cell[1]],
                    at=events.at,
                    raised_at=int(events.raised_at[i]),
                    priority=PRIORITIES[int(events.priority[i])],
                    level=int(events.level[i]),
                    silenced=bool(events.silenced[i]),
                    condition_priority=PRIORITIES[max(int(self._cells["worst"][cell]), 0)],
                    silenced_until=silenced_until,
                    notified_at=int(self._cells["notified_at"][cell]),
                    actions=mine,
                    silenced_by=self._silencer.get(cell) if silenced_until != NEVER else None,
                    cleared_at=(
                        int(self._cells["inactive_since"][cell]) if kind in _CLEARS else NEVER
                    ),
                )
            )
        return out


def _any_per_row(mask: BoolArray) -> BoolArray:
    """``mask.any(axis=1)``, eight cells at a time when the rows allow it (several times
    faster on a ward of 100 000 patients: it runs on every tick)."""
    if mask.flags.c_contiguous and mask.shape[1] % 8 == 0 and mask.shape[1]:
        words = mask.view(np.uint64)
        result: BoolArray = np.asarray((words != 0).any(axis=1))
        return result
    if mask.flags.f_contiguous:  # one OR per column, each contiguous (the engine's layout)
        result = np.zeros(mask.shape[0], dtype=np.bool_)
        for i in range(mask.shape[1]):
            result |= mask[:, i]
        return result
    found: BoolArray = np.asarray(mask.any(axis=1))
    return found
