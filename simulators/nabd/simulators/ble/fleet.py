"""Many virtual devices at once: a ward's wearables on one radio, on one simulated clock.

:func:`run_fleet` starts one :class:`~.peripheral.VirtualPeripheral` per feed, on bumble's
virtual link (every device its own virtual controller; optionally one more controller served
over TCP for a gateway in another process) or each on its own real controller (one transport
spec per device), starts them advertising, and plays every schedule against one
:class:`~.clock.SimClock` until all have ended or ``stop`` is set. Then the devices go silent
and power off before anything else closes, so no central sees a half-shut device.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from nabd.simulators.ble.clock import SimClock
from nabd.simulators.ble.link import VIRTUAL, VirtualRadio, hci_host
from nabd.simulators.ble.peripheral import (
    DEFAULT_ADVERTISING_INTERVAL_MS,
    PlayStats,
    VirtualPeripheral,
)
from nabd.simulators.ble.schedule import Cadences, DeviceFeed
from nabd.simulators.errors import DeviceTransportError, SimulatorError

__all__ = ["FleetReady", "run_fleet"]

_SETTLE_S: Final = 0.05
"""Pause between going silent and powering off, for the last disconnections to complete."""


@dataclass(frozen=True, slots=True)
class FleetReady:
    """Handed to the ``ready`` callback once every device advertises."""

    peripherals: tuple[VirtualPeripheral, ...]
    clock: SimClock
    gateway_port: int | None
    """Where a gateway's bumble host reaches the virtual link (``tcp-client:127.0.0.1:PORT``)."""


async def run_fleet(
    feeds: Sequence[DeviceFeed],
    *,
    transports: Sequence[str] = (VIRTUAL,),
    speed: float = 1.0,
    sim_start: float | None = None,
    cadences: Cadences | None = None,
    advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS,
    gateway_port: int | None = None,
    ready: Callable[[FleetReady], None] | None = None,
    stop: asyncio.Event | None = None,
) -> Mapping[str, PlayStats]:
    """Run ``feeds`` as virtual devices; returns each device's stats by device id.

    ``transports`` is ``("virtual",)`` (bumble's in-process link; ``gateway_port`` serves it to
    a gateway, 0 for any free port) or one real bumble transport spec per feed. ``sim_start``
    (default: the earliest sample) is the simulated instant that coincides with now.
    """
    if not feeds:
        raise SimulatorError("no devices to run")
    virtual = tuple(transports) == (VIRTUAL,)
    if not virtual and len(transports) != len(feeds):
        raise DeviceTransportError(
            f"{len(feeds)} devices need {len(feeds)} transports (one controller each), "
            f"got {len(transports)}; or use {VIRTUAL!r}"
        )
    if not virtual and gateway_port is not None:
        raise DeviceTransportError("a gateway port serves the virtual link only")
    radio = VirtualRadio() if virtual else None
    async with contextlib.AsyncExitStack() as stack:
        port = None
        if radio is not None and gateway_port is not None:
            port = await stack.enter_async_context(radio.serve(gateway_port))
        peripherals: list[VirtualPeripheral] = []
        for index, feed in enumerate(feeds):
            identity = feed.identity
            host = await stack.enter_async_context(
                radio.host(identity.name, identity.address)
                if radio is not None
                else hci_host(transports[index], identity.name, identity.address)
            )
            peripheral = VirtualPeripheral(
                feed, host, cadences=cadences, advertising_interval_ms=advertising_interval_ms
            )
            peripherals.append(peripheral)
        try:
            for peripheral in peripherals:
                await peripheral.advertise()
            loop = asyncio.get_running_loop()
            start = sim_start if sim_start is not None else min(float(f.times[0]) for f in feeds)
            clock = SimClock(sim_start=start, wall_start=loop.time(), speed=speed)
            if ready is not None:
                ready(FleetReady(tuple(peripherals), clock, port))
            await _play_all(peripherals, clock, stop)
        finally:
            for peripheral in peripherals:
                await peripheral.go_silent()
            await asyncio.sleep(_SETTLE_S)
    return {p.identity.device_id: p.stats for p in peripherals}


async def _play_all(
    peripherals: Sequence[VirtualPeripheral], clock: SimClock, stop: asyncio.Event | None
) -> None:
    """Every schedule to its end, or until ``stop`` is set."""
    plays = [asyncio.ensure_future(p.play(clock)) for p in peripherals]
    waiters: list[asyncio.Future[Any]] = [asyncio.gather(*plays)]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in [*plays, *waiters]:
            future.cancel()
        await asyncio.gather(*plays, *waiters, return_exceptions=True)
    failures = [p.exception() for p in plays if p.done() and not p.cancelled()]
    for failure in failures:
        if failure is not None:
            raise failure
