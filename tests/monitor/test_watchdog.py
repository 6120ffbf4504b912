"""Monitoring that stops is an alarm (issue 22): a real ``nabd analytics run`` process is hung
with SIGSTOP; a real ingest worker's watchdog raises ``monitoring_interrupted`` for every admitted
patient within the stated time, in the database (audited) and on the ward's alerts topic as the
alerts-reader account receives it; after SIGCONT the alert is latched (still open) until a nurse
acknowledges it, and then resolved and published resolved. Analytics, once resumed, leaves the
condition alone."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from nabd.analytics.service import actions
from nabd.app.stack.testing import MqttCredentials, RunningStack
from nabd.contract import topics
from nabd.contract.payloads import Alert, parse
from nabd.ingest.watchdog import CONDITION
from tests.ingest.ingest_kit import forget_session, ingest_database, start_worker, worker_settings
from tests.monitor.monitor_kit import MonitorDb, admit, analytics_process, end_process
from tests.stack_kit import DEADLINE_S, stack_client, token, wait_until

pytestmark = pytest.mark.integration

STALE_S = 3.0
INTERVAL_S = 0.5
MARGIN_S = 2.0
"""Commit and publish of one pass, on a loaded machine. The bound stated in
docs/reliability.md is ``STALE_S + INTERVAL_S`` after the last tick, which precedes the hang."""
ANALYTICS_TIMEOUT_S = 2.0
"""Analytics' statement (and idle-transaction) timeout, below STALE_S as the defaults are (10 <
15): a process stopped inside its tick transaction loses it, and the alert lock, in time."""


class AlertsReader:
    """The ``alerts-reader`` account subscribed to one ward's alerts topic."""

    def __init__(self, stack: RunningStack, ward: str) -> None:
        self.messages: list[Alert] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        env = stack.env
        creds = MqttCredentials(
            username=env["NABD_ALERTS_READER_MQTT_USERNAME"],
            password=env["NABD_ALERTS_READER_MQTT_PASSWORD"],
            cert_file=Path(env["NABD_ALERTS_READER_MQTT_CERT_FILE"]),
            key_file=Path(env["NABD_ALERTS_READER_MQTT_KEY_FILE"]),
            port=stack.mqtt_port,  # a service account: the services' listener
        )
        self._client = stack_client(stack, creds, f"nabd-alerts-reader-{token()}")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(stack.mqtt_host, stack.mqtt_port)
        self._client.loop_start()
        self._client.subscribe(topics.alerts(ward), qos=1)
        assert subscribed.wait(DEADLINE_S)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(parse(Alert, bytes(message.payload)))

    def of(self, kind: str, state: str) -> list[Alert]:
        with self._lock:
            return [m for m in self.messages if m.kind == kind and m.state == state]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def analytics(
    nabd_stack: RunningStack, monitor_db: MonitorDb, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    process = analytics_process(
        nabd_stack,
        monitor_db,
        tmp_path / "analytics.log",
        NABD_ANALYTICS_STATEMENT_TIMEOUT_S=str(ANALYTICS_TIMEOUT_S),
        NABD_ANALYTICS_BACKOFF_MAX_S="1",
    )
    try:
        yield process
    finally:
        end_process(process)


def _open(db: MonitorDb) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT patient_id, id, state, latched, priority, kind FROM alert"
        " WHERE condition = %s AND state <> 'resolved' ORDER BY patient_id",
        (CONDITION,),
    )


def _newest_tick(db: MonitorDb) -> Any:
    return db.query("SELECT max(written_at) FROM analytics_tick")[0][0]


def test_a_hung_analytics_raises_monitoring_interrupted_and_a_nurse_sees_it_end(
    nabd_stack: RunningStack,
    monitor_db: MonitorDb,
    fresh_database: str,
    analytics: subprocess.Popen[bytes],
) -> None:
    ward = f"wd-{token()}"
    patients = [admit(monitor_db, f"p-wd-{token()}", ward=ward) for _ in range(2)]
    reader = AlertsReader(nabd_stack, ward)
    # The worker starts once analytics ticks: a watchdog started earlier gives it STALE_S to
    # start, which a loaded machine may not meet (that would rightly be an interruption).
    wait_until(lambda: _newest_tick(monitor_db), "analytics' first tick")
    worker_id = f"wd-{token()}"
    ingest_db = ingest_database(nabd_stack, fresh_database)
    worker = start_worker(
        worker_settings(
            nabd_stack,
            ingest_db,
            worker_id,
            watchdog_stale_s=STALE_S,
            watchdog_interval_s=INTERVAL_S,
        )
    )
    try:
        # While analytics ticks, the watchdog raises nothing (several passes past the limit).
        time.sleep(STALE_S + 4 * INTERVAL_S)
        assert _open(monitor_db) == []

        analytics.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        rows = wait_until(
            lambda: (r := _open(monitor_db)) and len(r) == len(patients) and r,
            "monitoring_interrupted for every admitted patient",
            timeout_s=STALE_S + INTERVAL_S + MARGIN_S + 10,
        )
        detected_s = time.monotonic() - stopped_at
        print(f"monitoring_interrupted committed {detected_s:.2f} s after SIGSTOP")
        assert detected_s <= STALE_S + INTERVAL_S + MARGIN_S, f"raised after {detected_s:.1f} s"
        assert [(p, s, latched, prio, kind) for p, _, s, latched, prio, kind in rows] == [
            (p, "raised", False, "high", "technical") for p in sorted(patients)
        ]
        ids = {p: i for p, i, *_ in rows}
        raised = wait_until(
            lambda: (m := reader.of(CONDITION, "raised")) and len(m) >= len(patients) and m,
            "the raised alerts on the ward's alerts topic",
        )
        assert {(str(m.alert_id), m.patient_id, m.ward_id) for m in raised} == {
            (str(ids[p]), p, ward) for p in patients
        }
        assert all(m.message.startswith("Monitoring interrupted") for m in raised)
        audit = monitor_db.query(
            "SELECT subject, actor FROM audit_log WHERE action = 'alert_raised'"
            " AND details->>'condition' = %s",
            (CONDITION,),
        )
        login = worker.service.settings.database_url.split("://")[1].split(":")[0]
        assert sorted(audit) == sorted((f"alert:{ids[p]}", login) for p in patients)

        # Resumed: the alert is latched, not resolved, and analytics does not touch it.
        before = _newest_tick(monitor_db)
        analytics.send_signal(signal.SIGCONT)
        wait_until(lambda: _newest_tick(monitor_db) > before, "analytics ticking again")
        wait_until(
            lambda: all(r[3] for r in _open(monitor_db)) and len(_open(monitor_db)) == 2,
            "both alerts latched",
        )
        time.sleep(4 * INTERVAL_S)  # several analytics ticks and watchdog passes
        assert [(p, i, s, latched) for p, i, s, latched, *_ in _open(monitor_db)] == [
            (p, ids[p], "raised", True) for p in sorted(patients)
        ]
        assert reader.of(CONDITION, "resolved") == []

        # A nurse acknowledges one: the watchdog resolves it and says so on the topic.
        seen, unseen = patients
        with monitor_db.connect() as conn:
            actions.acknowledge(conn, ids[seen], "nurse-wd")
        wait_until(lambda: [r[0] for r in _open(monitor_db)] == [unseen], "the seen alert resolved")
        resolved = wait_until(lambda: reader.of(CONDITION, "resolved"), "resolved on the topic")
        assert [(str(m.alert_id), m.patient_id) for m in resolved] == [(str(ids[seen]), seen)]
        assert monitor_db.query(
            "SELECT resolved_reason FROM alert WHERE id = %s", (ids[seen],)
        ) == [("cleared",)]
    finally:
        worker.stop()
        forget_session(nabd_stack, worker_id)
        reader.close()
    assert worker.result == [0]
    assert worker.service.watchdog is not None
    assert (worker.service.watchdog.raised, worker.service.watchdog.resolved) == (2, 1)
