"""Heart Rate Measurement (0x2A37), Heart Rate Service.

Layout: Flags (uint8), Heart Rate (uint8, or uint16 when Flags bit 0 is set), Energy Expended
(uint16 kJ, when bit 3), RR-Interval (uint16 in 1/1024 s, one or more filling the rest of the
value, when bit 4). Flags bits 1-2 are the sensor contact status: bit 2 says the feature is
supported, bit 1 that contact is detected (bit 1 means nothing without bit 2). Bits 5-7 are
reserved (ignored on receipt, see :mod:`nabd.contract.gatt.wire`).

Tolerated on receipt: the RR-Interval flag with no RR bytes (seen from bumble's own Heart Rate
profile when its RR list is empty) or with an odd byte left over keeps the heart rate and the whole
RR intervals that did arrive; an energy-expended field cut short is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Final

from nabd.contract.gatt.fields import check_range, on_grid, replace_field
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag, sample
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "HeartRateMeasurement",
    "SensorContact",
    "decode_heart_rate_measurement",
    "encode_heart_rate_measurement",
]

HEART_RATE_MEASUREMENT_UUID: Final = 0x2A37
_NAME: Final = "Heart Rate Measurement (0x2A37)"

_UINT16_FORMAT: Final = 0x01
_CONTACT_DETECTED: Final = 0x02
_CONTACT_SUPPORTED: Final = 0x04
_ENERGY_PRESENT: Final = 0x08
_RR_PRESENT: Final = 0x10
_DEFINED_FLAGS: Final = 0x1F
_RR_PER_SECOND: Final = 1024


class SensorContact(Enum):
    """Sensor contact status, Flags bits 1-2."""

    NOT_SUPPORTED = "not_supported"
    NOT_DETECTED = "not_detected"
    DETECTED = "detected"


_CONTACT_BITS: Final = {
    SensorContact.NOT_SUPPORTED: 0,
    SensorContact.NOT_DETECTED: _CONTACT_SUPPORTED,
    SensorContact.DETECTED: _CONTACT_SUPPORTED | _CONTACT_DETECTED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRateMeasurement:
    """A decoded Heart Rate Measurement.

    ``rr_intervals`` are seconds, rounded on construction to the wire's 1/1024 s (exact in binary
    floating point). An empty tuple means the RR-Interval field is absent.
    """

    UUID: ClassVar[int] = HEART_RATE_MEASUREMENT_UUID

    heart_rate: int
    """Beats per minute."""
    uint16_format: bool = False
    """Flags bit 0: the heart rate travels as uint16 (needed above 255/min)."""
    sensor_contact: SensorContact = SensorContact.NOT_SUPPORTED
    energy_expended: int | None = None
    """Kilojoules since the sensor's last reset; saturates at 65535."""
    rr_intervals: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_range(_NAME, "heart rate", self.heart_rate, 0, 0xFFFF if self.uint16_format else 0xFF)
        if self.energy_expended is not None:
            check_range(_NAME, "energy expended", self.energy_expended, 0, 0xFFFF)
        rr = tuple(
            on_grid(_NAME, "RR-Interval", value, _RR_PER_SECOND, 0xFFFF)
            for value in self.rr_intervals
        )
        replace_field(self, "rr_intervals", rr)

    def samples(self) -> list[Sample]:
        """Heart rate, energy expended and every RR interval, contact loss flagged."""
        contact = (
            {SampleFlag.SENSOR_CONTACT_LOST}
            if self.sensor_contact is SensorContact.NOT_DETECTED
            else set()
        )
        out = [sample(MetricKey.HEART_RATE, float(self.heart_rate), contact)]
        if self.energy_expended is not None:
            out.append(sample(MetricKey.ENERGY_EXPENDED, float(self.energy_expended)))
        out.extend(sample(MetricKey.RR_INTERVAL, rr, contact) for rr in self.rr_intervals)
        return out


def _contact(flags: int) -> SensorContact:
    if not flags & _CONTACT_SUPPORTED:
        return SensorContact.NOT_SUPPORTED
    return SensorContact.DETECTED if flags & _CONTACT_DETECTED else SensorContact.NOT_DETECTED


def _read_rr_intervals(reader: Reader) -> tuple[float, ...]:
    """Every whole uint16 left; an odd last byte is ignored like any trailing byte."""
    count = reader.remaining() // 2
    return tuple(reader.u16(f"RR-Interval {i + 1}") / _RR_PER_SECOND for i in range(count))


def _read(reader: Reader) -> HeartRateMeasurement:
    flags = reader.flags(_DEFINED_FLAGS)
    uint16 = bool(flags & _UINT16_FORMAT)
    heart_rate = reader.u16("Heart Rate") if uint16 else reader.u8("Heart Rate")
    energy = reader.optional(flags & _ENERGY_PRESENT, lambda: reader.u16("Energy Expended"))
    rr = _read_rr_intervals(reader) if flags & _RR_PRESENT else ()
    return HeartRateMeasurement(
        heart_rate=heart_rate,
        uint16_format=uint16,
        sensor_contact=_contact(flags),
        energy_expended=energy,
        rr_intervals=rr,
    )


def decode_heart_rate_measurement(data: Buffer) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement value; raises :class:`GattDecodeError` if malformed."""
    return parse(_NAME, data, _read)


def encode_heart_rate_measurement(value: HeartRateMeasurement) -> bytes:
    """The bytes a Heart Rate Sensor notifies for ``value``."""
    flags = _CONTACT_BITS[value.sensor_contact]
    flags |= _UINT16_FORMAT if value.uint16_format else 0
    flags |= _ENERGY_PRESENT if value.energy_expended is not None else 0
    flags |= _RR_PRESENT if value.rr_intervals else 0
    out = Writer().u8(flags)
    out.unsigned(value.heart_rate, 2 if value.uint16_format else 1)
    if value.energy_expended is not None:
        out.u16(value.energy_expended)
    for rr in value.rr_intervals:
        out.u16(round(rr * _RR_PER_SECOND))
    return out.to_bytes()
