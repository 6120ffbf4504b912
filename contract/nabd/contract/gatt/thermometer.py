"""Temperature Measurement (0x2A1C) and Intermediate Temperature (0x2A1E), Health Thermometer
Service.

Both share one layout: Flags (uint8; bit 0 unit, 0 = Celsius, 1 = Fahrenheit; bit 1 Time Stamp
present; bit 2 Temperature Type present; bits 3-7 reserved), Temperature (FLOAT), Time Stamp
(Date Time), Temperature Type (uint8, 1-9; 0 and 10-255 reserved). An Intermediate Temperature is
a reading still in progress, so its samples are flagged ``early_estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum
from typing import ClassVar, Final, TypeVar

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.fields import quantized, replace_field
from nabd.contract.gatt.ieee11073 import MedFloat
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag, sample
from nabd.contract.gatt.units import convert, fahrenheit_to_celsius
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "INTERMEDIATE_TEMPERATURE_UUID",
    "TEMPERATURE_MEASUREMENT_UUID",
    "IntermediateTemperature",
    "TemperatureMeasurement",
    "TemperatureType",
    "TemperatureUnit",
    "decode_intermediate_temperature",
    "decode_temperature_measurement",
    "encode_intermediate_temperature",
    "encode_temperature_measurement",
]

TEMPERATURE_MEASUREMENT_UUID: Final = 0x2A1C
INTERMEDIATE_TEMPERATURE_UUID: Final = 0x2A1E
_MEASUREMENT_NAME: Final = "Temperature Measurement (0x2A1C)"
_INTERMEDIATE_NAME: Final = "Intermediate Temperature (0x2A1E)"

_FAHRENHEIT: Final = 0x01
_TIMESTAMP_PRESENT: Final = 0x02
_TYPE_PRESENT: Final = 0x04


class TemperatureUnit(Enum):
    """Flags bit 0."""

    CELSIUS = 0
    FAHRENHEIT = 1


class TemperatureType(IntEnum):
    """Where the temperature was taken (Temperature Type, 0x2A1D; IEEE 11073-10408)."""

    ARMPIT = 1
    BODY = 2
    EAR = 3
    FINGER = 4
    GASTROINTESTINAL_TRACT = 5
    MOUTH = 6
    RECTUM = 7
    TOE = 8
    TYMPANUM = 9


@dataclass(frozen=True, slots=True, kw_only=True)
class _Temperature:
    """Fields and behaviour shared by the two thermometer characteristics."""

    temperature: MedFloat
    """In ``unit``, quantised to FLOAT on construction."""
    unit: TemperatureUnit = TemperatureUnit.CELSIUS
    timestamp: DateTime | None = None
    temperature_type: TemperatureType | None = None

    def __post_init__(self) -> None:
        value = quantized("Temperature", "temperature", self.temperature, wide=True)
        replace_field(self, "temperature", value)

    @property
    def celsius(self) -> MedFloat:
        """The temperature in degrees Celsius (special values unchanged)."""
        if self.unit is TemperatureUnit.FAHRENHEIT:
            return convert(self.temperature, fahrenheit_to_celsius)
        return self.temperature

    @property
    def measured_at(self) -> datetime | None:
        return None if self.timestamp is None else self.timestamp.to_datetime()

    def _samples(self, flags: frozenset[SampleFlag]) -> list[Sample]:
        return [sample(MetricKey.BODY_TEMPERATURE, self.celsius, flags)]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureMeasurement(_Temperature):
    """A final thermometer reading."""

    UUID: ClassVar[int] = TEMPERATURE_MEASUREMENT_UUID

    def samples(self) -> list[Sample]:
        """Body temperature in Cel."""
        return self._samples(frozenset())


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateTemperature(_Temperature):
    """A reading displayed while the measurement is still in progress."""

    UUID: ClassVar[int] = INTERMEDIATE_TEMPERATURE_UUID

    def samples(self) -> list[Sample]:
        """Body temperature in Cel, flagged ``early_estimate``."""
        return self._samples(frozenset({SampleFlag.EARLY_ESTIMATE}))


T = TypeVar("T", TemperatureMeasurement, IntermediateTemperature)


def _read(kind: type[T], reader: Reader) -> T:
    flags = reader.flags(_FAHRENHEIT | _TIMESTAMP_PRESENT | _TYPE_PRESENT)
    temperature = reader.float32("Temperature")
    timestamp = reader.optional(
        flags & _TIMESTAMP_PRESENT, lambda: reader.date_time_or_none("Time Stamp")
    )
    raw_site = reader.optional(flags & _TYPE_PRESENT, lambda: reader.u8("Temperature Type"))
    site = None if raw_site is None else reader.enum_or_none(TemperatureType, raw_site)
    return kind(
        temperature=temperature,
        unit=TemperatureUnit(flags & _FAHRENHEIT),
        timestamp=timestamp,
        temperature_type=site,
    )


def decode_temperature_measurement(data: Buffer) -> TemperatureMeasurement:
    """Decode a Temperature Measurement; raises :class:`GattDecodeError` if malformed."""
    return parse(_MEASUREMENT_NAME, data, lambda reader: _read(TemperatureMeasurement, reader))


def decode_intermediate_temperature(data: Buffer) -> IntermediateTemperature:
    """Decode an Intermediate Temperature; raises :class:`GattDecodeError` if malformed."""
    return parse(_INTERMEDIATE_NAME, data, lambda reader: _read(IntermediateTemperature, reader))


def _encode(value: _Temperature) -> bytes:
    flags = value.unit.value
    flags |= _TIMESTAMP_PRESENT if value.timestamp is not None else 0
    flags |= _TYPE_PRESENT if value.temperature_type is not None else 0
    out = Writer().u8(flags).float32(value.temperature)
    if value.timestamp is not None:
        out.date_time(value.timestamp)
    if value.temperature_type is not None:
        out.u8(value.temperature_type)
    return out.to_bytes()


def encode_temperature_measurement(value: TemperatureMeasurement) -> bytes:
    """The bytes a thermometer indicates for ``value``."""
    return _encode(value)


def encode_intermediate_temperature(value: IntermediateTemperature) -> bytes:
    """The bytes a thermometer notifies for ``value``."""
    return _encode(value)
