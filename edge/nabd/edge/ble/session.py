"""One device, for as long as the agent runs: find, connect, read, subscribe, and again.

The loop never gives up and never needs a restart: after a failed attempt or a lost connection
it waits a backoff delay (exponential with full jitter, capped at ``ble.reconnect_max_s``, reset
once a connection is fully set up), then for an advertisement heard *after* the loss, then
connects again through bleak-retry-connector's ``establish_connection``.

Once connected it reads the Device Information strings and the Battery Level, subscribes to every
standard measurement characteristic the device has (notifications or indications) and to battery
notifications if offered, and hands every value to :class:`~nabd.edge.ingress.Ingress`. A
glucose meter or a Generic Health Sensor is then asked for the stored records taken since the
last one received (:mod:`nabd.edge.records`). Every GATT operation and every wait has a deadline.

Generic Health Sensor observations come in segments: each GHS characteristic has its own
:class:`~nabd.contract.gatt.ObservationReassembler` for the connection, and only a whole
observation is decoded (a lost segment loses that observation, counted as a decode error). After
the stored observations, "start sending live observations" is written to the GHS Control Point,
if any: in that order because a sensor may answer a RACP request with "server busy" while it
sends live observations (STMicroelectronics' open GHS sensor does). A sensor that refuses
"start" (an ATT error such as 0xFD, or an error response) is reported as ``ghs_start_refused``;
the connection, its other characteristics and its stored observations are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final
from zoneinfo import ZoneInfo

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from nabd.contract.gatt import DeviceInfoString, GattDecodeError, GhsControlOpCode
from nabd.contract.gatt import decode as decode_value
from nabd.contract.gatt.racp import (
    RACP_UUID,
    RacpOpCode,
    RacpResponse,
    decode_racp,
    encode_racp,
    response_of,
)
from nabd.edge import gatt
from nabd.edge.backoff import Backoff
from nabd.edge.ble.backend import BackendClasses
from nabd.edge.ble.profiles import (
    BATTERY_LEVEL,
    DEVICE_INFO_STRINGS,
    GHS_CONTROL_POINT,
    MEASUREMENTS,
    SEGMENTED,
    uuid16_of,
)
from nabd.edge.ble.sightings import Sightings
from nabd.edge.config import BleConfig
from nabd.edge.ingress import Ingress
from nabd.edge.records import PROFILES
from nabd.edge.runtime import Runtime
from nabd.edge.status import DeviceHealth, DeviceState
from nabd.edge.waiting import at_most

__all__ = ["DeviceSession"]

log = logging.getLogger(__name__)

_SEARCH_WAIT: Final = 30.0
"""Longest single wait for an advertisement before the loop looks again."""
_GATT_TIMEOUT: Final = 10.0
"""Deadline of one GATT read or subscription."""
_LINK_CHECK: Final = 5.0
"""How often a quiet connection is checked for being still up."""
_CONNECT_ATTEMPTS: Final = 2
"""Attempts per ``establish_connection`` call; the session's own backoff does the rest."""
_FAILURES: Final = (BleakError, TimeoutError, OSError, EOFError)
_RECORDS_SENT: Final = (RacpResponse.SUCCESS, RacpResponse.NO_RECORDS_FOUND)
"""RACP response codes that end a report with every matching record sent (maybe none)."""
"""What a lost or refused link raises (bleak, deadlines, D-Bus and transport errors)."""


class _NothingToRead(BleakError):
    """The device has none of the standard measurement characteristics."""


class DeviceSession:
    """The connection loop of one device; state and counters live in ``health``."""

    def __init__(
        self,
        health: DeviceHealth,
        *,
        zone: ZoneInfo,
        backend: BackendClasses,
        sightings: Sightings,
        ingress: Ingress,
        config: BleConfig,
        runtime: Runtime,
    ) -> None:
        self.health = health
        self._zone = zone
        self._backend = backend
        self._sightings = sightings
        self._ingress = ingress
        self._config = config
        self._runtime = runtime
        self._clock = runtime.clock
        self._monotonic = runtime.monotonic
        self._disconnected = asyncio.Event()
        self._segments = gatt.SegmentedObservations()

    async def run(self) -> None:
        backoff = Backoff(self._config.reconnect_initial_s, self._config.reconnect_max_s)
        lost_at = float("-inf")
        while True:
            self._set(DeviceState.SEARCHING)
            try:
                async with asyncio.timeout(_SEARCH_WAIT):
                    sighting = await self._sightings.heard_after(self.health.address, lost_at)
            except TimeoutError:
                continue
            self._set(DeviceState.CONNECTING)
            try:
                await self._session(sighting.device, backoff)
            except _FAILURES as exc:
                self._failed(exc)
            lost_at = self._monotonic()
            self._set(DeviceState.LOST)
            await asyncio.sleep(backoff.next_delay())

    async def _session(self, device: BLEDevice, backoff: Backoff) -> None:
        self._disconnected = asyncio.Event()
        self._segments = gatt.SegmentedObservations()  # never joins across connections
        async with asyncio.timeout(self._config.connect_timeout_s):
            client = await establish_connection(
                BleakClient,
                device,
                self.health.device_id,
                disconnected_callback=lambda _client: self._disconnected.set(),
                max_attempts=_CONNECT_ATTEMPTS,
                **self._backend.client_args(),
            )
        try:
            characteristics = await self._set_up(client)
            backoff.reset()
            await self._fetch_records(client)
            await self._start_live_observations(client, characteristics)
            await self._stay_connected(client)
        finally:
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(_GATT_TIMEOUT):
                    await client.disconnect()

    async def _set_up(self, client: BleakClient) -> list[BleakGATTCharacteristic]:
        characteristics = list(client.services.characteristics.values())
        for characteristic in characteristics:
            await self._read(client, characteristic)
        subscribed = [c for c in characteristics if await self._subscribe(client, c)]
        if not any(uuid16_of(c.uuid) in MEASUREMENTS for c in subscribed):
            raise _NothingToRead("no standard measurement characteristic to subscribe to")
        self.health.connections += 1
        self.health.connected_monotonic = self._monotonic()
        self.health.last_error = None
        self._set(DeviceState.CONNECTED)
        log.info("%s: connected to %s", self.health.device_id, self.health.address)
        return characteristics

    async def _read(self, client: BleakClient, characteristic: BleakGATTCharacteristic) -> None:
        """Device Information strings into the status; Battery Level as a reading."""
        uuid = uuid16_of(characteristic.uuid)
        if "read" not in characteristic.properties or (
            uuid not in DEVICE_INFO_STRINGS and uuid != BATTERY_LEVEL
        ):
            return
        async with asyncio.timeout(_GATT_TIMEOUT):
            data = bytes(await client.read_gatt_char(characteristic))
        if uuid == BATTERY_LEVEL:
            self._on_value(characteristic, bytearray(data))
            return
        assert uuid is not None
        with contextlib.suppress(gatt.GattDecodeError):
            value = decode_value(uuid, data)
            if isinstance(value, DeviceInfoString):
                self.health.info[DEVICE_INFO_STRINGS[uuid]] = value.text

    async def _subscribe(
        self, client: BleakClient, characteristic: BleakGATTCharacteristic
    ) -> bool:
        uuid = uuid16_of(characteristic.uuid)
        wanted = uuid in MEASUREMENTS or uuid == BATTERY_LEVEL
        pushes = {"notify", "indicate"} & set(characteristic.properties)
        if not wanted or not pushes:
            return False
        try:
            async with asyncio.timeout(_GATT_TIMEOUT):
                await client.start_notify(characteristic, self._on_value)
        except BleakError as exc:
            log.warning("%s: cannot subscribe to %s: %s", self.health.device_id, uuid, exc)
            return False
        return True

    async def _fetch_records(self, client: BleakClient) -> None:
        """Ask a glucose meter or a GHS sensor for the records taken since the last one received,
        through its Record Access Control Point (:mod:`nabd.edge.records`). The records come on
        their characteristic (Glucose Measurement, Stored Health Observations), handled like live
        values, then a RACP indication ends the procedure. A device that refuses or does not
        answer keeps its connection: its live readings still count, and the next connection asks
        again."""
        by_uuid = {uuid16_of(c.uuid): c for c in client.services.characteristics.values()}
        racp = by_uuid.get(RACP_UUID)
        profile = next((p for p in PROFILES if p.records in by_uuid), None)
        if racp is None or profile is None:
            return
        device_id = self.health.device_id
        request = profile.request_after(self._ingress.marks.last(device_id))
        answers: asyncio.Queue[bytes] = asyncio.Queue()
        try:
            async with asyncio.timeout(_GATT_TIMEOUT):
                await client.start_notify(racp, lambda _c, data: answers.put_nowait(bytes(data)))
                await client.write_gatt_char(racp, encode_racp(request), response=True)
            async with asyncio.timeout(self._config.records_timeout_s):
                answer = await self._procedure_end(answers, request.op_code)
        except (*_FAILURES, GattDecodeError) as exc:
            self._event("records_not_read", f"stored records not read: {exc or 'no answer'}")
            return
        if answer not in _RECORDS_SENT:
            self._event("records_not_read", f"the device answered {answer.name.lower()}")
            return
        log.info("%s: stored records read (%s)", device_id, encode_racp(request).hex(" "))

    @staticmethod
    async def _procedure_end(answers: asyncio.Queue[bytes], op_code: RacpOpCode) -> RacpResponse:
        """The Response Code indication that ends the procedure of ``op_code``."""
        while True:
            answer = response_of(decode_racp(await answers.get()))
            if answer is not None and answer[0] is op_code:
                return answer[1]

    async def _start_live_observations(
        self, client: BleakClient, characteristics: list[BleakGATTCharacteristic]
    ) -> None:
        """GHS 1.0: a sensor sends live observations once a client asks for them. The Control
        Point answers by indication, which a sensor refuses to write without (CCCD improperly
        configured), so indications are enabled first; a refusal is reported, not fatal (a
        sensor that streams anyway is still read)."""
        for characteristic in characteristics:
            if uuid16_of(characteristic.uuid) != GHS_CONTROL_POINT:
                continue
            start = bytes([GhsControlOpCode.START_SEND_LIVE_OBSERVATIONS])
            try:
                async with asyncio.timeout(_GATT_TIMEOUT):
                    await client.start_notify(characteristic, self._on_control_point)
                    await client.write_gatt_char(characteristic, start, response=True)
            except BleakError as exc:
                self._event("ghs_start_refused", f"GHS Control Point: {exc}")

    def _on_control_point(self, _characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        if bytes(data[:1]) != bytes([GhsControlOpCode.SUCCESS]):
            self._event("ghs_start_refused", f"GHS Control Point answered {bytes(data).hex()}")

    async def _stay_connected(self, client: BleakClient) -> None:
        while client.is_connected and not self._disconnected.is_set():
            await at_most(self._disconnected.wait(), _LINK_CHECK)
        self._event("device_lost", "the connection dropped")

    def _on_value(self, characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        """A notification, indication or read value (called on the event loop)."""
        received_at = self._clock()
        try:
            samples = self._decode(characteristic, bytes(data))
        except gatt.GattDecodeError as exc:
            self.health.decode_errors += 1
            self._event("decode_error", str(exc))
            return
        if not samples:
            return  # a segment of an observation still being joined, or nothing to read
        self._ingress.accept(self.health, samples, received_at, self._zone)
        if self.health.state is DeviceState.SILENT and self.health.last_reading_at == received_at:
            self._set(DeviceState.CONNECTED)
            self._event("device_resumed", "readings arrive again")

    def _decode(self, characteristic: BleakGATTCharacteristic, data: bytes) -> list[gatt.Reading]:
        uuid = uuid16_of(characteristic.uuid)
        if uuid not in SEGMENTED:
            return gatt.decode(characteristic.uuid, data)
        readings, lost = self._segments.push(uuid, data)
        if lost:
            self.health.decode_errors += 1
            self._event("decode_error", f"0x{uuid:04X}: a segment is missing, observation lost")
        return readings or []

    def _failed(self, exc: BaseException) -> None:
        detail = str(exc) or type(exc).__name__
        self.health.last_error = detail
        log.info("%s: %s", self.health.device_id, detail)

    def _set(self, state: DeviceState) -> None:
        self.health.set_state(state, self._clock())

    def _event(self, kind: str, detail: str) -> None:
        self._runtime.event(kind, detail, self.health.device_id)
