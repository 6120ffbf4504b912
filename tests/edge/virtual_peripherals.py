"""Minimal virtual BLE peripherals for the edge tests: bumble GATT servers on a ``LocalLink``.

Each peripheral is a bumble host (``Device``) on its own virtual controller, serving the standard
services over real advertising, connections and ATT: a heart-rate strap (Heart Rate 0x180D /
0x2A37), a pulse oximeter (Pulse Oximeter 0x1822 / 0x2A5F), a thermometer (Health Thermometer
0x1809 / 0x2A1C), a blood-pressure cuff (Blood Pressure 0x1810 / 0x2A35) or a scale (Weight
Scale 0x181D / 0x2A9D), each with Battery (0x180F / 0x2A19) and Device Information (0x180A).
The thermometer's, the cuff's and the scale's final measurements are indications, as their
specifications (HTS 1.0, BLS 1.1, WSS 1.0) require; the others notify. Measurement bytes come
from the contract's GATT encoders.

The gateway's controller sits on the same link and is served to the agent over TCP
(``tcp-client:127.0.0.1:<port>``): the agent's bumble host talks HCI to it exactly as it would
to a USB dongle. (The full simulated devices belong to ``nabd.simulators``; these are the
smallest devices the agent tests need.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final, Literal

from bumble import gatt
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink, Transport
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

from nabd.contract.gatt import (
    BatteryLevel,
    BloodPressureMeasurement,
    HeartRateMeasurement,
    PlxContinuousMeasurement,
    SensorContact,
    TemperatureMeasurement,
    WeightMeasurement,
    encode_battery_level,
    encode_blood_pressure_measurement,
    encode_heart_rate_measurement,
    encode_plx_continuous_measurement,
    encode_temperature_measurement,
    encode_weight_measurement,
)

Kind = Literal["heart_rate", "pulse_oximeter", "thermometer", "blood_pressure", "weight_scale"]

_SERVICE: Final = {
    "heart_rate": 0x180D,
    "pulse_oximeter": 0x1822,
    "thermometer": 0x1809,
    "blood_pressure": 0x1810,
    "weight_scale": 0x181D,
}
_MEASUREMENT: Final = {
    "heart_rate": 0x2A37,
    "pulse_oximeter": 0x2A5F,
    "thermometer": 0x2A1C,
    "blood_pressure": 0x2A35,
    "weight_scale": 0x2A9D,
}
_INDICATED: Final = frozenset({"thermometer", "blood_pressure", "weight_scale"})
"""Kinds whose final measurement is an indication (acknowledged by the central)."""
_ADVERTISING_INTERVAL_MS: Final = 20.0
_DEADLINE: Final = 10.0


def _uuid16(value: int) -> bytes:
    return value.to_bytes(2, "little")


@dataclass
class VirtualPeripheral:
    """One virtual device; ``send_*`` notify its measurement to subscribed centrals."""

    kind: Kind
    address: str
    device: Device
    measurement: gatt.Characteristic[bytes]
    battery: gatt.Characteristic[bytes]
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    advertising: bool = False

    @classmethod
    async def start(cls, link: LocalLink, kind: Kind, address: str, name: str) -> VirtualPeripheral:
        controller = Controller(f"ctrl-{name}", link=link)
        device = Device(
            name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller))
        )
        push = (
            gatt.Characteristic.Properties.INDICATE
            if kind in _INDICATED
            else gatt.Characteristic.Properties.NOTIFY
        )
        measurement = gatt.Characteristic(
            f"{_MEASUREMENT[kind]:04X}",
            push,
            gatt.Characteristic.Permissions(0),
            b"",
        )
        battery = gatt.Characteristic(
            "2A19",
            gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.Permissions.READABLE,
            encode_battery_level(BatteryLevel(87)),
        )
        info = [
            gatt.Characteristic(
                uuid,
                gatt.Characteristic.Properties.READ,
                gatt.Characteristic.Permissions.READABLE,
                text.encode(),
            )
            for uuid, text in (("2A29", "Nabd Test"), ("2A24", f"virtual-{kind}"), ("2A25", name))
        ]
        device.add_services(
            [
                gatt.Service(f"{_SERVICE[kind]:04X}", [measurement]),
                gatt.Service("180F", [battery]),
                gatt.Service("180A", info),
            ]
        )
        await device.power_on()
        device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode()),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        _uuid16(_SERVICE[kind]) + _uuid16(0x180F),
                    ),
                ]
            )
        )
        peripheral = cls(kind, address.upper(), device, measurement, battery)
        measurement.on(
            measurement.EVENT_SUBSCRIPTION,
            lambda _bearer, notify, indicate: peripheral._on_subscription(notify or indicate),
        )
        await peripheral.come_back()
        return peripheral

    def _on_subscription(self, enabled: bool) -> None:
        if enabled:
            self.subscribed.set()
        else:
            self.subscribed.clear()

    @property
    def connections(self) -> list[Connection]:
        return list(self.device.connections.values())

    async def come_back(self) -> None:
        """Advertise (again), connectable, restarting after every disconnection."""
        await self.device.start_advertising(
            auto_restart=True,
            advertising_interval_min=_ADVERTISING_INTERVAL_MS,
            advertising_interval_max=_ADVERTISING_INTERVAL_MS,
        )
        self.advertising = True

    async def go_away(self) -> None:
        """Out of range: stop advertising and drop every connection."""
        self.subscribed.clear()
        self.advertising = False
        await self.device.stop_advertising()
        for connection in self.connections:
            with contextlib.suppress(Exception):
                await connection.disconnect()

    async def notify(self, value: bytes) -> None:
        if self.kind in _INDICATED:
            await self.device.indicate_subscribers(self.measurement, value)
        else:
            await self.device.notify_subscribers(self.measurement, value)

    async def send_weight(self, kg: float) -> bytes:
        """A weight without a time stamp (the gateway stamps it on receipt)."""
        value = encode_weight_measurement(WeightMeasurement(weight=kg))
        await self.notify(value)
        return value

    async def send_heart_rate(self, bpm: int, rr_intervals: tuple[float, ...] = ()) -> bytes:
        value = encode_heart_rate_measurement(
            HeartRateMeasurement(
                heart_rate=bpm, sensor_contact=SensorContact.DETECTED, rr_intervals=rr_intervals
            )
        )
        await self.notify(value)
        return value

    async def send_spo2(self, spo2: float, pulse_rate: float) -> bytes:
        value = encode_plx_continuous_measurement(
            PlxContinuousMeasurement(spo2=spo2, pulse_rate=pulse_rate)
        )
        await self.notify(value)
        return value

    async def send_temperature(self, celsius: float) -> bytes:
        value = encode_temperature_measurement(TemperatureMeasurement(temperature=celsius))
        await self.notify(value)
        return value

    async def send_blood_pressure(self, systolic: float, diastolic: float) -> bytes:
        mean = round(diastolic + (systolic - diastolic) / 3)
        value = encode_blood_pressure_measurement(
            BloodPressureMeasurement(systolic=systolic, diastolic=diastolic, mean_arterial=mean)
        )
        await self.notify(value)
        return value

    async def wait_subscribed(self) -> None:
        async with asyncio.timeout(_DEADLINE):
            await self.subscribed.wait()


@dataclass
class VirtualWorld:
    """A ``LocalLink`` with peripherals and one controller served over TCP for the agent."""

    link: LocalLink
    port: int
    transport: Transport
    peripherals: list[VirtualPeripheral] = field(default_factory=list)
    radios: list[tuple[socket.socket, Transport]] = field(default_factory=list)
    """Further gateways' controllers on the same link (:meth:`another_gateway`)."""

    @property
    def transport_spec(self) -> str:
        """What the agent's ``ble.transport`` says to reach the gateway's controller."""
        return f"tcp-client:127.0.0.1:{self.port}"

    @staticmethod
    async def _radio(link: LocalLink, name: str) -> tuple[socket.socket, Transport]:
        """A gateway's controller on ``link``, served over TCP on a free port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Accepted sockets inherit TCP_NODELAY: without it, Nagle + delayed ACK add 40 ms to
        # every ATT round trip through the served controller.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind(("127.0.0.1", 0))
        transport = await open_tcp_server_transport_with_socket(listener)
        Controller(name, host_source=transport.source, host_sink=transport.sink, link=link)
        return listener, transport

    @staticmethod
    async def _close(listener: socket.socket, transport: Transport) -> None:
        await transport.close()
        server = getattr(transport, "server", None)
        if server is not None:
            server.close()
            await server.wait_closed()
        listener.close()

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls) -> AsyncIterator[VirtualWorld]:
        link = LocalLink()  # type: ignore[no-untyped-call]
        listener, transport = await cls._radio(link, "gateway")
        world = cls(link, int(listener.getsockname()[1]), transport)
        try:
            yield world
        finally:
            for peripheral in world.peripherals:
                with contextlib.suppress(Exception):
                    await peripheral.device.power_off()
            for radio in [(listener, transport), *world.radios]:
                await cls._close(*radio)

    async def another_gateway(self) -> str:
        """The transport spec of another gateway's controller in the same room (same link)."""
        radio = await self._radio(self.link, f"gateway-{len(self.radios) + 2}")
        self.radios.append(radio)
        return f"tcp-client:127.0.0.1:{radio[0].getsockname()[1]}"

    async def add(self, kind: Kind, address: str, name: str) -> VirtualPeripheral:
        peripheral = await VirtualPeripheral.start(self.link, kind, address, name)
        self.peripherals.append(peripheral)
        return peripheral
