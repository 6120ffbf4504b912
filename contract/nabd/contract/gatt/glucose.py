"""Glucose Measurement (0x2A18), Glucose Service.

Layout: Flags (uint8; bit 0 Time Offset present; bit 1 Concentration, Type and Sample Location
present; bit 2 concentration unit, 0 = kg/L, 1 = mol/L; bit 3 Sensor Status Annunciation present;
bit 4 Context Information follows; bits 5-7 reserved), Sequence Number (uint16), Base Time (Date
Time), Time Offset (sint16 minutes), Glucose Concentration (SFLOAT), Type-Sample Location (uint8:
type in the low nibble, location in the high nibble), Sensor Status Annunciation (16 bits; 12-15
reserved and ignored). The measurement time is Base Time + Time Offset.

Flags bit 2 only has a meaning with bit 1; without a concentration it is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, IntEnum, IntFlag
from typing import ClassVar, Final

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import GattValueError
from nabd.contract.gatt.fields import check_flag_bits, check_range, quantized, replace_field
from nabd.contract.gatt.ieee11073 import MedFloat
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag, sample
from nabd.contract.gatt.units import (
    convert,
    glucose_kg_per_l_to_mmol_per_l,
    glucose_mol_per_l_to_mmol_per_l,
)
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "GLUCOSE_MEASUREMENT_UUID",
    "GlucoseConcentration",
    "GlucoseMeasurement",
    "GlucoseSensorStatus",
    "GlucoseType",
    "GlucoseUnit",
    "SampleLocation",
    "decode_glucose_measurement",
    "encode_glucose_measurement",
]

GLUCOSE_MEASUREMENT_UUID: Final = 0x2A18
_NAME: Final = "Glucose Measurement (0x2A18)"

_TIME_OFFSET: Final = 0x01
_CONCENTRATION: Final = 0x02
_MOL_PER_L: Final = 0x04
_SENSOR_STATUS: Final = 0x08
_CONTEXT_FOLLOWS: Final = 0x10
_SENSOR_STATUS_BITS: Final = 0x0FFF


class GlucoseUnit(Enum):
    """Flags bit 2."""

    KG_PER_L = 0
    MOL_PER_L = 1


class GlucoseType(IntEnum):
    """Type nibble (0 and 11-15 reserved)."""

    CAPILLARY_WHOLE_BLOOD = 1
    CAPILLARY_PLASMA = 2
    VENOUS_WHOLE_BLOOD = 3
    VENOUS_PLASMA = 4
    ARTERIAL_WHOLE_BLOOD = 5
    ARTERIAL_PLASMA = 6
    UNDETERMINED_WHOLE_BLOOD = 7
    UNDETERMINED_PLASMA = 8
    INTERSTITIAL_FLUID = 9
    CONTROL_SOLUTION = 10


class SampleLocation(IntEnum):
    """Sample Location nibble (0 and 5-14 reserved)."""

    FINGER = 1
    ALTERNATE_SITE_TEST = 2
    EARLOBE = 3
    CONTROL_SOLUTION = 4
    NOT_AVAILABLE = 15


class GlucoseSensorStatus(IntFlag):
    """Sensor Status Annunciation field."""

    DEVICE_BATTERY_LOW = 1 << 0
    SENSOR_MALFUNCTION = 1 << 1
    SAMPLE_SIZE_INSUFFICIENT = 1 << 2
    STRIP_INSERTION_ERROR = 1 << 3
    STRIP_TYPE_INCORRECT = 1 << 4
    RESULT_TOO_HIGH = 1 << 5
    RESULT_TOO_LOW = 1 << 6
    SENSOR_TEMPERATURE_TOO_HIGH = 1 << 7
    SENSOR_TEMPERATURE_TOO_LOW = 1 << 8
    READ_INTERRUPTED = 1 << 9
    GENERAL_DEVICE_FAULT = 1 << 10
    TIME_FAULT = 1 << 11


_S = GlucoseSensorStatus
_INVALID: Final = (
    _S.SENSOR_MALFUNCTION
    | _S.SAMPLE_SIZE_INSUFFICIENT
    | _S.STRIP_INSERTION_ERROR
    | _S.STRIP_TYPE_INCORRECT
    | _S.READ_INTERRUPTED
    | _S.GENERAL_DEVICE_FAULT
)
_QUESTIONABLE: Final = (
    _S.RESULT_TOO_HIGH
    | _S.RESULT_TOO_LOW
    | _S.SENSOR_TEMPERATURE_TOO_HIGH
    | _S.SENSOR_TEMPERATURE_TOO_LOW
)


@dataclass(frozen=True, slots=True, kw_only=True)
class GlucoseConcentration:
    """Concentration (in ``unit``, quantised to SFLOAT), type and sample location."""

    value: MedFloat
    unit: GlucoseUnit
    sample_type: GlucoseType | None
    """``None``: the meter sent a reserved type (the concentration still stands)."""
    sample_location: SampleLocation | None
    """``None``: the meter sent a reserved sample location."""

    def __post_init__(self) -> None:
        replace_field(self, "value", quantized(_NAME, "glucose concentration", self.value))

    @property
    def mmol_per_l(self) -> MedFloat:
        """The concentration in mmol/L (glucose molar mass for kg/L)."""
        if self.unit is GlucoseUnit.MOL_PER_L:
            return convert(self.value, glucose_mol_per_l_to_mmol_per_l)
        return convert(self.value, glucose_kg_per_l_to_mmol_per_l)

    @property
    def is_control_solution(self) -> bool:
        return (
            self.sample_type is GlucoseType.CONTROL_SOLUTION
            or self.sample_location is SampleLocation.CONTROL_SOLUTION
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GlucoseMeasurement:
    """A decoded Glucose Measurement record."""

    UUID: ClassVar[int] = GLUCOSE_MEASUREMENT_UUID

    sequence_number: int
    base_time: DateTime
    time_offset: int | None = None
    """Minutes to add to ``base_time``."""
    concentration: GlucoseConcentration | None = None
    sensor_status: GlucoseSensorStatus | None = None
    context_follows: bool = False
    """Flags bit 4: a Glucose Measurement Context with the same sequence number follows."""

    def __post_init__(self) -> None:
        check_range(_NAME, "sequence number", self.sequence_number, 0, 0xFFFF)
        if self.time_offset is not None:
            check_range(_NAME, "time offset", self.time_offset, -0x8000, 0x7FFF)
        if self.sensor_status is not None:
            check_flag_bits(_NAME, "sensor status", self.sensor_status, _SENSOR_STATUS_BITS)
        base = self.base_time.to_datetime()
        if base is not None and self.time_offset:
            try:
                base + timedelta(minutes=self.time_offset)
            except OverflowError as exc:
                raise GattValueError(f"{_NAME}: base time + offset is not a date") from exc

    @property
    def measured_at(self) -> datetime | None:
        """Base Time + Time Offset, or ``None`` when the device does not know the date."""
        base = self.base_time.to_datetime()
        if base is None:
            return None
        return base + timedelta(minutes=self.time_offset or 0)

    def samples(self) -> list[Sample]:
        """The concentration in mmol/L, if the record has one."""
        if self.concentration is None:
            return []
        flags: set[SampleFlag] = set()
        if self.sensor_status is not None and self.sensor_status & _INVALID:
            flags.add(SampleFlag.INVALID)
        if self.sensor_status is not None and self.sensor_status & _QUESTIONABLE:
            flags.add(SampleFlag.QUESTIONABLE)
        if self.concentration.is_control_solution:
            flags.add(SampleFlag.TEST_DATA)
        return [sample(MetricKey.GLUCOSE, self.concentration.mmol_per_l, flags)]


def _read_concentration(reader: Reader, flags: int) -> GlucoseConcentration:
    value = reader.sfloat("Glucose Concentration")
    type_location = reader.u8("Type-Sample Location")
    return GlucoseConcentration(
        value=value,
        unit=GlucoseUnit.MOL_PER_L if flags & _MOL_PER_L else GlucoseUnit.KG_PER_L,
        sample_type=reader.enum_or_none(GlucoseType, type_location & 0x0F),
        sample_location=reader.enum_or_none(SampleLocation, type_location >> 4),
    )


def _read(reader: Reader) -> GlucoseMeasurement:
    flags = reader.flags(0x1F)
    sequence_number = reader.u16("Sequence Number")
    base_time = reader.date_time("Base Time")
    time_offset = reader.optional(flags & _TIME_OFFSET, lambda: reader.s16("Time Offset"))
    concentration = reader.optional(
        flags & _CONCENTRATION, lambda: _read_concentration(reader, flags)
    )
    raw = reader.optional(flags & _SENSOR_STATUS, lambda: reader.u16("Sensor Status Annunciation"))
    status = None if raw is None else GlucoseSensorStatus(raw & _SENSOR_STATUS_BITS)
    return GlucoseMeasurement(
        sequence_number=sequence_number,
        base_time=base_time,
        time_offset=time_offset,
        concentration=concentration,
        sensor_status=status,
        context_follows=bool(flags & _CONTEXT_FOLLOWS),
    )


def decode_glucose_measurement(data: Buffer) -> GlucoseMeasurement:
    """Decode a Glucose Measurement; raises :class:`GattDecodeError` if malformed."""
    return parse(_NAME, data, _read)


def encode_glucose_measurement(value: GlucoseMeasurement) -> bytes:
    """The bytes a glucose meter notifies for ``value``."""
    concentration = value.concentration
    flags = _TIME_OFFSET if value.time_offset is not None else 0
    if concentration is not None:
        flags |= _CONCENTRATION
        flags |= _MOL_PER_L if concentration.unit is GlucoseUnit.MOL_PER_L else 0
    flags |= _SENSOR_STATUS if value.sensor_status is not None else 0
    flags |= _CONTEXT_FOLLOWS if value.context_follows else 0
    out = Writer().u8(flags).u16(value.sequence_number).date_time(value.base_time)
    if value.time_offset is not None:
        out.s16(value.time_offset)
    if concentration is not None:
        out.sfloat(concentration.value)
        location = concentration.sample_location or 0  # reserved 0 decodes back to None
        out.u8(location << 4 | (concentration.sample_type or 0))
    if value.sensor_status is not None:
        out.u16(int(value.sensor_status))
    return out.to_bytes()
