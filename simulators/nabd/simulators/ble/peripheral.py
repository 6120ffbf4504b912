"""One virtual device on a bumble host: it advertises, serves its GATT database and plays its
schedule in (accelerated) real time.

The peripheral never decides *what* to send: :func:`~nabd.simulators.ble.schedule.events` did,
in simulated time. It only maps each event to the wall clock (:class:`~.clock.SimClock`) and to
bumble calls: notify or indicate the subscribers of a characteristic, update the Battery Level
that a read returns, keep glucose records for the RACP, and stop advertising and drop its
connections while the link is down (a disconnect window, a dead battery).

Notifications with no subscriber are dropped, as a real device drops them; indications wait for
the central's confirmation (with a deadline), one at a time, as ATT requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Final

from bumble.att import ATT_Error, ErrorCode
from bumble.core import AdvertisingData
from bumble.device import Connection, Device

from nabd.contract.gatt import GhsControlOpCode
from nabd.simulators.ble import services
from nabd.simulators.ble.clock import SimClock
from nabd.simulators.ble.identity import DeviceIdentity
from nabd.simulators.ble.racp import RACP, RecordStore, respond
from nabd.simulators.ble.schedule import (
    BATTERY_LEVEL,
    Cadences,
    DeviceFeed,
    Emission,
    Event,
    LinkEvent,
    events,
    initial_battery,
)
from nabd.simulators.devices import Device as DeviceKind

__all__ = ["DEFAULT_ADVERTISING_INTERVAL_MS", "PlayStats", "VirtualPeripheral", "advertising_data"]

log = logging.getLogger(__name__)

DEFAULT_ADVERTISING_INTERVAL_MS: Final = 100.0
_INDICATION_TIMEOUT: Final = 30.0
"""ATT's own transaction timeout: a central that never confirms is given up on."""
_GLUCOSE_MEASUREMENT: Final = 0x2A18
_INDICATIONS_ENABLED: Final = 0x02
"""Client Characteristic Configuration bit 1."""
_LE_GENERAL_DISCOVERABLE_NO_BR_EDR: Final = 0x06


def _uuid16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def advertising_data(identity: DeviceIdentity) -> bytes:
    """Flags, the complete list of 16-bit service UUIDs (health service, Battery) and the name:
    at most 31 bytes, a legacy advertisement."""
    return bytes(
        AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([_LE_GENERAL_DISCOVERABLE_NO_BR_EDR])),
                (
                    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    _uuid16(identity.service_uuid) + _uuid16(services.BATTERY_SERVICE),
                ),
                (AdvertisingData.COMPLETE_LOCAL_NAME, identity.name.encode()),
            ]
        )
    )


@dataclass(slots=True)
class PlayStats:
    """What a peripheral did while playing its schedule."""

    sent: int = 0
    """Emissions handed to the radio while reachable (delivered if someone subscribed)."""
    stored: int = 0
    """Glucose records kept for the RACP."""
    link_changes: int = 0
    max_lag_s: float = 0.0
    """Largest delay between an event's due time and when it was sent (the host's load)."""


class VirtualPeripheral:
    """A virtual device of one kind on a powered-on bumble host (see :mod:`.link`)."""

    def __init__(
        self,
        feed: DeviceFeed,
        host: Device,
        *,
        cadences: Cadences | None = None,
        advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS,
    ) -> None:
        self.identity = feed.identity
        self.host = host
        self.stats = PlayStats()
        self.records = RecordStore()
        self.reachable = True
        self._events: Iterator[Event] = events(feed, cadences)
        self._interval_ms = advertising_interval_ms
        self._tasks: set[asyncio.Task[None]] = set()
        racp = self._on_racp if self.identity.device is DeviceKind.GLUCOSE_METER else None
        control = (
            self._on_ghs_control if self.identity.device is DeviceKind.RESPIRATION_SENSOR else None
        )
        self.database = services.build(self.identity, initial_battery(feed), racp, control)
        host.add_services(list(self.database.services))
        host.advertising_data = advertising_data(self.identity)

    @property
    def connections(self) -> list[Connection]:
        return list(self.host.connections.values())

    async def advertise(self) -> None:
        """Advertise, connectable, and again after every disconnection."""
        await self.host.start_advertising(
            auto_restart=True,
            advertising_interval_min=self._interval_ms,
            advertising_interval_max=self._interval_ms,
        )

    async def go_silent(self) -> None:
        """Out of reach: stop advertising and drop every connection."""
        with contextlib.suppress(Exception):
            await self.host.stop_advertising()
        for connection in self.connections:
            with contextlib.suppress(Exception):
                await connection.disconnect()

    async def play(self, clock: SimClock) -> PlayStats:
        """Send every event when ``clock`` says it is due; returns when the schedule ends."""
        loop = asyncio.get_running_loop()
        for event in self._events:
            wait = clock.delay(event.at, loop.time())
            if wait > 0:
                await asyncio.sleep(wait)
            if event.at >= clock.sim_start:  # earlier events are due at once, not late
                lag = loop.time() - clock.wall_at(event.at)
                self.stats.max_lag_s = max(self.stats.max_lag_s, lag)
            await self.apply(event)
        return self.stats

    async def apply(self, event: Event) -> None:
        """Do what one event says, now."""
        if isinstance(event, LinkEvent):
            await self._link(event.up)
            return
        await self._emit(event)

    async def _link(self, up: bool) -> None:
        if up == self.reachable:
            return
        self.reachable = up
        self.stats.link_changes += 1
        if up:
            await self.advertise()
        else:
            await self.go_silent()

    async def _emit(self, emission: Emission) -> None:
        characteristic = self.database.characteristics[emission.characteristic]
        if emission.characteristic == BATTERY_LEVEL:
            characteristic.value = emission.data
        if emission.stored is not None:
            sequence_number = int.from_bytes(emission.stored[1:3], "little")
            self.records.add(sequence_number, emission.stored)
            self.stats.stored += 1
        if not (emission.live and self.reachable):
            return
        self.stats.sent += 1
        if not emission.indicate:
            await self.host.notify_subscribers(characteristic, emission.data)
            return
        try:
            async with asyncio.timeout(_INDICATION_TIMEOUT):
                await self.host.indicate_subscribers(characteristic, emission.data)
        except TimeoutError:
            log.warning("%s: indication not confirmed in time", self.identity.device_id)

    # ---- Glucose Record Access Control Point ------------------------------------------------

    def _on_racp(self, connection: Connection, request: bytes) -> None:
        """Answer after the write response: records first (notified), then the RACP indication."""
        self._spawn(self._answer(connection, bytes(request)))

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- GHS Control Point ---------------------------------------------------------------------

    def _on_ghs_control(self, connection: Connection, request: bytes) -> None:
        """Start / stop sending live observations: indicated "success" (0x80) after the write
        response, anything else "error" (0x81). As GHS 1.0 requires, a client that has not
        enabled the Control Point's indications is refused (ATT error 0xFD, CCCD improperly
        configured). Live observations flow to subscribers either way."""
        characteristic = self.database.characteristics[services.GHS_CONTROL_POINT]
        cccd = self.host.gatt_server.subscribers.get(connection, {}).get(characteristic.handle)
        if not cccd or not cccd[0] & _INDICATIONS_ENABLED:
            raise ATT_Error(ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        known = bool(request) and request[0] in (
            GhsControlOpCode.START_SEND_LIVE_OBSERVATIONS,
            GhsControlOpCode.STOP_SEND_LIVE_OBSERVATIONS,
        )
        code = GhsControlOpCode.SUCCESS if known else GhsControlOpCode.ERROR
        self._spawn(self._indicate_control(connection, bytes([code])))

    async def _indicate_control(self, connection: Connection, response: bytes) -> None:
        characteristic = self.database.characteristics[services.GHS_CONTROL_POINT]
        try:
            async with asyncio.timeout(_INDICATION_TIMEOUT):
                await self.host.indicate_subscriber(connection, characteristic, response)
        except Exception:  # the central went away: nothing left to answer
            log.info("%s: GHS control response abandoned", self.identity.device_id, exc_info=True)

    async def _answer(self, connection: Connection, request: bytes) -> None:
        outcome = respond(request, self.records)
        glucose = self.database.characteristics[_GLUCOSE_MEASUREMENT]
        racp = self.database.characteristics[RACP]
        try:
            for record in outcome.records:
                await self.host.notify_subscriber(connection, glucose, record)
            async with asyncio.timeout(_INDICATION_TIMEOUT):
                await self.host.indicate_subscriber(connection, racp, outcome.response)
        except Exception:  # the central went away mid-procedure: nothing left to answer
            log.info("%s: RACP procedure abandoned", self.identity.device_id, exc_info=True)
