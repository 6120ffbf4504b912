"""Glucose Measurement (0x2A18): vectors worked out from GLS / GSS, units, round trip."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import (
    GattDecodeError,
    GattValueError,
    InvalidDateTimeError,
    InvalidFieldError,
    TruncatedError,
)
from nabd.contract.gatt.glucose import (
    GlucoseConcentration,
    GlucoseMeasurement,
    GlucoseSensorStatus,
    GlucoseType,
    GlucoseUnit,
    SampleLocation,
    decode_glucose_measurement,
    encode_glucose_measurement,
)
from nabd.contract.gatt.ieee11073 import decode_sfloat
from nabd.contract.gatt.samples import MetricKey, SampleFlag

MG_PER_DL_PER_MMOL_PER_L = 18.0156  # glucose: 180.156 mg/mmol over 10 dL/L


def test_kg_per_litre_with_time_offset() -> None:
    # Flags 0x03: time offset, concentration (kg/L) | Sequence Number 0x0001
    # Base Time 2024 (0x07E8) -01-01 08:00:00 | Time Offset 0xFFFB = -5 min
    # Concentration 0xD001 = 1e-3 kg/L (100 mg/dL) | Type-Location 0x11: capillary blood, finger
    data = bytes.fromhex("03 01 00 E8 07 01 01 08 00 00 FB FF 01 D0 11")
    value = decode_glucose_measurement(data)
    assert value == GlucoseMeasurement(
        sequence_number=1,
        base_time=DateTime(2024, 1, 1, 8, 0, 0),
        time_offset=-5,
        concentration=GlucoseConcentration(
            value=0.001,
            unit=GlucoseUnit.KG_PER_L,
            sample_type=GlucoseType.CAPILLARY_WHOLE_BLOOD,
            sample_location=SampleLocation.FINGER,
        ),
    )
    assert value.measured_at == datetime(2024, 1, 1, 7, 55)
    (only,) = value.samples()
    assert only.metric is MetricKey.GLUCOSE
    assert only.flags == frozenset()
    assert only.value == pytest.approx(100 / MG_PER_DL_PER_MMOL_PER_L, rel=1e-12)
    assert encode_glucose_measurement(value) == data


def test_meter_resolution_is_read_but_reencoded_canonically() -> None:
    # Flags 0x02 | Sequence 2 | Base Time 2024-01-01 08:00:00
    # Concentration 0xB078 = 120e-5 kg/L (120 mg/dL, as meters send it)
    # Type-Location 0x24: venous plasma (4), alternate site (2)
    data = bytes.fromhex("02 02 00 E8 07 01 01 08 00 00 78 B0 24")
    value = decode_glucose_measurement(data)
    assert value.concentration is not None
    assert value.concentration.value == 0.0012
    assert value.samples()[0].value == pytest.approx(120 / MG_PER_DL_PER_MMOL_PER_L, rel=1e-12)
    # Same number, canonical code 12e-4 (0xC00C): equal values, different bytes.
    assert encode_glucose_measurement(value) == bytes.fromhex(
        "02 02 00 E8 07 01 01 08 00 00 0C C0 24"
    )


def test_mol_per_litre_control_solution_with_status() -> None:
    # Flags 0x1E: concentration in mol/L, sensor status, context follows | Sequence 0x0102
    # Base Time all unknown (zeros) | Concentration 0xC037 = 55e-4 mol/L = 5.5 mmol/L
    # Type-Location 0x4A: control solution (10) at location control solution (4)
    # Sensor Status 0x0028: strip insertion error (bit 3), result too high (bit 5)
    data = bytes.fromhex("1E 02 01 00 00 00 00 00 00 00 37 C0 4A 28 00")
    value = decode_glucose_measurement(data)
    assert value.sequence_number == 258
    assert value.context_follows
    assert value.measured_at is None
    assert value.sensor_status == (
        GlucoseSensorStatus.STRIP_INSERTION_ERROR | GlucoseSensorStatus.RESULT_TOO_HIGH
    )
    (only,) = value.samples()
    assert only.value == pytest.approx(5.5, rel=1e-12)
    assert only.flags == {SampleFlag.INVALID, SampleFlag.QUESTIONABLE, SampleFlag.TEST_DATA}
    assert encode_glucose_measurement(value) == data


def test_record_without_concentration_has_no_sample() -> None:
    # Flags 0x00 | Sequence 3 | Base Time 2024-01-01 08:00:00
    value = decode_glucose_measurement(bytes.fromhex("00 03 00 E8 07 01 01 08 00 00"))
    assert value.concentration is None
    assert value.samples() == []


def test_reserved_sensor_status_bits_are_ignored() -> None:
    # Flags 0x08 | Sequence 1 | Base Time | Sensor Status 0xF000 (bits 12-15 reserved)
    value = decode_glucose_measurement(bytes.fromhex("08 01 00 E8 07 01 01 08 00 00 00 F0"))
    assert value.sensor_status == GlucoseSensorStatus(0)


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("00 01 00 E8 07 01 01 08 00", TruncatedError),  # base time cut short
        ("00 01 00 E8 07 01 20 08 00 00", InvalidDateTimeError),  # 32 January
        # 9999 (0x270F) -12-31 23:59 plus 32767 minutes is past the end of the calendar
        ("01 01 00 0F 27 0C 1F 17 3B 00 FF 7F", InvalidFieldError),
    ],
)
def test_malformed_values(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"Glucose Measurement \(0x2A18\)"):
        decode_glucose_measurement(bytes.fromhex(hex_data))


def test_time_offset_is_a_signed_16_bit_field() -> None:
    with pytest.raises(GattValueError):
        GlucoseMeasurement(sequence_number=1, base_time=DateTime(0, 0, 0), time_offset=40_000)


@st.composite
def date_times(draw: st.DrawFn) -> DateTime:
    """Date Time values including unknown (0) year, month and day."""
    moment = draw(st.datetimes(datetime(1582, 1, 1), datetime(9999, 12, 9)))
    year = draw(st.sampled_from((0, moment.year)))
    month = draw(st.sampled_from((0, moment.month)))
    return DateTime(year, month, moment.day, moment.hour, moment.minute, moment.second)


concentrations = st.builds(
    GlucoseConcentration,
    value=st.builds(decode_sfloat, st.integers(0, 0xFFFF)) | st.floats(-2e10, 2e10),
    unit=st.sampled_from(GlucoseUnit),
    sample_type=st.sampled_from(GlucoseType),
    sample_location=st.sampled_from(SampleLocation),
)


@given(
    st.builds(
        GlucoseMeasurement,
        sequence_number=st.integers(0, 0xFFFF),
        base_time=date_times(),
        time_offset=st.none() | st.integers(-0x8000, 0x7FFF),
        concentration=st.none() | concentrations,
        sensor_status=st.none() | st.builds(GlucoseSensorStatus, st.integers(0, 0x0FFF)),
        context_follows=st.booleans(),
    )
)
def test_round_trip(value: GlucoseMeasurement) -> None:
    data = encode_glucose_measurement(value)
    assert decode_glucose_measurement(data) == value
    assert encode_glucose_measurement(decode_glucose_measurement(data)) == data
