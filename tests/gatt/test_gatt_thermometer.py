"""Temperature Measurement (0x2A1C) and Intermediate Temperature (0x2A1E): vectors from HTS/GSS."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import (
    GattDecodeError,
    TruncatedError,
)
from nabd.contract.gatt.ieee11073 import Special, decode_float
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag
from nabd.contract.gatt.thermometer import (
    IntermediateTemperature,
    TemperatureMeasurement,
    TemperatureType,
    TemperatureUnit,
    decode_intermediate_temperature,
    decode_temperature_measurement,
    encode_intermediate_temperature,
    encode_temperature_measurement,
)


def test_celsius_minimal() -> None:
    # Flags 0x00 (Celsius) | FLOAT 0xFF00016E: exponent -1, mantissa 366 -> 36.6
    data = bytes.fromhex("00 6E 01 00 FF")
    value = decode_temperature_measurement(data)
    assert value == TemperatureMeasurement(temperature=36.6)
    assert value.samples() == [Sample(MetricKey.BODY_TEMPERATURE, 36.6, frozenset())]
    assert encode_temperature_measurement(value) == data


def test_fahrenheit_with_time_stamp_and_type() -> None:
    # Flags 0x07: Fahrenheit, time stamp, type | FLOAT 0xFF0003DA = 986e-1 = 98.6 degF
    # Time Stamp 2024 (0x07E8) -02-29 13:05:09 | Temperature Type 0x06 = mouth
    data = bytes.fromhex("07 DA 03 00 FF E8 07 02 1D 0D 05 09 06")
    value = decode_temperature_measurement(data)
    assert value == TemperatureMeasurement(
        temperature=98.6,
        unit=TemperatureUnit.FAHRENHEIT,
        timestamp=DateTime(2024, 2, 29, 13, 5, 9),
        temperature_type=TemperatureType.MOUTH,
    )
    assert value.measured_at == datetime(2024, 2, 29, 13, 5, 9)
    (only,) = value.samples()
    assert only.metric is MetricKey.BODY_TEMPERATURE
    assert only.value == pytest.approx(37.0, abs=1e-12)  # (98.6 - 32) * 5 / 9
    assert encode_temperature_measurement(value) == data


def test_nan_is_unavailable_not_a_number() -> None:
    # Flags 0x00 | FLOAT 0x007FFFFF = NaN
    value = decode_temperature_measurement(bytes.fromhex("00 FF FF 7F 00"))
    assert value.temperature is Special.NAN
    assert value.samples() == [
        Sample(MetricKey.BODY_TEMPERATURE, None, frozenset({SampleFlag.UNAVAILABLE}))
    ]


def test_intermediate_temperature_is_an_early_estimate() -> None:
    # Same layout: Flags 0x00 | 0xFF000174 = 372e-1 = 37.2 degC
    data = bytes.fromhex("00 74 01 00 FF")
    value = decode_intermediate_temperature(data)
    assert value == IntermediateTemperature(temperature=37.2)
    assert value.samples() == [
        Sample(MetricKey.BODY_TEMPERATURE, 37.2, frozenset({SampleFlag.EARLY_ESTIMATE}))
    ]
    other = decode_temperature_measurement(data)  # same layout, another characteristic
    assert (type(value), type(other)) == (IntermediateTemperature, TemperatureMeasurement)
    assert encode_intermediate_temperature(value) == data


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("00 6E 01 00", TruncatedError),
    ],
)
def test_malformed_values(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"Temperature Measurement \(0x2A1C\)"):
        decode_temperature_measurement(bytes.fromhex(hex_data))


floats = st.one_of(
    st.builds(decode_float, st.integers(0, 0xFFFFFFFF)),
    st.floats(min_value=-1e100, max_value=1e100),
)
fields = {
    "temperature": floats,
    "unit": st.sampled_from(TemperatureUnit),
    "timestamp": st.none()
    | st.builds(DateTime.from_datetime, st.datetimes(datetime(1582, 1, 1), datetime(9999, 1, 1))),
    "temperature_type": st.none() | st.sampled_from(TemperatureType),
}


@given(st.builds(TemperatureMeasurement, **fields))
def test_measurement_round_trip(value: TemperatureMeasurement) -> None:
    data = encode_temperature_measurement(value)
    assert decode_temperature_measurement(data) == value
    assert encode_temperature_measurement(decode_temperature_measurement(data)) == data


@given(st.builds(IntermediateTemperature, **fields))
def test_intermediate_round_trip(value: IntermediateTemperature) -> None:
    assert decode_intermediate_temperature(encode_intermediate_temperature(value)) == value
