"""What the ward board and the patient page show, read in the user's scope.

One query per page for the whole ward (no per-patient round trips): the latest value of each
vital with its time, the latest NEWS2 score, and open alerts, most urgent first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import psycopg
from pydantic import ValidationError

from nabd.analytics.news2 import MISSING, PARAMETERS
from nabd.contract.alert_text import render
from nabd.contract.payloads import AlertFacts

__all__ = ["NEWS2_PARAMETER_PHRASES", "VITALS", "AlertLine", "BedRow", "Vital", "ward_board"]

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

_MANUAL_COLUMN: Final = {"pulse_rate": "heart_rate"}
"""A pulse a nurse measured is shown in the pulse column (NEWS2 scores either as pulse)."""

PRIORITY_ORDER: Final = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Vital:
    value: float | None
    at: datetime
    entered_by: str | None = None
    """The nurse who measured and entered it (a manual entry, ``nabd nurse record`` or the
    observations form); None: a device's reading."""


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
    facts: dict[str, Any] | None = None
    """What raised it, as stored by analytics (migration 0105); None for older alerts."""

    def text(self, lang: str) -> str:
        """The alert in the reader's language, from its facts; else the stored message."""
        if self.facts is None:
            return self.message
        try:
            said = AlertFacts.model_validate(self.facts, strict=False)
        except ValidationError:
            return self.message
        return render(said, lang)


NEWS2_PARAMETER_PHRASES: Final[Mapping[str, str]] = {
    "respiration_rate": "news2_respiration",
    "spo2": "news2_spo2",
    "air_or_oxygen": "news2_oxygen",
    "systolic_bp": "news2_bp",
    "heart_rate": "news2_pulse",
    "consciousness": "news2_consciousness",
    "temperature": "news2_temperature",
}
"""Each NEWS2 parameter's label (a phrase key of :mod:`nabd.station.i18n`), to say what an
incomplete score lacks (RCP NEWS2 2017: an incomplete score is not the patient's NEWS2)."""

_NEWS2_SQL: Final = """
SELECT DISTINCT ON (patient_id) patient_id, total, risk, complete, time,
       respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate, consciousness, temperature
FROM nabd_ward.news2_score WHERE patient_id = ANY(%s) AND time > now() - interval '1 day'
ORDER BY patient_id, time DESC"""
"""The newest score of each patient, its sub-scores in chart order (``PARAMETERS``)."""


_MANUAL_SQL: Final = """
SELECT DISTINCT ON (patient_id, parameter) patient_id, parameter, value::float8, observed_at,
       entered_by
FROM nurse_entry
WHERE patient_id = ANY(%s) AND parameter = ANY(%s)
  AND valid_until > now() AND observed_at <= now()
ORDER BY patient_id, parameter, observed_at DESC, id DESC"""
"""Each patient's values in force that a nurse measured (migrations 0033, 0034), with who."""


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
    news2_missing: tuple[str, ...] = ()
    """Phrase keys (:data:`NEWS2_PARAMETER_PHRASES`) of the parameters the newest score lacks."""
    alerts: list[AlertLine] = field(default_factory=list)
    monitored: bool = True
    """Whether the consent rule allows collecting her readings now (:mod:`.consent`)."""
    withdrawn_at: datetime | None = None
    """When she withdrew, if that is why she is not monitored."""

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
    manual: dict[tuple[str, str], Vital] = {
        (pid, _MANUAL_COLUMN.get(key, key)): Vital(value, at, entered_by=nurse)
        for pid, key, value, at, nurse in conn.execute(
            _MANUAL_SQL, (ids, [*VITALS, *_MANUAL_COLUMN])
        )
    }
    for (pid, key), entry in manual.items():
        device = rows[pid].vitals.get(key)
        if key == "diastolic_bp":  # goes with its systolic (one measurement), below
            continue
        if device is None or device.at < entry.at:  # the freshest one, as NEWS2 scores it
            rows[pid].vitals[key] = entry
            if key == "systolic_bp":
                rows[pid].vitals.pop("diastolic_bp", None)
                if (pid, "diastolic_bp") in manual:
                    rows[pid].vitals["diastolic_bp"] = manual[pid, "diastolic_bp"]
    for pid, total, risk, complete, at, *subs in conn.execute(_NEWS2_SQL, (ids,)).fetchall():
        row = rows[pid]
        row.news2_total, row.news2_risk = total, risk  # None, None: no parameter, no score
        row.news2_complete, row.news2_at = complete, at
        row.news2_missing = tuple(
            NEWS2_PARAMETER_PHRASES[name]
            for name, sub in zip(PARAMETERS, subs, strict=True)
            if sub == MISSING
        )
    for r in conn.execute(
        """SELECT patient_id, id::text, condition, priority, state, message, raised_at,
                  acknowledged_by, silenced_until, facts
           FROM alert WHERE patient_id = ANY(%s) AND state <> 'resolved'
           ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low'], priority),
                    raised_at DESC""",
        (ids,),
    ).fetchall():
        rows[r[0]].alerts.append(AlertLine(*r[1:]))
    return list(rows.values())


def with_names(conn: Conn, rows: list[BedRow], *, reader: str, what: str) -> None:
    """Put each patient's name in place of her pseudonym (only for users allowed identity;
    run as the station, whose clinical grant may call the identity reader). The database
    records each name shown as an access by ``reader`` (``identity.read_identities``,
    migration 0085) in this same transaction."""
    if not rows:
        return
    for pid, given, family in conn.execute(
        """SELECT patient_id, given_name, family_name
           FROM identity.read_identities(%s, 'station', %s, %s)""",
        ([r.patient_id for r in rows], reader, what),
    ).fetchall():
        for row in rows:
            if row.patient_id == pid:
                row.display_name = f"{given} {family}"
