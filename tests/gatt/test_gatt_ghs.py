"""Generic Health Sensor (GHS 1.0): observations, segmentation, features, control points.

The worked examples are constructed field by field from the layout tables in
``nabd.contract.gatt.ghs_observation`` / ``ghs`` (GHS 1.0 as read, corroborated by public GHS
client code): no byte-level example from the specification or its design guide is public here,
so these are not copied from one. Each hex string is annotated field by field.
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract.catalogue import metric
from nabd.contract.gatt import (
    CompoundComponent,
    CompoundValue,
    ElapsedTime,
    GhsControlOpCode,
    GhsControlPoint,
    HealthObservation,
    HealthSensorFeatures,
    LiveHealthObservations,
    NumericValue,
    ObservationBundle,
    ObservationClass,
    ObservationReassembler,
    SampleFlag,
    SegmentHeader,
    StoredHealthObservations,
    decode,
    decode_observation,
    decode_observations,
    encode,
    encode_observation,
    observation_samples,
    segment,
    segment_stored,
)
from nabd.contract.gatt.errors import GattDecodeError, GattValueError
from nabd.contract.gatt.ghs import decode_stored_health_observations
from nabd.contract.gatt.ghs_metrics import (
    MDC_ECG_HEART_RATE,
    MDC_PRESS_BLD_NONINV,
    MDC_PRESS_BLD_NONINV_DIA,
    MDC_PRESS_BLD_NONINV_MEAN,
    MDC_PRESS_BLD_NONINV_SYS,
    MDC_PULS_OXIM_PULS_RATE,
    MDC_PULS_OXIM_SAT_O2,
    MDC_RESP_RATE,
    MDC_TEMP_BODY,
    METRIC_OF,
    Unit,
)
from nabd.contract.gatt.ghs_observation import RawValue, SampleArrayValue, SimpleDiscreteValue, Tlv
from nabd.contract.gatt.racp import (
    RacpFrame,
    RacpOpCode,
    RacpOperator,
    RacpResponse,
    decode_racp,
    encode_racp,
    records_from,
    response_of,
)
from nabd.contract.gatt.samples import MetricKey
from tests.security.fuzz_budget import examples

NOON = ElapsedTime(value=849_873_600)  # 2026-12-06 12:00:00 UTC, seconds since 2000-01-01
NOON_HEX = "22 C0 0A A8 32 00 00 00 00"  # flags UTC|current timeline, uint48, sync 0, TZ/DST 0

RESP_RATE_HEX = (
    "00"  # class: numeric
    " 18 00"  # Length 24 = 3 + 2 + 4 + 9 + 2 + 4
    " 03 00"  # Flags: observation type, time stamp
    " 0A 50 02 00"  # MDC_RESP_RATE 151562
    f" {NOON_HEX}"
    " E0 0A"  # MDC_DIM_RESP_PER_MIN 2784
    " 10 00 00 00"  # FLOAT 16 (exponent 0)
)

BP_HEX = (
    "04"  # class: compound
    " 28 00"  # Length 40 = 3 + 2 + 4 + 1 + 3 * 10
    " 01 00"  # Flags: observation type
    " 04 4A 02 00"  # MDC_PRESS_BLD_NONINV 150020
    " 03"  # 3 components
    " 05 4A 02 00 20 0F 78 00 00 00"  # SYS 150021, mmHg 3872, 120
    " 06 4A 02 00 20 0F 50 00 00 00"  # DIA 150022, mmHg, 80
    " 07 4A 02 00 20 0F A5 03 00 FF"  # MEAN 150023, mmHg, 933e-1
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def numeric(code: int, unit: int, value: float, **kw: object) -> HealthObservation:
    return HealthObservation(
        kind=ObservationClass.NUMERIC,
        observation_type=code,
        value=NumericValue(unit, value),
        **kw,  # type: ignore[arg-type]
    )


BLOOD_PRESSURE = HealthObservation(
    kind=ObservationClass.COMPOUND,
    observation_type=MDC_PRESS_BLD_NONINV,
    value=CompoundValue(
        (
            CompoundComponent(MDC_PRESS_BLD_NONINV_SYS, Unit.MMHG, 120),
            CompoundComponent(MDC_PRESS_BLD_NONINV_DIA, Unit.MMHG, 80),
            CompoundComponent(MDC_PRESS_BLD_NONINV_MEAN, Unit.MMHG, 93.3),
        )
    ),
)


def values(observation: HealthObservation) -> dict[str, float | None]:
    return {s.metric.value: s.value for s in observation_samples(observation)}


# ---- Worked examples ----------------------------------------------------------------------------


def test_respiratory_rate_byte_exact() -> None:
    observation = numeric(MDC_RESP_RATE, Unit.RESP_PER_MIN, 16, time=NOON)
    assert encode_observation(observation) == h(RESP_RATE_HEX)
    assert decode_observation(h(RESP_RATE_HEX)) == observation
    assert values(observation) == {"respiration_rate": 16.0}
    assert NOON.wall_clock == datetime(2026, 12, 6, 12, 0, 0)


def test_blood_pressure_compound_byte_exact() -> None:
    assert encode_observation(BLOOD_PRESSURE) == h(BP_HEX)
    assert decode_observation(h(BP_HEX)) == BLOOD_PRESSURE
    assert values(BLOOD_PRESSURE) == {
        "systolic_bp": 120.0,
        "diastolic_bp": 80.0,
        "mean_arterial_pressure": 93.3,
    }


def test_bundle_shares_its_time_stamp_with_spo2_and_pulse() -> None:
    spo2 = numeric(MDC_PULS_OXIM_SAT_O2, Unit.PERCENT, 97)
    pulse = numeric(MDC_PULS_OXIM_PULS_RATE, Unit.BEAT_PER_MIN, 72)
    bundle = ObservationBundle(time=NOON, observations=(spo2, pulse))
    data = encode_observation(bundle)
    spo2_hex = "00 0F 00 01 00 B8 4B 02 00 20 02 61 00 00 00"  # 150456, % 544, 97
    pulse_hex = "00 0F 00 01 00 1A 48 02 00 A0 0A 48 00 00 00"  # 149530, bpm 2720, 72
    # Length 45 = 3 + 2 + 9 + 1 + 15 + 15
    assert data == h(f"FF 2D 00 02 00 {NOON_HEX} 02 {spo2_hex} {pulse_hex}")
    members = decode_observations(data)
    assert [m.time for m in members] == [NOON, NOON]
    assert [values(m) for m in members] == [{"spo2": 97.0}, {"pulse_rate": 72.0}]


@pytest.mark.parametrize(
    ("code", "unit", "value", "key", "expected"),
    [
        (MDC_TEMP_BODY, Unit.DEGC, 37.2, "body_temperature", 37.2),
        (MDC_TEMP_BODY, Unit.FAHR, 98.6, "body_temperature", 37.0),
        (MDC_ECG_HEART_RATE, Unit.BEAT_PER_MIN, 61, "heart_rate", 61.0),
        (MDC_PRESS_BLD_NONINV_SYS, Unit.KILO_PASCAL, 16, "systolic_bp", 16 * 7.50061683),
    ],
)
def test_units_convert_to_the_catalogue(
    code: int, unit: int, value: float, key: str, expected: float
) -> None:
    got = values(numeric(code, unit, value))
    assert got.keys() == {key}
    assert got[key] == pytest.approx(expected, abs=1e-9)


def test_mdc_codes_are_the_catalogues() -> None:
    for code, key in METRIC_OF.items():
        if code != 149546:  # MDC_PULS_RATE_NON_INV, a cuff's pulse: filed as pulse rate
            assert metric(key).mdc_code == code, key
        assert metric(key).key == key.value


def test_status_bits_flag_the_sample() -> None:
    invalid = observation_samples(numeric(MDC_RESP_RATE, Unit.RESP_PER_MIN, 9, status=0x0003))
    assert invalid[0].flags == {SampleFlag.INVALID, SampleFlag.QUESTIONABLE}
    unavailable = observation_samples(numeric(MDC_RESP_RATE, Unit.RESP_PER_MIN, 9, status=0x0004))
    assert unavailable[0].value is None
    assert SampleFlag.UNAVAILABLE in unavailable[0].flags


def test_special_float_is_unavailable_not_a_number() -> None:
    data = bytearray(h(RESP_RATE_HEX))
    data[-4:] = bytes.fromhex("FF FF 7F 00")  # FLOAT NaN
    (only,) = observation_samples(decode_observation(bytes(data)))  # type: ignore[arg-type]
    assert only.value is None
    assert SampleFlag.UNAVAILABLE in only.flags


def test_unknown_type_or_wrong_unit_gives_no_sample() -> None:
    assert values(numeric(0x00020000, Unit.PERCENT, 1)) == {}
    assert values(numeric(MDC_RESP_RATE, Unit.DEGC, 16)) == {}


def test_every_optional_header_field_round_trips() -> None:
    observation = HealthObservation(
        kind=ObservationClass.SIMPLE_DISCRETE,
        observation_type=MDC_RESP_RATE,
        time=ElapsedTime(value=12, tick_counter=True, utc=False, resolution=2, tz_dst_offset=-8),
        duration_s=60,
        status=0x0010,
        object_id=7,
        patient=1,
        supplemental=(1, 2),
        derived_from=(3,),
        members=(4, 5),
        tlvs=(Tlv(9, b"ab"),),
        value=SimpleDiscreteValue(42),
    )
    assert decode_observation(encode_observation(observation)) == observation
    assert observation.time is not None
    assert observation.time.wall_clock is None
    array = HealthObservation(
        kind=ObservationClass.SAMPLE_ARRAY,
        observation_type=MDC_RESP_RATE,
        value=SampleArrayValue(
            unit=Unit.RESP_PER_MIN,
            scale=0.5,
            offset=0,
            period_s=1,
            samples_per_period=25,
            bytes_per_sample=2,
            samples=(1, 2, 65535),
        ),
    )
    assert decode_observation(encode_observation(array)) == array
    assert observation_samples(array) == []  # a waveform is not a reading


# ---- Tolerance ----------------------------------------------------------------------------------


def test_reserved_flag_bits_and_trailing_bytes_are_ignored() -> None:
    data = bytearray(h(RESP_RATE_HEX))
    data[4] |= 0xFC  # Flags bits 10-15 reserved
    assert decode_observation(bytes(data) + b"\x99\x98") == decode_observation(h(RESP_RATE_HEX))


def test_a_malformed_bundle_member_drops_only_itself() -> None:
    good = encode_observation(numeric(MDC_RESP_RATE, Unit.RESP_PER_MIN, 14))
    bad = h("04 0A 00 01 00 04 4A 02 00 05")  # compound announcing 5 components, none sent
    also = encode_observation(numeric(MDC_PULS_OXIM_SAT_O2, Unit.PERCENT, 95))
    body = h("00 00 03") + good + bad + also
    data = bytes([0xFF]) + (3 + len(body)).to_bytes(2, "little") + body
    assert [values(m) for m in decode_observations(data)] == [
        {"respiration_rate": 14.0},
        {"spo2": 95.0},
    ]


def test_a_reserved_class_is_kept_raw() -> None:
    data = h("42 0A 00 00 00 01 02 03 04 05")
    observation = decode_observation(data)
    assert isinstance(observation, HealthObservation)
    assert observation.value == RawValue(h("01 02 03 04 05"))
    assert observation_samples(observation) == []


@pytest.mark.parametrize(
    "data",
    ["", "00", "00 02 00", "00 18 00 03 00 0A 50", "00 09 00 01 00 0A 50 02 00"],
    ids=["empty", "class-only", "length-too-small", "cut-in-type", "no-value"],
)
def test_malformed_observation_raises_and_flattens_to_nothing(data: str) -> None:
    with pytest.raises(GattDecodeError):
        decode_observation(h(data))
    assert decode_observations(h(data)) == ()


# ---- Segmentation -------------------------------------------------------------------------------


def test_one_segment_value_flattens_directly() -> None:
    value = decode(0x2B8B, h("03 " + RESP_RATE_HEX))  # first | last, counter 0
    assert isinstance(value, LiveHealthObservations)
    assert value.header == SegmentHeader(True, True, 0)
    assert [s.value for s in value.samples()] == [16.0]
    assert value.measured_at == datetime(2026, 12, 6, 12, 0, 0)
    assert encode(value) == h("03 " + RESP_RATE_HEX)


def test_segments_reassemble_across_counter_wrap() -> None:
    whole = encode_observation(ObservationBundle(time=NOON, observations=(BLOOD_PRESSURE,) * 3))
    parts = segment(whole, 20, first_counter=62)
    assert [p[0] for p in parts[:3]] == [(62 << 2) | 1, 63 << 2, 0 << 2]
    assert parts[-1][0] & 0x02
    joiner = ObservationReassembler()
    got = [joiner.push(SegmentHeader.of(p[0]), p[1:]) for p in parts]
    assert got[:-1] == [None] * (len(parts) - 1)
    assert got[-1] == whole
    assert joiner.dropped == 0


def test_a_lost_segment_loses_that_observation_only() -> None:
    whole = encode_observation(BLOOD_PRESSURE)
    parts = segment(whole, 12)
    joiner = ObservationReassembler()
    for part in parts[:1] + parts[2:]:  # the second segment never arrives
        assert joiner.push(SegmentHeader.of(part[0]), part[1:]) is None
    assert joiner.dropped >= 1
    again = [joiner.push(SegmentHeader.of(p[0]), p[1:]) for p in segment(whole, 12, 5)]
    assert again[-1] == whole


def test_stored_observation_carries_its_record_number() -> None:
    value = decode(0x2BDD, h("03 2A 00 00 00 " + RESP_RATE_HEX))
    assert isinstance(value, StoredHealthObservations)
    assert value.record_number == 42
    assert [s.metric for s in value.samples()] == [MetricKey.RESPIRATION_RATE]


def test_a_stored_record_in_segments_byte_exact() -> None:
    # 24 octets of observation at ATT_MTU 23: 15 in the first segment (20 less the header and the
    # Record Number), 9 in the last; each repeats the Record Number.
    whole = h(RESP_RATE_HEX)
    first, last = segment_stored(whole, 5, 20)
    assert first == h("01 05 00 00 00") + whole[:15]  # first, counter 0, record 5
    assert last == h("06 05 00 00 00") + whole[15:]  # last, counter 1
    with pytest.raises(GattValueError):
        segment_stored(whole, 5, 5)  # no room for any observation


# ---- Features, control points -------------------------------------------------------------------


def test_health_sensor_features_byte_exact() -> None:
    features = HealthSensorFeatures(
        observation_types=(MDC_RESP_RATE, MDC_PULS_OXIM_SAT_O2),
        device_specializations=((0x1004, 1),),  # MDC_DEV_SPEC_PROFILE_PULS_OXIM, version 1
    )
    data = h("01 02 0A 50 02 00 B8 4B 02 00 01 04 10 01")
    assert encode(features) == data
    assert decode(0x2BF3, data) == features
    assert decode(0x2BF3, h("FE 01 0A 50 02 00 99")) == HealthSensorFeatures(
        observation_types=(MDC_RESP_RATE,)
    )  # reserved flag bits and a trailing byte ignored


def test_ghs_control_point() -> None:
    start = GhsControlPoint(GhsControlOpCode.START_SEND_LIVE_OBSERVATIONS)
    assert encode(start) == b"\x01"
    assert decode(0x2BF4, b"\x80") == GhsControlPoint(GhsControlOpCode.SUCCESS)
    with pytest.raises(GattDecodeError, match="reserved"):
        decode(0x2BF4, b"\x07")


def test_racp_report_records_from_a_record_number() -> None:
    frame = records_from(5)
    assert encode_racp(frame) == h("01 03 01 05 00 00 00")  # report, >=, filter record number
    assert decode_racp(encode_racp(frame)) == frame
    response = decode_racp(h("06 00 01 06"))
    assert response_of(response) == (
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpResponse.NO_RECORDS_FOUND,
    )
    assert response_of(RacpFrame(RacpOpCode.ABORT_OPERATION, RacpOperator.NULL)) is None
    with pytest.raises(GattDecodeError):
        decode_racp(h("09 00"))


def test_racp_ghs_frames_byte_exact() -> None:
    assert encode_racp(records_from(None)) == h("01 01")  # report, all records
    assert encode_racp(records_from(0xFFFFFFFF)) == h("01 03 01 FF FF FF FF")
    busy = decode_racp(h("06 00 01 0A"))  # sending live observations: server busy
    assert response_of(busy) == (RacpOpCode.REPORT_STORED_RECORDS, RacpResponse.SERVER_BUSY)
    combined = decode_racp(h("08 00 07 00 00 00"))  # combined report response: 7 records, uint32
    assert combined.op_code is RacpOpCode.COMBINED_REPORT_RESPONSE
    assert combined.operand == h("07 00 00 00")
    assert response_of(combined) is None
    with pytest.raises(GattValueError):
        records_from(0x100000000)


# ---- Fuzz ---------------------------------------------------------------------------------------

_codes = st.sampled_from(sorted(METRIC_OF)) | st.integers(0, 0xFFFFFFFF)
_floats = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 2))
_units = st.sampled_from([Unit.PERCENT, Unit.RESP_PER_MIN, Unit.BEAT_PER_MIN, Unit.DEGC, Unit.MMHG])
_times = st.builds(
    ElapsedTime,
    value=st.integers(0, 2**40),
    tick_counter=st.booleans(),
    resolution=st.integers(0, 3),
    tz_dst_offset=st.integers(-128, 127),
)
_observations = st.builds(
    HealthObservation,
    kind=st.just(ObservationClass.NUMERIC),
    observation_type=_codes,
    time=st.none() | _times,
    status=st.none() | st.integers(0, 0xFFFF),
    patient=st.none() | st.integers(0, 255),
    value=st.builds(NumericValue, _units, _floats),
) | st.builds(
    HealthObservation,
    kind=st.just(ObservationClass.COMPOUND),
    observation_type=_codes,
    value=st.builds(
        CompoundValue,
        st.lists(st.builds(CompoundComponent, _codes, _units, _floats), max_size=4).map(tuple),
    ),
)


@settings(max_examples=examples(200), deadline=None)
@given(observations=st.lists(_observations, min_size=1, max_size=4), mtu=st.integers(2, 60))
def test_round_trip_through_segments(observations: list[HealthObservation], mtu: int) -> None:
    bundle = ObservationBundle(observations=tuple(observations))
    joiner = ObservationReassembler()
    out = [
        joiner.push(SegmentHeader.of(p[0]), p[1:]) for p in segment(encode_observation(bundle), mtu)
    ]
    assert out[-1] is not None
    assert decode_observation(out[-1]) == bundle
    for sample in (s for o in decode_observations(out[-1]) for s in observation_samples(o)):
        assert sample.value is None or math.isfinite(sample.value)


@settings(max_examples=examples(200), deadline=None)
@given(
    observation=st.binary(max_size=300),
    record=st.integers(0, 0xFFFFFFFF),
    payload=st.integers(6, 247),
    counter=st.integers(0, 63),
)
def test_a_stored_record_round_trips_through_segments(
    observation: bytes, record: int, payload: int, counter: int
) -> None:
    parts = segment_stored(observation, record, payload, counter)
    assert all(len(p) <= payload for p in parts)
    values = [decode_stored_health_observations(p) for p in parts]
    assert {v.record_number for v in values} == {record}
    joiner = ObservationReassembler()
    out = [joiner.push(v.header, v.data) for v in values]
    assert out == [None] * (len(parts) - 1) + [observation]
    assert values[0].header.counter == counter


@settings(max_examples=examples(300), deadline=None)
@given(frame=st.binary(max_size=12))
def test_racp_frames_decode_or_raise_and_round_trip(frame: bytes) -> None:
    try:
        value = decode_racp(frame)
    except GattDecodeError:
        return
    assert encode_racp(value) == frame
    answer = response_of(value)
    assert answer is None or answer[0] in RacpOpCode


@settings(max_examples=examples(300), deadline=None)
@given(data=st.binary(max_size=80))
def test_arbitrary_bytes_decode_or_raise(data: bytes) -> None:
    try:
        value = decode_observation(data)
    except GattDecodeError:
        assert decode_observations(data) == ()
        return
    assert decode_observation(encode_observation(value)) == value


@settings(max_examples=examples(300), deadline=None)
@given(
    kind=st.sampled_from([0, 1, 3, 4, 0xFF]),
    flags=st.integers(0, 0xFFFF),
    body=st.binary(max_size=60),
)
def test_near_valid_observations(kind: int, flags: int, body: bytes) -> None:
    data = (
        bytes([kind]) + (5 + len(body)).to_bytes(2, "little") + flags.to_bytes(2, "little") + body
    )
    test_arbitrary_bytes_decode_or_raise.hypothesis.inner_test(data)  # type: ignore[attr-defined]
