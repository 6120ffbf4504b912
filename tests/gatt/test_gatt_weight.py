"""Weight Measurement (0x2A9D): SI and imperial vectors from WSS / GSS, unsuccessful weighing."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import (
    GattDecodeError,
    GattValueError,
    InvalidFieldError,
    TruncatedError,
)
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag
from nabd.contract.gatt.weight import (
    WeightMeasurement,
    WeightUnit,
    decode_weight_measurement,
    encode_weight_measurement,
)

POUNDS_PER_KG = 2.20462262185  # NIST SP 811 table, independent of the 0.45359237 definition
INCHES_PER_M = 39.37007874


def test_si_with_every_field() -> None:
    # Flags 0x0E: SI, time stamp, user id, BMI and height
    # Weight 0x36B0 = 14000 * 0.005 kg = 70 kg | Time Stamp 2024-06-01 07:30:00 | User ID 2
    # BMI 0x00E5 = 229 * 0.1 | Height 0x06D6 = 1750 * 0.001 m
    data = bytes.fromhex("0E B0 36 E8 07 06 01 07 1E 00 02 E5 00 D6 06")
    value = decode_weight_measurement(data)
    assert value == WeightMeasurement(
        weight=70.0,
        timestamp=DateTime(2024, 6, 1, 7, 30, 0),
        user_id=2,
        bmi=22.9,
        height=1.75,
    )
    assert value.samples() == [
        Sample(MetricKey.BODY_WEIGHT, 70.0, frozenset()),
        Sample(MetricKey.BMI, 22.9, frozenset()),
        Sample(MetricKey.BODY_HEIGHT, 1.75, frozenset()),
    ]
    assert encode_weight_measurement(value) == data


def test_imperial_is_converted_to_kg_and_m() -> None:
    # Flags 0x09: imperial, BMI and height | Weight 0x3C48 = 15432 * 0.01 lb = 154.32 lb
    # BMI 0x00DD = 22.1 | Height 0x02BC = 700 * 0.1 in = 70 in
    data = bytes.fromhex("09 48 3C DD 00 BC 02")
    value = decode_weight_measurement(data)
    assert (value.unit, value.weight, value.height) == (WeightUnit.IMPERIAL, 154.32, 70.0)
    weight, bmi, height = value.samples()
    assert weight.value == pytest.approx(154.32 / POUNDS_PER_KG, rel=1e-10)
    assert bmi.value == 22.1
    assert height.value == pytest.approx(70 / INCHES_PER_M, rel=1e-9)
    assert encode_weight_measurement(value) == data


def test_unsuccessful_measurement() -> None:
    # Flags 0x04: user id | Weight 0xFFFF = "Measurement Unsuccessful" | User ID 3
    data = bytes.fromhex("04 FF FF 03")
    value = decode_weight_measurement(data)
    assert value == WeightMeasurement(weight=None, user_id=3)
    assert value.samples() == [
        Sample(MetricKey.BODY_WEIGHT, None, frozenset({SampleFlag.UNAVAILABLE}))
    ]
    assert encode_weight_measurement(value) == data


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("00 B0", TruncatedError),
        ("08 FF FF E5 00 D6 06", InvalidFieldError),  # unsuccessful yet with BMI
    ],
)
def test_malformed_values(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"Weight Measurement \(0x2A9D\)"):
        decode_weight_measurement(bytes.fromhex(hex_data))


def test_construction_rounds_to_the_resolution_and_checks_range() -> None:
    assert WeightMeasurement(weight=70.0031).weight == 70.005  # 0.005 kg steps
    assert WeightMeasurement(weight=150.004, unit=WeightUnit.IMPERIAL).weight == 150.0
    with pytest.raises(GattValueError):
        WeightMeasurement(weight=327.675)  # 65535 * 0.005 is the "unsuccessful" code
    with pytest.raises(GattValueError):
        WeightMeasurement(weight=70.0, bmi=22.9)  # BMI without height


@given(
    st.builds(
        WeightMeasurement,
        weight=st.none() | st.floats(0, 327.67),
        unit=st.sampled_from(WeightUnit),
        timestamp=st.none()
        | st.builds(
            DateTime.from_datetime, st.datetimes(datetime(1582, 1, 1), datetime(9999, 1, 1))
        ),
        user_id=st.none() | st.integers(0, 255),
    )
)
def test_round_trip_without_bmi(value: WeightMeasurement) -> None:
    data = encode_weight_measurement(value)
    assert decode_weight_measurement(data) == value
    assert encode_weight_measurement(decode_weight_measurement(data)) == data


@given(
    weight=st.floats(0, 327.67),
    unit=st.sampled_from(WeightUnit),
    bmi=st.floats(0, 6553.5),
    height=st.floats(0, 65.535),
)
def test_round_trip_with_bmi(weight: float, unit: WeightUnit, bmi: float, height: float) -> None:
    value = WeightMeasurement(weight=weight, unit=unit, bmi=bmi, height=height)
    assert decode_weight_measurement(encode_weight_measurement(value)) == value
