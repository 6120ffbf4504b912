"""Who a virtual device is: its device id, Bluetooth address, advertised name and DIS strings.

Everything is derived from (patient id, device kind) by hashing, so the same ward always has the
same devices at the same addresses: a gateway configured once (``nabd simulate devices`` prints
the ``[[devices]]`` lines for ``nabd edge``) finds them again on every run. Addresses are random
*static* addresses (the two top bits set), which is what a device without a public address
assigned by the IEEE uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from nabd.contract.topics import check_id
from nabd.simulators.devices import Device
from nabd.simulators.errors import SimulatorError

__all__ = [
    "FIRMWARE",
    "MANUFACTURER",
    "PREFIX",
    "SERVICE_UUID",
    "DeviceIdentity",
    "identity_of",
]

PREFIX: Final[Mapping[Device, str]] = MappingProxyType(
    {
        Device.CHEST_STRAP: "hrs",
        Device.PULSE_OXIMETER: "plx",
        Device.THERMOMETER: "hts",
        Device.BP_CUFF: "bps",
        Device.GLUCOSE_METER: "gls",
        Device.SCALE: "wss",
        Device.RESPIRATION_SENSOR: "ghs",
    }
)
"""Device id prefix: the SIG service's short name."""

SERVICE_UUID: Final[Mapping[Device, int]] = MappingProxyType(
    {
        Device.CHEST_STRAP: 0x180D,  # Heart Rate
        Device.PULSE_OXIMETER: 0x1822,  # Pulse Oximeter
        Device.THERMOMETER: 0x1809,  # Health Thermometer
        Device.BP_CUFF: 0x1810,  # Blood Pressure
        Device.GLUCOSE_METER: 0x1808,  # Glucose
        Device.SCALE: 0x181D,  # Weight Scale
        Device.RESPIRATION_SENSOR: 0x1840,  # Generic Health Sensor
    }
)
"""The health service each device serves and advertises."""

MANUFACTURER: Final = "Nabd Simulators"
FIRMWARE: Final = "sim-1"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """One virtual device's names; ``address`` is ``AA:BB:CC:DD:EE:FF``, most significant first."""

    patient_id: str
    device: Device
    device_id: str
    address: str
    name: str
    """Complete Local Name, short enough to fit the 31-byte advertisement with two UUIDs."""
    model: str
    serial: str

    @property
    def service_uuid(self) -> int:
        return SERVICE_UUID[self.device]


def _digest(*parts: str) -> bytes:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()


def identity_of(patient_id: str, device: Device) -> DeviceIdentity:
    """The identity of ``patient_id``'s ``device``; SimulatorError for an id that is not one."""
    try:
        check_id("patient", patient_id)
    except ValueError as exc:
        raise SimulatorError(str(exc)) from exc
    tag = _digest(patient_id).hex()[:12]
    raw = bytearray(_digest(patient_id, device.value)[:6])
    raw[0] |= 0xC0  # random static address: the two most significant bits are 1
    prefix = PREFIX[device]
    return DeviceIdentity(
        patient_id=patient_id,
        device=device,
        device_id=f"{prefix}-{tag}",
        address=":".join(f"{byte:02X}" for byte in raw),
        name=f"Nabd {prefix.upper()} {tag[:6]}",
        model=f"virtual-{device.value.replace('_', '-')}",
        serial=f"{prefix}-{tag}",
    )
