"""One virtual device on a bumble host: it advertises, serves its GATT database and plays its
schedule in (accelerated) real time.

The peripheral never decides *what* to send: :func:`~nabd.simulators.ble.schedule.events` did,
in simulated time. It only maps each event to the wall clock (:class:`~.clock.SimClock`) and to
bumble calls: notify or indicate the subscribers of a characteristic, update the Battery Level
that a read returns, keep records for the RACP, and stop advertising and drop its connections
while the link is down (a disconnect window, a dead battery).

The GHS respiration sensor follows GHS 1.0's split between live and stored observations: it
sends an observation live only to the clients that wrote "start sending live observations" to
its GHS Control Point, and keeps it as a numbered record (Record Number from 0, uint32) when
none did (no client connected, or none started). A client asks for the records through the
RACP; they come as Stored Health Observations segments, then the RACP indication. While this
client receives live observations its RACP requests are answered "server busy", as
STMicroelectronics' open GHS sensor does. ``refuse_start`` makes it refuse "start" on demand
(an ATT error 0xFD, or an error response 0x81), for the agent's refusal path.

Notifications with no subscriber are dropped, as a real device drops them; indications wait for
the central's confirmation (with a deadline), one at a time, as ATT requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bumble.att import ATT_Error, ErrorCode
from bumble.core import AdvertisingData
from bumble.device import Connection, Device

from nabd.contract.gatt import GhsControlOpCode, segment_stored
from nabd.simulators.ble import services
from nabd.simulators.ble.clock import SimClock
from nabd.simulators.ble.identity import DeviceIdentity
from nabd.simulators.ble.racp import RACP, RecordStore, respond
from nabd.simulators.ble.schedule import (
    BATTERY_LEVEL,
    GHS_SEGMENT_OCTETS,
    Cadences,
    DeviceFeed,
    Emission,
    Event,
    LinkEvent,
    events,
    initial_battery,
)
from nabd.simulators.devices import Device as DeviceKind

__all__ = [
    "DEFAULT_ADVERTISING_INTERVAL_MS",
    "PlayStats",
    "StartRefusal",
    "VirtualPeripheral",
    "advertising_data",
]

log = logging.getLogger(__name__)

DEFAULT_ADVERTISING_INTERVAL_MS: Final = 100.0
_INDICATION_TIMEOUT: Final = 30.0
"""ATT's own transaction timeout: a central that never confirms is given up on."""
_GLUCOSE_MEASUREMENT: Final = 0x2A18
_LIVE_HEALTH_OBSERVATIONS: Final = 0x2B8B
_STORED_HEALTH_OBSERVATIONS: Final = 0x2BDD
_START: Final = GhsControlOpCode.START_SEND_LIVE_OBSERVATIONS
_STOP: Final = GhsControlOpCode.STOP_SEND_LIVE_OBSERVATIONS
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


class StartRefusal(StrEnum):
    """How the virtual GHS sensor refuses "start sending live observations" (a test knob)."""

    ATT_ERROR = "att_error"
    """The write fails with ATT error 0xFD (CCCD improperly configured), as if the client had
    not enabled the Control Point's indications."""
    ERROR_RESPONSE = "error_response"
    """The write succeeds and the Control Point indicates an error (0x81)."""


@dataclass(slots=True)
class PlayStats:
    """What a peripheral did while playing its schedule."""

    sent: int = 0
    """Emissions handed to the radio while reachable (delivered if someone subscribed)."""
    stored: int = 0
    """Records kept for the RACP (glucose records, GHS observations no client took live)."""
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
        ghs = self.identity.device is DeviceKind.RESPIRATION_SENSOR
        self.records = RecordStore(number_octets=4 if ghs else 2)
        self.reachable = True
        self.refuse_start: StartRefusal | None = None
        """Refuse the GHS Control Point's "start" this way (``None``: accept it)."""
        self._live: set[Connection] = set()
        """Connections that asked the GHS sensor for live observations."""
        self._observation_live: bool | None = None
        """Whether the GHS observation being sent goes live (decided at its first segment)."""
        self._segment_counter = 0
        self._next_record = 0
        """The next GHS Record Number: never reused, even after records are deleted."""
        self._last_kept = b""
        self._events: Iterator[Event] = events(feed, cadences)
        self._interval_ms = advertising_interval_ms
        self._tasks: set[asyncio.Task[None]] = set()
        racp = self._on_racp if ghs or self.identity.device is DeviceKind.GLUCOSE_METER else None
        control = self._on_ghs_control if ghs else None
        self.database = services.build(self.identity, initial_battery(feed), racp, control)
        host.add_services(list(self.database.services))
        host.advertising_data = advertising_data(self.identity)

    @property
    def connections(self) -> list[Connection]:
        return list(self.host.connections.values())

    @property
    def taking_live(self) -> bool:
        """A connected client asked the GHS sensor for live observations: what it observes now
        is sent, not kept."""
        return bool(self._live_clients())

    def observation_goes_live(self, emission: Emission) -> bool:
        """Whether this GHS observation segment is sent live (else its observation is kept)."""
        if self._observation_live is not None:
            return self._observation_live
        return self.taking_live and emission.live

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
        if emission.characteristic == _LIVE_HEALTH_OBSERVATIONS:
            await self._emit_observation(emission)
            return
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

    def _live_clients(self) -> list[Connection]:
        self._live &= set(self.connections)  # forget the connections that ended
        return list(self._live) if self.reachable else []

    async def _emit_observation(self, emission: Emission) -> None:
        """One segment of a GHS observation: live to the clients that asked, if any when its
        first segment is due; else the observation (on its last segment) becomes a record."""
        live = self._observation_live = self.observation_goes_live(emission)
        if emission.stored is not None:  # the last segment
            self._observation_live = None
            if not live and emission.stored != self._last_kept:  # a duplicate is kept once
                self.records.add(self._next_record, emission.stored)
                self._next_record += 1
                self._last_kept = emission.stored
                self.stats.stored += 1
        if not live:
            return
        self.stats.sent += 1
        characteristic = self.database.characteristics[_LIVE_HEALTH_OBSERVATIONS]
        for connection in self._live_clients():
            with contextlib.suppress(Exception):  # a client that just left
                await self.host.notify_subscriber(connection, characteristic, emission.data)

    # ---- Record Access Control Point ------------------------------------------------------

    def _on_racp(self, connection: Connection, request: bytes) -> None:
        """Answer after the write response: records first (notified), then the RACP indication."""
        self._spawn(self._answer(connection, bytes(request)))

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- GHS Control Point ---------------------------------------------------------------------

    def _on_ghs_control(self, connection: Connection, request: bytes) -> None:
        """Start / stop sending live observations to this client: indicated "success" (0x80)
        after the write response, anything else "error" (0x81). As GHS 1.0 requires, a client
        that has not enabled the Control Point's indications is refused (ATT error 0xFD, CCCD
        improperly configured); ``refuse_start`` refuses "start" on demand."""
        characteristic = self.database.characteristics[services.GHS_CONTROL_POINT]
        cccd = self.host.gatt_server.subscribers.get(connection, {}).get(characteristic.handle)
        starting = bytes(request[:1]) == bytes([_START])
        refused = self.refuse_start if starting else None
        if not cccd or not cccd[0] & _INDICATIONS_ENABLED or refused is StartRefusal.ATT_ERROR:
            raise ATT_Error(ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        known = bytes(request[:1]) in (bytes([_START]), bytes([_STOP])) and refused is None
        if known and starting:
            self._live.add(connection)
        elif known:
            self._live.discard(connection)
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
        ghs = self.identity.device is DeviceKind.RESPIRATION_SENSOR
        outcome = respond(request, self.records, busy=ghs and connection in self._live)
        racp = self.database.characteristics[RACP]
        try:
            for number, record in zip(outcome.numbers, outcome.records, strict=True):
                for value, kind in self._record_values(number, record):
                    characteristic = self.database.characteristics[kind]
                    await self.host.notify_subscriber(connection, characteristic, value)
            async with asyncio.timeout(_INDICATION_TIMEOUT):
                await self.host.indicate_subscriber(connection, racp, outcome.response)
        except Exception:  # the central went away mid-procedure: nothing left to answer
            log.info("%s: RACP procedure abandoned", self.identity.device_id, exc_info=True)

    def _record_values(self, number: int, record: bytes) -> list[tuple[bytes, int]]:
        """A record as the values notified for it: a Glucose Measurement, or Stored Health
        Observations segments (Record Number in each)."""
        if self.identity.device is not DeviceKind.RESPIRATION_SENSOR:
            return [(record, _GLUCOSE_MEASUREMENT)]
        parts = segment_stored(record, number, GHS_SEGMENT_OCTETS, self._segment_counter)
        self._segment_counter = (self._segment_counter + len(parts)) % 64
        return [(part, _STORED_HEALTH_OBSERVATIONS) for part in parts]
