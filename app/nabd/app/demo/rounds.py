"""The admission round: a nurse's NEWS2 entries for every bed before the ward starts playing.

NEWS2 (RCP 2017, Chart 1) has seven parameters; two of them, consciousness (ACVPU) and air or
supplemental oxygen, no wearable measures: a nurse assesses and records them. The demo records,
for each bed, what the simulated patients are (none is sedated or on oxygen in the simulation):
alert ("A") and room air, through the same audited action as ``nabd nurse record``, valid for the
run. With the GHS respiration sensor's respiratory rate and the other devices, NEWS2 can then be
complete; as soon as a device's value goes stale, the score says so again.
"""

from __future__ import annotations

from typing import Final

import psycopg

from nabd.analytics.service.actions import MAX_ENTRY_S, record_entries
from nabd.app.demo.plan import WardPlan

__all__ = ["ADMISSION_ENTRIES", "admission_round"]

ADMISSION_ENTRIES: Final = {"consciousness": "A", "supplemental_oxygen": "air"}
_MARGIN_S: Final = 600.0
"""Beyond the planned play: startup and the orderly stop."""


def admission_round(url: str, plan: WardPlan, nurse: str) -> int:
    """Record :data:`ADMISSION_ENTRIES` for every bed by ``nurse``; returns the beds done."""
    valid_for_s = min(MAX_ENTRY_S, plan.play_s + _MARGIN_S)
    with psycopg.connect(url, autocommit=True) as conn:
        for bed in plan.beds:
            record_entries(
                conn, bed.patient_id, ADMISSION_ENTRIES, valid_for_s=valid_for_s, nurse=nurse
            )
    return len(plan.beds)
