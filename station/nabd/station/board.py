"""What the ward board and the patient page show, read in the user's scope.

One query per page for the whole ward (no per-patient round trips): the latest value of each
vital with its time, the latest NEWS2 score, and open alerts, most urgent first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import psycopg

__all__ = ["VITALS", "AlertLine", "BedRow", "Vital", "ward_board"]

Conn = psycopg.Connection[Any]

VITALS: Final = (
    "heart_rate",
    "spo2",
    "respiration_rate",
    "body_temperature",
    "systolic_bp",
    "diastolic_bp",
)
"""The columns of the board, as catalogue keys (blood pressure shown as systolic/diastolic)."""

PRIORITY_ORDER: Final = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Vital:
    value: float | None
    at: datetime


@dataclass(frozen=True)
class AlertLine:
    alert_id: str
    condition: str
    priority: str
    state: str
    message: str
    raised_at: datetime
    acknowledged_by: str | None
    silenced_until: datetime | None


@dataclass
class BedRow:
    """One patient's line on the board."""

    patient_id: str
    ward_id: str
    bed_id: str | None
    display_name: str
    vitals: dict[str, Vital] = field(default_factory=dict)
    news2_total: int | None = None
    news2_risk: str | None = None
    news2_complete: bool = False
    news2_at: datetime | None = None
    alerts: list[AlertLine] = field(default_factory=list)

    @property
    def top_priority(self) -> str | None:
        """The most urgent priority among raised alerts (what the row's colour and cue follow)."""
        raised = [a.priority for a in self.alerts if a.state == "raised"]
        return min(raised, key=PRIORITY_ORDER.index) if raised else None


def ward_board(conn: Conn, *, patient: str | None = None) -> list[BedRow]:
    """Admitted patients the current role may see (or one of them), with vitals, NEWS2, alerts."""
    rows = {
        r[0]: BedRow(r[0], r[1], r[2], r[0])
        for r in conn.execute(
            """SELECT id, ward_id, bed_id FROM patient
               WHERE discharged_at IS NULL AND (%(p)s::text IS NULL OR id = %(p)s)
               ORDER BY ward_id, bed_id NULLS LAST, id""",
            {"p": patient},
        ).fetchall()
    }
    if not rows:
        return []
    ids = list(rows)
    for pid, key, value, at in conn.execute(
        """SELECT l.patient_id, m.key, l.value, l.time FROM observation_latest l
           JOIN metric m ON m.id = l.metric_id
           WHERE l.patient_id = ANY(%s) AND m.key = ANY(%s)""",
        (ids, list(VITALS)),
    ).fetchall():
        rows[pid].vitals[key] = Vital(value, at)
    for pid, total, risk, complete, at in conn.execute(
        """SELECT DISTINCT ON (patient_id) patient_id, total, risk, complete, time
           FROM nabd_ward.news2_score WHERE patient_id = ANY(%s)
             AND time > now() - interval '1 day'
           ORDER BY patient_id, time DESC""",
        (ids,),
    ).fetchall():
        row = rows[pid]
        row.news2_total, row.news2_risk = total, risk
        row.news2_complete, row.news2_at = complete, at
    for r in conn.execute(
        """SELECT patient_id, id::text, condition, priority, state, message, raised_at,
                  acknowledged_by, silenced_until
           FROM alert WHERE patient_id = ANY(%s) AND state <> 'resolved'
           ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low'], priority),
                    raised_at DESC""",
        (ids,),
    ).fetchall():
        rows[r[0]].alerts.append(AlertLine(*r[1:]))
    return list(rows.values())


def with_names(conn: Conn, rows: list[BedRow]) -> None:
    """Put each patient's name in place of her pseudonym (only for users allowed identity;
    run as the station, whose clinical grant reads the identity schema)."""
    if not rows:
        return
    for pid, given, family in conn.execute(
        """SELECT patient_id, given_name, family_name FROM identity.patient_identity
           WHERE patient_id = ANY(%s)""",
        ([r.patient_id for r in rows],),
    ).fetchall():
        for row in rows:
            if row.patient_id == pid:
                row.display_name = f"{given} {family}"
