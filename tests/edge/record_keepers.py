"""The simulators' virtual devices that keep records, for the agent tests: a glucose meter and a
GHS respiration sensor. Records are taken on demand, the RACP requests a central wrote are noted,
and reachability is switched (bumble's virtual link)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import numpy as np
from bumble.device import Connection

from nabd.contract.gatt import encode, encode_observation, segment
from nabd.edge.agent import Agent
from nabd.edge.status import DeviceState
from nabd.simulators.ble import messages
from nabd.simulators.ble.identity import DeviceIdentity
from nabd.simulators.ble.link import VirtualRadio
from nabd.simulators.ble.peripheral import VirtualPeripheral
from nabd.simulators.ble.schedule import GHS_SEGMENT_OCTETS, DeviceFeed, Emission, LinkEvent
from tests.edge.agent_harness import eventually, state_of

__all__ = [
    "GLUCOSE_MEASUREMENT",
    "LIVE_HEALTH_OBSERVATIONS",
    "Keeper",
    "Meter",
    "Sensor",
    "answered",
    "connected",
    "glucose_of",
    "keeper_on_radio",
    "rate_of",
]

GLUCOSE_MEASUREMENT = 0x2A18
LIVE_HEALTH_OBSERVATIONS = 0x2B8B


def glucose_of(number: int) -> float:
    """The concentration (mmol/L) of record ``number``: each record its own value."""
    return round(5.0 + number / 10, 1)


def rate_of(number: int) -> float:
    """The respiratory rate (breaths/min) of observation ``number``: each its own value."""
    return round(12.0 + number / 10, 1)


class Keeper(VirtualPeripheral):
    """A virtual device that keeps records; record ``n`` is taken at ``start + n * step`` by the
    device's clock."""

    start: float
    step: float
    requests: list[str]

    def _on_racp(self, connection: Connection, request: bytes) -> None:
        self.requests.append(bytes(request).hex(" "))
        super()._on_racp(connection, request)

    async def away(self) -> None:
        await self.apply(LinkEvent(0.0, up=False))

    async def back(self) -> None:
        await self.apply(LinkEvent(0.0, up=True))


class Meter(Keeper):
    """The virtual glucose meter."""

    async def take(self, number: int) -> None:
        """Measure: record ``number`` is stored, and notified if a collector listens."""
        at = self.start + number * self.step
        value = messages.glucose(glucose_of(number), False, number, messages.device_time(at))
        assert value is not None
        data = encode(value)
        await self.apply(Emission(at, GLUCOSE_MEASUREMENT, data, False, stored=data))


class Sensor(Keeper):
    """The virtual GHS respiration sensor."""

    counter = 0

    async def take(self, number: int) -> None:
        """Observe: sent live to the clients that asked for live observations, else kept."""
        at = self.start + number * self.step
        observation = messages.respiration(rate_of(number), False, at)
        assert observation is not None
        whole = encode_observation(observation)
        parts = segment(whole, GHS_SEGMENT_OCTETS, self.counter)
        self.counter = (self.counter + len(parts)) % 64
        for n, part in enumerate(parts, start=1):
            kept = whole if n == len(parts) else None
            await self.apply(Emission(at, LIVE_HEALTH_OBSERVATIONS, part, False, stored=kept))


K = TypeVar("K", bound=Keeper)


@contextlib.asynccontextmanager
async def keeper_on_radio(
    kind: type[K], identity: DeviceIdentity, start: float, step: float
) -> AsyncIterator[tuple[K, int]]:
    """An advertising device on a new virtual link, and the TCP port of the gateway's controller
    on that link (``tcp-client:127.0.0.1:<port>``)."""
    radio = VirtualRadio()
    feed = DeviceFeed(identity, np.array([start]), {}, {})
    async with radio.serve() as port, radio.host(identity.name, identity.address) as host:
        keeper = kind(feed, host, advertising_interval_ms=20.0)
        keeper.start, keeper.step, keeper.requests = start, step, []
        await keeper.advertise()
        yield keeper, port


async def connected(agent: Agent, device_id: str, times: int) -> None:
    """Until the agent has connected to the device ``times`` times and is connected now."""
    await eventually(
        lambda: (
            device_id in agent.devices
            and agent.devices[device_id].connections >= times
            and state_of(agent, device_id) is DeviceState.CONNECTED
        ),
        f"connection {times} to {device_id}",
    )


async def answered(keeper: Keeper, count: int) -> None:
    """Until the device received ``count`` RACP requests and answered the last."""
    await eventually(lambda: len(keeper.requests) >= count, f"RACP request {count}")
    await asyncio.sleep(0.3)  # the procedure's records and indication, if any
