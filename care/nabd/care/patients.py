"""Admissions: ``nabd patient admit|list|show|transfer|discharge``.

A patient row is one admission under a random pseudonymous id; the person's MRN, name and birth
date go to ``identity.patient_identity`` in the same transaction and nowhere else (the audit
log, which other roles read, records the ward and bed, never the identity). Listings show
identity only when a ``reader`` is named: it is read through ``identity.read_identities``, which
records the access (migration 0085, ``nabd privacy access-log``). An MRN is admitted
once at a time: the check runs under a per-MRN lock, so two desks admitting the same person at
the same moment get one admission and one clear refusal.

Discharge sets ``patient.discharged_at`` and ends the patient's device assignments (their
devices then stream for nobody: ingest keeps such readings apart); the database closes the
patient's open alerts with reason ``discharged`` on that update (migration 0032).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from nabd.care.errors import AlreadyAdmitted, BedOccupied, Conflict, Discharged, Unknown, Why
from nabd.care.registry import require_bed
from nabd.care.store import Conn, audit, lock, operation
from nabd.care.values import Admission, new_patient_id, parse_actor, parse_bed, parse_id

__all__ = [
    "Discharge",
    "Patient",
    "admit",
    "admit_in_transaction",
    "discharge",
    "list_patients",
    "lock_patient",
    "require_admitted",
    "show_patient",
    "transfer",
]


@dataclass(frozen=True)
class Patient:
    """One admission as the care tools show it (identity included: they may read it)."""

    id: str
    ward_id: str
    bed_id: str | None
    admitted_at: datetime
    discharged_at: datetime | None
    mrn: str | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    devices: tuple[str, ...] = ()
    """Devices assigned now."""
    open_alerts: int = 0

    @property
    def name(self) -> str:
        return " ".join(n for n in (self.given_name, self.family_name) if n) or "(no identity)"


@dataclass(frozen=True)
class Discharge:
    patient_id: str
    at: datetime
    changed: bool
    """``False``: the patient had been discharged already (nothing written)."""
    devices: tuple[str, ...] = ()
    """Devices whose assignment this discharge ended."""


_SELECT = """SELECT p.id, p.ward_id, p.bed_id, p.admitted_at, p.discharged_at,
                    coalesce((SELECT array_agg(a.device_id ORDER BY a.device_id)
                              FROM device_assignment a
                              WHERE a.patient_id = p.id AND upper_inf(a.valid)), '{}'),
                    (SELECT count(*) FROM alert al
                     WHERE al.patient_id = p.id AND al.state <> 'resolved')
             FROM patient p"""


def _patients(
    conn: Conn, rows: list[tuple[Any, ...]], reader: str | None, what: str
) -> list[Patient]:
    """Rows of ``_SELECT`` as patients, with identity read (and recorded) for ``reader``."""
    people: dict[str, tuple[Any, ...]] = {}
    if reader is not None and rows:
        people = {
            str(r[0]): r[1:]
            for r in conn.execute(
                """SELECT patient_id, mrn, given_name, family_name, birth_date
                   FROM identity.read_identities(%s, 'cli', %s, %s)""",
                ([row[0] for row in rows], parse_actor(reader), what),
            ).fetchall()
        }
    found = []
    for pid, ward, bed, admitted, discharged, devices, alerts in rows:
        mrn, given, family, born = people.get(str(pid), (None, None, None, None))
        found.append(Patient(pid, ward, bed, admitted, discharged, mrn, given, family, born,
                             devices=tuple(devices), open_alerts=int(alerts)))  # fmt: skip
    return found


def admit(conn: Conn, admission: Admission, *, by: str, patient_id: str | None = None) -> str:
    """Admit a person to a bed; returns the new pseudonymous patient id.

    ``patient_id`` is for a system that makes its own pseudonyms (the demo's tie its plan
    together); by default a random one is made.
    """
    actor = parse_actor(by)
    pid = None if patient_id is None else parse_id("patient", patient_id)
    with operation(conn, f"admitting MRN {admission.mrn}"):
        return admit_in_transaction(conn, admission, actor, pid)


def admit_in_transaction(
    conn: Conn, a: Admission, actor: str, patient_id: str | None = None
) -> str:
    """:func:`admit` inside the caller's transaction (a bulk import's); values checked."""
    lock(conn, f"mrn:{a.mrn}")
    current = conn.execute(
        """SELECT p.id, p.ward_id, p.bed_id, p.admitted_at FROM patient p
           WHERE p.id = identity.admitted_with_mrn(%s)""",
        (a.mrn,),
    ).fetchone()
    if current is not None:
        raise AlreadyAdmitted(
            f"MRN {a.mrn} is already admitted as patient {current[0]} (ward {current[1]}, "
            f"bed {current[2] or '-'}, since {current[3]:%Y-%m-%d %H:%M}): transfer or "
            "discharge that admission instead of admitting again",
            Why.MRN_ADMITTED, mrn=a.mrn, patient=str(current[0]), ward=str(current[1]),
            bed=current[2], since=current[3],
        )  # fmt: skip
    require_bed(conn, a.ward, a.bed)
    _require_free(conn, a.ward, a.bed)
    if patient_id is None:
        patient_id = new_patient_id()
    elif conn.execute("SELECT 1 FROM patient WHERE id = %s", (patient_id,)).fetchone():
        raise Conflict(f"patient id {patient_id} is taken: a pseudonym names one admission",
                       Why.PATIENT_ID_TAKEN, patient=patient_id)  # fmt: skip
    conn.execute(
        "INSERT INTO patient (id, ward_id, bed_id) VALUES (%s, %s, %s)",
        (patient_id, a.ward, a.bed),
    )
    conn.execute(
        """INSERT INTO identity.patient_identity
               (patient_id, mrn, given_name, family_name, birth_date)
           VALUES (%s, %s, %s, %s, %s)""",
        (patient_id, a.mrn, a.name.given, a.name.family, a.birth_date),
    )
    audit(conn, actor, "patient_admitted", f"patient:{patient_id}",
          {"ward": a.ward, "bed": a.bed})  # fmt: skip
    return patient_id


def _require_free(conn: Conn, ward: str, bed: str) -> None:
    row = conn.execute(
        "SELECT id FROM patient WHERE ward_id = %s AND bed_id = %s AND discharged_at IS NULL",
        (ward, bed),
    ).fetchone()
    if row is not None:
        raise BedOccupied(
            f"bed {bed} of ward {ward} is taken by patient {row[0]}: "
            "discharge or transfer them first, or choose a free bed (`nabd ward beds`)",
            Why.BED_OCCUPIED, ward=ward, bed=bed, patient=str(row[0]),
        )  # fmt: skip


def list_patients(
    conn: Conn,
    *,
    ward: str | None = None,
    include_discharged: bool = False,
    reader: str | None = None,
) -> list[Patient]:
    """Admitted patients (and discharged ones if asked), by ward and bed; identities only for
    a ``reader`` (each one recorded as an access)."""
    ward_id = None if ward is None else parse_id("ward", ward)
    rows = conn.execute(
        _SELECT
        + """ WHERE (%(ward)s::text IS NULL OR p.ward_id = %(ward)s)
                AND (%(all)s OR p.discharged_at IS NULL)
              ORDER BY p.ward_id, length(p.bed_id), p.bed_id, p.admitted_at""",
        {"ward": ward_id, "all": include_discharged},
    ).fetchall()
    return _patients(conn, rows, reader, "nabd patient list")


def show_patient(conn: Conn, patient_id: str, *, reader: str | None = None) -> Patient:
    """One admission, or :class:`Unknown`; identity only for a ``reader`` (recorded)."""
    pid = parse_id("patient", patient_id)
    row = conn.execute(_SELECT + " WHERE p.id = %s", (pid,)).fetchone()
    if row is None:
        raise Unknown(f"no patient {pid!r}: `nabd patient list` shows the admitted ones",
                      Why.NO_PATIENT, patient=pid)  # fmt: skip
    return _patients(conn, [row], reader, "nabd patient show")[0]


def require_admitted(conn: Conn, patient_id: str) -> tuple[str, str | None, datetime]:
    """Lock an admitted patient's row; return (ward, bed, admitted_at)."""
    row = conn.execute(
        "SELECT ward_id, bed_id, admitted_at, discharged_at FROM patient WHERE id = %s FOR UPDATE",
        (patient_id,),
    ).fetchone()
    if row is None:
        raise Unknown(f"no patient {patient_id!r}: `nabd patient list` shows the admitted ones",
                      Why.NO_PATIENT, patient=patient_id)  # fmt: skip
    if row[3] is not None:
        raise Discharged(
            f"patient {patient_id} was discharged at {row[3]:%Y-%m-%d %H:%M}: "
            "a new stay is a new admission (`nabd patient admit`)",
            Why.DISCHARGED, patient=patient_id, at=row[3],
        )  # fmt: skip
    return str(row[0]), None if row[1] is None else str(row[1]), row[2]


def transfer(conn: Conn, patient_id: str, *, ward: str, bed: str, by: str) -> bool:
    """Move an admitted patient to another bed (of this or another ward); ``False`` if they
    are in that bed already. Their devices follow to the new bed's gateway, if it has one."""
    pid, actor = parse_id("patient", patient_id), parse_actor(by)
    ward_id, bed_id = parse_id("ward", ward), parse_bed(bed)
    with operation(conn, f"transferring patient {pid}"):
        old_ward, old_bed, _ = require_admitted(conn, pid)
        if (old_ward, old_bed) == (ward_id, bed_id):
            return False
        gateway = require_bed(conn, ward_id, bed_id)
        _require_free(conn, ward_id, bed_id)
        conn.execute(
            "UPDATE patient SET ward_id = %s, bed_id = %s WHERE id = %s", (ward_id, bed_id, pid)
        )
        moved = _devices_follow(conn, pid, gateway)
        audit(conn, actor, "patient_transferred", f"patient:{pid}",
              {"from_ward": old_ward, "from_bed": old_bed, "ward": ward_id, "bed": bed_id,
               "gateway": gateway, "devices_moved": moved})  # fmt: skip
        return True


def _devices_follow(conn: Conn, patient_id: str, gateway: str | None) -> list[str]:
    """Register the patient's current devices to ``gateway`` (none: they stay where they are)."""
    if gateway is None:
        return []
    rows = conn.execute(
        """UPDATE device d SET gateway_id = %s
           FROM device_assignment a
           WHERE a.device_id = d.id AND a.patient_id = %s AND upper_inf(a.valid)
             AND d.gateway_id IS DISTINCT FROM %s
           RETURNING d.id""",
        (gateway, patient_id, gateway),
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def lock_patient(conn: Conn, pid: str) -> datetime | None:
    """Lock an admission's row until the transaction ends; return when she was discharged
    (None: admitted), or :class:`Unknown`."""
    row = conn.execute(
        "SELECT discharged_at FROM patient WHERE id = %s FOR UPDATE", (pid,)
    ).fetchone()
    if row is None:
        raise Unknown(f"no patient {pid!r}: `nabd patient list --all` shows every admission",
                      Why.NO_PATIENT, patient=pid)  # fmt: skip
    discharged: datetime | None = row[0]
    return discharged


def discharge(conn: Conn, patient_id: str, *, by: str) -> Discharge:
    """Discharge a patient: end their device assignments now and set ``discharged_at``.

    Repeating it is harmless: an already discharged patient is reported, nothing is written.
    """
    pid, actor = parse_id("patient", patient_id), parse_actor(by)
    with operation(conn, f"discharging patient {pid}"):
        discharged = lock_patient(conn, pid)
        if discharged is not None:
            return Discharge(pid, discharged, changed=False)
        ended = conn.execute(
            """UPDATE device_assignment SET valid = tstzrange(lower(valid), now()), ended_by = %s
               WHERE patient_id = %s AND upper_inf(valid) AND lower(valid) < now()
               RETURNING device_id""",
            (actor, pid),
        ).fetchall()
        at = conn.execute(
            "UPDATE patient SET discharged_at = now() WHERE id = %s RETURNING discharged_at",
            (pid,),
        ).fetchone()
        assert at is not None
        devices = tuple(sorted(str(r[0]) for r in ended))
        audit(conn, actor, "patient_discharged", f"patient:{pid}", {"devices": list(devices)})
        return Discharge(pid, at[0], changed=True, devices=devices)
