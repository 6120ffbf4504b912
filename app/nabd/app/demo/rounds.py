"""A nurse's rounds in the demo: what no BLE device on the demo's beds measures.

NEWS2 needs a respiratory rate, the level of consciousness (ACVPU) and whether the patient
breathes air or oxygen (RCP NEWS2, 2017); the demo's devices send none of them, so without a
nurse every bed's score is incomplete. A simulated nurse (:data:`ROUND_NURSE`) goes round every
``round_hours`` simulated hours, from the first played instant: for each bed she counts the
respiratory rate (the simulated patient's, from the same simulation the devices play, at the
newest sample of that instant, to the whole breath),
records ACVPU ``A`` and ``air`` (the simulators model neither consciousness nor oxygen therapy,
so every patient is alert and on room air), with ``nabd.analytics.service.actions.record_entries``
as ``nabd nurse record`` does (audited, with her name). Each entry holds until a little after the
next round is due (:data:`SLACK_S`), so the score never lapses between rounds.

The round is planned in simulated time and played on the wall clock like everything else
(``WardPlan.to_wall``): at x60 with 4-hour rounds, one round every 4 wall minutes.
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

__all__ = ["ROUND_NURSE", "SLACK_S", "NurseRounds", "Round", "plan_rounds"]

ROUND_NURSE: Final = "demo-round-nurse"
"""Who the simulated nurse is in ``nurse_entry.entered_by`` and the audit log."""
SLACK_S: Final = 30.0
"""Wall seconds an entry outlives the next round's due time (the round takes a moment)."""


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
            found = {"consciousness": "A", "supplemental_oxygen": "air"}
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
