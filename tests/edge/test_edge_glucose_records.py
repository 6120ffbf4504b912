"""A glucose meter's stored records reach the server exactly once (issue 20, item 5).

The meter is the simulators' virtual glucose meter (bumble, its Record Access Control Point
included) on bumble's virtual link; the agent is the production one, on the broker, with the
ingest side played by :class:`IngestPeer`. The meter takes readings while the gateway is away;
after each reconnection the agent asks for the records after the last one it received, and after
a restart of the agent it still asks for those only (the mark is in its outbox database).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.simulators.ble.identity import identity_of
from nabd.simulators.devices import Device
from tests.edge.agent_harness import (
    gateway_env,
    make_agent,
    running,
    write_config,
)
from tests.edge.ingest_peer import IngestPeer
from tests.edge.record_keepers import (
    Meter,
    answered,
    connected,
    glucose_of,
    keeper_on_radio,
)

pytestmark = pytest.mark.integration

IDENTITY = identity_of("p-records", Device.GLUCOSE_METER)
METER = IDENTITY.device_id
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def _glucose(ingest: IngestPeer) -> list[float | None]:
    return [value for _, metric, value in ingest.readings_of(METER) if metric == "glucose"]


def _expected(*numbers: int) -> list[float]:
    return [glucose_of(n) for n in numbers]


def _rounded(ingest: IngestPeer) -> list[float]:
    return [round(v, 1) for v in _glucose(ingest) if v is not None]


async def _wait_for(ingest: IngestPeer, numbers: list[float], what: str) -> None:
    await asyncio.to_thread(ingest.wait_until, lambda: sorted(_rounded(ingest)) == numbers, what)


def test_records_taken_while_away_arrive_once_across_reconnections_and_restarts(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-glucose-records"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)
    env = gateway_env(nabd_stack, gateway, creds)
    config = None

    async def scenario() -> list[str]:
        nonlocal config
        async with keeper_on_radio(Meter, IDENTITY, START, HOUR) as (meter, port):
            config = write_config(
                tmp_path,
                transport=f"tcp-client:127.0.0.1:{port}",
                devices={METER: IDENTITY.address},
            )
            for number in (0, 1, 2):  # before the gateway ever ran
                await meter.take(number)
            async with running(make_agent(config, env)) as agent:
                await connected(agent, METER, 1)
                await _wait_for(ingest, _expected(0, 1, 2), "the records stored before")
                await meter.take(3)  # live, while connected
                await _wait_for(ingest, _expected(0, 1, 2, 3), "the live record")
                await meter.away()
                for number in (4, 5):
                    await meter.take(number)
                await meter.back()
                await connected(agent, METER, 2)
                await _wait_for(ingest, _expected(*range(6)), "the records taken while away")
                await meter.away()
                await meter.back()  # nothing new
                await connected(agent, METER, 3)
                await answered(meter, 3)
            await meter.take(6)  # while the agent is stopped
            async with running(make_agent(config, env)) as agent:
                await connected(agent, METER, 1)
                await _wait_for(ingest, _expected(*range(7)), "the record taken while stopped")
                await answered(meter, 4)
            return meter.requests

    try:
        requests = asyncio.run(scenario())
    finally:
        ingest.close()
    # all | >= 4 (0-3 received) | >= 6 | >= 6 again after the restart (the mark survived)
    assert requests == ["01 01", "01 03 01 04 00", "01 03 01 06 00", "01 03 01 06 00"]
    assert sorted(_rounded(ingest)) == _expected(*range(7))
    glucose = {k: n for k, n in ingest.identities().items() if k[2] == "glucose"}
    assert len(glucose) == 7
    assert all(count == 1 for count in glucose.values()), glucose
