"""Helpers of the ingest tests: a migrated database, registry rows, gateways played with paho,
and ingest workers run in-process (threads) or as real processes. What every service's tests
share (waits, names, the database, MQTT clients) is in ``tests/stack_kit.py``.

Every wait polls a condition with a deadline (:func:`wait_until`); nothing sleeps to synchronise.
Workers of the shared subscription are real broker sessions that outlive a test, and the broker
round-robins a group's messages over *every* session in it, connected or not: each worker's
session is therefore deleted when its test ends (:func:`forget_session`), or it would swallow the
next tests' messages.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from prometheus_client import CollectorRegistry

from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from nabd.contract.payloads import IngestAck, parse, parse_batch, to_json
from nabd.ingest.consumer import end_session
from nabd.ingest.service import IngestService
from nabd.ingest.settings import IngestSettings
from tests.stack_kit import DEADLINE_S, ServiceDb, stack_client

# -- database ------------------------------------------------------------------------------


class IngestDb(ServiceDb):
    """The module's database: the owner's URL and the ingest service's own login to it."""

    @property
    def ingest_url(self) -> str:
        return self.service_url


def ingest_database(stack: RunningStack, fresh_url: str) -> IngestDb:
    """Migrate the module's fresh database; the ingest login's URL points at it too."""
    return IngestDb.migrated(stack, fresh_url, "ingest")


def register(
    db: IngestDb,
    gateway_id: str,
    devices: dict[str, str | None],
    since: datetime = datetime(2020, 1, 1, tzinfo=UTC),
) -> None:
    """A ward, the gateway, its devices, and each device's patient from ``since`` on (None:
    registered but assigned to nobody)."""
    with psycopg.connect(db.owner_url) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('w', 'Ward') ON CONFLICT DO NOTHING")
        conn.execute("INSERT INTO gateway (id, ward_id) VALUES (%s, 'w')", (gateway_id,))
        for device_id, patient_id in devices.items():
            conn.execute(
                "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'test')",
                (device_id, gateway_id),
            )
            if patient_id is not None:
                conn.execute(
                    "INSERT INTO patient (id, ward_id) VALUES (%s, 'w') ON CONFLICT DO NOTHING",
                    (patient_id,),
                )
                conn.execute(
                    "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                    " VALUES (%s, %s, tstzrange(%s, NULL), 'test')",
                    (device_id, patient_id, since),
                )


def stored_rows(db: IngestDb, gateway_id: str) -> list[tuple[Any, ...]]:
    """(patient, device, metric, seq, time, value, quality, received_at) of one gateway."""
    return db.query(
        "SELECT o.patient_id, o.device_id, m.key, o.seq, o.time, o.value, o.quality,"
        " o.received_at FROM observation o JOIN metric m ON m.id = o.metric_id"
        " WHERE o.gateway_id = %s ORDER BY o.device_id, o.seq, m.key",
        (gateway_id,),
    )


def count(db: IngestDb, table: str, gateway_id: str) -> int:
    rows = db.query(f"SELECT count(*) FROM {table} WHERE gateway_id = %s", (gateway_id,))  # noqa: S608
    return int(rows[0][0])


# -- payloads ------------------------------------------------------------------------------

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # a Monday
HORIZON_DAYS = 36_500
"""The kit's workers believe sample times back to a century (``past_horizon_days``): its readings
are dated from T0, long before today. Tests of the sample-time window set their own."""


def reading(
    device_id: str,
    seq: int,
    *,
    metric: str = "heart_rate",
    value: float | None = 72.0,
    unit: str = "/min",
    at: datetime = T0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "seq": seq,
        "metric": metric,
        "value": value,
        "unit": unit,
        "received_at": at.isoformat(),
        **extra,
    }


def batch_json(
    gateway_id: str, readings: list[dict[str, Any]], batch_seq: int = 0, boot_id: str | None = None
) -> dict[str, Any]:
    return {
        "schema": "nabd.obs/1",
        "gateway_id": gateway_id,
        "boot_id": boot_id or str(uuid.uuid4()),
        "batch_seq": batch_seq,
        "sent_at": datetime.now(UTC).isoformat(),
        "readings": readings,
    }


def valid_batch(gateway_id: str, readings: list[dict[str, Any]], **kw: Any) -> bytes:
    """A batch as a gateway publishes it (checked against the contract first)."""
    return to_json(parse_batch(json.dumps(batch_json(gateway_id, readings, **kw)).encode()))


def heart_rates(
    device_id: str, n: int, start_seq: int = 0, t0: datetime = T0
) -> list[dict[str, Any]]:
    return [
        reading(device_id, start_seq + i, value=60.0 + (i % 50), at=t0 + timedelta(seconds=i))
        for i in range(n)
    ]


# -- MQTT ----------------------------------------------------------------------------------


class FakeGateway:
    """A gateway played with paho: publishes batches (QoS 1), collects its ``IngestAck`` s."""

    def __init__(self, stack: RunningStack, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.acks: list[IngestAck] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        creds = stack.add_gateway(gateway_id)
        self._client = stack_client(stack, creds, topics.gateway_client_id(gateway_id))
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect(stack.mqtt_host, creds.port)
        self._client.loop_start()
        self._client.subscribe(topics.ack(gateway_id), qos=1)
        assert self._subscribed.wait(DEADLINE_S)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.acks.append(parse(IngestAck, bytes(message.payload)))

    def publish(self, payload: bytes) -> None:
        info = self._client.publish(topics.observations(self.gateway_id), payload, qos=1)
        info.wait_for_publish(DEADLINE_S)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_status(self, payload: bytes, *, retain: bool = True) -> None:
        """On the gateway's status topic, retained as a gateway publishes it."""
        info = self._client.publish(topics.status(self.gateway_id), payload, qos=1, retain=retain)
        info.wait_for_publish(DEADLINE_S)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS

    def acked(self) -> list[tuple[str, int]]:
        """Every (boot_id, batch_seq) acknowledged so far, with repetitions."""
        with self._lock:
            return [(a.boot_id, s) for a in self.acks for s in a.committed]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def forget_session(stack: RunningStack, worker_id: str) -> None:
    """Delete a worker's broker session so it leaves the share group (``nabd ingest retire``)."""
    creds = stack.service("ingest")
    settings = IngestSettings(
        database_url=stack.database_url,  # unused: ending a session touches only the broker
        mqtt_host=stack.mqtt_host,
        mqtt_port=stack.mqtt_port,
        mqtt_ca_file=stack.ca_file,
        mqtt_username=creds.username,
        mqtt_password=creds.password,
        mqtt_cert_file=creds.cert_file,
        mqtt_key_file=creds.key_file,
        worker_id=worker_id,
    )
    assert end_session(settings, DEADLINE_S), f"the broker refused nabd-ingest-{worker_id}"


# -- workers -------------------------------------------------------------------------------


def worker_settings(
    stack: RunningStack, db: IngestDb, worker_id: str, **tuning: Any
) -> IngestSettings:
    creds = stack.service("ingest")
    base: dict[str, Any] = {
        "database_url": db.ingest_url,
        "mqtt_host": stack.mqtt_host,
        "mqtt_port": stack.mqtt_port,
        "mqtt_ca_file": stack.ca_file,
        "mqtt_username": creds.username,
        "mqtt_password": creds.password,
        "mqtt_cert_file": creds.cert_file,
        "mqtt_key_file": creds.key_file,
        "worker_id": worker_id,
        "flush_max_age_s": 0.05,
        "health_interval_s": 0.2,
        "metrics_port": 0,
        "past_horizon_days": HORIZON_DAYS,
    }
    return IngestSettings(**(base | tuning))


def worker_env(stack: RunningStack, db: IngestDb, worker_id: str, **tuning: str) -> dict[str, str]:
    """Environment of a worker run as a process: the stack's variables, the test database."""
    env = dict(stack.env)
    env["NABD_INGEST_DATABASE_URL"] = db.ingest_url
    env["NABD_INGEST_WORKER_ID"] = worker_id
    env["NABD_INGEST_PAST_HORIZON_DAYS"] = str(HORIZON_DAYS)
    env.update({f"NABD_INGEST_{k.upper()}": v for k, v in tuning.items()})
    return env


@dataclass
class RunningWorker:
    """An in-process worker: its service, its thread, and (once stopped) its exit status."""

    service: IngestService
    thread: threading.Thread = field(default_factory=lambda: threading.Thread(target=None))
    result: list[int] = field(default_factory=list)

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive(), "worker did not stop"

    def metric(self, name: str, **labels: str) -> float:
        value = self.service.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def start_worker(settings: IngestSettings) -> RunningWorker:
    """Run a worker in a thread of this process, with its own metrics registry."""
    service = IngestService(settings, registry=CollectorRegistry())
    worker = RunningWorker(service)
    worker.thread = threading.Thread(
        target=lambda: worker.result.append(service.run()), name=settings.worker_id
    )
    worker.thread.start()
    assert service.wait_ready(DEADLINE_S), "worker did not subscribe"
    return worker


def scrape(port: int) -> str:
    """The text of a worker's ``/metrics`` endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def sample(text: str, name: str) -> float:
    """One unlabelled sample from Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0
