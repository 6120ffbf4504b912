"""The GATT database of each virtual device: its health service, Battery and Device Information.

=============  ==================================================================================
device         health service (characteristics: N notify, I indicate, R read, W write)
=============  ==================================================================================
chest strap    Heart Rate 0x180D: Heart Rate Measurement 0x2A37 N, Body Sensor Location 0x2A38 R
oximeter       Pulse Oximeter 0x1822: PLX Spot-check 0x2A5E I, PLX Continuous 0x2A5F N,
               PLX Features 0x2A60 R
thermometer    Health Thermometer 0x1809: Temperature Measurement 0x2A1C I, Temperature Type
               0x2A1D R, Intermediate Temperature 0x2A1E N
BP cuff        Blood Pressure 0x1810: Blood Pressure Measurement 0x2A35 I, Intermediate Cuff
               Pressure 0x2A36 N, Blood Pressure Feature 0x2A49 R
glucose meter  Glucose 0x1808: Glucose Measurement 0x2A18 N, Glucose Feature 0x2A51 R, Record
               Access Control Point 0x2A52 W+I (see :mod:`~nabd.simulators.ble.racp`)
scale          Weight Scale 0x181D: Weight Measurement 0x2A9D I, Weight Scale Feature 0x2A9E R
respiration    Generic Health Sensor 0x1840: Live Health Observations 0x2B8B N, Stored Health
sensor         Observations 0x2BDD N, Health Sensor Features 0x2BF3 R, GHS Control Point 0x2BF4
               W+I (start/stop answered "success", or refused on demand), Record Access Control
               Point 0x2A52 W+I (see :mod:`~nabd.simulators.ble.peripheral`)
every device   Battery 0x180F: Battery Level 0x2A19 R+N; Device Information 0x180A: Manufacturer
               Name 0x2A29, Model Number 0x2A24, Serial Number 0x2A25, Firmware Revision 0x2A26 R
=============  ==================================================================================

bumble adds the Client Characteristic Configuration descriptor to every notify or indicate
characteristic, and the GAP (device name) and GATT services itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from bumble import gatt
from bumble.device import Connection

from nabd.contract.gatt import (
    DeviceInfoCharacteristic,
    DeviceInfoString,
    GhsControlPoint,
    encode,
)
from nabd.simulators.ble import features
from nabd.simulators.ble.identity import FIRMWARE, MANUFACTURER, DeviceIdentity
from nabd.simulators.ble.racp import RACP
from nabd.simulators.ble.schedule import BATTERY_LEVEL
from nabd.simulators.devices import Device
from nabd.simulators.errors import SimulatorError

__all__ = [
    "BATTERY_SERVICE",
    "DEVICE_INFORMATION_SERVICE",
    "GHS_CONTROL_POINT",
    "GattDatabase",
    "RacpWriter",
    "build",
]

BATTERY_SERVICE: Final = 0x180F
DEVICE_INFORMATION_SERVICE: Final = 0x180A
GHS_CONTROL_POINT: Final = GhsControlPoint.UUID

RacpWriter = Callable[[Connection, bytes], None]
"""Called with each value a central writes to the RACP."""

_Props = gatt.Characteristic.Properties
_READABLE: Final = gatt.Characteristic.Permissions.READABLE
_WRITEABLE: Final = gatt.Characteristic.Permissions.WRITEABLE
_NONE: Final = gatt.Characteristic.Permissions(0)

_MEASUREMENTS: Final[Mapping[Device, tuple[tuple[int, _Props], ...]]] = {
    Device.CHEST_STRAP: ((0x2A37, _Props.NOTIFY),),
    Device.PULSE_OXIMETER: ((0x2A5E, _Props.INDICATE), (0x2A5F, _Props.NOTIFY)),
    Device.THERMOMETER: ((0x2A1C, _Props.INDICATE), (0x2A1E, _Props.NOTIFY)),
    Device.BP_CUFF: ((0x2A35, _Props.INDICATE), (0x2A36, _Props.NOTIFY)),
    Device.GLUCOSE_METER: ((0x2A18, _Props.NOTIFY),),
    Device.SCALE: ((0x2A9D, _Props.INDICATE),),
    Device.RESPIRATION_SENSOR: ((0x2B8B, _Props.NOTIFY), (0x2BDD, _Props.NOTIFY)),
}
"""Characteristics that carry measurements, and how."""

_READ_ONLY: Final[Mapping[Device, tuple[tuple[int, Callable[[], bytes]], ...]]] = {
    Device.CHEST_STRAP: ((features.BODY_SENSOR_LOCATION, features.body_sensor_location),),
    Device.PULSE_OXIMETER: ((features.PLX_FEATURES, features.plx_features),),
    Device.THERMOMETER: ((features.TEMPERATURE_TYPE, features.temperature_type),),
    Device.BP_CUFF: ((features.BLOOD_PRESSURE_FEATURE, features.blood_pressure_feature),),
    Device.GLUCOSE_METER: ((features.GLUCOSE_FEATURE, features.glucose_feature),),
    Device.SCALE: ((features.WEIGHT_SCALE_FEATURE, features.weight_scale_feature),),
    Device.RESPIRATION_SENSOR: (
        (features.HEALTH_SENSOR_FEATURES, features.health_sensor_features),
    ),
}


@dataclass(frozen=True, eq=False)
class GattDatabase:
    """The services to add to a bumble device, and their characteristics by 16-bit UUID."""

    services: tuple[gatt.Service, ...]
    characteristics: Mapping[int, gatt.Characteristic[bytes]]


def _uuid(value: int) -> str:
    return f"{value:04X}"


def _characteristic(
    uuid: int,
    properties: _Props,
    value: bytes | gatt.CharacteristicValue[bytes] = b"",
) -> gatt.Characteristic[bytes]:
    permissions = _READABLE if properties & _Props.READ else _NONE
    if properties & _Props.WRITE:
        permissions |= _WRITEABLE
    return gatt.Characteristic(_uuid(uuid), properties, permissions, value)


def _device_information(identity: DeviceIdentity) -> dict[int, gatt.Characteristic[bytes]]:
    strings = {
        DeviceInfoCharacteristic.MANUFACTURER_NAME: MANUFACTURER,
        DeviceInfoCharacteristic.MODEL_NUMBER: identity.model,
        DeviceInfoCharacteristic.SERIAL_NUMBER: identity.serial,
        DeviceInfoCharacteristic.FIRMWARE_REVISION: FIRMWARE,
    }
    return {
        int(kind): _characteristic(int(kind), _Props.READ, encode(DeviceInfoString(kind, text)))
        for kind, text in strings.items()
    }


def build(
    identity: DeviceIdentity,
    battery: int,
    racp: RacpWriter | None = None,
    ghs_control: RacpWriter | None = None,
) -> GattDatabase:
    """The database of ``identity``'s device, its Battery Level reading ``battery`` %.

    ``racp`` receives the RACP writes (required for a glucose meter and a respiration sensor),
    ``ghs_control`` the respiration sensor's GHS Control Point writes (required for it).
    """
    device = identity.device
    health = {uuid: _characteristic(uuid, props) for uuid, props in _MEASUREMENTS[device]}
    health |= {
        uuid: _characteristic(uuid, _Props.READ, make()) for uuid, make in _READ_ONLY[device]
    }
    if device in (Device.GLUCOSE_METER, Device.RESPIRATION_SENSOR):
        if racp is None:
            raise SimulatorError(f"a {device.value} needs a RACP writer")
        writer = gatt.CharacteristicValue(write=racp)
        health[RACP] = _characteristic(RACP, _Props.WRITE | _Props.INDICATE, writer)
    if device is Device.RESPIRATION_SENSOR:
        if ghs_control is None:
            raise SimulatorError("a GHS sensor needs a GHS Control Point writer")
        control = gatt.CharacteristicValue(write=ghs_control)
        health[GHS_CONTROL_POINT] = _characteristic(
            GHS_CONTROL_POINT, _Props.WRITE | _Props.INDICATE, control
        )
    battery_level = _characteristic(BATTERY_LEVEL, _Props.READ | _Props.NOTIFY, bytes([battery]))
    information = _device_information(identity)
    services = (
        gatt.Service(_uuid(identity.service_uuid), list(health.values())),
        gatt.Service(_uuid(BATTERY_SERVICE), [battery_level]),
        gatt.Service(_uuid(DEVICE_INFORMATION_SERVICE), list(information.values())),
    )
    return GattDatabase(
        services=services,
        characteristics={**health, BATTERY_LEVEL: battery_level, **information},
    )
