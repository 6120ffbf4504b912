"""Virtual devices over bumble's virtual link, seen by a bumble central: found by their
advertisement, read (Device Information, Battery), subscribed, and streaming the simulated
series byte for byte. No mock: advertising, connections and ATT run between virtual
controllers; a gateway in another process reaches them over TCP."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from functools import cache
from typing import Final

import numpy as np
from bumble.att import ATT_Error
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address
from bumble.transport import open_transport

from nabd.contract.gatt import (
    DeviceInfoCharacteristic,
    DeviceInfoString,
    ObservationReassembler,
)
from nabd.contract.gatt import decode as decode_value
from nabd.contract.gatt.ghs import decode_stored_health_observations
from nabd.edge.gatt import decode as edge_decode
from nabd.simulators import scenarios as sc
from nabd.simulators.ble.clock import SimClock
from nabd.simulators.ble.fleet import FleetReady, run_fleet
from nabd.simulators.ble.identity import MANUFACTURER, DeviceIdentity
from nabd.simulators.ble.link import VirtualRadio
from nabd.simulators.ble.peripheral import StartRefusal, VirtualPeripheral
from nabd.simulators.ble.schedule import (
    Cadences,
    DeviceFeed,
    Emission,
    LinkEvent,
    events,
    feed_of,
    initial_battery,
)
from nabd.simulators.devices import Device as Kind
from nabd.simulators.patient import draw_profiles, simulate
from nabd.simulators.series import VitalSeries
from nabd.simulators.timebase import DEFAULT_START, regular_times

S = DEFAULT_START
SEED = 5
DEADLINE: Final = 10.0
CENTRAL: Final = "F0:00:00:00:00:01"
PROFILE = draw_profiles(1, SEED)[0]
PATIENT = PROFILE.patient_id
CADENCES = Cadences(thermometer_s=60.0, cuff_s=300.0, glucose_s=300.0, scale_s=600.0)
MEASUREMENTS: Final = {
    0x2A37,
    0x2A5E,
    0x2A5F,
    0x2A1C,
    0x2A1E,
    0x2A35,
    0x2A36,
    0x2A18,
    0x2A9D,
    0x2B8B,
}


@cache
def _series(span_s: float) -> VitalSeries:
    return simulate((PROFILE,), regular_times(S, span_s, 1.0), seed=SEED)


def _feed(kind: Kind, span_s: float = 120.0, scenarios: Sequence[sc.Scenario] = ()) -> DeviceFeed:
    return feed_of(_series(span_s), PATIENT, kind, scenarios, seed=SEED)


@contextlib.asynccontextmanager
async def _central(radio: VirtualRadio) -> AsyncIterator[Device]:
    async with radio.host("central", CENTRAL) as central:
        yield central


@contextlib.asynccontextmanager
async def _alone(feed: DeviceFeed) -> AsyncIterator[tuple[VirtualPeripheral, Device]]:
    """One advertising virtual device and a central, on a new virtual link."""
    radio = VirtualRadio()
    async with (
        _central(radio) as central,
        radio.host(feed.identity.name, feed.identity.address) as host,
    ):
        peripheral = VirtualPeripheral(feed, host, cadences=CADENCES)
        await peripheral.advertise()
        yield peripheral, central


async def _advertisement(central: Device, wanted: Callable[[Advertisement], bool]) -> Advertisement:
    found: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

    def listen(advertisement: Advertisement) -> None:
        if wanted(advertisement) and not found.done():
            found.set_result(advertisement)

    central.on(Device.EVENT_ADVERTISEMENT, listen)
    await central.start_scanning(filter_duplicates=False)
    try:
        async with asyncio.timeout(DEADLINE):
            return await found
    finally:
        central.remove_listener(Device.EVENT_ADVERTISEMENT, listen)
        await central.stop_scanning()


def _from(identity: DeviceIdentity) -> Callable[[Advertisement], bool]:
    def match(advertisement: Advertisement) -> bool:
        text = advertisement.address.to_string(with_type_qualifier=False)
        return bool(text == identity.address)

    return match


async def _connected_peer(central: Device, identity: DeviceIdentity) -> Peer:
    advertisement = await _advertisement(central, _from(identity))
    async with asyncio.timeout(DEADLINE):
        connection = await central.connect(advertisement.address)
        peer = Peer(connection)
        await peer.discover_services()
        for service in peer.services:
            await peer.discover_characteristics(service=service)
    return peer


async def _read(peer: Peer, uuid: int) -> bytes:
    (characteristic,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(uuid))
    async with asyncio.timeout(DEADLINE):
        return await peer.read_value(characteristic)


class Watch:
    """Callbacks poke it; a test waits (with a deadline) until what they recorded suffices."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def poke(self) -> None:
        self._changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not done():
                self._changed.clear()
                await self._changed.wait()


def _sink(values: list[bytes], watch: Watch) -> Callable[[bytes], None]:
    def take(value: bytes) -> None:
        values.append(bytes(value))
        watch.poke()

    return take


async def _subscribe(peer: Peer, uuids: set[int], watch: Watch) -> dict[int, list[bytes]]:
    received: dict[int, list[bytes]] = defaultdict(list)
    for service in peer.services:
        for characteristic in service.characteristics:
            uuid = int.from_bytes(characteristic.uuid.to_bytes(), "little")
            if uuid in uuids:
                async with asyncio.timeout(DEADLINE):
                    await peer.subscribe(characteristic, _sink(received[uuid], watch))
    return received


async def _att_error_of(peer: Peer, target: CharacteristicProxy[bytes], value: bytes) -> int:
    """The ATT error code a write gets (0: written)."""
    async with asyncio.timeout(DEADLINE):
        try:
            await peer.write_value(target, value, with_response=True)
        except ATT_Error as error:
            return int(error.error_code)
    return 0


async def _start_live(peer: Peer) -> None:
    """Ask a GHS sensor for live observations (indications of its Control Point first)."""
    watch = Watch()
    answers = await _subscribe(peer, {0x2BF4}, watch)
    (control,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2BF4))
    async with asyncio.timeout(DEADLINE):
        await peer.write_value(control, b"\x01", with_response=True)
    await watch.until(lambda: answers[0x2BF4] == [b"\x80"])


def _expected(feed: DeviceFeed, cadences: Cadences | None = None) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = defaultdict(list)
    for event in events(feed, cadences):
        if isinstance(event, Emission) and event.live:
            out[event.characteristic].append(event.data)
    return out


async def _play(peripheral: VirtualPeripheral, feed: DeviceFeed, speed: float) -> None:
    clock = SimClock(float(feed.times[0]), asyncio.get_running_loop().time(), speed)
    async with asyncio.timeout(DEADLINE):
        await peripheral.play(clock)


def test_a_chest_strap_is_found_read_and_streams_the_series() -> None:
    feed = _feed(Kind.CHEST_STRAP)
    identity = feed.identity

    async def scenario() -> dict[int, list[bytes]]:
        radio = VirtualRadio()
        async with _central(radio) as central, radio.host(identity.name, identity.address) as host:
            peripheral = VirtualPeripheral(feed, host)
            await peripheral.advertise()
            advertisement = await _advertisement(central, _from(identity))
            data = advertisement.data
            uuids = data.get(AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS)
            assert uuids == [UUID.from_16_bits(0x180D), UUID.from_16_bits(0x180F)]
            assert data.get(AdvertisingData.COMPLETE_LOCAL_NAME) == identity.name
            assert advertisement.is_connectable
            peer = await _connected_peer(central, identity)
            strings = {
                kind: decode_value(int(kind), await _read(peer, int(kind)))
                for kind in (
                    DeviceInfoCharacteristic.MANUFACTURER_NAME,
                    DeviceInfoCharacteristic.MODEL_NUMBER,
                    DeviceInfoCharacteristic.SERIAL_NUMBER,
                )
            }
            assert strings == {
                DeviceInfoCharacteristic.MANUFACTURER_NAME: DeviceInfoString(
                    DeviceInfoCharacteristic.MANUFACTURER_NAME, MANUFACTURER
                ),
                DeviceInfoCharacteristic.MODEL_NUMBER: DeviceInfoString(
                    DeviceInfoCharacteristic.MODEL_NUMBER, identity.model
                ),
                DeviceInfoCharacteristic.SERIAL_NUMBER: DeviceInfoString(
                    DeviceInfoCharacteristic.SERIAL_NUMBER, identity.serial
                ),
            }
            assert await _read(peer, 0x2A19) == bytes([initial_battery(feed)])
            assert await _read(peer, 0x2A38) == b"\x01"  # chest
            watch = Watch()
            received = await _subscribe(peer, {0x2A37}, watch)
            await _play(peripheral, feed, speed=400.0)
            expected = _expected(feed)[0x2A37]
            await watch.until(lambda: len(received[0x2A37]) >= len(expected))
            await peripheral.go_silent()
            return received

    received = asyncio.run(scenario())[0x2A37]
    assert received == _expected(feed)[0x2A37]
    heart_rate = feed.values["heart_rate"]
    decoded = [edge_decode(0x2A37, value) for value in received]
    assert [r[0].value for r in decoded] == heart_rate[np.isfinite(heart_rate)].tolist()
    rr = [r.value for readings in decoded for r in readings if r.metric == "rr_interval"]
    assert feed.beats is not None
    beats = feed.beats.rr[(feed.beats.beat_times > S - 1) & (feed.beats.beat_times <= S + 119)]
    assert rr == beats[np.isfinite(beats)].tolist()
    assert len(rr) > 60


def test_every_device_kind_delivers_its_notifications_and_indications() -> None:
    span = 1900.0
    feeds = [_feed(kind, span) for kind in Kind]

    async def scenario() -> tuple[list[dict[int, list[bytes]]], list[int]]:
        radio = VirtualRadio()
        results: list[dict[int, list[bytes]]] = []
        services: list[int] = []
        async with contextlib.AsyncExitStack() as stack:
            central = await stack.enter_async_context(_central(radio))
            peripherals = []
            for feed in feeds:
                host = await stack.enter_async_context(
                    radio.host(feed.identity.name, feed.identity.address)
                )
                peripheral = VirtualPeripheral(feed, host, cadences=CADENCES)
                await peripheral.advertise()
                peripherals.append(peripheral)
            watch = Watch()
            for feed in feeds:
                peer = await _connected_peer(central, feed.identity)
                services.append(
                    len(peer.get_services_by_uuid(UUID.from_16_bits(feed.identity.service_uuid)))
                )
                results.append(await _subscribe(peer, MEASUREMENTS | {0x2A19}, watch))
                if feed.device is Kind.RESPIRATION_SENSOR:
                    await _start_live(peer)  # else it keeps its observations as records
            clocks = [_play(p, f, speed=2000.0) for p, f in zip(peripherals, feeds, strict=True)]
            await asyncio.gather(*clocks)
            expected = [_expected(f, CADENCES) for f in feeds]
            pairs = list(zip(results, expected, strict=True))
            await watch.until(lambda: all(len(g[u]) >= len(w[u]) for g, w in pairs for u in w))
            for peripheral in peripherals:
                await peripheral.go_silent()
        return results, services

    results, services = asyncio.run(scenario())
    assert services == [1] * len(Kind)
    for feed, got in zip(feeds, results, strict=True):
        want = _expected(feed, CADENCES)
        assert set(want) - {0x2A19} <= MEASUREMENTS
        assert {u: v for u, v in got.items() if v} == dict(want), feed.device
        for uuid, values in got.items():
            for value in values:
                edge_decode(uuid, value)  # every delivered frame is a valid value


def test_the_glucose_meter_answers_its_record_access_control_point() -> None:
    feed = _feed(Kind.GLUCOSE_METER, 1900.0)

    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        async with _alone(feed) as (peripheral, central):
            await _play(peripheral, feed, speed=5000.0)  # records taken before anyone listens
            peer = await _connected_peer(central, feed.identity)
            watch = Watch()
            received = await _subscribe(peer, {0x2A18, 0x2A52}, watch)
            (racp,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2A52))
            async with asyncio.timeout(DEADLINE):
                await peer.write_value(racp, b"\x04\x01", with_response=True)
                await watch.until(lambda: len(received[0x2A52]) == 1)
                await peer.write_value(racp, b"\x01\x03\x01\x02\x00", with_response=True)
                await watch.until(lambda: len(received[0x2A52]) == 2)
            await peripheral.go_silent()
            return received[0x2A18], received[0x2A52], list(peripheral.records.records.values())

    records, responses, stored = asyncio.run(scenario())
    assert len(stored) == 7  # one every 300 s of 1900 s
    assert responses == [bytes([0x05, 0x00, 7, 0]), bytes([0x06, 0x00, 0x01, 0x01])]
    assert records == stored[2:]  # sequence numbers >= 2, in order, byte for byte
    assert [r.value for r in edge_decode(0x2A18, records[0])] == [
        float(feed.values["glucose"][600])
    ]


def test_the_ghs_sensor_answers_its_control_point_only_with_indications_on() -> None:
    feed = _feed(Kind.RESPIRATION_SENSOR, 120.0)

    async def scenario() -> tuple[int, list[bytes], bytes]:
        async with _alone(feed) as (peripheral, central):
            peer = await _connected_peer(central, feed.identity)
            (control,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2BF4))
            refused = await _att_error_of(peer, control, b"\x01")
            watch = Watch()
            received = await _subscribe(peer, {0x2BF4}, watch)
            async with asyncio.timeout(DEADLINE):
                await peer.write_value(control, b"\x01", with_response=True)
                await peer.write_value(control, b"\x09", with_response=True)
                await watch.until(lambda: len(received[0x2BF4]) == 2)
            features = await _read(peer, 0x2BF3)
            await peripheral.go_silent()
            return refused, received[0x2BF4], features

    refused, answers, features = asyncio.run(scenario())
    assert refused == 0xFD  # CCCD improperly configured
    assert answers == [b"\x80", b"\x81"]  # success, then error for an unknown op code
    assert features == bytes.fromhex("00 01 0A 50 02 00")  # MDC_RESP_RATE only


def _stored_records(values: list[bytes]) -> list[tuple[int, bytes]]:
    """Stored Health Observations values joined: (Record Number, whole observation)."""
    joiner, out = ObservationReassembler(), []
    for value in values:
        stored = decode_stored_health_observations(value)
        whole = joiner.push(stored.header, stored.data)
        if whole is not None:
            out.append((stored.record_number, whole))
    return out


def test_the_ghs_sensor_keeps_what_no_client_took_live_and_reports_it_by_record_number() -> None:
    feed = _feed(Kind.RESPIRATION_SENSOR, 300.0)
    taken = [e.stored for e in events(feed, CADENCES) if isinstance(e, Emission) and e.stored]

    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        async with _alone(feed) as (peripheral, central):
            await _play(peripheral, feed, speed=5000.0)  # observed while nobody listens
            peer = await _connected_peer(central, feed.identity)
            watch = Watch()
            received = await _subscribe(peer, {0x2B8B, 0x2BDD, 0x2A52}, watch)
            (racp,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2A52))
            from_two = b"\x01\x03\x01" + (2).to_bytes(4, "little")
            async with asyncio.timeout(DEADLINE):
                await peer.write_value(racp, b"\x04\x01", with_response=True)
                await watch.until(lambda: len(received[0x2A52]) == 1)
                await peer.write_value(racp, from_two, with_response=True)
                await watch.until(lambda: len(received[0x2A52]) == 2)
                await _start_live(peer)
                await peer.write_value(racp, b"\x01\x01", with_response=True)
                await watch.until(lambda: len(received[0x2A52]) == 3)
            await peripheral.go_silent()
            return received[0x2BDD], received[0x2A52], received[0x2B8B]

    segments, responses, live = asyncio.run(scenario())
    assert len(taken) == 10  # one every 30 s of 300 s, all kept: nobody asked for them live
    assert responses == [
        bytes([0x05, 0x00]) + len(taken).to_bytes(4, "little"),  # number of records, uint32
        bytes([0x06, 0x00, 0x01, 0x01]),  # report >= 2: success
        bytes([0x06, 0x00, 0x01, 0x0A]),  # while sending live: server busy
    ]
    assert _stored_records(segments) == list(enumerate(taken))[2:]
    assert all(len(s) <= 20 for s in segments)  # ATT_MTU 23 less 3
    assert live == []  # what was kept is not sent live as well


def test_the_ghs_sensor_refuses_start_on_demand() -> None:
    feed = _feed(Kind.RESPIRATION_SENSOR, 120.0)

    async def scenario() -> tuple[int, list[bytes]]:
        async with _alone(feed) as (peripheral, central):
            peer = await _connected_peer(central, feed.identity)
            watch = Watch()
            received = await _subscribe(peer, {0x2BF4}, watch)
            (control,) = peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2BF4))
            peripheral.refuse_start = StartRefusal.ATT_ERROR
            refused = await _att_error_of(peer, control, b"\x01")
            async with asyncio.timeout(DEADLINE):
                peripheral.refuse_start = StartRefusal.ERROR_RESPONSE
                await peer.write_value(control, b"\x01", with_response=True)
                await peer.write_value(control, b"\x02", with_response=True)  # stop: accepted
                await watch.until(lambda: len(received[0x2BF4]) == 2)
            await peripheral.go_silent()
            return refused, received[0x2BF4]

    refused, answers = asyncio.run(scenario())
    assert refused == 0xFD  # although indications are on
    assert answers == [b"\x81", b"\x80"]


def test_a_disconnect_drops_the_link_and_silences_the_device_until_it_ends() -> None:
    window = (S + 20.0, S + 40.0)
    feed = _feed(Kind.PULSE_OXIMETER, 60.0, [sc.disconnects(Kind.PULSE_OXIMETER, [window])])
    assert [e for e in events(feed) if isinstance(e, LinkEvent)] == [
        LinkEvent(window[0], up=False),
        LinkEvent(window[1], up=True),
    ]

    async def scenario() -> tuple[bool, bool, list[bytes]]:
        radio = VirtualRadio()
        async with (
            _central(radio) as central,
            radio.host(feed.identity.name, feed.identity.address) as host,
        ):
            peripheral = VirtualPeripheral(feed, host)
            await peripheral.advertise()
            peer = await _connected_peer(central, feed.identity)
            dropped = asyncio.Event()
            peer.connection.on(Connection.EVENT_DISCONNECTION, lambda _reason: dropped.set())
            received = await _subscribe(peer, {0x2A5F}, Watch())
            await peripheral.apply(LinkEvent(window[0], up=False))
            async with asyncio.timeout(DEADLINE):
                await dropped.wait()
            try:  # nothing is heard while it is down
                await asyncio.wait_for(_advertisement(central, _from(feed.identity)), 0.5)
                silent = False
            except TimeoutError:
                silent = True
            await peripheral.apply(LinkEvent(window[1], up=True))
            back = await _advertisement(central, _from(feed.identity))
            await peripheral.go_silent()
            return silent, back is not None, received[0x2A5F]

    silent, back, received = asyncio.run(scenario())
    assert silent
    assert back
    assert received == []


def test_a_fleet_is_served_to_a_gateway_over_tcp() -> None:
    feeds = [_feed(kind) for kind in Kind]

    async def scenario() -> set[str]:
        stop = asyncio.Event()
        ready: asyncio.Future[FleetReady] = asyncio.get_running_loop().create_future()
        fleet = asyncio.ensure_future(
            run_fleet(feeds, speed=1.0, gateway_port=0, ready=ready.set_result, stop=stop)
        )
        try:
            async with asyncio.timeout(DEADLINE):
                info = await ready
            assert info.gateway_port is not None
            assert len(info.peripherals) == len(Kind)
            seen: set[str] = set()
            transport = await open_transport(f"tcp-client:127.0.0.1:{info.gateway_port}")
            async with transport:
                gateway = Device.with_hci("gw", Address(CENTRAL), transport.source, transport.sink)
                async with asyncio.timeout(DEADLINE):
                    await gateway.power_on()
                wanted = {f.identity.address for f in feeds}

                watch = Watch()

                def listen(advertisement: Advertisement) -> None:
                    seen.add(advertisement.address.to_string(with_type_qualifier=False))
                    watch.poke()

                gateway.on(Device.EVENT_ADVERTISEMENT, listen)
                await gateway.start_scanning(filter_duplicates=False)
                await watch.until(lambda: wanted <= seen)
                await gateway.stop_scanning()
                await gateway.power_off()
            return seen
        finally:
            stop.set()
            async with asyncio.timeout(DEADLINE):
                stats = await fleet
            assert set(stats) == {f.identity.device_id for f in feeds}

    assert {f.identity.address for f in feeds} <= asyncio.run(scenario())
