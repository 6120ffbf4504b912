"""Battery Level (0x2A19, Battery Service) and the Device Information Service strings.

Battery Level is one uint8, a percentage; 101-255 are not levels and are rejected.

The DIS strings (manufacturer, model, serial number, hardware/firmware/software revision) are UTF-8
with no length byte. Some devices pad them with NULs to a fixed size; trailing NULs are stripped.
A NUL *inside* the text (``"AB\\0\\0junk"``) means the device sent a buffer rather than a string,
and is rejected rather than silently cut, as is invalid UTF-8. An attribute value is at most 512
bytes (Core Specification, ATT), so longer text is rejected too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final

from nabd.contract.gatt.errors import GattValueError, InvalidFieldError
from nabd.contract.gatt.fields import check_range
from nabd.contract.gatt.samples import MetricKey, Sample, sample
from nabd.contract.gatt.wire import Buffer, Writer, parse

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BatteryLevel",
    "DeviceInfoCharacteristic",
    "DeviceInfoString",
    "decode_battery_level",
    "decode_device_info_string",
    "encode_battery_level",
    "encode_device_info_string",
]

BATTERY_LEVEL_UUID: Final = 0x2A19
_BATTERY_NAME: Final = "Battery Level (0x2A19)"
_MAX_ATTRIBUTE_SIZE: Final = 512


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """Remaining battery charge, 0-100 %."""

    UUID: ClassVar[int] = BATTERY_LEVEL_UUID

    percent: int

    def __post_init__(self) -> None:
        check_range(_BATTERY_NAME, "level", self.percent, 0, 100)

    def samples(self) -> list[Sample]:
        return [sample(MetricKey.BATTERY_LEVEL, float(self.percent))]


def decode_battery_level(data: Buffer) -> BatteryLevel:
    """Decode a Battery Level; raises :class:`GattDecodeError` if malformed or above 100."""
    return parse(_BATTERY_NAME, data, lambda reader: BatteryLevel(reader.u8("Battery Level")))


def encode_battery_level(value: BatteryLevel) -> bytes:
    return Writer().u8(value.percent).to_bytes()


class DeviceInfoCharacteristic(IntEnum):
    """The Device Information Service string characteristics, by UUID."""

    MODEL_NUMBER = 0x2A24
    SERIAL_NUMBER = 0x2A25
    FIRMWARE_REVISION = 0x2A26
    HARDWARE_REVISION = 0x2A27
    SOFTWARE_REVISION = 0x2A28
    MANUFACTURER_NAME = 0x2A29

    @property
    def label(self) -> str:
        words = self.name.replace("_", " ").title()
        return f"{words} String (0x{self.value:04X})"


@dataclass(frozen=True, slots=True)
class DeviceInfoString:
    """One DIS string; it is device metadata, so it yields no samples."""

    characteristic: DeviceInfoCharacteristic
    text: str

    def __post_init__(self) -> None:
        label = self.characteristic.label
        if "\0" in self.text:
            raise GattValueError(f"{label}: text contains NUL")
        try:
            size = len(self.text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise GattValueError(f"{label}: text is not encodable as UTF-8") from exc
        if size > _MAX_ATTRIBUTE_SIZE:
            raise GattValueError(f"{label}: {size} bytes exceed the {_MAX_ATTRIBUTE_SIZE} allowed")

    @property
    def uuid(self) -> int:
        return int(self.characteristic)

    def samples(self) -> list[Sample]:
        return []


def decode_device_info_string(
    characteristic: DeviceInfoCharacteristic, data: Buffer
) -> DeviceInfoString:
    """Decode a DIS string; raises :class:`GattDecodeError` for bad UTF-8 or an inner NUL."""
    label = characteristic.label
    raw = bytes(data).rstrip(b"\0")
    try:
        return DeviceInfoString(characteristic, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidFieldError(label, f"not UTF-8 at byte {exc.start}") from exc
    except GattValueError as exc:
        raise InvalidFieldError(label, str(exc)) from exc


def encode_device_info_string(value: DeviceInfoString) -> bytes:
    return value.text.encode("utf-8")
