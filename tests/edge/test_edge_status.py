"""The retained GatewayStatus: devices and outbox on every device state change, the last will
when the broker link dies, ``offline`` on a clean stop; against the real broker.

The status interval is a minute here, so every status the test sees was caused by a device state
change or a (re)connection, not by the periodic refresh.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.contract.payloads import DeviceConnection, GatewayState, GatewayStatus
from nabd.edge.status import DeviceState
from tests.edge.agent_harness import (
    eventually,
    gateway_env,
    make_agent,
    running,
    state_of,
    write_config,
)
from tests.edge.ingest_peer import IngestPeer
from tests.edge.tcp_relay import TcpRelay
from tests.edge.virtual_peripherals import VirtualWorld

pytestmark = pytest.mark.integration

HR = "F0:00:00:00:00:11"


def _device(status: GatewayStatus, device_id: str) -> DeviceConnection | None:
    return next((d.state for d in status.devices if d.device_id == device_id), None)


def test_status_carries_devices_and_outbox_and_follows_device_changes(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-status-devices"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)

    def seen(state: DeviceConnection) -> bool:
        return any(_device(s, "hr-01") is state for s in ingest.statuses)

    async def scenario() -> str:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            config = write_config(
                tmp_path,
                transport=world.transport_spec,
                devices={"hr-01": HR},
                status_interval_s=60,
            )
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds))
            async with running(agent):
                await eventually(lambda: state_of(agent, "hr-01") is DeviceState.CONNECTED, "up")
                await asyncio.to_thread(
                    ingest.wait_until, lambda: seen(DeviceConnection.CONNECTED), "connected status"
                )
                await strap.go_away()
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: seen(DeviceConnection.LOST) or seen(DeviceConnection.SEARCHING),
                    "the loss published at once, not at the next interval",
                )
            return agent.boot_id

    try:
        boot_id = asyncio.run(scenario())
        ingest.wait_until(lambda: ingest.statuses[-1].state is GatewayState.OFFLINE, "offline")
    finally:
        ingest.close()
    connected = next(
        s for s in ingest.statuses if _device(s, "hr-01") is DeviceConnection.CONNECTED
    )
    (hr,) = connected.devices
    assert hr.battery_percent == 87  # the virtual strap's Battery Level
    assert hr.rssi_dbm is not None
    assert -127 <= hr.rssi_dbm <= 20
    assert connected.outbox is not None
    assert connected.boot_id == boot_id
    assert [s.at for s in ingest.statuses[:-1]] == sorted(s.at for s in ingest.statuses[:-1])
    last = ingest.statuses[-1]  # the clean stop: no devices, the same session
    assert (last.boot_id, last.devices, last.outbox) == (boot_id, (), None)

    # Retained: a newcomer learns at once that the gateway is offline.
    newcomer = IngestPeer(nabd_stack, gateway)
    try:
        newcomer.wait_until(lambda: bool(newcomer.statuses), "the retained status")
        assert newcomer.statuses[0].state is GatewayState.OFFLINE
    finally:
        newcomer.close()


def test_the_last_will_announces_a_dead_link_and_a_fresh_status_follows_the_reconnection(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-status-will"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)
    relay = TcpRelay(nabd_stack.mqtt_host, creds.port)

    def count(state: GatewayState) -> int:
        return sum(1 for s in ingest.statuses if s.state is state)

    async def scenario() -> None:
        async with VirtualWorld.running() as world:
            await world.add("heart_rate", HR, "strap")
            config = write_config(
                tmp_path,
                transport=world.transport_spec,
                devices={"hr-01": HR},
                status_interval_s=60,
            )
            await relay.open()
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds, port=relay.port))
            async with running(agent):
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: any(
                        _device(s, "hr-01") is DeviceConnection.CONNECTED for s in ingest.statuses
                    ),
                    "the device's status",
                )
                await relay.close()  # the link dies without DISCONNECT: the broker sends the will
                await asyncio.to_thread(
                    ingest.wait_until, lambda: count(GatewayState.OFFLINE) == 1, "the last will"
                )
                will_index = len(ingest.statuses) - 1
                await relay.open()
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: any(
                        s.state is GatewayState.ONLINE
                        and s.at > max(p.at for p in ingest.statuses[:will_index])
                        for s in ingest.statuses[will_index + 1 :]
                    ),
                    "a status newer than any before the will",
                )
            await relay.close()

    try:
        asyncio.run(scenario())
    finally:
        ingest.close()
    will = next(s for s in ingest.statuses if s.state is GatewayState.OFFLINE)
    assert will.devices == ()
    assert will.outbox is None
    assert will.at <= ingest.statuses[0].at  # written when the session started
    assert {s.boot_id for s in ingest.statuses} == {will.boot_id}  # one process all along
