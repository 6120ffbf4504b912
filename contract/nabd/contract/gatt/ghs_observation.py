"""Generic Health Sensor (GHS 1.0, adopted 2023) health observations: the IEEE 11073-10206 ACOM
observation model as the Live / Stored Health Observations characteristics carry it.

One observation, after the segments are joined (:mod:`nabd.contract.gatt.ghs_segments`):

=====================  ======  ===============================================================
field                  size    present
=====================  ======  ===============================================================
Observation Class      uint8   always: 0x00 numeric, 0x01 simple discrete, 0x02 string, 0x03
Type                           sample array, 0x04 compound, 0x05 compound discrete event, 0x06
                               compound state/event, 0x07 TLV encoded, 0xFF observation bundle
Length                 uint16  always: octets of the whole observation, these 3 included
Flags                  uint16  always; bits 10-15 reserved (ignored)
Observation Type       uint32  bit 0: the MDC code of what is measured (IEEE 11073-10101)
Time Stamp             9       bit 1: Elapsed Time format (:class:`ElapsedTime`)
Measurement Duration   FLOAT   bit 2: seconds
Measurement Status     uint16  bit 3: bit 0 invalid, bit 1 questionable, bit 2 not available
Object Id              uint32  bit 4
Patient                uint8   bit 5
Supplemental Info      n+4n    bit 6: uint8 count, then MDC codes (uint32)
Derived From           n+4n    bit 7: uint8 count, then object ids (uint32)
Has Member             n+4n    bit 8: uint8 count, then object ids (uint32)
TLVs                   ...     bit 9: uint8 count, then (type uint32, length uint16, value)
Value                  ...     by class, below
=====================  ======  ===============================================================

Values: numeric = unit (uint16, MDC unit term code, partition 4) + FLOAT; simple discrete = uint32
MDC code; compound = uint8 count, then per component sub-type (uint32 MDC), unit (uint16), FLOAT;
sample array = unit (uint16), scale factor, offset, sample period (s) as FLOATs, samples per
period (uint8), bytes per sample (uint8, 1-4), uint32 count, then the unsigned samples. A bundle
(0xFF) has the same Flags and optional fields (shared by its members: a member without a time
stamp has the bundle's), then uint8 count and that many whole observations. String, compound
discrete/state event and TLV-encoded values are kept as their raw bytes.

**Provenance.** The adopted GHS 1.0 / IEEE 11073-10206 text is not public in full; this layout
follows GHS 1.0 as we read it and is corroborated by a published GHS client (class type, uint16
Length, uint16 Flags with the bit order above, 9-octet Elapsed Time stamps, uint8 patient, uint8
counted lists) and by Philips' open GHS reference code (class-type values 0x00-0x07, 0xFF). What
no public source here pins down (Length counting the 3 header octets, the sample-array value
layout, TLV framing) is marked in docs/contract.md; the worked examples in tests are constructed
field by field from this table, not copied from the specification.

**Tolerance** (as every codec here, :mod:`nabd.contract.gatt.wire`): reserved flag bits are
ignored; bytes after the last observation are ignored; a bundle member that is malformed (a
Length that overruns, a truncated field) is dropped and the members after it, placed by their own
Length fields, are kept; a value with a reserved class type is kept as raw bytes. Measurement
Status bits other than 0-2 are kept in ``status`` but not mapped: sources disagree on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Final, TypeAlias

from nabd.contract.gatt.errors import GattDecodeError, GattValueError, TruncatedError
from nabd.contract.gatt.fields import check_range, quantized, replace_field
from nabd.contract.gatt.ieee11073 import MedFloat
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "CompoundComponent",
    "CompoundValue",
    "ElapsedTime",
    "HealthObservation",
    "NumericValue",
    "ObservationBundle",
    "ObservationClass",
    "ObservationValue",
    "RawValue",
    "SampleArrayValue",
    "SimpleDiscreteValue",
    "Tlv",
    "decode_observation",
    "decode_observations",
    "encode_observation",
]

_NAME: Final = "Health Observation (GHS)"
_HEADER_SIZE: Final = 5
"""Class type, Length and Flags."""
_ELAPSED_TIME_EPOCH: Final = datetime(2000, 1, 1)
"""Elapsed Time Service 1.0: time values count from 2000-01-01 00:00:00."""

_TYPE = 0x0001
_TIME = 0x0002
_DURATION = 0x0004
_STATUS = 0x0008
_OBJECT_ID = 0x0010
_PATIENT = 0x0020
_SUPPLEMENTAL = 0x0040
_DERIVED_FROM = 0x0080
_MEMBERS = 0x0100
_TLVS = 0x0200
_DEFINED_FLAGS: Final = 0x03FF

STATUS_INVALID: Final = 0x0001
STATUS_QUESTIONABLE: Final = 0x0002
STATUS_NOT_AVAILABLE: Final = 0x0004


class ObservationClass(IntEnum):
    """Observation Class Type (GHS 1.0)."""

    NUMERIC = 0x00
    SIMPLE_DISCRETE = 0x01
    STRING = 0x02
    SAMPLE_ARRAY = 0x03
    COMPOUND = 0x04
    COMPOUND_DISCRETE_EVENT = 0x05
    COMPOUND_STATE_EVENT = 0x06
    TLV_ENCODED = 0x07
    BUNDLE = 0xFF


# Elapsed Time flags (Elapsed Time Service 1.0, Current Elapsed Time characteristic 0x2BF2).
_TICK_COUNTER: Final = 0x01
_UTC: Final = 0x02
_RESOLUTION_SHIFT: Final = 2
_TZ_DST_USED: Final = 0x10
_CURRENT_TIMELINE: Final = 0x20
_TIME_FLAGS: Final = 0x3F
_RESOLUTION_S: Final = (1.0, 0.1, 0.001, 0.0001)
"""Time Resolution, flags bits 2-3: 1 s, 100 ms, 1 ms, 100 us."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ElapsedTime:
    """A GHS time stamp, Elapsed Time format: flags, uint48 time value, sync source, TZ/DST."""

    value: int
    """Ticks of ``resolution_s`` since 2000-01-01 00:00:00 (or since an arbitrary origin for a
    tick counter)."""
    tick_counter: bool = False
    utc: bool = True
    resolution: int = 0
    """0: 1 s, 1: 100 ms, 2: 1 ms, 3: 100 us."""
    tz_dst_used: bool = False
    current_timeline: bool = True
    sync_source: int = 0
    tz_dst_offset: int = 0
    """Quarter hours (sint8)."""

    def __post_init__(self) -> None:
        check_range(_NAME, "time value", self.value, 0, 2**48 - 1)
        check_range(_NAME, "time resolution", self.resolution, 0, 3)
        check_range(_NAME, "time sync source", self.sync_source, 0, 0xFF)
        check_range(_NAME, "TZ/DST offset", self.tz_dst_offset, -128, 127)

    @property
    def resolution_s(self) -> float:
        return _RESOLUTION_S[self.resolution]

    @property
    def wall_clock(self) -> datetime | None:
        """The naive wall-clock time (UTC when ``utc``), or ``None`` for a tick counter or a time
        outside the calendar."""
        if self.tick_counter:
            return None
        seconds, rest = divmod(self.value, round(1 / self.resolution_s))
        try:
            return _ELAPSED_TIME_EPOCH + timedelta(
                seconds=seconds, microseconds=round(rest * self.resolution_s * 1e6)
            )
        except OverflowError:
            return None

    def flags(self) -> int:
        return (
            (_TICK_COUNTER if self.tick_counter else 0)
            | (_UTC if self.utc else 0)
            | (self.resolution << _RESOLUTION_SHIFT)
            | (_TZ_DST_USED if self.tz_dst_used else 0)
            | (_CURRENT_TIMELINE if self.current_timeline else 0)
        )


@dataclass(frozen=True, slots=True)
class NumericValue:
    """A numeric observation's value: an MDC unit (partition 4 term code) and a FLOAT."""

    unit: int
    value: MedFloat

    def __post_init__(self) -> None:
        check_range(_NAME, "unit code", self.unit, 0, 0xFFFF)
        replace_field(self, "value", quantized(_NAME, "value", self.value, wide=True))


@dataclass(frozen=True, slots=True)
class SimpleDiscreteValue:
    """A simple discrete observation: one MDC code (uint32)."""

    code: int

    def __post_init__(self) -> None:
        check_range(_NAME, "discrete value", self.code, 0, 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class CompoundComponent:
    """One component of a compound observation (systolic, diastolic, mean of a blood pressure)."""

    observation_type: int
    unit: int
    value: MedFloat

    def __post_init__(self) -> None:
        check_range(_NAME, "component type", self.observation_type, 0, 0xFFFFFFFF)
        check_range(_NAME, "component unit", self.unit, 0, 0xFFFF)
        replace_field(self, "value", quantized(_NAME, "component", self.value, wide=True))


@dataclass(frozen=True, slots=True)
class CompoundValue:
    components: tuple[CompoundComponent, ...]

    def __post_init__(self) -> None:
        check_range(_NAME, "component count", len(self.components), 0, 0xFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleArrayValue:
    """A waveform: ``sample * scale + offset`` in ``unit``, one every ``period_s /
    samples_per_period`` seconds. Not reduced to readings (no catalogue metric is a waveform)."""

    unit: int
    scale: MedFloat
    offset: MedFloat
    period_s: MedFloat
    samples_per_period: int
    bytes_per_sample: int
    samples: tuple[int, ...]

    def __post_init__(self) -> None:
        check_range(_NAME, "unit code", self.unit, 0, 0xFFFF)
        for name in ("scale", "offset", "period_s"):
            replace_field(self, name, quantized(_NAME, name, getattr(self, name), wide=True))
        check_range(_NAME, "samples per period", self.samples_per_period, 0, 0xFF)
        check_range(_NAME, "bytes per sample", self.bytes_per_sample, 1, 4)
        top = 2 ** (8 * self.bytes_per_sample) - 1
        for value in self.samples:
            check_range(_NAME, "sample", value, 0, top)


@dataclass(frozen=True, slots=True)
class RawValue:
    """A value this codec does not interpret (string, event, TLV-encoded, reserved class)."""

    data: bytes


ObservationValue: TypeAlias = (
    NumericValue | SimpleDiscreteValue | CompoundValue | SampleArrayValue | RawValue
)


@dataclass(frozen=True, slots=True)
class Tlv:
    type: int
    value: bytes

    def __post_init__(self) -> None:
        check_range(_NAME, "TLV type", self.type, 0, 0xFFFFFFFF)
        check_range(_NAME, "TLV length", len(self.value), 0, 0xFFFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Header:
    """The optional fields an observation and a bundle share."""

    time: ElapsedTime | None = None
    duration_s: MedFloat | None = None
    status: int | None = None
    object_id: int | None = None
    patient: int | None = None
    supplemental: tuple[int, ...] = ()
    derived_from: tuple[int, ...] = ()
    members: tuple[int, ...] = ()
    tlvs: tuple[Tlv, ...] = ()

    def __post_init__(self) -> None:
        if self.duration_s is not None:
            replace_field(
                self, "duration_s", quantized(_NAME, "duration", self.duration_s, wide=True)
            )
        if self.status is not None:
            check_range(_NAME, "measurement status", self.status, 0, 0xFFFF)
        if self.object_id is not None:
            check_range(_NAME, "object id", self.object_id, 0, 0xFFFFFFFF)
        if self.patient is not None:
            check_range(_NAME, "patient", self.patient, 0, 0xFF)
        for name in ("supplemental", "derived_from", "members", "tlvs"):
            items = tuple(getattr(self, name))
            check_range(_NAME, f"{name} count", len(items), 0, 0xFF)
            for item in items:
                if isinstance(item, int):
                    check_range(_NAME, name, item, 0, 0xFFFFFFFF)
            replace_field(self, name, items)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthObservation(_Header):
    """One ACOM observation: what (``observation_type``, an MDC code), when, how sure, value."""

    kind: int
    """Observation Class Type (:class:`ObservationClass`, or a reserved value kept as is)."""
    observation_type: int | None = None
    value: ObservationValue = field(default_factory=lambda: RawValue(b""))

    def __post_init__(self) -> None:
        _Header.__post_init__(self)
        check_range(_NAME, "class type", self.kind, 0, 0xFE)
        if self.observation_type is not None:
            check_range(_NAME, "observation type", self.observation_type, 0, 0xFFFFFFFF)
        expected = _VALUE_CLASS.get(self.kind, RawValue)
        if not isinstance(self.value, expected):
            raise GattValueError(f"{_NAME}: class {self.kind:#04x} carries {expected.__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservationBundle(_Header):
    """Observation Class Type 0xFF: observations sharing the bundle's time stamp and status."""

    observations: tuple[HealthObservation, ...] = ()

    def __post_init__(self) -> None:
        _Header.__post_init__(self)
        check_range(_NAME, "bundle size", len(self.observations), 0, 0xFF)
        replace_field(self, "observations", tuple(self.observations))

    def members_resolved(self) -> tuple[HealthObservation, ...]:
        """The members, each with the bundle's time stamp / status / patient where it has none."""
        out = []
        for member in self.observations:
            out.append(
                HealthObservation(
                    kind=member.kind,
                    observation_type=member.observation_type,
                    value=member.value,
                    time=member.time or self.time,
                    duration_s=member.duration_s
                    if member.duration_s is not None
                    else self.duration_s,
                    status=_merge_status(member.status, self.status),
                    object_id=member.object_id,
                    patient=member.patient if member.patient is not None else self.patient,
                    supplemental=member.supplemental,
                    derived_from=member.derived_from,
                    members=member.members,
                    tlvs=member.tlvs,
                )
            )
        return tuple(out)


def _merge_status(own: int | None, shared: int | None) -> int | None:
    if own is None or shared is None:
        return own if shared is None else shared
    return own | shared


_VALUE_CLASS: Final[dict[int, type]] = {
    ObservationClass.NUMERIC: NumericValue,
    ObservationClass.SIMPLE_DISCRETE: SimpleDiscreteValue,
    ObservationClass.COMPOUND: CompoundValue,
    ObservationClass.SAMPLE_ARRAY: SampleArrayValue,
}


# ---- Decoding ---------------------------------------------------------------------------------


def _read_time(reader: Reader) -> ElapsedTime:
    flags = reader.u8("Time Stamp flags") & _TIME_FLAGS
    value = reader.unsigned(6, "Time Stamp value")
    source = reader.u8("Time Sync Source")
    raw_offset = reader.u8("TZ/DST Offset")
    offset = raw_offset - 0x100 if raw_offset & 0x80 else raw_offset
    return ElapsedTime(
        value=value,
        tick_counter=bool(flags & _TICK_COUNTER),
        utc=bool(flags & _UTC),
        resolution=(flags >> _RESOLUTION_SHIFT) & 0x03,
        tz_dst_used=bool(flags & _TZ_DST_USED),
        current_timeline=bool(flags & _CURRENT_TIMELINE),
        sync_source=source,
        tz_dst_offset=offset,
    )


def _read_codes(reader: Reader, what: str) -> tuple[int, ...]:
    count = reader.u8(f"{what} count")
    return tuple(reader.unsigned(4, what) for _ in range(count))


def _read_tlvs(reader: Reader) -> tuple[Tlv, ...]:
    count = reader.u8("TLV count")
    out = []
    for _ in range(count):
        kind = reader.unsigned(4, "TLV type")
        size = reader.u16("TLV length")
        out.append(Tlv(kind, _take(reader, size, "TLV value")))
    return tuple(out)


def _take(reader: Reader, size: int, what: str) -> bytes:
    if size == 0:
        return b""
    return reader.unsigned(size, what).to_bytes(size, "little")


def _read_header(reader: Reader, flags: int) -> dict[str, object]:
    """The optional fields, in order; a truncated one is an error (the Length said they fit)."""
    fields: dict[str, object] = {}
    if flags & _TIME:
        fields["time"] = _read_time(reader)
    if flags & _DURATION:
        fields["duration_s"] = reader.float32("Measurement Duration")
    if flags & _STATUS:
        fields["status"] = reader.u16("Measurement Status")
    if flags & _OBJECT_ID:
        fields["object_id"] = reader.unsigned(4, "Object Id")
    if flags & _PATIENT:
        fields["patient"] = reader.u8("Patient")
    if flags & _SUPPLEMENTAL:
        fields["supplemental"] = _read_codes(reader, "Supplemental Information")
    if flags & _DERIVED_FROM:
        fields["derived_from"] = _read_codes(reader, "Derived From")
    if flags & _MEMBERS:
        fields["members"] = _read_codes(reader, "Has Member")
    if flags & _TLVS:
        fields["tlvs"] = _read_tlvs(reader)
    return fields


def _read_value(reader: Reader, kind: int) -> ObservationValue:
    if kind == ObservationClass.NUMERIC:
        return NumericValue(reader.u16("Unit"), reader.float32("Value"))
    if kind == ObservationClass.SIMPLE_DISCRETE:
        return SimpleDiscreteValue(reader.unsigned(4, "Discrete Value"))
    if kind == ObservationClass.COMPOUND:
        count = reader.u8("Component count")
        return CompoundValue(
            tuple(
                CompoundComponent(
                    reader.unsigned(4, "Component Type"),
                    reader.u16("Unit"),
                    reader.float32("Value"),
                )
                for _ in range(count)
            )
        )
    if kind == ObservationClass.SAMPLE_ARRAY:
        return _read_sample_array(reader)
    return RawValue(_take(reader, reader.remaining(), "Value"))


def _read_sample_array(reader: Reader) -> SampleArrayValue:
    unit = reader.u16("Unit")
    scale = reader.float32("Scale Factor")
    offset = reader.float32("Offset")
    period = reader.float32("Sample Period")
    per_period = reader.u8("Samples per Period")
    width = reader.u8("Bytes per Sample")
    if not 1 <= width <= 4:
        raise reader.error(GattDecodeError, f"bytes per sample {width} is outside 1..4")
    count = reader.unsigned(4, "Number of Samples")
    if count * width > reader.remaining():
        raise reader.error(TruncatedError, f"{count} samples of {width} byte(s) do not fit")
    samples = tuple(reader.unsigned(width, "Sample") for _ in range(count))
    return SampleArrayValue(
        unit=unit,
        scale=scale,
        offset=offset,
        period_s=period,
        samples_per_period=per_period,
        bytes_per_sample=width,
        samples=samples,
    )


def _split(reader: Reader) -> tuple[int, int, Reader]:
    """Class type, flags and a reader over the rest of one observation (its Length's worth)."""
    kind = reader.u8("Observation Class Type")
    length = reader.u16("Length")
    if length < _HEADER_SIZE:
        raise reader.error(GattDecodeError, f"Length {length} is shorter than the header")
    body = _take(reader, length - 3, "observation")
    inner = Reader(reader.characteristic, body)
    flags = inner.u16("Flags") & _DEFINED_FLAGS
    return kind, flags, inner


def _read_one(reader: Reader) -> HealthObservation | ObservationBundle:
    kind, flags, inner = _split(reader)
    return _read_body(kind, flags, inner)


def _read_body(kind: int, flags: int, inner: Reader) -> HealthObservation | ObservationBundle:
    if kind == ObservationClass.BUNDLE:
        header = _read_header(inner, flags)
        count = inner.u8("Bundle count")
        return ObservationBundle(observations=_read_members(inner, count), **header)  # type: ignore[arg-type]
    observation_type = inner.unsigned(4, "Observation Type") if flags & _TYPE else None
    header = _read_header(inner, flags)
    value = _read_value(inner, kind)
    return HealthObservation(
        kind=kind,
        observation_type=observation_type,
        value=value,
        **header,  # type: ignore[arg-type]
    )


def _read_members(reader: Reader, count: int) -> tuple[HealthObservation, ...]:
    """A bundle's members: one whose own fields are malformed is skipped (its Length places the
    next); one whose Length overruns the bundle ends it. Nested bundles are not members."""
    members = []
    for _ in range(count):
        try:
            kind, flags, inner = _split(reader)
        except GattDecodeError:
            break
        try:
            member = _read_body(kind, flags, inner)
        except (GattDecodeError, GattValueError):
            continue
        if isinstance(member, HealthObservation):
            members.append(member)
    return tuple(members)


def decode_observation(data: Buffer) -> HealthObservation | ObservationBundle:
    """The observation (or bundle) at the start of ``data``; bytes after its Length are ignored.

    Raises :class:`GattDecodeError` when the observation itself is malformed.
    """
    return parse(_NAME, data, _read_one)


def decode_observations(data: Buffer) -> tuple[HealthObservation, ...]:
    """Every observation that decodes, bundles flattened: never raises.

    ``data`` is one reassembled Live or Stored Health Observations value; a malformed one gives
    an empty tuple, a malformed bundle member is left out (see the module docstring).
    """
    try:
        top = decode_observation(data)
    except GattDecodeError:
        return ()
    return top.members_resolved() if isinstance(top, ObservationBundle) else (top,)


# ---- Encoding ---------------------------------------------------------------------------------


def _header_flags(value: _Header) -> int:
    return (
        (_TIME if value.time is not None else 0)
        | (_DURATION if value.duration_s is not None else 0)
        | (_STATUS if value.status is not None else 0)
        | (_OBJECT_ID if value.object_id is not None else 0)
        | (_PATIENT if value.patient is not None else 0)
        | (_SUPPLEMENTAL if value.supplemental else 0)
        | (_DERIVED_FROM if value.derived_from else 0)
        | (_MEMBERS if value.members else 0)
        | (_TLVS if value.tlvs else 0)
    )


def _write_header(out: Writer, value: _Header) -> None:
    if value.time is not None:
        stamp = value.time
        out.u8(stamp.flags()).unsigned(stamp.value, 6).u8(stamp.sync_source)
        out.unsigned(stamp.tz_dst_offset & 0xFF, 1)
    if value.duration_s is not None:
        out.float32(value.duration_s)
    if value.status is not None:
        out.u16(value.status)
    if value.object_id is not None:
        out.unsigned(value.object_id, 4)
    if value.patient is not None:
        out.u8(value.patient)
    for codes in (value.supplemental, value.derived_from, value.members):
        if codes:
            out.u8(len(codes))
            for code in codes:
                out.unsigned(code, 4)
    if value.tlvs:
        out.u8(len(value.tlvs))
        for tlv in value.tlvs:
            out.unsigned(tlv.type, 4).u16(len(tlv.value))
            _raw(out, tlv.value)


def _raw(out: Writer, data: bytes) -> None:
    for byte in data:
        out.u8(byte)


def _write_value(out: Writer, value: ObservationValue) -> None:
    if isinstance(value, NumericValue):
        out.u16(value.unit).float32(value.value)
    elif isinstance(value, SimpleDiscreteValue):
        out.unsigned(value.code, 4)
    elif isinstance(value, CompoundValue):
        out.u8(len(value.components))
        for part in value.components:
            out.unsigned(part.observation_type, 4).u16(part.unit).float32(part.value)
    elif isinstance(value, SampleArrayValue):
        out.u16(value.unit).float32(value.scale).float32(value.offset).float32(value.period_s)
        out.u8(value.samples_per_period).u8(value.bytes_per_sample).unsigned(len(value.samples), 4)
        for sample in value.samples:
            out.unsigned(sample, value.bytes_per_sample)
    else:
        _raw(out, value.data)


def _framed(kind: int, body: bytes) -> bytes:
    length = 3 + len(body)
    if length > 0xFFFF:
        raise GattValueError(f"{_NAME}: {length} octets exceed the uint16 Length")
    return bytes([kind]) + length.to_bytes(2, "little") + body


def encode_observation(value: HealthObservation | ObservationBundle) -> bytes:
    """The bytes of one observation or bundle, before segmentation."""
    out = Writer()
    if isinstance(value, ObservationBundle):
        out.u16(_header_flags(value))
        _write_header(out, value)
        body = out.u8(len(value.observations)).to_bytes()
        body += b"".join(encode_observation(member) for member in value.observations)
        return _framed(ObservationClass.BUNDLE, body)
    flags = _header_flags(value) | (_TYPE if value.observation_type is not None else 0)
    out.u16(flags)
    if value.observation_type is not None:
        out.unsigned(value.observation_type, 4)
    _write_header(out, value)
    _write_value(out, value.value)
    return _framed(value.kind, out.to_bytes())
