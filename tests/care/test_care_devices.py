"""Devices and assignments against the real database, as the ``nabd_care`` login: registered
once, worn by one patient at a time, following their patient's bed to its gateway, and every
assignment change audited with who made it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nabd.care.devices import (
    add_device,
    assign,
    list_devices,
    show_device,
    unassign,
)
from nabd.care.errors import (
    AddressTaken,
    AssignmentOverlap,
    CareRefused,
    Conflict,
    Discharged,
    Unknown,
)
from nabd.care.gateways import add_gateway
from nabd.care.patients import admit, discharge, show_patient, transfer
from nabd.care.values import Admission, DeviceSpec
from nabd.care.wards import add_beds, add_ward, set_bed_gateway
from tests.care.care_kit import Conn, token

pytestmark = pytest.mark.integration

BY = "Tech Sami"


def _address() -> str:
    raw = token() + token()
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2)).upper()


def _spec(kind: str = "heart_rate_strap", **fields: Any) -> DeviceSpec:
    return DeviceSpec.parse(
        device_id=fields.pop("device_id", f"hr-{token()}"),
        kind=kind,
        address=fields.pop("address", _address()),
        **fields,
    )


def _setup(conn: Conn, beds: tuple[str, ...] = ("1", "2")) -> tuple[str, str]:
    """A ward whose beds are served by a new gateway; returns (ward, gateway)."""
    ward, gateway = f"w-{token()}", f"gw-{token()}"
    add_ward(conn, ward, "Ward", by=BY)
    add_gateway(conn, gateway, ward=ward, by=BY)
    add_beds(conn, ward, beds, gateway=gateway, by=BY)
    return ward, gateway


def _admit(conn: Conn, ward: str, bed: str = "1") -> str:
    admission = Admission.parse(
        ward=ward, bed=bed, mrn=f"M{token()}", name="Jean Dupont", birth_date=None
    )
    return admit(conn, admission, by="Nurse Ines")


def _trail(conn: Conn, device: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT actor, action, details->>'op', details->>'patient_id' FROM audit_log "
        "WHERE subject = %s ORDER BY seq",
        (f"device:{device}",),
    ).fetchall()


def test_a_device_is_added_once_and_a_different_one_under_its_id_is_refused(conn: Conn) -> None:
    spec = _spec(serial="SN-1", model="H10")
    assert add_device(conn, spec, by=BY) is True
    assert add_device(conn, spec, by="Someone Else") is False  # the retry: nothing written
    assert (
        add_device(
            conn,
            DeviceSpec.parse(device_id=spec.id, kind=spec.kind, address=spec.address.lower()),
            by=BY,
        )
        is False
    )
    with pytest.raises(
        Conflict,
        match=f"device {spec.id} is registered already with kind "
        "heart_rate_strap \\(not pulse_oximeter\\)",
    ):
        add_device(conn, _spec("pulse_oximeter", device_id=spec.id, address=spec.address), by=BY)
    with pytest.raises(Conflict, match=r"serial SN-1 \(not SN-2\)"):
        add_device(conn, _spec(device_id=spec.id, address=spec.address, serial="SN-2"), by=BY)
    with pytest.raises(
        AddressTaken, match=f"address {spec.address} is registered already as device {spec.id}"
    ):
        add_device(conn, _spec(address=spec.address), by=BY)
    assert [a for a, *_ in _trail(conn, spec.id)] == [BY]
    shown = show_device(conn, spec.id)
    assert (shown.kind, shown.address, shown.serial, shown.gateway_id) == (
        "heart_rate_strap",
        spec.address,
        "SN-1",
        None,
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["thermometer", "scale"]),
            "serial": st.none() | st.sampled_from(["A", "B"]),
        }
    )
)
def test_any_retry_with_the_registered_fields_is_a_no_op(
    conn: Conn, fields: dict[str, Any]
) -> None:
    spec = _spec(**fields)
    assert add_device(conn, spec, by=BY)
    for _ in range(3):
        assert add_device(conn, spec, by=BY) is False
    count = conn.execute(
        "SELECT count(*) FROM audit_log WHERE subject = %s", (f"device:{spec.id}",)
    ).fetchone()
    assert count == (1,)


def test_assigning_registers_the_device_to_the_beds_gateway_and_is_audited(conn: Conn) -> None:
    ward, gateway = _setup(conn)
    patient, spec = _admit(conn, ward), _spec()
    add_device(conn, spec, by=BY)
    first = assign(conn, spec.id, patient, by="Nurse Ines")
    assert (first.changed, first.gateway_id) == (True, gateway)
    again = assign(conn, spec.id, patient, by="Nurse Ines")
    assert (again.changed, again.start) == (False, first.start)
    listed = [d for d in list_devices(conn, gateway=gateway) if d.id == spec.id]
    assert [(d.patient_id, d.gateway_id) for d in listed] == [(patient, gateway)]
    assert show_patient(conn, patient).devices == (spec.id,)
    assert _trail(conn, spec.id)[1:] == [("Nurse Ines", "device_assignment", "insert", patient)]


def test_an_overlapping_assignment_is_refused_naming_the_holder(conn: Conn) -> None:
    ward, _ = _setup(conn)
    holder, other = _admit(conn, ward, "1"), _admit(conn, ward, "2")
    spec = _spec()
    add_device(conn, spec, by=BY)
    assign(conn, spec.id, holder, by="Nurse Ines")
    with pytest.raises(
        AssignmentOverlap,
        match=f"device {spec.id} is worn by patient {holder} .* to now: unassign it first",
    ) as caught:
        assign(conn, spec.id, other, by="Nurse Ines")
    assert caught.value.holder == holder
    assert unassign(conn, spec.id, by="Nurse Omar") == holder
    assert unassign(conn, spec.id, by="Nurse Omar") is None  # a retry: nothing to end
    # A start in the past that overlaps the ended assignment is refused, naming its period.
    ended = show_device(conn, spec.id).history[0]
    assert ended.end is not None
    assert ended.ended_by == "Nurse Omar"
    with pytest.raises(AssignmentOverlap, match=f"worn by patient {holder} from .* to "):
        assign(conn, spec.id, other, start=ended.end - timedelta(microseconds=1), by="Nurse I")
    assert assign(conn, spec.id, other, by="Nurse Ines").changed
    trail = _trail(conn, spec.id)
    assert [(a, op, p) for a, _, op, p in trail[1:]] == [
        ("Nurse Ines", "insert", holder),
        ("Nurse Omar", "update", holder),
        ("Nurse Ines", "insert", other),
    ]


def test_assignments_need_an_admitted_patient_and_a_sensible_start(conn: Conn) -> None:
    ward, _ = _setup(conn)
    patient, spec = _admit(conn, ward), _spec()
    add_device(conn, spec, by=BY)
    admitted = show_patient(conn, patient).admitted_at
    with pytest.raises(CareRefused, match="cannot start before the admission"):
        assign(conn, spec.id, patient, start=admitted - timedelta(hours=1), by="Nurse I")
    with pytest.raises(CareRefused, match="cannot start in the future"):
        assign(
            conn,
            spec.id,
            patient,
            start=datetime.now(admitted.tzinfo) + timedelta(hours=1),
            by="Nurse I",
        )
    with pytest.raises(Unknown, match=r"no device 'hr-none'.*nabd device add"):
        assign(conn, "hr-none", patient, by="Nurse I")
    with pytest.raises(Unknown, match="no patient 'p-none'"):
        assign(conn, spec.id, "p-none", by="Nurse I")
    discharge(conn, patient, by="Dr K")
    with pytest.raises(Discharged, match=f"patient {patient} was discharged"):
        assign(conn, spec.id, patient, by="Nurse I")


def test_a_transfer_moves_the_devices_to_the_new_beds_gateway(conn: Conn) -> None:
    ward, gateway = _setup(conn)
    other_ward, other_gateway = _setup(conn, beds=("9",))
    patient, spec = _admit(conn, ward), _spec()
    add_device(conn, spec, by=BY)
    assign(conn, spec.id, patient, by="Nurse Ines")
    transfer(conn, patient, ward=other_ward, bed="9", by="Nurse Ines")
    assert show_device(conn, spec.id).gateway_id == other_gateway
    details = conn.execute(
        "SELECT details FROM audit_log WHERE subject = %s AND action = 'patient_transferred'",
        (f"patient:{patient}",),
    ).fetchone()
    assert details is not None
    assert details[0]["devices_moved"] == [spec.id]
    assert details[0]["gateway"] == other_gateway != gateway


def test_discharge_ends_the_assignments_in_the_name_of_who_discharged(conn: Conn) -> None:
    ward, _ = _setup(conn)
    patient, strap, oximeter = _admit(conn, ward), _spec(), _spec("pulse_oximeter")
    for spec in (strap, oximeter):
        add_device(conn, spec, by=BY)
        assign(conn, spec.id, patient, by="Nurse Ines")
    done = discharge(conn, patient, by="Dr Karim")
    assert sorted(done.devices) == sorted([strap.id, oximeter.id])
    for spec in (strap, oximeter):
        shown = show_device(conn, spec.id)
        assert shown.patient_id is None
        assert (shown.history[0].end, shown.history[0].ended_by) == (done.at, "Dr Karim")
        assert _trail(conn, spec.id)[-1][:3] == ("Dr Karim", "device_assignment", "update")


def test_moving_a_bed_to_another_gateway_moves_its_patients_devices(conn: Conn) -> None:
    ward, gateway = _setup(conn)
    other = f"gw-{token()}"
    add_gateway(conn, other, ward=ward, by=BY)
    patient, spec = _admit(conn, ward, "1"), _spec()
    add_device(conn, spec, by=BY)
    assign(conn, spec.id, patient, by=BY)
    assert set_bed_gateway(conn, ward, ["1", "5"], gateway=other, by=BY) == (["5"], ["1"])
    assert show_device(conn, spec.id).gateway_id == other
    assert set_bed_gateway(conn, ward, ["1", "5"], gateway=other, by=BY) == ([], [])
    details = conn.execute(
        "SELECT details FROM audit_log WHERE subject = %s AND action = 'beds_gateway_set'",
        (f"ward:{ward}",),
    ).fetchall()
    assert [d[0]["devices_moved"] for d in details] == [[spec.id]]
    # No gateway: the devices stay registered where they are.
    assert set_bed_gateway(conn, ward, ["1"], gateway=None, by=BY) == ([], ["1"])
    assert show_device(conn, spec.id).gateway_id == other != gateway


def test_a_system_with_its_own_pseudonyms_may_give_the_id_once(conn: Conn) -> None:
    ward, _ = _setup(conn)
    given = f"p-own-{token()}"
    first = Admission.parse(ward=ward, bed="1", mrn=f"M{token()}", name="A B", birth_date=None)
    assert admit(conn, first, by=BY, patient_id=given) == given
    again = Admission.parse(ward=ward, bed="2", mrn=f"M{token()}", name="C D", birth_date=None)
    with pytest.raises(Conflict, match=f"patient id {given} is taken"):
        admit(conn, again, by=BY, patient_id=given)
