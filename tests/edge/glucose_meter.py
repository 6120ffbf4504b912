"""The simulators' virtual glucose meter for the agent tests: records taken on demand, the RACP
requests a central wrote noted, and reachability switched (bumble's virtual link)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import numpy as np
from bumble.device import Connection

from nabd.contract.gatt import encode
from nabd.simulators.ble import messages
from nabd.simulators.ble.identity import DeviceIdentity
from nabd.simulators.ble.link import VirtualRadio
from nabd.simulators.ble.peripheral import VirtualPeripheral
from nabd.simulators.ble.schedule import DeviceFeed, Emission, LinkEvent

__all__ = ["GLUCOSE_MEASUREMENT", "Meter", "glucose_of", "meter_on_radio"]

GLUCOSE_MEASUREMENT = 0x2A18


def glucose_of(number: int) -> float:
    """The concentration (mmol/L) of record ``number``: each record its own value."""
    return round(5.0 + number / 10, 1)


class Meter(VirtualPeripheral):
    """The virtual meter; record ``n`` is taken at ``start + n * step`` by the meter's clock."""

    start: float
    step: float
    requests: list[str]

    def _on_racp(self, connection: Connection, request: bytes) -> None:
        self.requests.append(bytes(request).hex(" "))
        super()._on_racp(connection, request)

    async def take(self, number: int) -> None:
        """Measure: record ``number`` is stored, and notified if a collector listens."""
        at = self.start + number * self.step
        value = messages.glucose(glucose_of(number), False, number, messages.device_time(at))
        assert value is not None
        data = encode(value)
        await self.apply(Emission(at, GLUCOSE_MEASUREMENT, data, False, stored=data))

    async def away(self) -> None:
        await self.apply(LinkEvent(0.0, up=False))

    async def back(self) -> None:
        await self.apply(LinkEvent(0.0, up=True))


@contextlib.asynccontextmanager
async def meter_on_radio(
    identity: DeviceIdentity, start: float, step: float
) -> AsyncIterator[tuple[Meter, int]]:
    """An advertising meter on a new virtual link, and the TCP port of the gateway's controller
    on that link (``tcp-client:127.0.0.1:<port>``)."""
    radio = VirtualRadio()
    feed = DeviceFeed(identity, np.array([start]), {}, {})
    async with radio.serve() as port, radio.host(identity.name, identity.address) as host:
        meter = Meter(feed, host, advertising_interval_ms=20.0)
        meter.start, meter.step, meter.requests = start, step, []
        await meter.advertise()
        yield meter, port
