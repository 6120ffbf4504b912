"""Weight Measurement (0x2A9D), Weight Scale Service.

Layout: Flags (uint8; bit 0 units, 0 = SI, 1 = imperial; bit 1 Time Stamp; bit 2 User ID; bit 3
BMI and Height; bits 4-7 reserved), Weight (uint16: 0.005 kg SI, 0.01 lb imperial), Time Stamp
(Date Time), User ID (uint8, 255 = unknown user), BMI (uint16, 0.1 kg/m2), Height (uint16: 0.001 m
SI, 0.1 in imperial).

A Weight of 0xFFFF means "Measurement Unsuccessful"; the service then allows only the Time Stamp
and User ID fields, so BMI and Height with it are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import ClassVar, Final

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import GattValueError
from nabd.contract.gatt.fields import check_range, on_grid, replace_field
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag
from nabd.contract.gatt.units import inch_to_m, pound_to_kg
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "MEASUREMENT_UNSUCCESSFUL",
    "WEIGHT_MEASUREMENT_UUID",
    "WeightMeasurement",
    "WeightUnit",
    "decode_weight_measurement",
    "encode_weight_measurement",
]

WEIGHT_MEASUREMENT_UUID: Final = 0x2A9D
_NAME: Final = "Weight Measurement (0x2A9D)"
MEASUREMENT_UNSUCCESSFUL: Final = 0xFFFF
"""Raw Weight value the scale sends when it could not weigh."""

_IMPERIAL: Final = 0x01
_TIMESTAMP: Final = 0x02
_USER_ID: Final = 0x04
_BMI_HEIGHT: Final = 0x08
_BMI_PER_UNIT: Final = 10


class WeightUnit(Enum):
    """Flags bit 0, with the resolutions (counts per unit) it implies."""

    SI = 0
    IMPERIAL = 1

    @property
    def weight_per_unit(self) -> int:
        """Counts per kg (0.005 kg) or per lb (0.01 lb)."""
        return 200 if self is WeightUnit.SI else 100

    @property
    def height_per_unit(self) -> int:
        """Counts per m (0.001 m) or per inch (0.1 in)."""
        return 1000 if self is WeightUnit.SI else 10


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightMeasurement:
    """A decoded Weight Measurement; values are in ``unit`` and rounded to its resolution.

    ``weight`` is ``None`` for "Measurement Unsuccessful". ``bmi`` and ``height`` are both present
    or both absent (one Flags bit announces the pair).
    """

    UUID: ClassVar[int] = WEIGHT_MEASUREMENT_UUID

    weight: float | None
    """kg (SI) or lb (imperial)."""
    unit: WeightUnit = WeightUnit.SI
    timestamp: DateTime | None = None
    user_id: int | None = None
    bmi: float | None = None
    """kg/m2."""
    height: float | None = None
    """m (SI) or inches (imperial)."""

    def __post_init__(self) -> None:
        if (self.bmi is None) != (self.height is None):
            raise GattValueError(f"{_NAME}: BMI and height travel together")
        if self.weight is None and self.bmi is not None:
            raise GattValueError(f"{_NAME}: an unsuccessful measurement carries no BMI or height")
        if self.weight is not None:
            grid = on_grid(_NAME, "weight", self.weight, self.unit.weight_per_unit, 0xFFFE)
            replace_field(self, "weight", grid)
        if self.bmi is not None and self.height is not None:
            replace_field(self, "bmi", on_grid(_NAME, "BMI", self.bmi, _BMI_PER_UNIT, 0xFFFF))
            height = on_grid(_NAME, "height", self.height, self.unit.height_per_unit, 0xFFFF)
            replace_field(self, "height", height)
        if self.user_id is not None:
            check_range(_NAME, "user id", self.user_id, 0, 0xFF)

    @property
    def weight_kg(self) -> float | None:
        if self.weight is None or self.unit is WeightUnit.SI:
            return self.weight
        return pound_to_kg(self.weight)

    @property
    def height_m(self) -> float | None:
        if self.height is None or self.unit is WeightUnit.SI:
            return self.height
        return inch_to_m(self.height)

    @property
    def measured_at(self) -> datetime | None:
        return None if self.timestamp is None else self.timestamp.to_datetime()

    def samples(self) -> list[Sample]:
        """Body weight (kg), and BMI (kg/m2) and height (m) when sent."""
        if self.weight is None:
            return [Sample(MetricKey.BODY_WEIGHT, None, frozenset({SampleFlag.UNAVAILABLE}))]
        out = [Sample(MetricKey.BODY_WEIGHT, self.weight_kg, frozenset())]
        if self.bmi is not None:
            out.append(Sample(MetricKey.BMI, self.bmi, frozenset()))
            out.append(Sample(MetricKey.BODY_HEIGHT, self.height_m, frozenset()))
        return out


def _read(reader: Reader) -> WeightMeasurement:
    flags = reader.flags(0x0F)
    unit = WeightUnit(flags & _IMPERIAL)
    raw_weight = reader.u16("Weight")
    timestamp = reader.optional(flags & _TIMESTAMP, lambda: reader.date_time_or_none("Time Stamp"))
    user_id = reader.optional(flags & _USER_ID, lambda: reader.u8("User ID"))
    bmi_height = reader.optional(
        flags & _BMI_HEIGHT, lambda: (reader.u16("BMI"), reader.u16("Height"))
    )
    bmi = height = None
    if bmi_height is not None:
        bmi = bmi_height[0] / _BMI_PER_UNIT
        height = bmi_height[1] / unit.height_per_unit
    weight = None
    if raw_weight != MEASUREMENT_UNSUCCESSFUL:
        weight = raw_weight / unit.weight_per_unit
    return WeightMeasurement(
        weight=weight, unit=unit, timestamp=timestamp, user_id=user_id, bmi=bmi, height=height
    )


def decode_weight_measurement(data: Buffer) -> WeightMeasurement:
    """Decode a Weight Measurement; raises :class:`GattDecodeError` if malformed."""
    return parse(_NAME, data, _read)


def encode_weight_measurement(value: WeightMeasurement) -> bytes:
    """The bytes a weight scale indicates for ``value``."""
    unit = value.unit
    flags = unit.value
    flags |= _TIMESTAMP if value.timestamp is not None else 0
    flags |= _USER_ID if value.user_id is not None else 0
    flags |= _BMI_HEIGHT if value.bmi is not None else 0
    out = Writer().u8(flags)
    if value.weight is None:
        out.u16(MEASUREMENT_UNSUCCESSFUL)
    else:
        out.u16(round(value.weight * unit.weight_per_unit))
    if value.timestamp is not None:
        out.date_time(value.timestamp)
    if value.user_id is not None:
        out.u8(value.user_id)
    if value.bmi is not None and value.height is not None:
        out.u16(round(value.bmi * _BMI_PER_UNIT))
        out.u16(round(value.height * unit.height_per_unit))
    return out.to_bytes()
