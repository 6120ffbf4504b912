"""Generic Health Sensor service (GHS 1.0, 0x1840): its characteristics' values and segmentation.

Assigned numbers (Bluetooth SIG Assigned Numbers, 16-bit UUIDs; the early drafts' temporary
0x183D / 0x2AC4 that some public examples still use are *not* these):

=================================  ======  ========================================================
characteristic                     UUID    value
=================================  ======  ========================================================
Live Health Observations           0x2B8B  segmentation header (uint8), observation segment
Stored Health Observations         0x2BDD  segmentation header, Record Number (uint32), segment
Health Sensor Features             0x2BF3  flags (uint8), uint8 count + MDC observation types
                                           (uint32); when flags bit 0, uint8 count + device
                                           specializations (uint16 MDC device type, uint8 version)
GHS Control Point                  0x2BF4  op code: 0x01 start / 0x02 stop sending live
                                           observations; 0x80 success, 0x81 error (+ uint8 code)
Observation Schedule Changed       0x2BF1  not decoded (indicated after a schedule change)
Record Access Control Point        0x2A52  :mod:`nabd.contract.gatt.racp`
=================================  ======  ========================================================

**Segmentation header**: bit 0 first segment, bit 1 last segment, bits 2-7 a rolling segment
counter (0-63) that rises by one per segment. An observation longer than one notification
(ATT_MTU - 3 octets) is split; :class:`ObservationReassembler` joins the segments and drops an
observation whose counter skips (a lost notification) or that has no first segment.

A single-segment value (first and last both set) flattens to samples directly; a partial segment
flattens to none, the edge agent joins segments first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import ClassVar, Final

from nabd.contract.gatt.errors import GattValueError, InvalidFieldError
from nabd.contract.gatt.fields import check_range
from nabd.contract.gatt.ghs_metrics import observation_samples
from nabd.contract.gatt.ghs_observation import HealthObservation, decode_observations
from nabd.contract.gatt.samples import Sample
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "GHS_SERVICE_UUID",
    "OBSERVATION_SCHEDULE_CHANGED_UUID",
    "GhsControlOpCode",
    "GhsControlPoint",
    "HealthSensorFeatures",
    "LiveHealthObservations",
    "ObservationReassembler",
    "SegmentHeader",
    "StoredHealthObservations",
    "decode_ghs_control_point",
    "decode_health_sensor_features",
    "decode_live_health_observations",
    "decode_stored_health_observations",
    "encode_ghs_control_point",
    "encode_health_sensor_features",
    "encode_live_health_observations",
    "encode_stored_health_observations",
    "observations_of",
    "segment",
    "segment_stored",
]

GHS_SERVICE_UUID: Final = 0x1840
OBSERVATION_SCHEDULE_CHANGED_UUID: Final = 0x2BF1
_LIVE: Final = "Live Health Observations (0x2B8B)"
_STORED: Final = "Stored Health Observations (0x2BDD)"
_FEATURES: Final = "Health Sensor Features (0x2BF3)"
_CONTROL: Final = "GHS Control Point (0x2BF4)"
_FIRST: Final = 0x01
_LAST: Final = 0x02
_COUNTER_MODULO: Final = 64
_SPECIALIZATIONS: Final = 0x01
MAX_OBSERVATION_OCTETS: Final = 0xFFFF
"""An observation's Length is a uint16: a reassembly past it is dropped."""


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    first: bool = True
    last: bool = True
    counter: int = 0

    def __post_init__(self) -> None:
        check_range("GHS segmentation header", "segment counter", self.counter, 0, 63)

    def to_byte(self) -> int:
        return (_FIRST if self.first else 0) | (_LAST if self.last else 0) | (self.counter << 2)

    @classmethod
    def of(cls, byte: int) -> SegmentHeader:
        return cls(bool(byte & _FIRST), bool(byte & _LAST), byte >> 2)


def observations_of(header: SegmentHeader, data: bytes) -> tuple[HealthObservation, ...]:
    """The observations of a whole (single-segment) value; none for a partial segment."""
    return decode_observations(data) if header.first and header.last else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Segment:
    """What Live and Stored Health Observations share: a header and a segment of observation."""

    header: SegmentHeader = SegmentHeader()
    data: bytes = b""

    def observations(self) -> tuple[HealthObservation, ...]:
        return observations_of(self.header, self.data)

    def samples(self) -> list[Sample]:
        return [s for o in self.observations() for s in observation_samples(o)]

    @property
    def measured_at(self) -> datetime | None:
        return _first_time(self.observations())


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveHealthObservations(_Segment):
    """One notification of Live Health Observations: a segment of an observation."""

    UUID: ClassVar[int] = 0x2B8B


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredHealthObservations(_Segment):
    """One indication of Stored Health Observations: a segment of a stored record."""

    UUID: ClassVar[int] = 0x2BDD

    record_number: int = 0

    def __post_init__(self) -> None:
        check_range(_STORED, "record number", self.record_number, 0, 0xFFFFFFFF)


def _first_time(observations: tuple[HealthObservation, ...]) -> datetime | None:
    for observation in observations:
        if observation.time is not None:
            return observation.time.wall_clock
    return None


def _rest(reader: Reader) -> bytes:
    size = reader.remaining()
    return reader.unsigned(size, "segment").to_bytes(size, "little") if size else b""


def decode_live_health_observations(data: Buffer) -> LiveHealthObservations:
    def read(reader: Reader) -> LiveHealthObservations:
        header = SegmentHeader.of(reader.u8("Segmentation Header"))
        return LiveHealthObservations(header=header, data=_rest(reader))

    return parse(_LIVE, data, read)


def encode_live_health_observations(value: LiveHealthObservations) -> bytes:
    return bytes([value.header.to_byte()]) + value.data


def decode_stored_health_observations(data: Buffer) -> StoredHealthObservations:
    def read(reader: Reader) -> StoredHealthObservations:
        header = SegmentHeader.of(reader.u8("Segmentation Header"))
        record = reader.unsigned(4, "Record Number")
        return StoredHealthObservations(header=header, record_number=record, data=_rest(reader))

    return parse(_STORED, data, read)


def encode_stored_health_observations(value: StoredHealthObservations) -> bytes:
    header = bytes([value.header.to_byte()])
    return header + value.record_number.to_bytes(4, "little") + value.data


def segment(observation: bytes, payload_size: int, first_counter: int = 0) -> list[bytes]:
    """``observation`` as Live Health Observations values of at most ``payload_size`` octets
    each (ATT_MTU - 3, header included), counters from ``first_counter``."""
    return [
        encode_live_health_observations(LiveHealthObservations(header=header, data=chunk))
        for header, chunk in _split(_LIVE, observation, payload_size - 1, first_counter)
    ]


def segment_stored(
    observation: bytes, record_number: int, payload_size: int, first_counter: int = 0
) -> list[bytes]:
    """Stored record ``record_number`` as Stored Health Observations values of at most
    ``payload_size`` octets each: every segment repeats the Record Number (uint32) after its
    header, so a segment's data room is ``payload_size - 5``."""
    return [
        encode_stored_health_observations(
            StoredHealthObservations(header=header, record_number=record_number, data=chunk)
        )
        for header, chunk in _split(_STORED, observation, payload_size - 5, first_counter)
    ]


def _split(
    name: str, observation: bytes, room: int, first_counter: int
) -> list[tuple[SegmentHeader, bytes]]:
    if room < 1:
        raise GattValueError(f"{name}: a segment needs room for at least 1 octet of observation")
    chunks = [observation[i : i + room] for i in range(0, len(observation), room)] or [b""]
    last = len(chunks) - 1
    return [
        (SegmentHeader(i == 0, i == last, (first_counter + i) % _COUNTER_MODULO), chunk)
        for i, chunk in enumerate(chunks)
    ]


class ObservationReassembler:
    """Joins the segments of one characteristic's observations, in order of arrival.

    ``push`` returns the whole observation bytes when a last segment completes it, else ``None``.
    A segment out of sequence (its counter is not the previous + 1, mod 64) or a middle segment
    with no first discards what was gathered: the observation is lost, never spliced from two.
    ``dropped`` counts the observations (or stray segments) discarded so.
    """

    def __init__(self) -> None:
        self._buffer: bytearray | None = None
        self._counter = 0
        self.dropped = 0

    def push(self, header: SegmentHeader, data: bytes) -> bytes | None:
        if header.first:
            if self._buffer is not None:
                self.dropped += 1  # the previous observation never got its last segment
            self._buffer = bytearray()
        elif self._buffer is None or header.counter != (self._counter + 1) % _COUNTER_MODULO:
            self.dropped += 1
            self._buffer = None
            return None
        self._counter = header.counter
        self._buffer += data
        if len(self._buffer) > MAX_OBSERVATION_OCTETS:
            self.dropped += 1
            self._buffer = None
            return None
        if not header.last:
            return None
        whole, self._buffer = bytes(self._buffer), None
        return whole


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthSensorFeatures:
    """What a GHS sensor can observe (MDC codes) and which device specializations it follows."""

    UUID: ClassVar[int] = 0x2BF3

    observation_types: tuple[int, ...] = ()
    device_specializations: tuple[tuple[int, int], ...] | None = None
    """(MDC device type, version) pairs; ``None`` when the flags say the list is absent."""

    def __post_init__(self) -> None:
        check_range(_FEATURES, "observation type count", len(self.observation_types), 0, 0xFF)
        for code in self.observation_types:
            check_range(_FEATURES, "observation type", code, 0, 0xFFFFFFFF)
        for device_type, version in self.device_specializations or ():
            check_range(_FEATURES, "device type", device_type, 0, 0xFFFF)
            check_range(_FEATURES, "version", version, 0, 0xFF)
        if self.device_specializations is not None:
            check_range(
                _FEATURES, "specialization count", len(self.device_specializations), 0, 0xFF
            )

    def samples(self) -> list[Sample]:
        return []


def decode_health_sensor_features(data: Buffer) -> HealthSensorFeatures:
    def read(reader: Reader) -> HealthSensorFeatures:
        flags = reader.flags(_SPECIALIZATIONS)
        count = reader.u8("Observation Type count")
        types = tuple(reader.unsigned(4, "Observation Type") for _ in range(count))
        specializations = reader.optional(
            flags & _SPECIALIZATIONS, lambda: _specializations(reader)
        )
        return HealthSensorFeatures(observation_types=types, device_specializations=specializations)

    return parse(_FEATURES, data, read)


def _specializations(reader: Reader) -> tuple[tuple[int, int], ...]:
    count = reader.u8("Device Specialization count")
    return tuple((reader.u16("Device Type"), reader.u8("Version")) for _ in range(count))


def encode_health_sensor_features(value: HealthSensorFeatures) -> bytes:
    out = Writer().u8(_SPECIALIZATIONS if value.device_specializations is not None else 0)
    out.u8(len(value.observation_types))
    for code in value.observation_types:
        out.unsigned(code, 4)
    if value.device_specializations is not None:
        out.u8(len(value.device_specializations))
        for device_type, version in value.device_specializations:
            out.u16(device_type).u8(version)
    return out.to_bytes()


class GhsControlOpCode(IntEnum):
    START_SEND_LIVE_OBSERVATIONS = 0x01
    STOP_SEND_LIVE_OBSERVATIONS = 0x02
    SUCCESS = 0x80
    ERROR = 0x81


@dataclass(frozen=True, slots=True)
class GhsControlPoint:
    """A request written to, or a response indicated by, the GHS Control Point."""

    UUID: ClassVar[int] = 0x2BF4

    op_code: GhsControlOpCode
    parameter: bytes = b""

    def samples(self) -> list[Sample]:
        return []


def decode_ghs_control_point(data: Buffer) -> GhsControlPoint:
    def read(reader: Reader) -> GhsControlPoint:
        raw = reader.u8("Op Code")
        op = reader.enum_or_none(GhsControlOpCode, raw)
        if op is None:
            raise reader.error(InvalidFieldError, f"op code {raw:#04x} is reserved")
        return GhsControlPoint(op, _rest(reader))

    return parse(_CONTROL, data, read)


def encode_ghs_control_point(value: GhsControlPoint) -> bytes:
    return bytes([value.op_code]) + value.parameter
