"""Admitting the demo's ward in the registry, and discharging it at the end (owner's login),
through the care operations a hospital uses (``nabd.care``, docs/care.md), signed ``nabd-demo``.

What a hospital's admission system would do: the ward, its gateways, each bed's patient,
devices and device assignments, all from now (open-ended until discharge). Beds are admitted
only when the demo is about to play them, because analytics calls a bed silent (``no_data``)
two minutes after admission. Patients still admitted on the ward from an earlier run that did
not end cleanly are discharged first, so analytics does not watch beds nobody plays any more.
Discharging resolves the beds' open alerts too (reason ``discharged``, audited): the patient
table's trigger does it (migration 0032), whoever discharges.
Each simulated patient gets a demo identity (MRN ``DEMO-<pseudonym>``) in the identity schema,
as a real admission has; each bed is served by its gateway, which its devices are registered to.
"""

from __future__ import annotations

from typing import Final

import psycopg

from nabd.app.demo.plan import WardPlan
from nabd.care.devices import add_device, assign
from nabd.care.gateways import add_gateway
from nabd.care.patients import admit as admit_patient
from nabd.care.patients import discharge as discharge_patient
from nabd.care.patients import list_patients
from nabd.care.store import Conn
from nabd.care.values import Admission, DeviceSpec
from nabd.care.wards import add_ward, set_bed_gateway

__all__ = ["admit", "discharge"]

_BY: Final = "nabd-demo"
_KIND: Final = {
    "chest_strap": "heart_rate_strap",
    "pulse_oximeter": "pulse_oximeter",
    "thermometer": "thermometer",
    "bp_cuff": "bp_cuff",
    "glucose_meter": "glucose_meter",
    "scale": "scale",
    "respiration_sensor": "ghs",
}
"""The simulators' device kinds (nabd.simulators.devices) as the registry names them."""


def admit(owner_url: str, plan: WardPlan) -> None:
    """Register the plan's ward, gateways, beds, patients, devices and assignments."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        add_ward(conn, plan.ward_id, f"Nabd demo ({plan.ward_id})", by=_BY)
        _discharge_ward(conn, plan.ward_id)
        for gateway in plan.gateways:
            add_gateway(conn, gateway, ward=plan.ward_id, by=_BY)
            beds = [str(b.bed) for b in plan.beds_of(gateway)]
            set_bed_gateway(conn, plan.ward_id, beds, gateway=gateway, by=_BY)
        for bed in plan.beds:
            admission = Admission.parse(
                ward=plan.ward_id,
                bed=str(bed.bed),
                mrn=f"DEMO-{bed.patient_id}",
                name=f"Demo, Bed {bed.bed}",
                birth_date=None,
            )
            admit_patient(conn, admission, by=_BY, patient_id=bed.patient_id)
            for device in bed.devices:
                spec = DeviceSpec.parse(
                    device_id=device.device_id,
                    kind=_KIND[device.kind],
                    address=device.address,
                    model=f"virtual-{device.kind}",
                )
                add_device(conn, spec, gateway=bed.gateway_id, by=_BY)
                assign(conn, device.device_id, bed.patient_id, by=_BY)


def discharge(owner_url: str, plan: WardPlan) -> None:
    """Discharge every patient of the plan's ward and end their device assignments."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        _discharge_ward(conn, plan.ward_id)


def _discharge_ward(conn: Conn, ward: str) -> None:
    """Patients still admitted on the ward (an earlier run that did not end cleanly)."""
    for patient in list_patients(conn, ward=ward):
        discharge_patient(conn, patient.id, by=_BY)
