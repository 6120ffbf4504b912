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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import NEVER, BoolArray, IntArray, elapsed_at_least, pad_rows

__all__ = ["Latch"]


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
