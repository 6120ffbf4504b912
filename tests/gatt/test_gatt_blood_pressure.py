"""Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36): BLS/GSS vectors."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.blood_pressure import (
    BloodPressureMeasurement,
    BloodPressureStatus,
    IntermediateCuffPressure,
    PressureUnit,
    PulseRateRange,
    decode_blood_pressure_measurement,
    decode_intermediate_cuff_pressure,
    encode_blood_pressure_measurement,
    encode_intermediate_cuff_pressure,
)
from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import (
    GattDecodeError,
    TruncatedError,
)
from nabd.contract.gatt.ieee11073 import decode_sfloat
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag

PA_PER_MMHG = 101325 / 760  # one standard atmosphere is 760 mmHg


def test_mmhg_with_every_field() -> None:
    # Flags 0x1E: mmHg, time stamp, pulse rate, user id, measurement status
    # Systolic 0x0078 = 120 | Diastolic 0x0050 = 80 | MAP 0x005D = 93
    # Time Stamp 2023 (0x07E7) -12-31 23:59:59 | Pulse Rate 0x0048 = 72 | User ID 1
    # Measurement Status 0x000C: irregular pulse (bit 2), pulse rate above range (bits 3-4 = 01)
    data = bytes.fromhex("1E 78 00 50 00 5D 00 E7 07 0C 1F 17 3B 3B 48 00 01 0C 00")
    value = decode_blood_pressure_measurement(data)
    assert value == BloodPressureMeasurement(
        systolic=120,
        diastolic=80,
        mean_arterial=93,
        timestamp=DateTime(2023, 12, 31, 23, 59, 59),
        pulse_rate=72,
        user_id=1,
        status=BloodPressureStatus(
            irregular_pulse=True, pulse_rate_range=PulseRateRange.ABOVE_UPPER_LIMIT
        ),
    )
    assert value.measured_at == datetime(2023, 12, 31, 23, 59, 59)
    questionable = frozenset({SampleFlag.QUESTIONABLE})
    assert value.samples() == [
        Sample(MetricKey.SYSTOLIC_BP, 120.0, questionable),
        Sample(MetricKey.DIASTOLIC_BP, 80.0, questionable),
        Sample(MetricKey.MEAN_ARTERIAL_PRESSURE, 93.0, questionable),
        Sample(MetricKey.PULSE_RATE, 72.0, questionable),
    ]
    assert encode_blood_pressure_measurement(value) == data


def test_kpa_is_converted_to_mmhg() -> None:
    # Flags 0x01: kPa | Systolic 0x0010 = 16 | Diastolic 0xF06B = 107e-1 | MAP 0xF07D = 125e-1
    data = bytes.fromhex("01 10 00 6B F0 7D F0")
    value = decode_blood_pressure_measurement(data)
    assert (value.unit, value.systolic, value.diastolic, value.mean_arterial) == (
        PressureUnit.KPA,
        16.0,
        10.7,
        12.5,
    )
    # Independent arithmetic: kPa -> Pa -> mmHg via the standard atmosphere.
    expected = [kpa * 1000 / PA_PER_MMHG for kpa in (16.0, 10.7, 12.5)]
    assert [s.value for s in value.samples()] == pytest.approx(expected, rel=1e-9)
    assert encode_blood_pressure_measurement(value) == data


def test_body_movement_flags_motion() -> None:
    # Flags 0x10 | 120 | 80 | 93 | Measurement Status 0x0001: body movement
    value = decode_blood_pressure_measurement(bytes.fromhex("10 78 00 50 00 5D 00 01 00"))
    assert {s.flags for s in value.samples()} == {frozenset({SampleFlag.MOTION})}


def test_reserved_status_bits_are_ignored() -> None:
    # Flags 0x10 | 120 | 80 | 93 | Measurement Status 0xFFC0: only reserved bits 6-15
    value = decode_blood_pressure_measurement(bytes.fromhex("10 78 00 50 00 5D 00 C0 FF"))
    assert value.status == BloodPressureStatus()


def test_intermediate_cuff_pressure() -> None:
    # Flags 0x04: mmHg, pulse rate | Current Cuff Pressure 0x0096 = 150
    # Diastolic and MAP unused: NaN 0x07FF | Pulse Rate 0x0048 = 72
    data = bytes.fromhex("04 96 00 FF 07 FF 07 48 00")
    value = decode_intermediate_cuff_pressure(data)
    assert value == IntermediateCuffPressure(cuff_pressure=150, pulse_rate=72)
    assert value.cuff_pressure_mmhg == 150.0
    # Cuff pressure is no catalogue metric: only the pulse rate, as an early estimate.
    assert value.samples() == [
        Sample(MetricKey.PULSE_RATE, 72.0, frozenset({SampleFlag.EARLY_ESTIMATE}))
    ]
    assert encode_intermediate_cuff_pressure(value) == data


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("00 78 00 50 00 5D", TruncatedError),
    ],
)
def test_malformed_values(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"Blood Pressure Measurement \(0x2A35\)"):
        decode_blood_pressure_measurement(bytes.fromhex(hex_data))


def test_malformed_cuff_pressure_names_its_characteristic() -> None:
    # Only the cuff pressure: the two unused SFLOATs are still part of the layout.
    with pytest.raises(TruncatedError, match=r"Intermediate Cuff Pressure \(0x2A36\)"):
        decode_intermediate_cuff_pressure(bytes.fromhex("00 96 00"))


sfloats = st.one_of(
    st.builds(decode_sfloat, st.integers(0, 0xFFFF)),
    st.floats(min_value=-2e10, max_value=2e10),
)
shared = {
    "unit": st.sampled_from(PressureUnit),
    "timestamp": st.none()
    | st.builds(DateTime.from_datetime, st.datetimes(datetime(1582, 1, 1), datetime(9999, 1, 1))),
    "pulse_rate": st.none() | sfloats,
    "user_id": st.none() | st.integers(0, 255),
    "status": st.none()
    | st.builds(
        BloodPressureStatus,
        body_movement=st.booleans(),
        cuff_too_loose=st.booleans(),
        irregular_pulse=st.booleans(),
        pulse_rate_range=st.sampled_from(PulseRateRange),
        improper_position=st.booleans(),
    ),
}


@given(
    st.builds(
        BloodPressureMeasurement,
        systolic=sfloats,
        diastolic=sfloats,
        mean_arterial=sfloats,
        **shared,
    )
)
def test_measurement_round_trip(value: BloodPressureMeasurement) -> None:
    data = encode_blood_pressure_measurement(value)
    assert decode_blood_pressure_measurement(data) == value
    assert encode_blood_pressure_measurement(decode_blood_pressure_measurement(data)) == data


@given(st.builds(IntermediateCuffPressure, cuff_pressure=sfloats, **shared))
def test_cuff_pressure_round_trip(value: IntermediateCuffPressure) -> None:
    assert decode_intermediate_cuff_pressure(encode_intermediate_cuff_pressure(value)) == value
