"""Discharge ends a patient's alerts (migration 0032), whoever discharges, and the running
analytics service neither re-opens nor fights it; nothing clinical is recorded for a discharged
patient afterwards."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from nabd.analytics.service import actions, alarm_limits
from nabd.analytics.service.errors import MonitorInputError
from nabd.app.audit.chain import Intact
from nabd.app.audit.store import verify_database
from nabd.app.demo import registry
from nabd.app.demo.plan import plan_ward
from nabd.app.demo.settings import DemoOptions
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import (
    MonitorDb,
    admit,
    alerts,
    now,
    running,
    store,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration


def _discharge(db: MonitorDb, patient: str) -> None:
    with db.connect() as conn:
        conn.execute("UPDATE patient SET discharged_at = now() WHERE id = %s", (patient,))


def _closing(db: MonitorDb, patient: str) -> list[tuple[Any, ...]]:
    """The audit entries of the alerts the discharge closed."""
    return db.query(
        """SELECT actor, subject, details->>'reason', details->>'state_before'
           FROM audit_log WHERE action = 'alert_resolved' AND details->>'patient_id' = %s
             AND details->>'reason' = 'discharged' ORDER BY seq""",
        (patient,),
    )


def test_discharge_closes_open_alerts_with_the_reason_audited(monitor_db: MonitorDb) -> None:
    patient, other = admit(monitor_db, f"p-dis-{token()}"), admit(monitor_db, f"p-stay-{token()}")
    with monitor_db.connect() as conn:
        ids = [
            conn.execute(
                """INSERT INTO alert (patient_id, condition, priority, message, raised_at, state,
                                      acknowledged_at, acknowledged_by)
                   VALUES (%s, %s, 'high', 'm', now(), %s, %s, %s) RETURNING id""",
                (who, condition, state, stamp, by),
            ).fetchone()[0]  # type: ignore[index]
            for who, condition, state, stamp, by in [
                (patient, "spo2_low", "raised", None, None),
                (patient, "news2", "acknowledged", now(), "Nurse A"),
                (other, "spo2_low", "raised", None, None),
            ]
        ]
        conn.execute(
            """INSERT INTO alert (patient_id, condition, priority, message, raised_at, state,
                                  resolved_at)
               VALUES (%s, 'heart_rate_high', 'low', 'm', now(), 'resolved', now())""",
            (patient,),
        )
    _discharge(monitor_db, patient)
    rows = monitor_db.query(
        "SELECT id, state, resolved_reason, resolved_at IS NOT NULL, latched FROM alert "
        "WHERE patient_id = %s AND id = ANY(%s)",
        (patient, ids[:2]),
    )
    assert sorted((r[1], r[2], r[3], r[4]) for r in rows) == [("resolved", "discharged", True,
                                                              False)] * 2  # fmt: skip
    assert monitor_db.query("SELECT state FROM alert WHERE id = %s", (ids[2],)) == [("raised",)]
    owner = urlsplit(monitor_db.owner_url).username
    assert sorted(_closing(monitor_db, patient)) == sorted(
        [(owner, f"alert:{ids[0]}", "discharged", "raised"),
         (owner, f"alert:{ids[1]}", "discharged", "acknowledged")]
    )  # fmt: skip
    # The already-resolved alert keeps its (NULL) reason; a second discharge closes nothing.
    _discharge(monitor_db, patient)
    assert len(_closing(monitor_db, patient)) == 2
    assert isinstance(verify_database(monitor_db.owner_url), Intact)


def test_the_demos_discharge_ends_its_beds_alerts(monitor_db: MonitorDb) -> None:
    """Issue 16: after the demo discharged every bed, `alerts list` still showed them raised."""
    options = DemoOptions(patients=2, scenarios=("stable",), ward_id=f"demo-{token()}",
                          duration_s=60)  # fmt: skip
    plan = plan_ward(options, f"run-{token()}", time.time())
    registry.admit(monitor_db.owner_url, plan)
    with monitor_db.connect() as conn:
        for bed in plan.beds:
            conn.execute(
                """INSERT INTO alert (patient_id, condition, priority, message, raised_at)
                   VALUES (%s, 'no_data', 'medium', 'm', now())""",
                (bed.patient_id,),
            )
    registry.discharge(monitor_db.owner_url, plan)
    with monitor_db.connect() as conn:
        still_open = actions.list_alerts(conn, ward=plan.ward_id)
        closed = actions.list_alerts(conn, ward=plan.ward_id, include_resolved=True)
    assert still_open == []
    assert len(closed) == 2
    for bed in plan.beds:
        assert len(_closing(monitor_db, bed.patient_id)) == 1


def test_nothing_clinical_is_recorded_for_a_discharged_patient(monitor_db: MonitorDb) -> None:
    patient = admit(monitor_db, f"p-gone-{token()}")
    _discharge(monitor_db, patient)
    writes = [
        """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,
                                   entered_by)
           VALUES (%s, 'consciousness', 'A', now(), now() + interval '1 h', 'N')""",
        "INSERT INTO alarm_limit (patient_id, metric, low, set_by) VALUES (%s, 'spo2', 80, 'N')",
        """INSERT INTO alert (patient_id, condition, priority, message, raised_at)
           VALUES (%s, 'spo2_low', 'high', 'm', now())""",
    ]
    with monitor_db.connect() as conn:
        for sql in writes:
            with pytest.raises(psycopg.errors.CheckViolation) as caught:
                conn.execute(sql, (patient,))
            assert caught.value.diag.constraint_name == "patient_admitted"
            assert f"patient {patient} was discharged at" in str(caught.value)
        with pytest.raises(MonitorInputError, match="was discharged at"):
            actions.record_entry(conn, patient, "consciousness", "A", valid_for_s=60, nurse="N")
        with pytest.raises(MonitorInputError, match="no patient 'p-nope': unknown"):
            actions.record_entry(conn, "p-nope", "consciousness", "A", valid_for_s=60, nurse="N")
        scope = alarm_limits.Scope(patient=patient)
        with pytest.raises(MonitorInputError, match="was discharged at"):
            alarm_limits.set_limit(conn, scope, "spo2", low=85, nurse="N")


def test_the_running_service_drops_a_discharged_patients_alerts_at_once(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-svc-dis-{token()}")
    # A registry refresh far away: the service must learn of the discharge at its next tick.
    with running(nabd_stack, monitor_db, registry_s=3600.0) as monitor:
        store(monitor_db, [(patient, "systolic_bp", now(), 80.0, ())])
        alert = wait_until(
            lambda: [a for a in alerts(monitor_db, patient) if a[1] == "raised"], "the alert"
        )[0]
        book = monitor.service.engine.book
        assert book.cell(alert[5]) is not None
        ticks = monitor.service.stats.ticks
        _discharge(monitor_db, patient)
        wait_until(lambda: monitor.service.stats.ticks > ticks + 2, "ticks after the discharge")
        assert monitor.service.engine.book.cell(alert[5]) is None
        store(monitor_db, [(patient, "systolic_bp", now(), 75.0, ())])  # late readings
        samples = monitor.service.stats.samples
        wait_until(lambda: monitor.service.stats.samples > samples, "the late readings")
        time.sleep(0.5)  # several ticks: nothing may be raised again
        assert monitor.error is None
        assert monitor.service.stats.kinds.get("resolved", 0) >= 1  # published as resolved
    rows = alerts(monitor_db, patient)
    assert [(r[0], r[1]) for r in rows] == [("systolic_bp_low", "resolved")]
    reasons = monitor_db.query(
        "SELECT resolved_reason FROM alert WHERE patient_id = %s", (patient,)
    )
    assert reasons == [("discharged",)]
    written = monitor_db.query(
        """SELECT actor, action FROM audit_log WHERE subject = %s ORDER BY seq""",
        (f"alert:{rows[0][5]}",),
    )
    owner = urlsplit(monitor_db.owner_url).username
    assert written == [("nabd-analytics", "alert_raised"), (owner, "alert_resolved")]
    assert isinstance(verify_database(monitor_db.owner_url), Intact)
