"""bleak's public API over the bumble backend, against virtual peripherals on a ``LocalLink``.

Everything here goes through ``BleakScanner`` / ``BleakClient`` (and bleak-retry-connector's
``establish_connection``) with ``backend=`` set, exactly as the agent calls them: advertising
reports, connection, service discovery, reads, writes, ATT errors, notifications, indications
and disconnections all cross a real HCI transport to a controller and a GATT server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_16
from bleak_retry_connector import establish_connection
from bumble import gatt
from bumble.att import ATT_Error, AttributeValue

from nabd.edge.ble.backend import BackendClasses, open_backend
from nabd.edge.config import BleConfig
from tests.edge.virtual_peripherals import VirtualPeripheral, VirtualWorld

HR: Final = "F0:00:00:00:00:31"
PLX: Final = "F0:00:00:00:00:32"
CUSTOM_SERVICE: Final = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
WRITABLE: Final = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
INDICATED: Final = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
DEADLINE: Final = 10.0
VALUE_NOT_ALLOWED: Final = 0x13

Scenario = Callable[[VirtualWorld, BackendClasses], Awaitable[None]]


def _run(scenario: Scenario) -> None:
    async def main() -> None:
        async with asyncio.timeout(30), VirtualWorld.running() as world:
            config = BleConfig(backend="bumble", transport=world.transport_spec)
            async with open_backend(config, "gw-backend-test") as opened:
                await scenario(world, opened.classes)

    asyncio.run(main())


async def _find(backend: BackendClasses, address: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_address(
        address, timeout=DEADLINE, **backend.scanner_args()
    )
    assert device is not None, f"{address} not heard"
    return device


@asynccontextmanager
async def _connected(
    backend: BackendClasses, target: BLEDevice | str
) -> AsyncIterator[BleakClient]:
    client = BleakClient(target, timeout=DEADLINE, **backend.client_args())
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


def _add_custom_service(peripheral: VirtualPeripheral) -> gatt.Characteristic[bytes]:
    """A vendor service with a writable and an indicate-only characteristic. The writable one
    refuses ``b"bad"`` with an ATT error, as a control point refuses an unknown op code."""
    stored = [b"initial"]

    def write(_connection: object, value: bytes) -> None:
        if value == b"bad":
            raise ATT_Error(VALUE_NOT_ALLOWED)
        stored[0] = value

    writable: gatt.Characteristic[bytes] = gatt.Characteristic(
        WRITABLE,
        gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.WRITE,
        gatt.Characteristic.Permissions.READABLE | gatt.Characteristic.Permissions.WRITEABLE,
        AttributeValue(read=lambda _connection: stored[0], write=write),
    )
    indicated = gatt.Characteristic(
        INDICATED,
        gatt.Characteristic.Properties.INDICATE,
        gatt.Characteristic.Permissions(0),
        b"",
    )
    peripheral.device.add_service(gatt.Service(CUSTOM_SERVICE, [writable, indicated]))
    return indicated


def test_the_scanner_reports_advertisements_as_bleak_does() -> None:
    async def scenario(world: VirtualWorld, backend: BackendClasses) -> None:
        await world.add("heart_rate", HR, "strap")
        await world.add("pulse_oximeter", PLX, "oximeter")
        heard: dict[str, tuple[BLEDevice, list[str], str | None, int]] = {}
        both = asyncio.Event()

        def seen(device: BLEDevice, adv: object) -> None:
            from bleak.backends.scanner import AdvertisementData  # noqa: PLC0415

            assert isinstance(adv, AdvertisementData)
            heard[device.address] = (device, adv.service_uuids, adv.local_name, adv.rssi)
            if len(heard) >= 2:
                both.set()

        async with BleakScanner(seen, **backend.scanner_args()) as scanner:
            async with asyncio.timeout(DEADLINE):
                await both.wait()
            assert scanner.backend_id == "BumbleScanner"
        _, uuids, name, rssi = heard[HR]
        assert uuids == [normalize_uuid_16(0x180D), normalize_uuid_16(0x180F)]
        assert name == "strap"
        assert isinstance(rssi, int)
        assert heard[PLX][1][0] == normalize_uuid_16(0x1822)

    _run(scenario)


def test_the_scanner_filters_by_service_uuid() -> None:
    async def scenario(world: VirtualWorld, backend: BackendClasses) -> None:
        await world.add("heart_rate", HR, "strap")
        await world.add("pulse_oximeter", PLX, "oximeter")
        found = await BleakScanner.discover(
            timeout=0.5, service_uuids=[normalize_uuid_16(0x1822)], **backend.scanner_args()
        )
        assert [d.address for d in found] == [PLX]

    _run(scenario)


def test_discovery_reads_and_notifications_through_establish_connection() -> None:
    async def scenario(world: VirtualWorld, backend: BackendClasses) -> None:
        strap = await world.add("heart_rate", HR, "strap")
        device = await _find(backend, HR)
        client = await establish_connection(BleakClient, device, "strap", **backend.client_args())
        try:
            assert client.is_connected
            assert client.mtu_size == 247
            hrm = client.services.get_characteristic(normalize_uuid_16(0x2A37))
            assert hrm is not None
            assert hrm.properties == ["notify"]
            assert hrm.service_uuid == normalize_uuid_16(0x180D)
            assert [d.uuid for d in hrm.descriptors] == [normalize_uuid_16(0x2902)]
            assert await client.read_gatt_char(normalize_uuid_16(0x2A19)) == bytearray([87])
            assert await client.read_gatt_char(normalize_uuid_16(0x2A29)) == b"Nabd Test"
            values: asyncio.Queue[tuple[str, bytearray]] = asyncio.Queue()

            def on_value(char: BleakGATTCharacteristic, data: bytearray) -> None:
                values.put_nowait((char.uuid, data))

            await client.start_notify(hrm, on_value)
            await strap.wait_subscribed()
            sent = await strap.send_heart_rate(75, rr_intervals=(0.8,))
            async with asyncio.timeout(DEADLINE):
                assert await values.get() == (hrm.uuid, bytearray(sent))
            await client.stop_notify(hrm)
            async with asyncio.timeout(DEADLINE):
                while strap.subscribed.is_set():  # noqa: ASYNC110 (the CCCD write is async)
                    await asyncio.sleep(0.01)
        finally:
            await client.disconnect()
        assert not client.is_connected

    _run(scenario)


def test_writes_indications_and_att_errors() -> None:
    async def scenario(world: VirtualWorld, backend: BackendClasses) -> None:
        strap = await world.add("heart_rate", HR, "strap")
        indicated = _add_custom_service(strap)
        async with _connected(backend, HR) as client:  # by address: the backend scans for it
            await client.write_gatt_char(WRITABLE, b"hello", response=True)
            assert await client.read_gatt_char(WRITABLE) == b"hello"
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.write_gatt_char(WRITABLE, b"bad", response=True)
            assert refused.value.code == VALUE_NOT_ALLOWED
            assert await client.read_gatt_char(WRITABLE) == b"hello"
            received: asyncio.Queue[bytearray] = asyncio.Queue()
            await client.start_notify(INDICATED, lambda _c, data: received.put_nowait(data))
            await strap.device.indicate_subscribers(
                indicated, b"\x01\x02"
            )  # confirmed by the client
            async with asyncio.timeout(DEADLINE):
                assert await received.get() == b"\x01\x02"

    _run(scenario)


def test_a_peripheral_that_drops_calls_the_disconnected_callback() -> None:
    async def scenario(world: VirtualWorld, backend: BackendClasses) -> None:
        strap = await world.add("heart_rate", HR, "strap")
        device = await _find(backend, HR)
        dropped = asyncio.Event()
        client = BleakClient(
            device, lambda _client: dropped.set(), timeout=DEADLINE, **backend.client_args()
        )
        await client.connect()
        await strap.go_away()
        async with asyncio.timeout(DEADLINE):
            await dropped.wait()
        assert not client.is_connected
        with pytest.raises(BleakError):
            await client.read_gatt_char(normalize_uuid_16(0x2A19))
        await strap.come_back()
        await client.connect()  # the same client object reconnects
        assert await client.read_gatt_char(normalize_uuid_16(0x2A19)) == bytearray([87])
        dropped.clear()
        await client.disconnect()
        await asyncio.sleep(0.05)
        assert not dropped.is_set()  # our own disconnect is not reported as a drop

    _run(scenario)


def test_a_request_in_flight_when_the_link_drops_fails_at_once() -> None:
    async def scenario(world: VirtualWorld, backend: BackendClasses) -> None:
        strap = await world.add("heart_rate", HR, "strap")
        _add_custom_service(strap)
        async with _connected(backend, await _find(backend, HR)) as client:
            pending = asyncio.ensure_future(client.write_gatt_char(WRITABLE, b"x", response=True))
            for connection in strap.connections:  # the link drops before the response
                await connection.disconnect()
            async with asyncio.timeout(2.0):  # not bumble's 30 s GATT timeout
                with pytest.raises(BleakError):
                    await pending

    _run(scenario)


def test_an_absent_address_is_not_found() -> None:
    async def scenario(_world: VirtualWorld, backend: BackendClasses) -> None:
        client = BleakClient("F0:00:00:00:00:99", timeout=0.3, **backend.client_args())
        with pytest.raises(BleakDeviceNotFoundError):
            await client.connect()

    _run(scenario)
