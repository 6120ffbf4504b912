"""Spreading a detector group's work over ticks: patients in cohorts, judged in turn.

A detector group (the window detectors, the per-minute ones) judges each patient every
``every_s``. Judging the whole ward at once makes one tick in every ``every_s`` as long as the
group takes for everyone: at 100 000 patients, seconds, during which no alert is raised. With
``cohorts`` = k the patients are split by row (``row % k``); a run is due every ``every_s / k``
and judges the cohorts whose turn has come (several if ticks were slower than that), so each
patient is still judged every ``every_s``, and each run costs about 1/k of the whole. With
k = 1 (the default) everyone is judged at every run, exactly as without cohorts.

What changes with k > 1 is only *when* a patient is judged within the period (its cohort's
phase), never how: each detector's result for a patient depends on that patient's data and
state only, which the tests check (a cohort stepped at an instant equals everyone stepped then).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from nabd.analytics.arrays import NEVER, NS_PER_S, IntArray, seconds_to_ns
from nabd.analytics.latch import Latch

__all__ = ["Cadence", "cohort_step"]

_SLACK_NS = NS_PER_S // 100
"""A tick 10 ms early still counts (ticks are scheduled, not exact)."""

StateT = TypeVar("StateT")


class Cadence:
    """When a group runs and which patients each run judges."""

    def __init__(self, every_s: float, cohorts: int) -> None:
        self.cohorts = cohorts
        self.period_ns = seconds_to_ns(every_s / cohorts)
        self.last = NEVER
        self._turn = 0

    def due(self, now: int, patients: int) -> tuple[bool, IntArray | None]:
        """Whether to run at ``now``, and on which rows (None: all of them); advances the turn.

        The first run judges everyone; later runs the cohorts whose turn came since the last.
        """
        if self.last != NEVER and now - self.last < self.period_ns - _SLACK_NS:
            return False, None
        first = self.last == NEVER
        runs = 1 if first else (now - self.last + _SLACK_NS) // self.period_ns
        self.last = now
        if self.cohorts == 1 or first or runs >= self.cohorts:
            return True, None
        turns = (self._turn + np.arange(runs)) % self.cohorts
        self._turn = int((self._turn + runs) % self.cohorts)
        rows = np.flatnonzero(np.isin(np.arange(patients) % self.cohorts, turns))
        return True, rows.astype(np.int64)


def cohort_step(state: StateT, rows: IntArray | None, step: Callable[[StateT], StateT]) -> StateT:
    """``step(state)`` for the patients ``rows`` only, the others' latches untouched.

    ``state`` is a frozen dataclass whose fields are all :class:`Latch` (``AfState``,
    ``BaselineState``, ``TrendState``): each is cut to the cohort, stepped, and put back.
    """
    if rows is None:
        return step(state)
    names = [f.name for f in dataclasses.fields(state)]  # type: ignore[arg-type]
    latches: dict[str, Latch] = {name: getattr(state, name) for name in names}
    part = type(state)(**{name: latch.take(rows) for name, latch in latches.items()})
    done = step(part)
    merged: dict[str, Any] = {
        name: latch.put(rows, getattr(done, name)) for name, latch in latches.items()
    }
    return type(state)(**merged)
