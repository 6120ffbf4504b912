"""Nurses' side of the alert lifecycle: list, acknowledge, silence (``nabd alerts``); their NEWS2
entries and a patient's NEWS2 SpO2 scale (``nabd nurse``).

An action on an alert is one transaction that takes the alert lock
(:data:`~nabd.analytics.service.store.ALERT_LOCK`, the analytics service holds it while it writes a
tick), changes the alert row, records the action in ``alert_action`` for the service to apply to
its lifecycle state at its next tick, appends an ``audit_log`` entry naming the nurse (the log's
trigger stamps the time), and notifies ``nabd_alerts``. The row is therefore right at once,
whether or not the service is running.

Rules (the same as the scoring core's): only an alert in state ``raised`` can be acknowledged
(an acknowledged one has been seen; a worsened one is ``raised`` again); any open alert can be
silenced, for at most :data:`MAX_SILENCE_S`, and a silence can only be extended, not shortened.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeAlias, cast

import psycopg

from nabd.analytics.service.errors import AlertActionError, MonitorInputError, Why
from nabd.analytics.service.store import ALERT_LOCK, ALERTS_CHANNEL

__all__ = [
    "COUNTED_RATE",
    "ENTRY_VALUES",
    "MANUAL_RANGES",
    "MAX_ENTRY_S",
    "MAX_SILENCE_S",
    "AlertRow",
    "ManualRange",
    "acknowledge",
    "blood_pressure_problem",
    "check_admitted",
    "check_nurse",
    "list_alerts",
    "record_entries",
    "record_entry",
    "set_news2_scale",
    "silence",
]

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]

MAX_SILENCE_S: Final = 3600.0
"""A silence longer than an hour is a switched-off alarm, not a pause."""

MAX_ENTRY_S: Final = 24 * 3600.0
"""An observation older than a day says nothing about the patient now (NEWS2 asks for them
at least 12-hourly)."""

_COLUMNS: Final = """a.id, a.patient_id, p.ward_id, a.condition, a.kind, a.priority, a.state,
    a.escalation_level, a.latched, a.raised_at, a.acknowledged_by, a.silenced_until, a.message"""


@dataclass(frozen=True)
class AlertRow:
    """One alert as a nurse sees it."""

    alert_id: uuid.UUID
    patient_id: str
    ward_id: str
    condition: str
    kind: str
    priority: str
    state: str
    escalation_level: int
    latched: bool
    raised_at: datetime
    acknowledged_by: str | None
    silenced_until: datetime | None
    message: str


def check_nurse(name: str, *, who: str = "nurse") -> str:
    """A nurse's (or another clinician's) name as recorded: 1-100 characters, not blank."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= 100:
        raise MonitorInputError(f"the {who}'s name must be 1 to 100 characters")
    return cleaned


_ADMITTED: Final = "SELECT news2_scale2, discharged_at FROM patient WHERE id = %s"
_ADMITTED_LOCKED: Final = _ADMITTED + " FOR NO KEY UPDATE"


def check_admitted(conn: Conn, patient_id: str, *, lock: bool = False) -> bool:
    """Raise :class:`MonitorInputError` unless ``patient_id`` is admitted (known and not
    discharged): nothing clinical is recorded for anyone else (the database refuses it too,
    migration 0032). ``lock`` keeps the patient's row locked until the transaction ends (so a
    discharge waits for it); returns the patient's NEWS2 Scale 2 flag."""
    row = conn.execute(_ADMITTED_LOCKED if lock else _ADMITTED, (patient_id,)).fetchone()
    if row is None:
        raise MonitorInputError(f"no patient {patient_id!r}: unknown to the registry")
    if row[1] is not None:
        raise MonitorInputError(
            f"patient {patient_id!r} was discharged at {row[1]:%Y-%m-%d %H:%M}: "
            "nothing more is recorded for them"
        )
    return bool(row[0])


def list_alerts(
    conn: Conn,
    *,
    ward: str | None = None,
    patient: str | None = None,
    include_resolved: bool = False,
    limit: int = 200,
) -> list[AlertRow]:
    """Open alerts (or all), most urgent first."""
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM alert a JOIN patient p ON p.id = a.patient_id
            WHERE (%(ward)s::text IS NULL OR p.ward_id = %(ward)s)
              AND (%(patient)s::text IS NULL OR a.patient_id = %(patient)s)
              AND (%(all)s OR a.state <> 'resolved')
            ORDER BY (a.state = 'raised') DESC,
                     array_position(ARRAY['critical', 'high', 'medium', 'low'], a.priority),
                     a.raised_at DESC
            LIMIT %(limit)s""",  # noqa: S608 - only the column list is interpolated
        {"ward": ward, "patient": patient, "all": include_resolved, "limit": limit},
    ).fetchall()
    return [AlertRow(*row) for row in rows]


def acknowledge(conn: Conn, alert_id: uuid.UUID, nurse: str) -> AlertRow:
    """Acknowledge a raised alert as ``nurse``; audited."""
    who = check_nurse(nurse)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERT_LOCK,))
        current = _current(conn, alert_id)
        if current.state != "raised":
            raise AlertActionError(f"alert {alert_id} is {current.state}: nothing to acknowledge",
                                   Why.ALERT_STATE, state=current.state)  # fmt: skip
        conn.execute(
            """UPDATE alert SET state = 'acknowledged', acknowledged_at = now(),
                   acknowledged_by = %s, updated_at = now() WHERE id = %s""",
            (who, alert_id),
        )
        conn.execute(
            "INSERT INTO alert_action (alert_id, action, actor) VALUES (%s, 'acknowledge', %s)",
            (alert_id, who),
        )
        _audit(conn, who, "alert_acknowledged", current, {})
        conn.execute("SELECT pg_notify(%s, %s)", (ALERTS_CHANNEL, f"acknowledged:{alert_id}"))
        return _current(conn, alert_id)


def silence(
    conn: Conn, alert_id: uuid.UUID, nurse: str, seconds: float, *, reason: str | None = None
) -> AlertRow:
    """Silence an open alert for ``seconds`` (at most an hour) as ``nurse``; audited, with the
    nurse's ``reason`` when she gives one (the nurse station asks for it)."""
    who = check_nurse(nurse)
    if reason is not None and not 1 <= len(reason.strip()) <= 200:
        raise MonitorInputError("a silence's reason must be 1 to 200 characters")
    if not 0 < seconds <= MAX_SILENCE_S:
        raise MonitorInputError(f"a silence lasts more than 0 and at most {MAX_SILENCE_S:g} s")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERT_LOCK,))
        current = _current(conn, alert_id)
        if current.state == "resolved":
            raise AlertActionError(f"alert {alert_id} is resolved: nothing to silence",
                                   Why.ALERT_STATE, state="resolved")  # fmt: skip
        row = conn.execute(
            """UPDATE alert SET silenced_until = now() + %s, silenced_by = %s, updated_at = now()
               WHERE id = %s AND (silenced_until IS NULL OR silenced_until < now() + %s)
               RETURNING silenced_until""",
            (timedelta(seconds=seconds), who, alert_id, timedelta(seconds=seconds)),
        ).fetchone()
        if row is None:
            raise AlertActionError(f"alert {alert_id} is already silenced for longer",
                                   Why.ALREADY_SILENCED)  # fmt: skip
        conn.execute(
            """INSERT INTO alert_action (alert_id, action, actor, silence_until)
               VALUES (%s, 'silence', %s, %s)""",
            (alert_id, who, row[0]),
        )
        extra = {"until": row[0].isoformat()} | ({"reason": reason.strip()} if reason else {})
        _audit(conn, who, "alert_silenced", current, extra)
        conn.execute("SELECT pg_notify(%s, %s)", (ALERTS_CHANNEL, f"silenced:{alert_id}"))
        return _current(conn, alert_id)


ENTRY_VALUES: Final = {
    "consciousness": ("A", "C", "V", "P", "U"),
    "supplemental_oxygen": ("air", "oxygen"),
}
"""What a nurse may record for each NEWS2 parameter the devices cannot measure."""

COUNTED_RATE: Final = (0, 150)
"""A nurse's counted respiratory rate: whole breaths/min in the catalogue's range (0012)."""


@dataclass(frozen=True)
class ManualRange:
    """What a nurse may enter for a measured parameter: ``low``..``high`` in ``unit``, with at
    most ``decimals`` decimals. A plausibility range that stops typos (a SpO2 of 9, a
    temperature of 375), not an alarm limit: a value in range but abnormal is exactly what
    NEWS2 must score."""

    low: float
    high: float
    unit: str
    decimals: int = 0

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not an entry in this range (None: it is)."""
        whole, _, fraction = value.partition(".")
        shaped = (
            value.isascii()
            and whole.isdigit()
            and (not fraction or (fraction.isdigit() and len(fraction) <= self.decimals))
            and not value.endswith(".")
        )
        if shaped and self.low <= float(value) <= self.high:
            return None
        kind = (
            "a whole number"
            if self.decimals == 0
            else f"a number with at most {self.decimals} decimal"
        )
        return f"{kind} of {self.unit} from {self.low:g} to {self.high:g}"

    def canonical(self, value: str) -> str:
        """An accepted value as stored: no leading zero, a fixed number of decimals."""
        return f"{float(value):.{self.decimals}f}"


MANUAL_RANGES: Final = {
    "respiration_rate": ManualRange(*COUNTED_RATE, "breaths/min"),
    "spo2": ManualRange(50, 100, "%"),
    "pulse_rate": ManualRange(20, 250, "beats/min"),
    "systolic_bp": ManualRange(40, 300, "mmHg"),
    "diastolic_bp": ManualRange(20, 200, "mmHg"),
    "body_temperature": ManualRange(25, 45, "°C", decimals=1),
}
"""The parameters a nurse measures at the bedside and may enter (catalogue keys), with their
plausibility ranges: a local policy (docs/analytics.md), checked again by the database
(migrations 0033, 0034). SpO2 below 50 % is outside what a pulse oximeter reads reliably (ISO
80601-2-61 asks for stated accuracy over 70-100 %); the others are wider than any adult value
a ward sees, so only a typo is refused."""


def _entry_problem(parameter: str, value: str) -> str | None:
    """Why ``value`` cannot be recorded for ``parameter`` (None: it can)."""
    measured = MANUAL_RANGES.get(parameter)
    if measured is not None:
        return measured.problem(value)
    allowed = ENTRY_VALUES.get(parameter)
    if allowed is None:
        known = (*ENTRY_VALUES, *MANUAL_RANGES)
        return f"not something a nurse records here (one of {', '.join(known)})"
    return None if value in allowed else f"not one of {', '.join(allowed)}"


def blood_pressure_problem(entries: Mapping[str, str]) -> str | None:
    """A blood pressure is systolic and diastolic together, the systolic the higher."""
    systolic, diastolic = entries.get("systolic_bp"), entries.get("diastolic_bp")
    if (systolic is None) != (diastolic is None):
        return "blood pressure: give both the systolic and the diastolic pressure"
    if systolic is not None and diastolic is not None and float(diastolic) >= float(systolic):
        return f"blood pressure {systolic}/{diastolic}: the systolic must be above the diastolic"
    return None


def record_entry(
    conn: Conn,
    patient_id: str,
    parameter: str,
    value: str,
    *,
    valid_for_s: float,
    nurse: str,
    observed_at: datetime | None = None,
) -> int:
    """Record a nurse's NEWS2 entry (consciousness 'A'..'U', oxygen 'air'/'oxygen', or a
    measured value in :data:`MANUAL_RANGES`, e.g. a counted respiratory rate '0'..'150')."""
    return record_entries(
        conn,
        patient_id,
        {parameter: value},
        valid_for_s=valid_for_s,
        nurse=nurse,
        observed_at=observed_at,
    )[0]


def record_entries(
    conn: Conn,
    patient_id: str,
    entries: Mapping[str, str],
    *,
    valid_for_s: float,
    nurse: str,
    observed_at: datetime | None = None,
) -> list[int]:
    """Record several entries of one observation in one transaction, each audited.

    The service reads entries in force at its next registry refresh, so the next NEWS2 uses
    them; an entry stops counting at ``valid_until`` (the score becomes incomplete again, never
    assumed normal).
    """
    who = check_nurse(nurse)
    if not entries:
        raise MonitorInputError(
            "nothing to record: give a consciousness level, oxygen, a respiratory rate or a"
            " measured SpO2, pulse, blood pressure or temperature"
        )
    if not 0 < valid_for_s <= MAX_ENTRY_S:
        raise MonitorInputError(f"an entry is valid for more than 0 and at most {MAX_ENTRY_S:g} s")
    for parameter, value in entries.items():
        problem = _entry_problem(parameter, value)
        if problem is not None:
            raise MonitorInputError(f"{parameter}: {value!r}: {problem}")
    pair = blood_pressure_problem(entries)
    if pair is not None:
        raise MonitorInputError(pair)
    entries = {k: MANUAL_RANGES[k].canonical(v) if k in MANUAL_RANGES else v
               for k, v in entries.items()}  # fmt: skip
    ids = []
    try:
        with conn.transaction():
            check_admitted(conn, patient_id, lock=True)
            for parameter, value in entries.items():
                ids.append(_insert_entry(conn, patient_id, parameter, value, valid_for_s, who,
                                         observed_at))  # fmt: skip
    except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation) as exc:
        raise MonitorInputError(f"nurse entry refused: {exc.diag.message_primary}") from exc
    return ids


def _insert_entry(  # noqa: PLR0917 - private; one row's columns
    conn: Conn,
    patient_id: str,
    parameter: str,
    value: str,
    valid_for_s: float,
    who: str,
    observed_at: datetime | None,
) -> int:
    row = conn.execute(
        """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,
                                    entered_by)
           SELECT %(p)s, %(k)s, %(v)s, t, t + %(d)s, %(who)s
           FROM (SELECT coalesce(%(at)s::timestamptz, now()) AS t) s
           RETURNING id, valid_until""",
        {
            "p": patient_id,
            "k": parameter,
            "v": value,
            "at": observed_at,
            "d": timedelta(seconds=valid_for_s),
            "who": who,
        },
    ).fetchone()
    assert row is not None
    details = {"entry_id": row[0], "parameter": parameter, "value": value,
               "valid_until": row[1].isoformat()}  # fmt: skip
    conn.execute(
        "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s::jsonb)",
        (who, "nurse_entry_recorded", f"patient:{patient_id}", json.dumps(details)),
    )
    return int(row[0])


def set_news2_scale(conn: Conn, patient_id: str, scale2: bool, *, clinician: str) -> bool:
    """Score an admitted patient's SpO2 on NEWS2 Scale 2 (``True``) or Scale 1; audited.

    Scale 2 is for confirmed hypercapnic respiratory failure with a prescribed 88-92 % target,
    decided by a competent clinical decision-maker (RCP NEWS2, 2017): the caller's business, not
    something this function can check. Returns whether the scale changed; setting the scale the
    patient already has writes nothing (no audit entry). The ``patient`` table's triggers
    (migration 0031) stamp the time and append the ``news2_scale_change`` audit entry naming
    ``clinician`` in the same transaction. The service reads the flag at its next registry
    refresh. An unknown or discharged patient raises :class:`MonitorInputError`.
    """
    who = check_nurse(clinician, who="clinician")
    if not isinstance(cast(object, scale2), bool):  # an untyped caller's 0/1/None: no guess
        raise MonitorInputError(f"scale2 must be True or False, not {scale2!r}")
    with conn.transaction():
        if check_admitted(conn, patient_id, lock=True) == scale2:
            return False
        # clock_timestamp(), not now(): set_at must differ from the row's even when the scale is
        # changed twice in one transaction, or the trigger would record the login instead.
        conn.execute(
            """UPDATE patient SET news2_scale2 = %s, news2_scale_set_by = %s,
                   news2_scale_set_at = clock_timestamp()
               WHERE id = %s""",
            (scale2, who, patient_id),
        )
        return True


def _current(conn: Conn, alert_id: uuid.UUID) -> AlertRow:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM alert a JOIN patient p ON p.id = a.patient_id WHERE a.id = %s",  # noqa: S608
        (alert_id,),
    ).fetchone()
    if row is None:
        raise AlertActionError(f"no alert {alert_id}", Why.NO_ALERT)
    return AlertRow(*row)


def _audit(conn: Conn, who: str, action: str, alert: AlertRow, extra: dict[str, Any]) -> None:
    details = {
        "patient_id": alert.patient_id,
        "condition": alert.condition,
        "priority": alert.priority,
        "state_before": alert.state,
        **extra,
    }
    conn.execute(
        "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s::jsonb)",
        (who, action, f"alert:{alert.alert_id}", json.dumps(details)),
    )
