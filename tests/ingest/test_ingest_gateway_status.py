"""Gateway status messages: judged, ordered (newest wins, the last will ends its session), recorded
in gateway_state / gateway_device_state and the registry, readable by dashboards and analytics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.analytics.service.registry import Registry
from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.contract.payloads import (
    STATUS_SCHEMA,
    DeviceConnection,
    DeviceInformation,
    DeviceStatus,
    GatewayState,
    GatewayStatus,
    NearbyDevice,
    OutboxStatus,
    to_json,
)
from nabd.ingest.consumer import STATUS_SUBSCRIPTION, is_status_topic
from nabd.ingest.gateway_status import (
    StatusOutcome,
    StoredStatus,
    judge_status,
    next_status_at,
    supersedes,
)
from nabd.ingest.settings import IngestSettings
from nabd.ingest.validate import Category, Rejected
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    RunningWorker,
    register,
    worker_settings,
)
from tests.monitor.monitor_kit import registry_of_every_ward
from tests.stack_kit import token, wait_until

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
BOOT = "6f9619ff-8b86-4d11-b42d-00c04fc964ff"


def status(
    gateway_id: str,
    *,
    state: GatewayState = GatewayState.ONLINE,
    at: datetime = T0,
    boot_id: str = BOOT,
    devices: tuple[DeviceStatus, ...] = (),
    outbox: OutboxStatus | None = None,
    nearby: tuple[NearbyDevice, ...] = (),
) -> GatewayStatus:
    return GatewayStatus(
        schema=STATUS_SCHEMA,
        gateway_id=gateway_id,
        boot_id=boot_id,
        state=state,
        at=at,
        software_version="0.1.0",
        devices=devices,
        outbox=outbox,
        nearby=nearby,
    )


def device(
    device_id: str,
    state: DeviceConnection = DeviceConnection.CONNECTED,
    *,
    battery: int | None = 80,
    last: datetime | None = T0,
) -> DeviceStatus:
    return DeviceStatus(
        device_id=device_id,
        state=state,
        since=T0 - timedelta(minutes=5),
        last_reading_at=last,
        battery_percent=battery,
        rssi_dbm=-60,
    )


# -- pure ---------------------------------------------------------------------------------------


def test_status_topics_are_recognised() -> None:
    assert STATUS_SUBSCRIPTION == "nabd/v1/gw/+/status"
    assert is_status_topic("nabd/v1/gw/gw-1/status")
    assert not is_status_topic("nabd/v1/gw/gw-1/obs")
    assert not is_status_topic("nabd/v1/gw/gw-1/status/x")
    assert not is_status_topic("nabd/v2/gw/gw-1/status")


def test_a_valid_status_on_its_own_topic_is_accepted() -> None:
    sent = status("gw-1", devices=(device("hr-1"),))
    assert judge_status("nabd/v1/gw/gw-1/status", to_json(sent)) == sent


@pytest.mark.parametrize(
    ("topic", "payload", "category", "field"),
    [
        ("nabd/v1/gw/gw-1/status", b"{not json", Category.PAYLOAD, None),
        (
            "nabd/v1/gw/gw-1/status",
            json.dumps(
                json.loads(to_json(status("gw-1", devices=(device("hr-1"),))))
                | {"devices": [{"device_id": "hr-1", "state": "asleep", "since": T0.isoformat()}]}
            ).encode(),
            Category.PAYLOAD,
            "devices.0.state",
        ),
        (
            "nabd/v1/gw/gw-2/status",
            to_json(status("gw-1")),
            Category.GATEWAY_MISMATCH,
            "gateway_id",
        ),
        ("nabd/v1/gw/GW/status", to_json(status("gw-1")), Category.TOPIC, None),
    ],
    ids=["not_json", "bad_device_state", "other_gateway", "bad_topic"],
)
def test_a_bad_status_is_rejected_with_its_reason(
    topic: str, payload: bytes, category: Category, field: str | None
) -> None:
    verdict = judge_status(topic, payload)
    assert isinstance(verdict, Rejected)
    assert (verdict.category, verdict.field, verdict.payload) == (category, field, payload)
    assert verdict.reason


def test_an_empty_payload_clears_a_retained_status_and_says_nothing() -> None:
    assert judge_status("nabd/v1/gw/gw-1/status", b"") is None


def test_newer_wins_and_the_last_will_ends_its_own_session() -> None:
    online = StoredStatus(BOOT, GatewayState.ONLINE, T0)
    later, earlier = T0 + timedelta(seconds=30), T0 - timedelta(hours=1)
    assert supersedes(None, status("g", at=earlier))
    assert supersedes(online, status("g", at=later))
    assert not supersedes(online, status("g", at=T0))  # a re-delivery
    assert not supersedes(online, status("g", at=earlier))
    # The will: written at the session's start, older than its statuses, still its last word.
    will = status("g", state=GatewayState.OFFLINE, at=earlier)
    assert supersedes(online, will)
    assert next_status_at(online, will) == T0  # the order does not go back ...
    offline = StoredStatus(BOOT, GatewayState.OFFLINE, T0)
    assert not supersedes(offline, status("g", at=T0))  # ... so a re-delivered online is stale
    assert not supersedes(offline, will)
    # A will of an earlier session does not end the current one.
    other = status("g", state=GatewayState.OFFLINE, at=earlier, boot_id=str(uuid.uuid4()))
    assert not supersedes(online, other)


times = st.datetimes(
    min_value=datetime(2021, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(
    sequence=st.lists(
        st.tuples(
            times, st.sampled_from(GatewayState), st.sampled_from([BOOT, str(uuid.UUID(int=1))])
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_order_never_goes_back_and_an_older_online_never_applies(
    sequence: list[tuple[datetime, GatewayState, str]],
) -> None:
    stored: StoredStatus | None = None
    for at, state, boot in sequence:
        incoming = status("g", state=state, at=at, boot_id=boot)
        applies = supersedes(stored, incoming)
        if stored is not None and state is GatewayState.ONLINE:
            assert applies == (at > stored.status_at)
        if applies:
            new_at = next_status_at(stored, incoming)
            assert stored is None or new_at >= stored.status_at
            stored = StoredStatus(boot, state, new_at)


# -- against the real broker and database -------------------------------------------------------


def gateway_row(db: IngestDb, gateway_id: str) -> tuple[Any, ...]:
    return db.query(
        "SELECT g.last_status, g.last_seen_at IS NOT NULL, s.state, s.boot_id, s.status_at,"
        " s.outbox_pending, s.outbox_oldest_at, s.dropped_full"
        " FROM gateway g LEFT JOIN gateway_state s ON s.gateway_id = g.id WHERE g.id = %s",
        (gateway_id,),
    )[0]


def device_rows(db: IngestDb, gateway_id: str) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT device_id, state, last_reading_at, battery_percent, rssi_dbm"
        " FROM gateway_device_state WHERE gateway_id = %s ORDER BY device_id",
        (gateway_id,),
    )


def outcome(worker: RunningWorker, name: str) -> float:
    return worker.metric("nabd_ingest_status_messages_total", outcome=name)


@pytest.mark.integration
def test_statuses_are_recorded_ordered_and_readable(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
) -> None:
    gw_id, hr, spo2 = f"gw-{token()}", f"hr-{token()}", f"plx-{token()}"
    register(ingest_db, gw_id, {hr: "p-st-1", spo2: None})
    gw = gateways(gw_id)
    first = status(
        gw_id,
        devices=(device(hr), device(spo2, DeviceConnection.SEARCHING, battery=None, last=None)),
        outbox=OutboxStatus(pending=37, oldest_received_at=T0, dropped_full=2),
    )
    gw.publish_status(to_json(first))  # retained before any worker runs
    worker = workers(worker_settings(nabd_stack, ingest_db, token()))

    # The retained status reaches a worker that subscribes after it was published.
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 1, "the retained status")
    assert gateway_row(ingest_db, gw_id) == ("online", True, "online", BOOT, T0, 37, T0, 2)
    assert device_rows(ingest_db, gw_id) == [
        (hr, "connected", T0, 80, -60),
        (spo2, "searching", None, None, -60),
    ]
    registry = ingest_db.query(
        "SELECT id, battery_level, last_seen_at FROM device WHERE gateway_id = %s ORDER BY id",
        (gw_id,),
    )
    assert registry == sorted([(hr, 80.0, T0), (spo2, None, None)])

    # An older status (a re-delivery, a slow worker) is ignored; a newer one replaces the devices.
    gw.publish_status(to_json(status(gw_id, at=T0 - timedelta(seconds=30))))
    wait_until(lambda: outcome(worker, StatusOutcome.STALE) >= 1, "the stale status")
    later = T0 + timedelta(seconds=30)
    gw.publish_status(
        to_json(status(gw_id, at=later, devices=(device(hr, DeviceConnection.SILENT, battery=15),)))
    )
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 2, "the newer status")
    assert device_rows(ingest_db, gw_id) == [(hr, "silent", T0, 15, -60)]
    assert gateway_row(ingest_db, gw_id)[4] == later

    # The last will (written at the session's start) ends the session; the devices stay as last
    # reported, the gateway's last_seen_at is kept.
    gw.publish_status(
        to_json(status(gw_id, state=GatewayState.OFFLINE, at=T0 - timedelta(hours=1)))
    )
    wait_until(lambda: gateway_row(ingest_db, gw_id)[0] == "offline", "the last will")
    assert gateway_row(ingest_db, gw_id)[:5] == ("offline", True, "offline", BOOT, later)
    assert device_rows(ingest_db, gw_id) == [(hr, "silent", T0, 15, -60)]

    # A malformed status is a dead letter (and acknowledged: not delivered again).
    bad = b'{"schema": "nabd.status/1", "gateway_id": "' + gw_id.encode() + b'"}'
    gw.publish_status(bad, retain=False)
    wait_until(lambda: outcome(worker, StatusOutcome.DEAD_LETTER) >= 1, "the dead letter")
    dead = ingest_db.query(
        "SELECT topic, payload, field, reason FROM dead_letter WHERE gateway_id = %s", (gw_id,)
    )
    assert [(t, bytes(p), f) for t, p, f, _ in dead] == [
        (f"nabd/v1/gw/{gw_id}/status", bad, "boot_id")
    ]

    # Dashboards and analytics read both tables; neither may write them.
    for role in ("nabd_dashboards", "nabd_analytics"):
        with ingest_db.as_role(role) as conn:
            assert conn.execute(
                "SELECT count(*) FROM gateway_device_state WHERE gateway_id = %s", (gw_id,)
            ).fetchone() == (1,)
            assert conn.execute(
                "SELECT state FROM gateway_state WHERE gateway_id = %s", (gw_id,)
            ).fetchone() == ("offline",)


@pytest.mark.integration
def test_a_status_from_an_unregistered_gateway_is_ignored(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
) -> None:
    stranger, known = f"gw-{token()}", f"gw-{token()}"
    register(ingest_db, known, {})
    worker = workers(worker_settings(nabd_stack, ingest_db, token()))
    gateways(stranger).publish_status(to_json(status(stranger, devices=(device("hr-x"),))))
    # Statuses are recorded one after the other, in the order the broker delivered them: once
    # the known gateway's (published second) is applied, the stranger's has been judged.
    gateways(known).publish_status(to_json(status(known)))
    wait_until(lambda: gateway_row(ingest_db, known)[2] == "online", "the known gateway's status")
    assert outcome(worker, StatusOutcome.UNKNOWN_GATEWAY) >= 1
    for table in ("gateway_state", "gateway_device_state", "dead_letter"):
        rows = ingest_db.query(f"SELECT count(*) FROM {table} WHERE gateway_id = %s", (stranger,))  # noqa: S608
        assert rows == [(0,)], table


async def _monitor_registry(db: IngestDb) -> Registry:
    """The analytics service's registry, read as it reads it (as ``nabd_analytics``), of a
    worker holding every ward."""
    async with await psycopg.AsyncConnection.connect(db.owner_url) as conn:
        await conn.execute("GRANT nabd_analytics TO current_user")
        await conn.execute("SET ROLE nabd_analytics")
        try:
            return await registry_of_every_ward(conn)
        finally:
            await conn.rollback()


@pytest.mark.integration
def test_the_monitor_sees_gateway_state_and_batteries_from_statuses(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
) -> None:
    """The analytics service's "gateway offline" and "low battery" read gateway.last_status,
    gateway.last_seen_at and device.battery_level: statuses are what keeps them current."""
    gw_id, hr, patient = f"gw-{token()}", f"hr-{token()}", f"p-{token()}"
    register(ingest_db, gw_id, {hr: patient})
    workers(worker_settings(nabd_stack, ingest_db, token()))
    gw = gateways(gw_id)
    now = datetime.now(UTC)
    gw.publish_status(to_json(status(gw_id, at=now, devices=(device(hr, battery=12),))))
    wait_until(lambda: gateway_row(ingest_db, gw_id)[0] == "online", "the online status")

    registry = asyncio.run(_monitor_registry(ingest_db))
    index = list(registry.gateway_id).index(gw_id)
    assert registry.gateway_online[index]
    seen_s = registry.gateway_last_seen[index] / 1e9
    assert abs(seen_s - time.time()) < 60  # by the database's clock, at receipt
    assert registry.battery[list(registry.patient).index(patient)] == 12.0

    gw.publish_status(to_json(status(gw_id, state=GatewayState.OFFLINE, at=now)))
    wait_until(lambda: gateway_row(ingest_db, gw_id)[0] == "offline", "the last will")
    registry = asyncio.run(_monitor_registry(ingest_db))
    assert not registry.gateway_online[list(registry.gateway_id).index(gw_id)]


def test_devices_heard_nearby_reach_the_operator(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 18 item 6: what a gateway hears advertising but does not read, from its status
    through a running worker into ``nabd gateway seen``, replaced whole by each status."""
    gw_id, worn = f"gw-{token()}", f"hr-{token()}"
    register(ingest_db, gw_id, {worn: None})
    with psycopg.connect(ingest_db.owner_url) as conn:  # one heard device is registered already
        conn.execute("UPDATE device SET address = 'F0:00:00:00:00:03' WHERE id = %s", (worn,))
    oximeter = NearbyDevice(
        address="F0:00:00:00:00:02",
        services=("pulse_oximeter",),
        rssi_dbm=-40,
        heard_at=T0,
    )
    strap = NearbyDevice(
        address="F0:00:00:00:00:01", services=("heart_rate",), rssi_dbm=-70, heard_at=T0
    )
    mine = NearbyDevice(address="F0:00:00:00:00:03", services=("heart_rate",), heard_at=T0)
    gw = gateways(gw_id)
    worker = workers(worker_settings(nabd_stack, ingest_db, token()))
    gw.publish_status(to_json(status(gw_id, nearby=(strap, oximeter, mine))))
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 1, "the first status")
    gw.publish_status(to_json(status(gw_id, at=T0 + timedelta(minutes=1), nearby=(oximeter, mine))))
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 2, "the second status")
    capsys.readouterr()
    assert main(["gateway", "seen", gw_id, "--database-url", ingest_db.owner_url]) == 0
    out = capsys.readouterr().out
    heard = out[out.index("heard advertising") :].splitlines()[2:]
    assert [line.split() for line in heard] == [
        ["F0:00:00:00:00:02", "-40", "pulse_oximeter", "-"],
        ["F0:00:00:00:00:03", "-", "heart_rate", worn],
    ]  # strongest first; the strap no longer heard is gone; a registered one says which


@pytest.mark.integration
def test_device_information_reaches_the_device_row_and_a_mismatch_is_flagged(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 20 item 4: the Device Information strings a gateway reads reach the device row; a
    device reporting another model than registered is flagged until it reports the right one."""
    gw_id, oxi, old = f"gw-{token()}", f"plx-{token()}", f"hr-{token()}"
    register(ingest_db, gw_id, {oxi: None, old: None})
    with psycopg.connect(ingest_db.owner_url) as conn:
        conn.execute(
            "UPDATE device SET model = 'OXI-100', manufacturer = 'Acme Medical' WHERE id = %s",
            (oxi,),
        )
    gw = gateways(gw_id)
    worker = workers(worker_settings(nabd_stack, ingest_db, token()))
    said = DeviceInformation(
        manufacturer="ACME  medical", model="OXI-200", serial_number="A1", firmware_revision="2.1"
    )
    informed = device(oxi).model_copy(update={"information": said})
    gw.publish_status(to_json(status(gw_id, devices=(informed, device(old)))))  # old: no field
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 1, "the first status")
    assert reported(ingest_db, oxi) == (
        "ACME  medical", "OXI-200", "A1", "2.1", T0,
        "reports model 'OXI-200', registered as 'OXI-100'", T0,
    )  # fmt: skip
    assert reported(ingest_db, old) == (None,) * 7

    capsys.readouterr()
    assert main(["device", "show", oxi, "--database-url", ingest_db.owner_url]) == 0
    shown = capsys.readouterr()
    assert "reported     manufacturer ACME  medical, model OXI-200, serial A1, firmware 2.1" in (
        shown.out
    )
    assert "NOT AS REGISTERED: reports model 'OXI-200', registered as 'OXI-100'" in shown.out
    assert f"nabd: warning: device {oxi} reports model 'OXI-200'" in shown.err
    assert main(["device", "list", "--gateway", gw_id, "--database-url", ingest_db.owner_url]) == 0
    flagged = [line for line in capsys.readouterr().out.splitlines() if "not as registered" in line]
    assert [line.split()[0] for line in flagged] == [oxi]

    # The same strings again change nothing; the right model clears the flag.
    later = T0 + timedelta(minutes=1)
    gw.publish_status(to_json(status(gw_id, at=later, devices=(informed,))))
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 2, "the second status")
    assert reported(ingest_db, oxi)[4:] == (
        T0,
        "reports model 'OXI-200', registered as 'OXI-100'",
        T0,
    )
    fixed = informed.model_copy(
        update={"information": said.model_copy(update={"model": "oxi-100"})}
    )
    gw.publish_status(to_json(status(gw_id, at=later + timedelta(minutes=1), devices=(fixed,))))
    wait_until(lambda: outcome(worker, StatusOutcome.APPLIED) >= 3, "the third status")
    assert reported(ingest_db, oxi)[1:] == (
        "oxi-100",
        "A1",
        "2.1",
        later + timedelta(minutes=1),
        None,
        None,
    )


def reported(db: IngestDb, device_id: str) -> tuple[Any, ...]:
    return db.query(
        "SELECT reported_manufacturer, reported_model, reported_serial, reported_firmware,"
        " reported_at, identity_mismatch, identity_mismatch_since FROM device WHERE id = %s",
        (device_id,),
    )[0]
