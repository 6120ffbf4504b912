"""``nabd analytics run`` as a real process (an alert appears, SIGTERM exits 0) and ``nabd alerts
list|ack|silence`` as nurses use them (named, audited, refused when they make no sense)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psycopg
import pytest

from nabd.analytics.service import actions
from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import MonitorDb, admit, alerts, audit, now, store
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration


def test_the_service_runs_as_a_process_and_stops_cleanly_on_sigterm(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-cli-{token()}")
    env = {
        **os.environ,
        **nabd_stack.env,
        "NABD_ANALYTICS_DATABASE_URL": monitor_db.analytics_url,
        "NABD_ANALYTICS_MQTT_CLIENT_ID": f"nabd-analytics-cli-{token()}",
        "NABD_ANALYTICS_REGISTRY_S": "0.5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "nabd.app.cli", "analytics", "run", "--tick", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: monitor_db.query("SELECT 1 FROM analytics_tick LIMIT 1"), "a first tick")
        store(monitor_db, [(patient, "systolic_bp", now(), 82.0, ())])
        wait_until(lambda: alerts(monitor_db, patient), "the alert")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == 0, err
    assert "analytics ready" in err


def test_nurses_list_acknowledge_and_silence(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = admit(monitor_db, f"p-nurse-{token()}")
    with monitor_db.connect() as conn:
        row = conn.execute(
            """INSERT INTO alert (patient_id, condition, priority, message, raised_at)
               VALUES (%s, 'spo2_low', 'high', 'SpO2 low: 88 %%', now()) RETURNING id""",
            (patient,),
        ).fetchone()
    assert row is not None
    alert = str(row[0])
    url = ["--database-url", monitor_db.owner_url]
    assert main(["alerts", "list", "--patient", patient, *url]) == 0
    listed = capsys.readouterr().out
    assert alert in listed
    assert "spo2_low" in listed
    assert "raised" in listed
    assert main(["alerts", "ack", alert, "--by", "Nurse Chloé", *url]) == 0
    assert main(["alerts", "ack", alert, "--by", "Nurse Chloé", *url]) == 1
    assert "nothing to acknowledge" in capsys.readouterr().err
    assert main(["alerts", "silence", alert, "--by", "Nurse Dan", "--minutes", "5", *url]) == 0
    assert main(["alerts", "silence", alert, "--by", "Nurse Dan", "--minutes", "90", *url]) == 1
    assert main(["alerts", "ack", alert, "--by", " ", *url]) == 1
    capsys.readouterr()
    assert main(["alerts", "list", "--patient", patient, *url]) == 0
    assert "acknowledged" in capsys.readouterr().out
    assert audit(monitor_db, alert) == [
        ("Nurse Chloé", "alert_acknowledged"),
        ("Nurse Dan", "alert_silenced"),
    ]
    pending = monitor_db.query(
        "SELECT action, actor FROM alert_action WHERE alert_id = %s ORDER BY id", (alert,)
    )
    assert pending == [("acknowledge", "Nurse Chloé"), ("silence", "Nurse Dan")]


def test_the_clinical_role_can_do_what_nurses_do_and_no_more(monitor_db: MonitorDb) -> None:
    patient = admit(monitor_db, f"p-role-{token()}")
    with psycopg.connect(monitor_db.owner_url) as conn:  # one transaction, rolled back
        row = conn.execute(
            """INSERT INTO alert (patient_id, condition, priority, message, raised_at)
               VALUES (%s, 'spo2_low', 'high', 'SpO2 low: 88 %%', now()) RETURNING id""",
            (patient,),
        ).fetchone()
        assert row is not None
        conn.execute("GRANT nabd_clinical TO current_user")
        conn.execute("SET ROLE nabd_clinical")
        assert actions.acknowledge(conn, row[0], "Nurse Eve").state == "acknowledged"
        assert actions.silence(conn, row[0], "Nurse Eve", 60).silenced_until is not None
        assert [a.alert_id for a in actions.list_alerts(conn, patient=patient)] == [row[0]]
        actions.record_entry(conn, patient, "consciousness", "C", valid_for_s=600, nurse="Eve")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE alert SET priority = 'low' WHERE id = %s", (row[0],))
        conn.rollback()
