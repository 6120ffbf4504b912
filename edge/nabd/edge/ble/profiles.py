"""The standard Bluetooth SIG health services the agent reads, and their characteristics.

A device is recognised by the 16-bit service UUIDs it advertises (or, for configured addresses,
by what its GATT database holds once connected). Measurement characteristics are subscribed to
(notify or indicate, whichever the device offers; the specifications make the final measurements
of HTS, BLS, GLS, WSS and PLX spot-check *indications*), Battery Level and the Device Information
strings are read at every connection.

A Generic Health Sensor (GHS 1.0, service 0x1840) sends segmented observations on Live Health
Observations (0x2B8B) and, for stored records, Stored Health Observations (0x2BDD); after
subscribing the agent writes "start sending live observations" to its GHS Control Point (0x2BF4)
when the device has one.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from bleak.uuids import normalize_uuid_16

__all__ = [
    "BATTERY_LEVEL",
    "BATTERY_SERVICE",
    "DEVICE_INFORMATION_SERVICE",
    "DEVICE_INFO_STRINGS",
    "GHS_CONTROL_POINT",
    "GLUCOSE_MEASUREMENT",
    "MEASUREMENTS",
    "SEGMENTED",
    "HealthService",
    "uuid16_of",
]


class HealthService(StrEnum):
    """Health services by the name the configuration uses for discovery."""

    HEART_RATE = "heart_rate"
    PULSE_OXIMETER = "pulse_oximeter"
    HEALTH_THERMOMETER = "health_thermometer"
    BLOOD_PRESSURE = "blood_pressure"
    GLUCOSE = "glucose"
    WEIGHT_SCALE = "weight_scale"
    GENERIC_HEALTH_SENSOR = "generic_health_sensor"

    @property
    def uuid16(self) -> int:
        return _SERVICE_UUIDS[self]

    @property
    def uuid(self) -> str:
        """bleak's normalised 128-bit form."""
        return normalize_uuid_16(self.uuid16)


_SERVICE_UUIDS: Final = MappingProxyType(
    {
        HealthService.HEART_RATE: 0x180D,
        HealthService.PULSE_OXIMETER: 0x1822,
        HealthService.HEALTH_THERMOMETER: 0x1809,
        HealthService.BLOOD_PRESSURE: 0x1810,
        HealthService.GLUCOSE: 0x1808,
        HealthService.WEIGHT_SCALE: 0x181D,
        HealthService.GENERIC_HEALTH_SENSOR: 0x1840,
    }
)

MEASUREMENTS: Final = frozenset(
    {
        0x2A37,  # Heart Rate Measurement
        0x2A5E,  # PLX Spot-check Measurement
        0x2A5F,  # PLX Continuous Measurement
        0x2A1C,  # Temperature Measurement
        0x2A1E,  # Intermediate Temperature
        0x2A35,  # Blood Pressure Measurement
        0x2A36,  # Intermediate Cuff Pressure
        0x2A18,  # Glucose Measurement
        0x2A9D,  # Weight Measurement
        0x2B8B,  # Live Health Observations (GHS, segmented)
        0x2BDD,  # Stored Health Observations (GHS, segmented)
    }
)
"""Characteristics whose notifications or indications carry readings."""

SEGMENTED: Final = frozenset({0x2B8B, 0x2BDD})
"""GHS observation characteristics: each value is a segment, joined before decoding."""
GHS_CONTROL_POINT: Final = 0x2BF4

GLUCOSE_MEASUREMENT: Final = 0x2A18
"""A glucose meter's records; with a Record Access Control Point, stored ones can be asked for."""
BATTERY_SERVICE: Final = 0x180F
BATTERY_LEVEL: Final = 0x2A19
DEVICE_INFORMATION_SERVICE: Final = 0x180A
DEVICE_INFO_STRINGS: Final = MappingProxyType(
    {
        0x2A29: "manufacturer",
        0x2A24: "model",
        0x2A25: "serial_number",
        0x2A27: "hardware_revision",
        0x2A26: "firmware_revision",
        0x2A28: "software_revision",
    }
)
"""Device Information Service strings read at connection, by the key the status uses."""

_SIG_TAIL: Final = "-0000-1000-8000-00805f9b34fb"


def uuid16_of(uuid: str) -> int | None:
    """The 16-bit SIG UUID inside bleak's 128-bit form, or ``None`` for a vendor UUID."""
    text = uuid.lower()
    if len(text) == 36 and text.startswith("0000") and text.endswith(_SIG_TAIL):
        return int(text[4:8], 16)
    return None
