"""Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36), Blood Pressure
Service.

Layout: Flags (uint8; bit 0 unit, 0 = mmHg, 1 = kPa; bit 1 Time Stamp; bit 2 Pulse Rate; bit 3
User ID; bit 4 Measurement Status; bits 5-7 reserved), then three SFLOATs (systolic, diastolic,
mean arterial pressure), Time Stamp (Date Time), Pulse Rate (SFLOAT, /min), User ID (uint8, 255 =
unknown user), Measurement Status (16 bits: 0 body movement, 1 cuff too loose, 2 irregular pulse,
3-4 pulse rate range, 5 improper position; 6-15 reserved and ignored).

Tolerated on receipt (see :mod:`nabd.contract.gatt.wire`): reserved Flags bits and trailing bytes
are ignored; an optional field cut short, an impossible Time Stamp, or the reserved pulse rate
range value 3 drops that field and keeps the pressures. A real cuff's capture with reserved Flags
bits set was rejected before this rule.

Intermediate Cuff Pressure has the same layout; its systolic field is the current cuff pressure
and the diastolic and MAP fields are unused (the encoder sends NaN there, the decoder ignores
them). The cuff pressure is not a catalogue metric, so its samples hold only the pulse rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import ClassVar, Final, TypedDict

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.fields import check_range, quantized, replace_field
from nabd.contract.gatt.ieee11073 import MedFloat, Special
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag, sample
from nabd.contract.gatt.units import convert, kpa_to_mmhg
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "BLOOD_PRESSURE_MEASUREMENT_UUID",
    "INTERMEDIATE_CUFF_PRESSURE_UUID",
    "UNKNOWN_USER",
    "BloodPressureMeasurement",
    "BloodPressureStatus",
    "IntermediateCuffPressure",
    "PressureUnit",
    "PulseRateRange",
    "decode_blood_pressure_measurement",
    "decode_intermediate_cuff_pressure",
    "encode_blood_pressure_measurement",
    "encode_intermediate_cuff_pressure",
]

BLOOD_PRESSURE_MEASUREMENT_UUID: Final = 0x2A35
INTERMEDIATE_CUFF_PRESSURE_UUID: Final = 0x2A36
_BPM_NAME: Final = "Blood Pressure Measurement (0x2A35)"
_ICP_NAME: Final = "Intermediate Cuff Pressure (0x2A36)"
UNKNOWN_USER: Final = 0xFF
"""User ID special value: the measurement is not attributed to a user."""

_KPA: Final = 0x01
_TIMESTAMP: Final = 0x02
_PULSE_RATE: Final = 0x04
_USER_ID: Final = 0x08
_STATUS: Final = 0x10
_DEFINED_FLAGS: Final = 0x1F
_RESERVED_RANGE: Final = 3


class PressureUnit(Enum):
    """Flags bit 0."""

    MMHG = 0
    KPA = 1


class PulseRateRange(Enum):
    """Measurement Status bits 3-4 (value 3 is reserved)."""

    WITHIN_RANGE = 0
    ABOVE_UPPER_LIMIT = 1
    BELOW_LOWER_LIMIT = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureStatus:
    """The Measurement Status field."""

    body_movement: bool = False
    cuff_too_loose: bool = False
    irregular_pulse: bool = False
    pulse_rate_range: PulseRateRange | None = PulseRateRange.WITHIN_RANGE
    """``None``: the device sent the reserved value 3 (range not known)."""
    improper_position: bool = False

    def to_bits(self) -> int:
        return (
            int(self.body_movement)
            | int(self.cuff_too_loose) << 1
            | int(self.irregular_pulse) << 2
            | (_RESERVED_RANGE if self.pulse_rate_range is None else self.pulse_rate_range.value)
            << 3
            | int(self.improper_position) << 5
        )

    @property
    def pressure_flags(self) -> frozenset[SampleFlag]:
        """What the status says about the pressures (and the pulse rate) taken with it."""
        flags = {SampleFlag.MOTION} if self.body_movement else set()
        if self.cuff_too_loose or self.irregular_pulse or self.improper_position:
            flags.add(SampleFlag.QUESTIONABLE)
        return frozenset(flags)


def _read_status(reader: Reader) -> BloodPressureStatus:
    bits = reader.u16("Measurement Status")
    range_bits = (bits >> 3) & 0x03
    return BloodPressureStatus(
        body_movement=bool(bits & 0x01),
        cuff_too_loose=bool(bits & 0x02),
        irregular_pulse=bool(bits & 0x04),
        pulse_rate_range=reader.enum_or_none(PulseRateRange, range_bits),
        improper_position=bool(bits & 0x20),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cuff:
    """The optional fields both characteristics share."""

    unit: PressureUnit = PressureUnit.MMHG
    timestamp: DateTime | None = None
    pulse_rate: MedFloat | None = None
    """Beats per minute."""
    user_id: int | None = None
    status: BloodPressureStatus | None = None

    def _check_shared(self, owner: str) -> None:
        if self.pulse_rate is not None:
            replace_field(self, "pulse_rate", quantized(owner, "pulse rate", self.pulse_rate))
        if self.user_id is not None:
            check_range(owner, "user id", self.user_id, 0, 0xFF)

    @property
    def measured_at(self) -> datetime | None:
        return None if self.timestamp is None else self.timestamp.to_datetime()

    def _mmhg(self, value: MedFloat) -> MedFloat:
        return convert(value, kpa_to_mmhg) if self.unit is PressureUnit.KPA else value

    def _pulse_samples(self, flags: frozenset[SampleFlag]) -> list[Sample]:
        if self.pulse_rate is None:
            return []
        return [sample(MetricKey.PULSE_RATE, self.pulse_rate, flags)]


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureMeasurement(_Cuff):
    """A final blood pressure reading; pressures are in ``unit``, quantised to SFLOAT."""

    UUID: ClassVar[int] = BLOOD_PRESSURE_MEASUREMENT_UUID

    systolic: MedFloat
    diastolic: MedFloat
    mean_arterial: MedFloat

    def __post_init__(self) -> None:
        for field in ("systolic", "diastolic", "mean_arterial"):
            replace_field(self, field, quantized(_BPM_NAME, field, getattr(self, field)))
        self._check_shared(_BPM_NAME)

    @property
    def systolic_mmhg(self) -> MedFloat:
        return self._mmhg(self.systolic)

    @property
    def diastolic_mmhg(self) -> MedFloat:
        return self._mmhg(self.diastolic)

    @property
    def mean_arterial_mmhg(self) -> MedFloat:
        return self._mmhg(self.mean_arterial)

    def samples(self) -> list[Sample]:
        """Systolic, diastolic and mean arterial pressure in mm[Hg], and the pulse rate."""
        flags = self.status.pressure_flags if self.status else frozenset()
        return [
            sample(MetricKey.SYSTOLIC_BP, self.systolic_mmhg, flags),
            sample(MetricKey.DIASTOLIC_BP, self.diastolic_mmhg, flags),
            sample(MetricKey.MEAN_ARTERIAL_PRESSURE, self.mean_arterial_mmhg, flags),
            *self._pulse_samples(flags),
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class IntermediateCuffPressure(_Cuff):
    """The cuff pressure while a measurement is in progress, in ``unit``."""

    UUID: ClassVar[int] = INTERMEDIATE_CUFF_PRESSURE_UUID

    cuff_pressure: MedFloat

    def __post_init__(self) -> None:
        pressure = quantized(_ICP_NAME, "cuff pressure", self.cuff_pressure)
        replace_field(self, "cuff_pressure", pressure)
        self._check_shared(_ICP_NAME)

    @property
    def cuff_pressure_mmhg(self) -> MedFloat:
        return self._mmhg(self.cuff_pressure)

    def samples(self) -> list[Sample]:
        """Only the pulse rate (flagged ``early_estimate``): cuff pressure is no vital sign."""
        flags = self.status.pressure_flags if self.status else frozenset()
        return self._pulse_samples(flags | {SampleFlag.EARLY_ESTIMATE})


class _SharedFields(TypedDict):
    unit: PressureUnit
    timestamp: DateTime | None
    pulse_rate: MedFloat | None
    user_id: int | None
    status: BloodPressureStatus | None


def _read_shared(reader: Reader, flags: int) -> _SharedFields:
    return {
        "unit": PressureUnit(flags & _KPA),
        "timestamp": reader.optional(
            flags & _TIMESTAMP, lambda: reader.date_time_or_none("Time Stamp")
        ),
        "pulse_rate": reader.optional(flags & _PULSE_RATE, lambda: reader.sfloat("Pulse Rate")),
        "user_id": reader.optional(flags & _USER_ID, lambda: reader.u8("User ID")),
        "status": reader.optional(flags & _STATUS, lambda: _read_status(reader)),
    }


def _read_bpm(reader: Reader) -> BloodPressureMeasurement:
    flags = reader.flags(_DEFINED_FLAGS)
    systolic, diastolic = reader.sfloat("Systolic"), reader.sfloat("Diastolic")
    mean_arterial = reader.sfloat("Mean Arterial Pressure")
    shared = _read_shared(reader, flags)
    return BloodPressureMeasurement(
        systolic=systolic, diastolic=diastolic, mean_arterial=mean_arterial, **shared
    )


def _read_icp(reader: Reader) -> IntermediateCuffPressure:
    flags = reader.flags(_DEFINED_FLAGS)
    cuff_pressure = reader.sfloat("Current Cuff Pressure")
    reader.sfloat("Diastolic (unused)")
    reader.sfloat("Mean Arterial Pressure (unused)")
    return IntermediateCuffPressure(cuff_pressure=cuff_pressure, **_read_shared(reader, flags))


def decode_blood_pressure_measurement(data: Buffer) -> BloodPressureMeasurement:
    """Decode a Blood Pressure Measurement; raises :class:`GattDecodeError` if malformed."""
    return parse(_BPM_NAME, data, _read_bpm)


def decode_intermediate_cuff_pressure(data: Buffer) -> IntermediateCuffPressure:
    """Decode an Intermediate Cuff Pressure; raises :class:`GattDecodeError` if malformed."""
    return parse(_ICP_NAME, data, _read_icp)


def _encode(value: _Cuff, pressures: tuple[MedFloat, MedFloat, MedFloat]) -> bytes:
    flags = value.unit.value
    flags |= _TIMESTAMP if value.timestamp is not None else 0
    flags |= _PULSE_RATE if value.pulse_rate is not None else 0
    flags |= _USER_ID if value.user_id is not None else 0
    flags |= _STATUS if value.status is not None else 0
    out = Writer().u8(flags)
    for pressure in pressures:
        out.sfloat(pressure)
    if value.timestamp is not None:
        out.date_time(value.timestamp)
    if value.pulse_rate is not None:
        out.sfloat(value.pulse_rate)
    if value.user_id is not None:
        out.u8(value.user_id)
    if value.status is not None:
        out.u16(value.status.to_bits())
    return out.to_bytes()


def encode_blood_pressure_measurement(value: BloodPressureMeasurement) -> bytes:
    """The bytes a blood pressure monitor indicates for ``value``."""
    return _encode(value, (value.systolic, value.diastolic, value.mean_arterial))


def encode_intermediate_cuff_pressure(value: IntermediateCuffPressure) -> bytes:
    """The bytes a blood pressure monitor notifies for ``value`` (unused fields are NaN)."""
    return _encode(value, (value.cuff_pressure, Special.NAN, Special.NAN))
