"""A GHS sensor's stored observations reach the server exactly once; a refused "start" is
reported and costs nothing else (issue 20, item 1: the record access control point).

The sensor is the simulators' virtual GHS respiration sensor (bumble: Stored Health Observations,
its Record Access Control Point and GHS Control Point included) on bumble's virtual link; the
agent is the production one, on the broker, with the ingest side played by :class:`IngestPeer`.
The sensor keeps the observations no client takes live; after each reconnection the agent asks
for the records after the last one it received, then starts live observations, and after a
restart of the agent it still asks for those only (the mark is in its outbox database).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.edge.agent import Agent
from nabd.edge.status import DeviceHealth, DeviceState
from nabd.simulators.ble.identity import identity_of
from nabd.simulators.ble.peripheral import StartRefusal
from nabd.simulators.devices import Device
from tests.edge.agent_harness import (
    eventually,
    gateway_env,
    make_agent,
    running,
    state_of,
    write_config,
)
from tests.edge.ingest_peer import IngestPeer
from tests.edge.record_keepers import Sensor, answered, connected, keeper_on_radio, rate_of

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp()
MINUTE = 60.0


def _rates(ingest: IngestPeer, device_id: str) -> list[float]:
    return sorted(
        round(value, 1)
        for _, metric, value in ingest.readings_of(device_id)
        if metric == "respiration_rate" and value is not None
    )


def _expected(*numbers: int) -> list[float]:
    return sorted(rate_of(n) for n in numbers)


async def _wait_for(ingest: IngestPeer, device_id: str, numbers: list[float], what: str) -> None:
    await asyncio.to_thread(ingest.wait_until, lambda: _rates(ingest, device_id) == numbers, what)


def _gateway(stack: RunningStack, name: str) -> tuple[IngestPeer, dict[str, str]]:
    """A gateway's ingest side and environment."""
    creds = stack.add_gateway(name)
    return IngestPeer(stack, name), gateway_env(stack, name, creds)


def test_observations_taken_while_away_arrive_once_across_reconnections_and_restarts(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    identity = identity_of("p-ghs-records", Device.RESPIRATION_SENSOR)
    sensor_id = identity.device_id
    ingest, env = _gateway(nabd_stack, "gw-ghs-records")

    async def scenario() -> tuple[list[str], int]:
        async with keeper_on_radio(Sensor, identity, START, MINUTE) as (sensor, port):
            transport = f"tcp-client:127.0.0.1:{port}"
            devices = {sensor_id: identity.address}
            config = write_config(tmp_path, transport=transport, devices=devices)
            for number in (0, 1, 2):  # before the gateway ever ran: records 0-2
                await sensor.take(number)
            async with running(make_agent(config, env)) as agent:
                await connected(agent, sensor_id, 1)
                await _wait_for(ingest, sensor_id, _expected(0, 1, 2), "the stored observations")
                await eventually(lambda: sensor.taking_live, "live observations started")
                await sensor.take(3)  # live, while connected: not kept
                await _wait_for(ingest, sensor_id, _expected(0, 1, 2, 3), "the live one")
                await sensor.away()
                for number in (4, 5):  # records 3-4
                    await sensor.take(number)
                await sensor.back()
                await connected(agent, sensor_id, 2)
                await _wait_for(ingest, sensor_id, _expected(*range(6)), "those taken away")
                await sensor.away()
                await sensor.back()  # nothing new
                await connected(agent, sensor_id, 3)
                await answered(sensor, 3)
                assert agent.devices[sensor_id].decode_errors == 0
                assert "records_not_read" not in agent.runtime.events.kinds()
            await sensor.take(6)  # while the agent is stopped: record 5
            async with running(make_agent(config, env)) as agent:
                await connected(agent, sensor_id, 1)
                await _wait_for(ingest, sensor_id, _expected(*range(7)), "the one while stopped")
                await answered(sensor, 4)
            return sensor.requests, len(sensor.records.records)

    try:
        requests, kept = asyncio.run(scenario())
    finally:
        ingest.close()
    # all | >= 3 (records 0-2 received) | >= 5 | >= 5 again after the restart (the mark survived)
    assert requests == [
        "01 01",
        "01 03 01 03 00 00 00",
        "01 03 01 05 00 00 00",
        "01 03 01 05 00 00 00",
    ]
    assert kept == 6  # observation 3 went live, the others were kept
    assert _rates(ingest, sensor_id) == _expected(*range(7))
    rates = {k: n for k, n in ingest.identities().items() if k[2] == "respiration_rate"}
    assert len(rates) == 7
    assert all(count == 1 for count in rates.values()), rates


def test_a_refused_start_is_reported_and_the_sensor_still_read(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    identity = identity_of("p-ghs-refuses", Device.RESPIRATION_SENSOR)
    sensor_id = identity.device_id
    ingest, env = _gateway(nabd_stack, "gw-ghs-refuses")

    async def scenario() -> list[str]:
        async with keeper_on_radio(Sensor, identity, START, MINUTE) as (sensor, port):
            transport = f"tcp-client:127.0.0.1:{port}"
            devices = {sensor_id: identity.address}
            config = write_config(tmp_path, transport=transport, devices=devices)
            sensor.refuse_start = StartRefusal.ATT_ERROR
            await sensor.take(0)
            async with running(make_agent(config, env)) as agent:
                health = await _refused(agent, sensor_id, 1)
                await _wait_for(ingest, sensor_id, _expected(0), "the stored observation")
                assert health.info.get("manufacturer")  # Device Information read
                assert health.battery_percent == 100  # Battery Level read
                await sensor.take(1)  # nobody took it live: kept
                sensor.refuse_start = StartRefusal.ERROR_RESPONSE
                await sensor.away()
                await sensor.back()
                await _refused(agent, sensor_id, 2)
                await _wait_for(ingest, sensor_id, _expected(0, 1), "the one after the refusal")
                await asyncio.sleep(0.5)  # the connection stays up after the refusal
                assert state_of(agent, sensor_id) is DeviceState.CONNECTED
                assert health.connections == 2
                assert not sensor.taking_live
                return [
                    e.detail for e in agent.runtime.events.recent() if e.kind == "ghs_start_refused"
                ]

    try:
        details = asyncio.run(scenario())
    finally:
        ingest.close()
    assert len(details) == 2, details
    assert "GHS Control Point" in details[0]  # the ATT error
    assert details[1] == "GHS Control Point answered 81"  # the error response


async def _refused(agent: Agent, device_id: str, times: int) -> DeviceHealth:
    await connected(agent, device_id, times)
    await eventually(
        lambda: agent.runtime.events.kinds().count("ghs_start_refused") >= times,
        f"refusal {times} reported",
    )
    return agent.devices[device_id]
