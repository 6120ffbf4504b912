"""Wards, beds, gateways and admissions against the real database, as the ``nabd_care`` login:
each operation is one audited transaction, retries change nothing, refusals say why."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from nabd.care.errors import (
    AlreadyAdmitted,
    BedOccupied,
    Conflict,
    Discharged,
    Unknown,
)
from nabd.care.gateways import add_gateway, list_gateways
from nabd.care.patients import (
    admit,
    discharge,
    list_patients,
    show_patient,
    transfer,
)
from nabd.care.values import Admission
from nabd.care.wards import add_beds, add_ward, list_beds, list_wards
from tests.care.care_kit import Conn, token

pytestmark = pytest.mark.integration


def _audit(conn: Conn, subject: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT actor, action, details FROM audit_log WHERE subject = %s ORDER BY seq", (subject,)
    ).fetchall()


def _ward(conn: Conn, beds: tuple[str, ...] = ("1", "2"), gateway: str | None = None) -> str:
    ward = f"w-{token()}"
    add_ward(conn, ward, "Cardiology", by="Admin A")
    if gateway is not None:
        add_gateway(conn, gateway, ward=ward, by="Admin A")
    add_beds(conn, ward, beds, gateway=gateway, by="Admin A")
    return ward


def _admission(ward: str, bed: str = "1", mrn: str | None = None) -> Admission:
    return Admission.parse(
        ward=ward,
        bed=bed,
        mrn=mrn or f"MRN-{token()}",
        name="Amina Ben Salah",
        birth_date="1948-03-01",
    )


def test_a_ward_is_added_once_and_audited_once(conn: Conn) -> None:
    ward = f"w-{token()}"
    assert add_ward(conn, ward, "Cardiology B", by="Admin A") is True
    assert add_ward(conn, ward, " Cardiology   B ", by="Admin B") is False  # a retry
    with pytest.raises(Conflict, match=f"ward {ward} exists already, named 'Cardiology B'"):
        add_ward(conn, ward, "Neurology", by="Admin A")
    assert _audit(conn, f"ward:{ward}") == [("Admin A", "ward_added", {"name": "Cardiology B"})]
    assert next(w for w in list_wards(conn) if w.id == ward).name == "Cardiology B"


def test_beds_are_added_once_and_a_gateway_change_is_refused(conn: Conn) -> None:
    ward = _ward(conn, beds=("1",))
    gateway = f"gw-{token()}"
    add_gateway(conn, gateway, ward=ward, by="Admin A")
    assert add_beds(conn, ward, ["2", "3", "2"], gateway=gateway, by="Admin A") == ["2", "3"]
    assert add_beds(conn, ward, ["3"], gateway=gateway, by="Admin A") == []
    with pytest.raises(Conflict, match=f"bed 3 of ward {ward} exists already with gateway"):
        add_beds(conn, ward, ["3"], by="Admin A")
    with pytest.raises(Unknown, match="no gateway 'gw-nowhere'"):
        add_beds(conn, ward, ["4"], gateway="gw-nowhere", by="Admin A")
    with pytest.raises(Unknown, match=r"no ward 'w-nowhere'.*nabd ward add"):
        add_beds(conn, "w-nowhere", ["1"], by="Admin A")
    assert [(b.id, b.gateway_id) for b in list_beds(conn, ward)] == [
        ("1", None),
        ("2", gateway),
        ("3", gateway),
    ]
    assert [g.devices for g in list_gateways(conn) if g.id == gateway] == [0]


def test_admission_keeps_identity_apart_and_audits_without_it(conn: Conn) -> None:
    ward = _ward(conn)
    mrn = f"MRN-{token()}"
    patient = admit(conn, _admission(ward, mrn=mrn), by="Nurse Ines")
    assert show_patient(conn, patient).mrn is None  # no reader named: pseudonymous
    shown = show_patient(conn, patient, reader="Nurse Ines")
    assert (shown.ward_id, shown.bed_id, shown.mrn, shown.name) == (
        ward,
        "1",
        mrn,
        "Amina Ben Salah",
    )
    assert mrn not in patient
    trail = _audit(conn, f"patient:{patient}")
    assert trail == [("Nurse Ines", "patient_admitted", {"ward": ward, "bed": "1"})]
    assert [b.patient_id for b in list_beds(conn, ward)] == [patient, None]


def test_an_mrn_admitted_already_is_refused_naming_the_admission(conn: Conn) -> None:
    ward = _ward(conn)
    mrn = f"MRN-{token()}"
    first = admit(conn, _admission(ward, "1", mrn), by="Nurse Ines")
    with pytest.raises(AlreadyAdmitted, match=f"MRN {mrn} is already admitted as patient {first}"):
        admit(conn, _admission(ward, "2", mrn), by="Nurse Ines")
    assert [p.id for p in list_patients(conn, ward=ward)] == [first]
    # After discharge the same person may come back: a new admission, a new pseudonym.
    discharge(conn, first, by="Nurse Ines")
    second = admit(conn, _admission(ward, "2", mrn), by="Nurse Ines")
    assert second != first
    assert [p.id for p in list_patients(conn, ward=ward, include_discharged=True)] == [
        first,
        second,
    ]


def test_two_desks_admitting_one_mrn_at_once_make_one_admission(care_url: str) -> None:
    with psycopg.connect(care_url, autocommit=True) as setup:
        ward = _ward(setup, beds=tuple(str(i) for i in range(8)))
    mrn = f"MRN-{token()}"
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def desk(bed: int) -> None:
        with psycopg.connect(care_url, autocommit=True) as conn:
            barrier.wait()
            try:
                outcomes.append(admit(conn, _admission(ward, str(bed), mrn), by=f"Desk {bed}"))
            except AlreadyAdmitted:
                outcomes.append("refused")

    threads = [threading.Thread(target=desk, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("refused") == 7


def test_an_occupied_or_missing_bed_is_refused(conn: Conn) -> None:
    ward = _ward(conn, beds=("1",))
    occupant = admit(conn, _admission(ward), by="Nurse Ines")
    with pytest.raises(BedOccupied, match=f"bed 1 of ward {ward} is taken by patient {occupant}"):
        admit(conn, _admission(ward), by="Nurse Ines")
    with pytest.raises(Unknown, match=f"ward {ward} has no bed '9'.*add-beds"):
        admit(conn, _admission(ward, "9"), by="Nurse Ines")
    with pytest.raises(Unknown, match="no ward 'w-none'"):
        admit(conn, _admission("w-none"), by="Nurse Ines")


def test_transfer_moves_the_patient_and_frees_the_bed(conn: Conn) -> None:
    ward, other = _ward(conn), _ward(conn, beds=("7",))
    patient = admit(conn, _admission(ward), by="Nurse Ines")
    blocker = admit(conn, _admission(ward, "2"), by="Nurse Ines")
    with pytest.raises(BedOccupied, match=f"taken by patient {blocker}"):
        transfer(conn, patient, ward=ward, bed="2", by="Nurse Ines")
    assert transfer(conn, patient, ward=other, bed="7", by="Nurse Omar") is True
    assert transfer(conn, patient, ward=other, bed="7", by="Nurse Omar") is False
    assert (show_patient(conn, patient).ward_id, show_patient(conn, patient).bed_id) == (other, "7")
    assert [b.patient_id for b in list_beds(conn, ward)] == [None, blocker]
    actor, action, details = _audit(conn, f"patient:{patient}")[-1]
    assert (actor, action) == ("Nurse Omar", "patient_transferred")
    assert details["from_ward"] == ward
    assert details["ward"] == other


def test_discharge_is_once_and_then_nothing_more_can_happen(conn: Conn) -> None:
    ward = _ward(conn)
    patient = admit(conn, _admission(ward), by="Nurse Ines")
    first = discharge(conn, patient, by="Dr Karim")
    assert first.changed
    again = discharge(conn, patient, by="Dr Karim")
    assert (again.changed, again.at) == (False, first.at)
    assert [a for _, a, _ in _audit(conn, f"patient:{patient}")] == [
        "patient_admitted",
        "patient_discharged",
    ]
    with pytest.raises(Discharged, match=f"patient {patient} was discharged"):
        transfer(conn, patient, ward=ward, bed="2", by="Nurse Ines")
    with pytest.raises(Unknown, match="no patient 'p-nobody'"):
        discharge(conn, "p-nobody", by="Dr Karim")
    assert patient not in [p.id for p in list_patients(conn, ward=ward)]
    # the bed is free again
    assert admit(conn, _admission(ward), by="Nurse Ines") != patient
