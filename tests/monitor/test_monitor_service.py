"""End to end against the real stack: observations stored as ingest stores them (rows, journal
entry, NOTIFY) go in; alert rows, audit entries, NEWS2 scores and acknowledged MQTT publishes come
out. Also: the latency from a sample's commit to its alert's commit, nurses' actions while the
service runs, and a restart that neither duplicates nor loses an alert."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from nabd.analytics.alerts import HIGH, AlertPolicy
from nabd.analytics.service import actions
from nabd.analytics.service.conditions import NAMES
from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.errors import AlertActionError
from nabd.analytics.service.store import ALERTS_CHANNEL
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import (
    MonitorDb,
    admit,
    ago,
    alerts,
    audit,
    now,
    running,
    store,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration


def _open(db: MonitorDb, patient: str, condition: str) -> list[tuple[Any, ...]]:
    return [a for a in alerts(db, patient) if a[0] == condition and a[1] != "resolved"]


def test_a_low_blood_pressure_raises_one_alert_within_a_second(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patients = [admit(monitor_db, f"p-bp-{token()}") for _ in range(8)]
    latencies = []
    # The service's own defaults: a tick at least every second, coalescing 50 ms.
    with (
        running(nabd_stack, monitor_db, tick_s=1.0, min_tick_s=0.05) as monitor,
        psycopg.connect(monitor_db.owner_url, autocommit=True) as listener,
    ):
        listener.execute(f"LISTEN {ALERTS_CHANNEL}")
        store(monitor_db, [(p, "systolic_bp", ago(1), 120.0, ()) for p in patients])
        wait_until(lambda: monitor.service.stats.samples >= len(patients), "the first samples")
        for patient in patients:  # the sample that completes the condition (no persistence)
            committed = store(monitor_db, [(patient, "systolic_bp", now(), 85.0, ())])
            note = next(iter(listener.notifies(timeout=5.0, stop_after=1)), None)
            assert note is not None, "no alert notification within 5 s"
            assert note.payload.startswith("raised:")
            latencies.append(time.monotonic() - committed)
        patient = patients[0]
        for value in (84.0, 83.0):  # still the same alert: updated, not duplicated
            store(monitor_db, [(patient, "systolic_bp", now(), value, ())])
        wait_until(lambda: monitor.service.stats.samples >= len(patients) * 2 + 2, "samples")
        raised = _open(monitor_db, patient, "systolic_bp_low")
        rows = alerts(monitor_db, patient)
        assert [(r[0], r[1], r[2]) for r in rows] == [("systolic_bp_low", "raised", "high")]
        assert audit(monitor_db, raised[0][5]) == [("nabd-analytics", "alert_raised")]
        wait_until(lambda: monitor.service.publisher.published >= 8, "the broker's PUBACKs")
        assert monitor.service.publisher.refused == 0
        lag = monitor_db.query("SELECT max(handoff_lag_ms) FROM analytics_tick")[0][0]
    # Sample committed by ingest -> alert row committed (measured here: tens of ms).
    print(f"\nalert latency (s): {sorted(round(x, 3) for x in latencies)}; tick lag {lag} ms")
    assert max(latencies) < 1.0, latencies


def test_news2_scores_are_written_and_incomplete_without_nurse_entries(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-n2-{token()}")
    vitals = [
        (patient, "respiration_rate", now(), 18.0, ()),
        (patient, "spo2", now(), 97.0, ()),
        (patient, "heart_rate", now(), 75.0, ()),
        (patient, "body_temperature", now(), 37.0, ()),
        (patient, "systolic_bp", now(), 125.0, ()),
    ]
    with running(nabd_stack, monitor_db):
        store(monitor_db, vitals)
        first = wait_until(
            lambda: monitor_db.query(
                "SELECT total, complete, consciousness, air_or_oxygen FROM news2_score"
                " WHERE patient_id = %s AND total IS NOT NULL ORDER BY time DESC LIMIT 1",
                (patient,),
            ),
            "a NEWS2 row",
        )
        assert first[0] == (0, False, -1, -1)  # never assumed normal: missing is -1
        with psycopg.connect(monitor_db.owner_url, autocommit=True) as conn:
            actions.record_entry(conn, patient, "consciousness", "A", valid_for_s=3600, nurse="N")
            actions.record_entry(
                conn, patient, "supplemental_oxygen", "air", valid_for_s=3600, nurse="N"
            )
        store(monitor_db, [(p, m, now(), v, q) for p, m, _, v, q in vitals])
        wait_until(
            lambda: monitor_db.query(
                "SELECT 1 FROM news2_score WHERE patient_id = %s AND complete AND total = 0",
                (patient,),
            ),
            "a complete NEWS2 of 0 once the nurse's entries are in",
        )


def test_a_patient_with_no_parameter_gets_a_stored_no_score_never_0_or_low(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    # Issue 20 / migration 0011: admitted and monitored, nothing measured -> NULL total and risk.
    patient = admit(monitor_db, f"p-none-{token()}")
    with running(nabd_stack, monitor_db):
        rows = wait_until(
            lambda: monitor_db.query(
                "SELECT total, risk, complete, respiration_rate, spo2, consciousness"
                " FROM news2_score WHERE patient_id = %s",
                (patient,),
            ),
            "a NEWS2 row for the patient with nothing measured",
        )
    assert rows[0] == (None, None, False, -1, -1, -1)
    assert [a for a in alerts(monitor_db, patient) if a[0] == "news2"] == []


def test_nurse_actions_while_running_and_a_restart_keeps_the_alert(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-ack-{token()}")
    with running(nabd_stack, monitor_db) as monitor:
        store(monitor_db, [(patient, "systolic_bp", now(), 80.0, ())])
        alert = wait_until(lambda: _open(monitor_db, patient, "systolic_bp_low"), "alert")[0]
        with psycopg.connect(monitor_db.owner_url, autocommit=True) as conn:
            row = actions.acknowledge(conn, alert[5], "Nurse Amal")
            assert row.state == "acknowledged"
            with pytest.raises(AlertActionError, match="nothing to acknowledge"):
                actions.acknowledge(conn, alert[5], "Nurse Amal")
        wait_until(
            lambda: monitor_db.query(
                "SELECT 1 FROM alert_action WHERE alert_id = %s AND applied_at IS NOT NULL",
                (alert[5],),
            ),
            "the service to apply the acknowledgement",
        )
        wait_until(lambda: monitor.service.stats.kinds.get("acknowledged"), "ack event")
    # Restarted: the acknowledged alert is restored, not raised again.
    with running(nabd_stack, monitor_db) as monitor:
        assert monitor.service.engine.book.open_count >= 1
        store(monitor_db, [(patient, "systolic_bp", now(), 79.0, ())])
        wait_until(lambda: monitor.service.stats.samples >= 1, "a sample after the restart")
        time.sleep(0.5)  # several ticks: nothing new must appear
    rows = alerts(monitor_db, patient)
    assert [(r[0], r[1]) for r in rows] == [("systolic_bp_low", "acknowledged")]
    assert audit(monitor_db, alert[5]) == [
        ("nabd-analytics", "alert_raised"),
        ("Nurse Amal", "alert_acknowledged"),
    ]


def test_silence_expiry_escalation_and_latching_in_the_database(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    config = EngineConfig(
        policy=AlertPolicy(
            conditions=NAMES,
            resolve_after_s=0.5,
            escalate_after_s=(60.0, 60.0, 1.0, 1.0),
            max_level=1,
            latch_priority=HIGH,
        )
    )
    patient = admit(monitor_db, f"p-esc-{token()}")
    with running(nabd_stack, monitor_db, config):
        store(monitor_db, [(patient, "systolic_bp", now(), 80.0, ())])
        alert = wait_until(lambda: _open(monitor_db, patient, "systolic_bp_low"), "alert")[0]
        with psycopg.connect(monitor_db.owner_url, autocommit=True) as conn:
            actions.silence(conn, alert[5], "Nurse Bo", 1.5)  # escalation waits for its end
        escalated = wait_until(
            lambda: [a for a in alerts(monitor_db, patient) if a[3] == 1], "escalation"
        )
        assert escalated[0][2] == "critical"  # high + one level
        # The pressure recovers: the high alert, unacknowledged, latches instead of resolving.
        store(monitor_db, [(patient, "systolic_bp", now(), 125.0, ())])
        wait_until(lambda: alerts(monitor_db, patient)[0][4], "latched")
        with psycopg.connect(monitor_db.owner_url, autocommit=True) as conn:
            actions.acknowledge(conn, alert[5], "Nurse Bo")
        wait_until(lambda: alerts(monitor_db, patient)[0][1] == "resolved", "resolved on ack")
    assert audit(monitor_db, alert[5]) == [
        ("nabd-analytics", "alert_raised"),
        ("Nurse Bo", "alert_silenced"),
        ("nabd-analytics", "alert_silence_ended"),
        ("nabd-analytics", "alert_escalated"),
        ("nabd-analytics", "alert_latched"),
        ("Nurse Bo", "alert_acknowledged"),
        ("nabd-analytics", "alert_resolved"),
    ]
    stamps = dict(
        monitor_db.query(
            "SELECT action, at FROM audit_log WHERE subject = %s", (f"alert:{alert[5]}",)
        )
    )
    # The escalation clock restarts when the silence ends: 1 s (high) after it.
    waited = (stamps["alert_escalated"] - stamps["alert_silence_ended"]).total_seconds()
    assert 0.9 <= waited < 1.9, waited


def test_a_lost_database_connection_is_survived(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-lost-{token()}")
    with running(nabd_stack, monitor_db, backoff_min_s=0.2) as monitor:
        store(monitor_db, [(patient, "systolic_bp", now(), 120.0, ())])
        wait_until(lambda: monitor.service.stats.samples >= 1, "a first sample")
        with psycopg.connect(monitor_db.analytics_url, autocommit=True) as same_login:
            row = same_login.execute(  # a login may end its own sessions
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE usename = current_user AND datname = current_database()
                     AND pid <> pg_backend_pid()"""
            ).fetchone()
        assert row is not None
        killed = row[0]
        assert killed >= 1
        store(monitor_db, [(patient, "systolic_bp", now(), 84.0, ())])  # while reconnecting
        wait_until(lambda: _open(monitor_db, patient, "systolic_bp_low"), "the alert")
        assert monitor.service.stats.sessions >= 2
    assert [a[0] for a in alerts(monitor_db, patient)] == ["systolic_bp_low"]
