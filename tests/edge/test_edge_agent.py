"""The production agent over the bumble backend, against the real broker.

Virtual peripherals serve the standard services on a bumble ``LocalLink``; the agent's bumble
host reaches the gateway's controller over TCP; the broker is the session's TLS Mosquitto, with
the gateway's own account; the ingest side is played by :class:`IngestPeer`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.contract.payloads import GatewayState
from nabd.edge.agent import Agent
from nabd.edge.status import DeviceState
from tests.edge.agent_harness import (
    eventually,
    gateway_env,
    make_agent,
    pending,
    running,
    state_of,
    until,
    write_config,
)
from tests.edge.ingest_peer import IngestPeer
from tests.edge.virtual_peripherals import VirtualWorld

pytestmark = pytest.mark.integration

HR = "F0:00:00:00:00:01"
PLX = "F0:00:00:00:00:02"


def test_two_devices_publish_their_readings_to_the_broker(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-agent-two"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)

    async def scenario() -> None:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            oximeter = await world.add("pulse_oximeter", PLX, "oximeter")
            config = write_config(
                tmp_path, transport=world.transport_spec, devices={"hr-01": HR, "plx-01": PLX}
            )
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds))
            async with running(agent):
                await strap.wait_subscribed()
                await oximeter.wait_subscribed()
                for bpm in (61, 62, 63):
                    await strap.send_heart_rate(bpm, rr_intervals=(0.75, 0.5))
                for spo2 in (97.0, 96.0):
                    await oximeter.send_spo2(spo2, 70.0)
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: len(ingest.identities()) >= 3 * 3 + 2 * 2 + 2,
                    "every reading of both devices",
                )
                await until(lambda: _empty(agent), "outbox emptied by the acks")
                assert state_of(agent, "hr-01") is DeviceState.CONNECTED
                assert agent.devices["plx-01"].battery_percent == 87
                assert agent.devices["hr-01"].info["manufacturer"] == "Nabd Test"

    try:
        asyncio.run(scenario())
    finally:
        ingest.close()
    hr = ingest.readings_of("hr-01")
    assert [v for _, m, v in hr if m == "heart_rate"] == [61.0, 62.0, 63.0]
    assert [v for _, m, v in hr if m == "rr_interval"] == [0.75, 0.5] * 3
    assert [v for _, m, v in ingest.readings_of("plx-01") if m == "spo2"] == [97.0, 96.0]
    assert all(count == 1 for count in ingest.identities().values())
    assert ingest.statuses[0].state is GatewayState.ONLINE


async def _empty(agent: Agent) -> bool:
    return await pending(agent) == 0


def test_a_device_that_drops_and_returns_is_resumed_without_restart(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-agent-drop"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)

    async def scenario() -> Agent:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            config = write_config(tmp_path, transport=world.transport_spec, devices={"hr-01": HR})
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds))
            async with running(agent):
                await eventually(
                    lambda: state_of(agent, "hr-01") is DeviceState.CONNECTED, "set up"
                )
                for bpm in (70, 71):
                    await strap.send_heart_rate(bpm)
                await strap.go_away()
                await eventually(
                    lambda: state_of(agent, "hr-01") is not DeviceState.CONNECTED,
                    "the agent notices the lost connection",
                )
                await asyncio.sleep(0.3)  # out of range for a while: several reconnect delays
                assert state_of(agent, "hr-01") is not DeviceState.CONNECTED
                await strap.come_back()
                await eventually(lambda: agent.devices["hr-01"].connections == 2, "connected again")
                for bpm in (72, 73):
                    await strap.send_heart_rate(bpm)
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: (
                        [v for _, m, v in ingest.readings_of("hr-01") if m == "heart_rate"]
                        == [70.0, 71.0, 72.0, 73.0]
                    ),
                    "readings from before and after the drop",
                )
            return agent

    try:
        agent = asyncio.run(scenario())
    finally:
        ingest.close()
    health = agent.devices["hr-01"]
    assert health.connections == 2
    assert "device_lost" in agent.runtime.events.kinds()
    heart_rates = [(seq, v) for seq, m, v in ingest.readings_of("hr-01") if m == "heart_rate"]
    assert [v for _, v in heart_rates] == [70.0, 71.0, 72.0, 73.0]  # seq order is arrival order
    assert len({seq for seq, _ in heart_rates}) == 4
    assert {b.boot_id for b in ingest.batches} == {agent.boot_id}  # one process all along


def test_a_connected_device_that_stops_sending_is_reported_silent(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-agent-silent"
    creds = nabd_stack.add_gateway(gateway)

    async def scenario() -> None:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            config = write_config(
                tmp_path,
                transport=world.transport_spec,
                devices={"hr-01": HR},
                ble={"silent_after_s": 0.4},
            )
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds))
            async with running(agent):
                await strap.wait_subscribed()
                await strap.send_heart_rate(80)
                await eventually(
                    lambda: state_of(agent, "hr-01") is DeviceState.SILENT,
                    "silence reported",
                    deadline=0.4 + 1.5,
                )
                assert "device_silent" in agent.runtime.events.kinds()
                assert strap.connections  # still connected: silent, not lost
                await strap.send_heart_rate(81)
                await eventually(
                    lambda: state_of(agent, "hr-01") is DeviceState.CONNECTED, "readings again"
                )
            report = config.parent / "data" / "status.json"
            assert '"device_silent"' in report.read_text()

    asyncio.run(scenario())
