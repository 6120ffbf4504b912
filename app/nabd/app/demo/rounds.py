"""A nurse at the demo's beds: the admission round, then a round every few simulated hours.

NEWS2 (RCP 2017, Chart 1) has seven parameters; two of them, consciousness (ACVPU) and air or
supplemental oxygen, no wearable measures: a nurse assesses and records them, and on most wards
she counts the respiratory rate too. Both rounds use the same audited action as ``nabd nurse
record`` (``nabd.analytics.service.actions.record_entries``), and record what the simulated
patients are (none is sedated or on oxygen in the simulation): alert ("A") and room air.

* **Admission round** (:func:`admission_round`): before the ward plays, by the demo's
  ``--nurse``, valid for the run. With the GHS respiration sensor's respiratory rate and the
  other devices, NEWS2 can then be complete; as soon as a device's value goes stale, the score
  says so again.
* **Rounds** (:class:`NurseRounds`, issue 20 item 2): every ``round_hours`` simulated hours
  from the first played instant, a simulated nurse (:data:`ROUND_NURSE`) re-assesses ACVPU and
  air and counts each bed's respiratory rate (the simulated patient's, from the same simulation
  the devices play, its newest sample at that instant, to the whole breath). NEWS2 scores the
  count while it is the freshest rate (until the GHS sensor's next reading). Each entry holds
  until a little after the next round is due (:data:`SLACK_S`). A round is planned in simulated
  time and played on the wall clock like everything else (``WardPlan.to_wall``): at x60 with
  4-hour rounds, one round every 4 wall minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import psycopg

from nabd.analytics.service import actions
from nabd.analytics.service.errors import MonitorError
from nabd.app.demo.plan import WardPlan
from nabd.app.demo.timeline import sample_times
from nabd.simulators.ward import Ward

__all__ = [
    "ADMISSION_ENTRIES",
    "ROUND_NURSE",
    "SLACK_S",
    "NurseRounds",
    "Round",
    "admission_round",
    "plan_rounds",
]

ADMISSION_ENTRIES: Final = {"consciousness": "A", "supplemental_oxygen": "air"}
_MARGIN_S: Final = 600.0
"""Beyond the planned play: startup and the orderly stop."""

ROUND_NURSE: Final = "demo-round-nurse"
"""Who the simulated nurse is in ``nurse_entry.entered_by`` and the audit log."""
SLACK_S: Final = 30.0
"""Wall seconds an entry outlives the next round's due time (the round takes a moment)."""


def admission_round(url: str, plan: WardPlan, nurse: str) -> int:
    """Record :data:`ADMISSION_ENTRIES` for every bed by ``nurse``; returns the beds done."""
    valid_for_s = min(actions.MAX_ENTRY_S, plan.play_s + _MARGIN_S)
    with psycopg.connect(url, autocommit=True) as conn:
        for bed in plan.beds:
            actions.record_entries(
                conn, bed.patient_id, ADMISSION_ENTRIES, valid_for_s=valid_for_s, nurse=nurse
            )
    return len(plan.beds)


@dataclass(frozen=True)
class Round:
    """One round: when (wall clock) and what is recorded for each bed (by patient id)."""

    wall_at: float
    entries: Mapping[str, Mapping[str, str]]


def plan_rounds(plan: WardPlan, ward: Ward, round_hours: float) -> tuple[Round, ...]:
    """The rounds of the played window, every ``round_hours`` simulated hours from its first
    played instant (none when ``round_hours`` is 0)."""
    if round_hours <= 0:
        return ()
    first = plan.sim_start + plan.lead_in_s * plan.speed
    times = np.arange(first, plan.sim_end, round_hours * 3600.0)
    if times.size == 0:
        return ()
    series = ward.simulate(sample_times(plan))  # the physiology the devices play
    rates = series.values["respiration_rate"]
    columns = np.maximum(np.searchsorted(series.times, times, side="right") - 1, 0)
    rounds = []
    for column, at in zip(columns.tolist(), times.tolist(), strict=True):
        entries: dict[str, dict[str, str]] = {}
        for bed in plan.beds:
            counted = float(rates[series.row(bed.sim_patient_id), column])
            found = dict(ADMISSION_ENTRIES)
            if np.isfinite(counted):
                low, high = actions.COUNTED_RATE
                found["respiration_rate"] = str(int(np.clip(round(counted), low, high)))
            entries[bed.patient_id] = found
        rounds.append(Round(wall_at=plan.to_wall(at), entries=entries))
    return tuple(rounds)


@dataclass
class NurseRounds:
    """Plays the planned rounds when their time comes (:meth:`step`, called every second)."""

    rounds: tuple[Round, ...]
    valid_for_s: float
    """Wall seconds each entry holds: the interval between rounds plus :data:`SLACK_S`."""
    done: int = 0
    recorded: int = 0
    """Entries written so far."""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, plan: WardPlan, ward: Ward, round_hours: float) -> NurseRounds:
        interval_s = round_hours * 3600.0 / plan.speed
        valid = min(interval_s + SLACK_S, actions.MAX_ENTRY_S)
        return cls(plan_rounds(plan, ward, round_hours), valid)

    def step(self, url: str, now: float) -> str:
        """Record the round that is due at ``now`` (epoch s), if any; return a line for the
        view ('' when nothing was due)."""
        if self.done >= len(self.rounds) or self.rounds[self.done].wall_at > now:
            return ""
        due = self.rounds[self.done]
        self.done += 1
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                for patient, entries in due.entries.items():
                    self._record(conn, patient, entries)
        except psycopg.Error as error:
            self.problems.append(f"round {self.done}: {error}")
            return f"nurse round {self.done} failed: {error}"
        return f"nurse round {self.done}: ACVPU, air and a counted RR for {len(due.entries)} beds"

    def _record(
        self, conn: psycopg.Connection[Any], patient: str, entries: Mapping[str, str]
    ) -> None:
        try:
            actions.record_entries(
                conn, patient, entries, valid_for_s=self.valid_for_s, nurse=ROUND_NURSE
            )
        except MonitorError as error:  # a bed discharged meanwhile: say so, go on
            self.problems.append(f"round {self.done}, {patient}: {error}")
            return
        self.recorded += len(entries)

    def line(self) -> str:
        """What the rounds did, for the end of the demo."""
        text = (
            f"demo: nurse rounds: {self.done} of {len(self.rounds)} played, {self.recorded} "
            f"entries by {ROUND_NURSE} (each valid {self.valid_for_s:g} s)"
        )
        return text + "".join(f"\n  {p}" for p in self.problems)
