"""Any sequence of admissions, transfers, discharges, assignments and unassignments (hypothesis'
state machine) keeps the registry's rules, each refusal being the one a model of the ward
predicts: one patient per bed, one wearer per device, nothing assigned to a discharged patient,
and the database's open assignments and occupied beds always equal to the model's."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from nabd.care.devices import add_device, assign, unassign
from nabd.care.errors import AssignmentOverlap, BedOccupied, Discharged
from nabd.care.gateways import add_gateway
from nabd.care.patients import admit, discharge, transfer
from nabd.care.values import Admission, DeviceSpec
from nabd.care.wards import add_beds, add_ward
from tests.care.care_kit import token

pytestmark = pytest.mark.integration

BEDS = ("1", "2", "3")
DEVICES = 3
BY = "Nurse Ines"


class Ward(RuleBasedStateMachine):
    """A fresh ward, gateway and devices per run; the model is what the registry must say."""

    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(self.url, autocommit=True)
        self.ward, gateway = f"w-{token()}", f"gw-{token()}"
        add_ward(self.conn, self.ward, "W", by=BY)
        add_gateway(self.conn, gateway, ward=self.ward, by=BY)
        add_beds(self.conn, self.ward, BEDS, gateway=gateway, by=BY)
        self.devices = [f"d{i}-{token()}" for i in range(DEVICES)]
        for i, device in enumerate(self.devices):
            address = f"C0:FF:EE:{token()[:2]}:{token()[:2]}:{i:02X}".upper()
            add_device(
                self.conn,
                DeviceSpec.parse(device_id=device, kind="thermometer", address=address),
                by=BY,
            )
        self.bed_of: dict[str, str] = {}  # admitted patient -> bed
        self.discharged: list[str] = []
        self.holder: dict[str, str] = {}  # device -> patient wearing it

    def teardown(self) -> None:
        self.conn.close()

    def _occupant(self, bed: str) -> str | None:
        return next((p for p, b in self.bed_of.items() if b == bed), None)

    @rule(bed=st.sampled_from(BEDS))
    def admit(self, bed: str) -> None:
        admission = Admission.parse(
            ward=self.ward, bed=bed, mrn=f"M{token()}", name="A B", birth_date=None
        )
        if self._occupant(bed) is not None:
            with pytest.raises(BedOccupied):
                admit(self.conn, admission, by=BY)
        else:
            self.bed_of[admit(self.conn, admission, by=BY)] = bed

    @precondition(lambda self: self.bed_of)
    @rule(data=st.data(), bed=st.sampled_from(BEDS))
    def transfer(self, data: st.DataObject, bed: str) -> None:
        # Admission order, not sorted ids: the ids are random, so a sorted list would map the same
        # drawn index to another patient when hypothesis replays (FlakyStrategyDefinition).
        patient = data.draw(st.sampled_from(list(self.bed_of)))
        occupant = self._occupant(bed)
        if occupant not in (None, patient):
            with pytest.raises(BedOccupied):
                transfer(self.conn, patient, ward=self.ward, bed=bed, by=BY)
        else:
            assert transfer(self.conn, patient, ward=self.ward, bed=bed, by=BY) == (
                occupant is None
            )
            self.bed_of[patient] = bed

    @precondition(lambda self: self.bed_of)
    @rule(data=st.data())
    def discharge(self, data: st.DataObject) -> None:
        patient = data.draw(st.sampled_from(list(self.bed_of)))
        done = discharge(self.conn, patient, by=BY)
        worn = sorted(d for d, p in self.holder.items() if p == patient)
        assert sorted(done.devices) == worn
        for device in worn:
            del self.holder[device]
        del self.bed_of[patient]
        self.discharged.append(patient)

    @precondition(lambda self: self.bed_of or self.discharged)
    @rule(data=st.data(), device=st.integers(0, DEVICES - 1))
    def assign(self, data: st.DataObject, device: int) -> None:
        patients = list(self.bed_of) + self.discharged
        patient, device_id = data.draw(st.sampled_from(patients)), self.devices[device]
        holder = self.holder.get(device_id)
        if patient in self.discharged:
            with pytest.raises(Discharged):
                assign(self.conn, device_id, patient, by=BY)
        elif holder not in (None, patient):
            with pytest.raises(AssignmentOverlap) as refused:
                assign(self.conn, device_id, patient, by=BY)
            assert refused.value.holder == holder
        else:
            assert assign(self.conn, device_id, patient, by=BY).changed == (holder is None)
            self.holder[device_id] = patient

    @rule(device=st.integers(0, DEVICES - 1))
    def unassign(self, device: int) -> None:
        device_id = self.devices[device]
        assert unassign(self.conn, device_id, by=BY) == self.holder.pop(device_id, None)

    @invariant()
    def the_registry_says_what_the_model_says(self) -> None:
        worn = self.conn.execute(
            """SELECT device_id, patient_id FROM device_assignment
               WHERE device_id = ANY(%s) AND upper_inf(valid)""",
            (self.devices,),
        ).fetchall()
        assert dict(worn) == self.holder
        beds = self.conn.execute(
            "SELECT id, bed_id FROM patient WHERE ward_id = %s AND discharged_at IS NULL",
            (self.ward,),
        ).fetchall()
        assert dict(beds) == self.bed_of


def test_any_sequence_of_operations_keeps_the_rules(care_url: str) -> None:
    Ward.url = care_url
    run = Ward.TestCase
    run.settings = settings(
        max_examples=12,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run().runTest()
