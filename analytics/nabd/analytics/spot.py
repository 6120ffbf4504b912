"""Spot measurements at home: the shared shape, local days, escalation and alert episodes.

A patient at home measures a few times a day (scale, cuff, glucometer, oximeter), so the home
rules judge **each reading as it arrives**, not a 1-s stream. They take the same
:class:`~nabd.analytics.ring.Window` the ward detectors read (``(patients, columns)``, oldest to
newest, right-aligned, ``valid`` marking real readings), so the service can feed them its ring
buffers; :func:`window_of` builds one from flat readings (evaluation, tests, a database query).

Every home rule returns a **level per reading** (``int8``, same shape as the window): 0 no
finding, then :data:`LEVELS` (1 low ... 4 critical, the contract's alert priorities). A level
uses only that reading and earlier ones (never a later reading), so judging a month at once
gives exactly what judging each reading on arrival would: the rules are causal, and a test
checks it.

* :func:`escalate` raises a reading's level one step when the previous reading of the same
  patient, no longer than ``within_s`` before, breached too: "a repeated out-of-range reading
  escalates" (issue 21). One step only, capped at critical.
* :func:`episodes` turns levels into alert events as the alert lifecycle would see them: raised
  at the first breaching reading, worsened when a later reading of the episode breaches more
  than any before it, resolved at the first reading that does not breach (a normal reading is
  the recovery of a spot measurement; a missing one is not).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import NS_PER_S, BoolArray, Int8Array, IntArray
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer, Window

__all__ = [
    "DAY_NS",
    "LEVELS",
    "Episodes",
    "episodes",
    "escalate",
    "first_of_day",
    "local_day",
    "per_plan",
    "window_of",
]

LEVELS: Final = ("low", "medium", "high", "critical")
"""Level ``k`` (1-based) is the contract's AlertPriority ``LEVELS[k - 1]``."""
LOW, MEDIUM, HIGH, CRITICAL = 1, 2, 3, 4
LimitsT = TypeVar("LimitsT")
ScalarT = TypeVar("ScalarT", bound=np.generic)
DAY_NS: Final = 86_400 * NS_PER_S


def per_plan(cls: type[LimitsT], sections: Sequence[object]) -> LimitsT:
    """A limits dataclass from one plan section per patient: each field an array of the
    sections' attribute of the same name (``int64`` for ``IntArray`` fields, else ``float64``
    with None as NaN: "not set" disables that comparison)."""
    columns: dict[str, npt.NDArray[Any]] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        values = [getattr(section, item.name) for section in sections]
        if "IntArray" in str(item.type):
            columns[item.name] = np.array(values, dtype=np.int64)
        else:
            columns[item.name] = np.array([np.nan if v is None else v for v in values], np.float64)
    return cls(**columns)


def window_of(
    patients: int, row: npt.ArrayLike, time: npt.ArrayLike, value: npt.ArrayLike
) -> Window:
    """Flat readings (patient row, int64 ns, value), in any order, as one right-aligned window.

    Readings of a patient with equal times keep the first (a re-sent reading is one reading).
    """
    rows = np.asarray(row, dtype=np.int64)
    counts = np.bincount(rows, minlength=patients) if rows.size else np.zeros(patients, np.int64)
    ring = RingBuffer(patients, max(int(counts.max(initial=0)), 1))
    ring.push(rows, time, value)
    return ring.window()


def local_day(window: Window, utc_offset_s: npt.ArrayLike) -> IntArray:
    """Each reading's local calendar day (days since 1970-01-01 local), -1 where not valid.

    ``utc_offset_s`` is one offset per patient (seconds east of UTC), fixed over the window:
    the shell takes it from the plan's time zone (a daylight-saving change inside the window
    shifts that day's readings by an hour).
    """
    offset = np.asarray(utc_offset_s, dtype=np.int64).reshape(-1, 1) * NS_PER_S
    day = np.floor_divide(window.times + offset, DAY_NS)
    return np.where(window.valid, day, -1)


def first_of_day(window: Window, day: IntArray) -> BoolArray:
    """The first valid reading of each patient's local day (the morning weight)."""
    previous = np.where(_has_previous(window.valid), _previous(day, window.valid), -1)
    result: BoolArray = window.valid & (day != previous)
    return result


def escalate(level: Int8Array, window: Window, within_s: npt.ArrayLike) -> Int8Array:
    """One step more where the previous valid reading, at most ``within_s`` earlier (one value
    or one per patient), breached too; capped at critical."""
    within = np.asarray(within_s, dtype=np.float64).reshape(-1, 1)
    if not np.isfinite(within).all() or (within < 0).any():
        raise AnalyticsInputError("within_s", "must be finite durations >= 0 s")
    valid = window.valid
    prev_level = _previous(np.where(valid, level, 0), valid)
    prev_time = _previous(window.times, valid)
    close = window.times - prev_time <= np.round(within * NS_PER_S).astype(np.int64)
    repeat = valid & (level > 0) & _has_previous(valid) & (prev_level > 0) & close
    result: Int8Array = np.minimum(level + repeat.astype(np.int8), CRITICAL).astype(np.int8)
    return result


@dataclass(frozen=True)
class Episodes:
    """Alert events from per-reading levels, flat and in (row, time) order."""

    row: IntArray
    time: IntArray
    level: Int8Array
    """The episode's level after the event (0 for a resolution)."""
    kind: npt.NDArray[np.str_]
    """``raised``, ``worsened`` or ``resolved`` (the alert lifecycle's event kinds)."""


def episodes(level: Int8Array, window: Window) -> Episodes:
    """Raise, worsen and resolve events from ``level`` over ``window``'s valid readings."""
    if level.shape != window.valid.shape:
        raise AnalyticsInputError("level", f"shape {level.shape} is not {window.valid.shape}")
    valid = window.valid
    lv = np.where(valid, level, 0).astype(np.int64)
    rows = level.shape[0]
    # Invalid columns neither open nor close an episode: "previous" is the previous valid one.
    was_on = _has_previous(valid) & (_previous(lv, valid) > 0)
    started = (lv > 0) & ~was_on
    episode = np.cumsum(started, axis=1)
    key = np.where(lv > 0, episode * 8 + lv, episode * 8)
    peak = np.maximum.accumulate(key, axis=1) - episode * 8
    raised = started
    worsened = (lv > 0) & ~started & (lv > _previous(peak, valid))
    resolved = valid & (lv == 0) & was_on
    kinds = np.full(level.shape, "", dtype="<U8")
    kinds[raised], kinds[worsened], kinds[resolved] = "raised", "worsened", "resolved"
    r, c = np.nonzero(kinds != "")
    return Episodes(
        row=np.arange(rows)[r].astype(np.int64),
        time=window.times[r, c],
        level=np.where(resolved, 0, peak)[r, c].astype(np.int8),
        kind=kinds[r, c],
    )


def _previous_column(valid: BoolArray) -> IntArray:
    """Per column, the row's previous valid column (-1: none before it)."""
    cols = np.arange(valid.shape[1])
    last_valid = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    first = np.full((valid.shape[0], min(1, valid.shape[1])), -1)
    result: IntArray = np.concatenate([first, last_valid[:, :-1]], axis=1)
    return result


def _has_previous(valid: BoolArray) -> BoolArray:
    result: BoolArray = _previous_column(valid) >= 0
    return result


def _previous(values: npt.NDArray[ScalarT], valid: BoolArray) -> npt.NDArray[ScalarT]:
    """``values`` at the previous valid column of each row (the column's own value where
    there is none: mask with :func:`_has_previous`)."""
    previous = _previous_column(valid)
    own = np.arange(valid.shape[1])[None, :]
    return np.take_along_axis(values, np.where(previous >= 0, previous, own), axis=1)
