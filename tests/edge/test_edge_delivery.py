"""Delivery guarantees of the production agent against the real broker.

* Readings leave the outbox only on ingest's ``IngestAck`` for their batch, never on a PUBACK;
  an unacknowledged batch is sent again under the same identity.
* With the broker unreachable, readings collect in the outbox and are all delivered, once, when
  it returns, at the configured catch-up pace.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
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
from tests.edge.tcp_relay import TcpRelay
from tests.edge.virtual_peripherals import VirtualWorld

pytestmark = pytest.mark.integration

HR = "F0:00:00:00:00:11"


async def _pending_is(agent: Agent, expected: int) -> bool:
    return await pending(agent) == expected


def test_only_ingest_acknowledgements_empty_the_outbox(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-delivery-ack"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway, acking=False)

    async def scenario() -> None:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            config = write_config(
                tmp_path,
                transport=world.transport_spec,
                devices={"hr-01": HR},
                outbox={"batch_max_readings": 2, "ack_timeout_s": 0.4},
            )
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds))
            async with running(agent):
                await eventually(lambda: state_of(agent, "hr-01") is DeviceState.CONNECTED, "up")
                for bpm in (90, 91, 92):
                    await strap.send_heart_rate(bpm)
                total = 4  # the battery level read at connection, and three heart rates
                await asyncio.to_thread(
                    ingest.wait_until, lambda: len(ingest.identities()) == total, "all published"
                )
                # Every batch went through the broker (so was PUBACKed): nothing left the outbox.
                assert await pending(agent) == total
                # Unacknowledged, each batch comes again under the same identity.
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: any(_sends(ingest, seq) >= 2 for seq in _seqs(ingest)),
                    "a re-send",
                )
                first = min(_seqs(ingest))
                resent = [b for b in ingest.batches if b.batch_seq == first]
                assert len({b.readings for b in resent}) == 1  # same readings every time
                ingest.ack(resent[0])
                await until(
                    lambda: _pending_is(agent, total - len(resent[0].readings)),
                    "only the acknowledged batch's readings removed",
                )
                ingest.ack(*ingest.batches)
                await until(lambda: _pending_is(agent, 0), "all acknowledged")

    try:
        asyncio.run(scenario())
    finally:
        ingest.close()
    assert all(len(b.readings) <= 2 for b in ingest.batches)


def _seqs(ingest: IngestPeer) -> set[int]:
    return {b.batch_seq for b in ingest.batches}


def _sends(ingest: IngestPeer, batch_seq: int) -> int:
    return sum(1 for b in ingest.batches if b.batch_seq == batch_seq)


def test_readings_wait_for_an_unreachable_broker_and_are_all_delivered_once(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-delivery-outage"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)
    relay = TcpRelay(nabd_stack.mqtt_host, creds.port)
    count, rate = 40, 20.0
    arrivals: list[float] = []

    async def scenario() -> None:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            config = write_config(
                tmp_path,
                transport=world.transport_spec,
                devices={"hr-01": HR},
                outbox={"batch_max_readings": 5, "catch_up_readings_per_s": rate},
            )
            env = gateway_env(nabd_stack, gateway, creds, port=relay.port)  # nothing listens
            agent = make_agent(config, env)
            async with running(agent):
                await eventually(lambda: state_of(agent, "hr-01") is DeviceState.CONNECTED, "up")
                for i in range(count):
                    await strap.send_heart_rate(60 + i)
                await until(lambda: _pending_is(agent, count + 1), "readings kept in the outbox")
                assert ingest.batches == []
                await relay.open()  # the broker is back
                started = time.monotonic()
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: len(ingest.identities()) == count + 1,
                    "the backlog delivered",
                )
                arrivals.append(time.monotonic() - started)
                await until(lambda: _pending_is(agent, 0), "outbox emptied")
            await relay.close()

    try:
        asyncio.run(scenario())
    finally:
        ingest.close()
    identities = ingest.identities()
    assert set(identities.values()) == {1}
    assert len(ingest.batches) == len({b.batch_seq for b in ingest.batches})  # nothing re-sent
    heart_rates = [v for _, m, v in ingest.readings_of("hr-01") if m == "heart_rate"]
    assert heart_rates == [float(60 + i) for i in range(count)]
    assert all(len(b.readings) <= 5 for b in ingest.batches)
    # Catch-up pace: one second's worth (the bucket) at once, the rest at `rate`.
    assert arrivals[0] >= (count + 1 - rate) / rate * 0.8
