"""Persistence and hysteresis for any yes/no condition, for every patient at once.

A raw threshold test flickers: a heart rate hovering at the limit crosses it every few seconds,
and a single artefact crosses it once. Alarm standards and practice answer both with the same two
devices, applied here in one place so every detector behaves alike:

* **persistence** (alarm condition delay): the condition must hold continuously for
  ``persist_ns`` before the latch turns on;
* **hysteresis**: once on, the latch turns off only after the evidence of *recovery* (a stricter
  test than "not breaching", e.g. back past the limit by a margin) has held continuously for
  ``clear_ns``.

Each tick supplies, per patient, ``breach`` and ``recovered`` (mutually exclusive; both False when
the value is missing or inside the hysteresis band). A missing value is evidence of neither: it
resets a pending (not yet fired) breach clock, because firing needs continuous evidence, and it
never clears an active latch, because an absent value is not a recovery. Missing data is a
technical condition of its own (``nabd.analytics.technical``).

Most conditions have two sides, a value too high and too low: :class:`TwoSidedLatch` holds one
:class:`Latch` per side and steps both from one signal and its four thresholds, the same way for
hard limits (``nabd.analytics.limits``), the patient's own baseline (``baseline``) and trends
(``trend``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    NEVER,
    BoolArray,
    FloatArray,
    IntArray,
    elapsed_at_least,
    pad_rows,
)

__all__ = ["Latch", "TwoSidedLatch"]


@dataclass(frozen=True)
class Latch:
    """Latch state per patient (arrays of shape ``(patients,)``), carried from tick to tick.

    ``breach_since`` is when the current unbroken run of breaches began (NEVER outside one);
    ``recovered_since`` the same for recovery while active. ``fired`` and ``cleared`` say what
    the last :meth:`step` did, so a caller can see the exact tick of each transition.
    """

    active: BoolArray
    breach_since: IntArray
    recovered_since: IntArray
    fired: BoolArray
    cleared: BoolArray

    @classmethod
    def initial(cls, patients: int) -> Latch:
        """Every latch off, no clock running."""
        return cls(
            active=np.zeros(patients, dtype=np.bool_),
            breach_since=np.full(patients, NEVER, dtype=np.int64),
            recovered_since=np.full(patients, NEVER, dtype=np.int64),
            fired=np.zeros(patients, dtype=np.bool_),
            cleared=np.zeros(patients, dtype=np.bool_),
        )

    def grow(self, patients: int) -> Latch:
        """The same latches with new (off) patients appended, for admissions."""
        return Latch(
            active=pad_rows(self.active, patients, fill=False),
            breach_since=pad_rows(self.breach_since, patients, fill=NEVER),
            recovered_since=pad_rows(self.recovered_since, patients, fill=NEVER),
            fired=pad_rows(self.fired, patients, fill=False),
            cleared=pad_rows(self.cleared, patients, fill=False),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> Latch:
        """The latches of some patients only (a cohort judged at this tick), as a new Latch."""
        return Latch(
            active=self.active[rows],
            breach_since=self.breach_since[rows],
            recovered_since=self.recovered_since[rows],
            fired=self.fired[rows],
            cleared=self.cleared[rows],
        )

    def put(self, rows: npt.NDArray[np.int64], part: Latch) -> Latch:
        """These latches with ``rows`` replaced by ``part`` (a stepped :meth:`take`).

        The other patients keep their state as it was, ``fired`` and ``cleared`` included: they
        were not judged.
        """
        arrays = []
        for name in ("active", "breach_since", "recovered_since", "fired", "cleared"):
            whole = getattr(self, name).copy()
            whole[rows] = getattr(part, name)
            arrays.append(whole)
        return Latch(*arrays)

    def step(
        self,
        now: int,
        breach: BoolArray,
        recovered: BoolArray,
        persist_ns: npt.ArrayLike,
        clear_ns: npt.ArrayLike,
    ) -> Latch:
        """The latch after one tick at ``now`` (durations: scalars or one per patient)."""
        breach_since = np.where(
            breach, np.where(self.breach_since == NEVER, now, self.breach_since), NEVER
        )
        fire = ~self.active & breach & elapsed_at_least(breach_since, now, persist_ns)
        active = self.active | fire
        recovering = active & recovered
        recovered_since = np.where(
            recovering, np.where(self.recovered_since == NEVER, now, self.recovered_since), NEVER
        )
        clear = recovering & elapsed_at_least(recovered_since, now, clear_ns)
        return Latch(
            active=active & ~clear,
            breach_since=breach_since,
            recovered_since=np.where(clear, NEVER, recovered_since),
            fired=fire,
            cleared=clear,
        )


@dataclass(frozen=True)
class TwoSidedLatch:
    """A signal's "too low" and "too high" latches for every patient, stepped together.

    A detector's state class derives from this one and adds its ``step`` (what its signal and
    thresholds are); ``low`` and ``high`` are its two latches, so a cohort can be cut out of it
    field by field (``nabd.analytics.service.cohorts``).
    """

    low: Latch
    high: Latch

    @classmethod
    def initial(cls, patients: int) -> Self:
        """Both sides off for every patient."""
        return cls(low=Latch.initial(patients), high=Latch.initial(patients))

    def grow(self, patients: int) -> Self:
        """Room for new (quiet) patients, for admissions."""
        return dataclasses.replace(self, low=self.low.grow(patients), high=self.high.grow(patients))

    @property
    def active(self) -> BoolArray:
        """Either side currently firing."""
        result: BoolArray = self.low.active | self.high.active
        return result

    def step_sides(
        self,
        now: int,
        value: FloatArray,
        known: BoolArray,
        *,
        low: tuple[npt.ArrayLike, npt.ArrayLike],
        high: tuple[npt.ArrayLike, npt.ArrayLike],
        persist_ns: npt.ArrayLike,
        clear_ns: npt.ArrayLike,
    ) -> Self:
        """Both latches after one tick at ``now``; ``value`` counts only where ``known``.

        ``low = (fire, recover)``: the low side breaches at ``value <= fire`` and recovers at
        ``value > recover``; ``high = (fire, recover)``: breach at ``value >= fire``, recovery at
        ``value < recover`` (scalars or one per patient). Where the value is not known it is
        evidence of neither.
        """
        seen = np.where(known, value, 0.0)
        return dataclasses.replace(
            self,
            low=self.low.step(
                now, known & (seen <= low[0]), known & (seen > low[1]), persist_ns, clear_ns
            ),
            high=self.high.step(
                now, known & (seen >= high[0]), known & (seen < high[1]), persist_ns, clear_ns
            ),
        )
