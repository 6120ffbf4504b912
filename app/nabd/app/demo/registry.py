"""Admitting the demo's ward in the registry, and discharging it at the end (owner's login).

What a hospital's admission system would do: the ward, its gateways, each bed's patient,
devices and device assignments, all from now (open-ended until discharge). Beds are admitted
only when the demo is about to play them, because analytics calls a bed silent (``no_data``)
two minutes after admission. Patients still admitted on the ward from an earlier run that did
not end cleanly are discharged first, so analytics does not watch beds nobody plays any more.
Discharging resolves the beds' open alerts too (reason ``discharged``, audited): the patient
table's trigger does it (migration 0032), whoever discharges.
"""

from __future__ import annotations

from typing import Final

import psycopg

from nabd.app.demo.plan import WardPlan

__all__ = ["admit", "discharge"]

_ASSIGNED_BY: Final = "nabd-demo"
_KIND: Final = {
    "chest_strap": "heart_rate",
    "pulse_oximeter": "pulse_oximeter",
    "thermometer": "thermometer",
    "bp_cuff": "blood_pressure",
}

_DISCHARGE_SQL: Final = """
WITH gone AS (
    UPDATE patient SET discharged_at = now()
    WHERE ward_id = %(ward)s AND discharged_at IS NULL
    RETURNING id
)
UPDATE device_assignment a SET valid = tstzrange(lower(a.valid), now())
FROM gone WHERE a.patient_id = gone.id AND upper_inf(a.valid) AND lower(a.valid) < now()
"""


def admit(owner_url: str, plan: WardPlan) -> None:
    """Register the plan's ward, gateways, patients, devices and assignments (one transaction)."""
    with psycopg.connect(owner_url) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ward (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
            (plan.ward_id, f"Nabd demo ({plan.ward_id})"),
        )
        cur.execute(_DISCHARGE_SQL, {"ward": plan.ward_id})
        cur.executemany(
            "INSERT INTO gateway (id, ward_id) VALUES (%s, %s) "
            "ON CONFLICT (id) DO UPDATE SET ward_id = EXCLUDED.ward_id, revoked_at = NULL",
            [(g, plan.ward_id) for g in plan.gateways],
        )
        cur.executemany(
            "INSERT INTO patient (id, ward_id) VALUES (%s, %s)",
            [(b.patient_id, plan.ward_id) for b in plan.beds],
        )
        cur.executemany(
            "INSERT INTO device (id, gateway_id, kind, manufacturer, model) "
            "VALUES (%s, %s, %s, 'Nabd Simulators', %s)",
            [
                (d.device_id, b.gateway_id, _KIND[d.kind], f"virtual-{d.kind}")
                for b in plan.beds
                for d in b.devices
            ],
        )
        cur.executemany(
            "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by) "
            "VALUES (%s, %s, tstzrange(now(), NULL), %s)",
            [(d.device_id, b.patient_id, _ASSIGNED_BY) for b in plan.beds for d in b.devices],
        )


def discharge(owner_url: str, plan: WardPlan) -> None:
    """Discharge every patient of the plan's ward and end their device assignments."""
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute(_DISCHARGE_SQL, {"ward": plan.ward_id})
