"""A device's Bluetooth link down, end to end: a gateway status recorded by ingest's own code
(``nabd.ingest.gateway_status.record``, as its status thread does) -> ``gateway_device_state``
-> the analytics service's registry -> a ``device_disconnected`` alert row naming the device;
the link back up resolves it. Real PostgreSQL, real service, real broker for the publishes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import psycopg
import pytest

from nabd.analytics.alerts import HIGH, AlertPolicy
from nabd.analytics.service.conditions import NAMES
from nabd.analytics.service.config import EngineConfig
from nabd.app.stack.testing import RunningStack
from nabd.contract.alert_text import render
from nabd.contract.payloads import (
    STATUS_SCHEMA,
    AlertFacts,
    DeviceConnection,
    DeviceStatus,
    GatewayState,
    GatewayStatus,
)
from nabd.ingest.gateway_status import StatusOutcome, record
from tests.monitor.monitor_kit import MonitorDb, admit, ago, now, running
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration


def _status(
    gateway: str, device: str, state: DeviceConnection, since: datetime, at: datetime
) -> GatewayStatus:
    return GatewayStatus.model_validate(
        {
            "schema": STATUS_SCHEMA,
            "gateway_id": gateway,
            "boot_id": str(uuid.uuid4()),
            "state": GatewayState.ONLINE,
            "at": at,
            "devices": (DeviceStatus(device_id=device, state=state, since=since),),
        }
    )


def _record(db: MonitorDb, status: GatewayStatus) -> None:
    with psycopg.connect(db.owner_url) as conn:
        assert record(conn, status) == StatusOutcome.APPLIED
        conn.commit()


def _disconnected(db: MonitorDb, patient: str) -> list[tuple[str, str, str]]:
    rows = db.query(
        """SELECT state, priority, message FROM alert
           WHERE patient_id = %s AND condition = 'device_disconnected' ORDER BY raised_at""",
        (patient,),
    )
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_a_link_down_past_the_grace_raises_device_disconnected_and_its_return_resolves_it(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-link-{token()}")
    gateway, device = f"gw-{patient}", f"dev-{patient}"
    config = EngineConfig(
        link_grace_s=3.0,
        policy=AlertPolicy(conditions=NAMES, resolve_after_s=0.5, latch_priority=HIGH),
    )
    # A drop the agent is still riding over (inside the grace) must not page.
    _record(monitor_db, _status(gateway, device, DeviceConnection.LOST, now(), now()))
    with running(nabd_stack, monitor_db, config):
        raised = wait_until(lambda: _disconnected(monitor_db, patient), "the alert", timeout_s=15)
        state, priority, message = raised[0]
        assert (state, priority) == ("raised", "medium")
        assert message.startswith("Device disconnected for "), message
        assert message.endswith(device), message
        (said,) = monitor_db.query(
            "SELECT facts FROM alert WHERE patient_id = %s AND condition = 'device_disconnected'",
            (patient,),
        )[0]
        facts = AlertFacts.model_validate(said, strict=False)
        assert (facts.condition, facts.items) == ("device_disconnected", (device,))
        assert facts.duration_s is not None
        assert facts.duration_s >= 3.0
        assert render(facts, "fr").startswith("Appareil déconnecté depuis ")
        reconnected = now()
        _record(
            monitor_db,
            _status(gateway, device, DeviceConnection.CONNECTED, reconnected,
                    reconnected + timedelta(seconds=1)),
        )  # fmt: skip
        wait_until(
            lambda: _disconnected(monitor_db, patient)[0][0] == "resolved", "resolved", timeout_s=15
        )
    assert len(_disconnected(monitor_db, patient)) == 1


def test_an_offline_gateway_is_its_own_alert_not_one_per_device(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-link-off-{token()}")
    gateway, device = f"gw-{patient}", f"dev-{patient}"
    status = _status(gateway, device, DeviceConnection.LOST, ago(600), ago(1))
    _record(monitor_db, status)
    offline = status.model_copy(update={"state": GatewayState.OFFLINE, "devices": ()})
    _record(monitor_db, offline)  # its last will: the device states are as of before
    with running(nabd_stack, monitor_db, EngineConfig(link_grace_s=1.0)) as monitor:
        ticks = monitor.service.stats.ticks
        wait_until(lambda: monitor.service.stats.ticks >= ticks + 20, "twenty ticks (4 s)")
    assert _disconnected(monitor_db, patient) == []
