"""PLX Spot-check (0x2A5E) and Continuous (0x2A5F) Measurements: vectors from PLXS / GSS."""

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
from nabd.contract.gatt.ieee11073 import Special, decode_sfloat
from nabd.contract.gatt.plx import (
    PlxContinuousMeasurement,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSpotCheckMeasurement,
    SpO2PulseRate,
    decode_plx_continuous_measurement,
    decode_plx_spot_check_measurement,
    encode_plx_continuous_measurement,
    encode_plx_spot_check_measurement,
)
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag


def test_spot_check_minimal() -> None:
    # Flags 0x00 | SpO2 SFLOAT 0x0061 = 97 | PR SFLOAT 0x0048 = 72
    data = bytes.fromhex("00 61 00 48 00")
    value = decode_plx_spot_check_measurement(data)
    assert value == PlxSpotCheckMeasurement(spo2=97, pulse_rate=72)
    assert value.samples() == [
        Sample(MetricKey.SPO2, 97.0, frozenset()),
        Sample(MetricKey.PULSE_RATE, 72.0, frozenset()),
    ]
    assert encode_plx_spot_check_measurement(value) == data


def test_spot_check_with_every_field() -> None:
    # Flags 0x1F: timestamp, measurement status, device+sensor status, PAI, clock not set
    # SpO2 0xF3D9 = 985e-1 | PR 0x0048 = 72
    # Timestamp 2024 (0x07E8) -03-15 10:30:00
    # Measurement Status 0x4040: early estimated data (bit 6), questionable (bit 14)
    # Device and Sensor Status 0x002020: low perfusion (bit 5), sensor displaced (bit 13)
    # PAI 0xF019 = 25e-1 %
    data = bytes.fromhex("1F D9 F3 48 00 E8 07 03 0F 0A 1E 00 40 40 20 20 00 19 F0")
    value = decode_plx_spot_check_measurement(data)
    assert value == PlxSpotCheckMeasurement(
        spo2=98.5,
        pulse_rate=72,
        timestamp=DateTime(2024, 3, 15, 10, 30, 0),
        measurement_status=PlxMeasurementStatus.EARLY_ESTIMATED_DATA
        | PlxMeasurementStatus.QUESTIONABLE_MEASUREMENT_DETECTED,
        device_sensor_status=PlxDeviceSensorStatus.LOW_PERFUSION_DETECTED
        | PlxDeviceSensorStatus.SENSOR_DISPLACED,
        pulse_amplitude_index=2.5,
        device_clock_not_set=True,
    )
    assert value.measured_at is None  # the device says its clock is not set
    flags = frozenset(
        {SampleFlag.EARLY_ESTIMATE, SampleFlag.QUESTIONABLE, SampleFlag.SENSOR_CONTACT_LOST}
    )
    assert value.samples() == [
        Sample(MetricKey.SPO2, 98.5, flags),
        Sample(MetricKey.PULSE_RATE, 72.0, flags),
        Sample(MetricKey.PULSE_AMPLITUDE_INDEX, 2.5, flags),
    ]
    assert encode_plx_spot_check_measurement(value) == data


def test_spot_check_unavailable_values() -> None:
    # Flags 0x03: timestamp + measurement status | SpO2 NaN 0x07FF | PR NaN 0x07FF
    # Timestamp 2024-03-15 10:30:00 | Measurement Status 0x2000: measurement unavailable
    data = bytes.fromhex("03 FF 07 FF 07 E8 07 03 0F 0A 1E 00 00 20")
    value = decode_plx_spot_check_measurement(data)
    assert value.spo2 is Special.NAN
    assert value.measured_at == datetime(2024, 3, 15, 10, 30)
    assert [(s.value, s.flags) for s in value.samples()] == [
        (None, frozenset({SampleFlag.UNAVAILABLE})),
        (None, frozenset({SampleFlag.UNAVAILABLE})),
    ]


def test_reserved_status_bits_are_ignored() -> None:
    # Flags 0x06 | 97 | 72 | Measurement Status 0x001F (bits 0-4 reserved)
    # | Device and Sensor Status 0xFF0000 (bits 16-23 reserved)
    value = decode_plx_spot_check_measurement(bytes.fromhex("06 61 00 48 00 1F 00 00 00 FF"))
    assert value.measurement_status == PlxMeasurementStatus(0)
    assert value.device_sensor_status == PlxDeviceSensorStatus(0)


def test_continuous_with_every_field() -> None:
    # Flags 0x1F: fast, slow, measurement status, device+sensor status, PAI
    # Normal 97/72 | Fast 0x0060 = 96 / 0x0049 = 73 | Slow 0x0062 = 98 / 0x0047 = 71
    # Measurement Status 0x0800: data for testing | Device Status 0x000040: erratic signal
    # PAI 0x000A = 10 %
    data = bytes.fromhex("1F 61 00 48 00 60 00 49 00 62 00 47 00 00 08 40 00 00 0A 00")
    value = decode_plx_continuous_measurement(data)
    assert value == PlxContinuousMeasurement(
        spo2=97,
        pulse_rate=72,
        fast=SpO2PulseRate(96, 73),
        slow=SpO2PulseRate(98, 71),
        measurement_status=PlxMeasurementStatus.DATA_FOR_TESTING,
        device_sensor_status=PlxDeviceSensorStatus.ERRATIC_SIGNAL_DETECTED,
        pulse_amplitude_index=10,
    )
    flags = frozenset({SampleFlag.TEST_DATA, SampleFlag.MOTION})
    assert value.samples() == [
        Sample(MetricKey.SPO2, 97.0, flags),
        Sample(MetricKey.PULSE_RATE, 72.0, flags),
        Sample(MetricKey.PULSE_AMPLITUDE_INDEX, 10.0, flags),
    ]
    assert encode_plx_continuous_measurement(value) == data


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("00 61 00 48", TruncatedError),
    ],
)
def test_malformed_spot_check(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"PLX Spot-check Measurement \(0x2A5E\)"):
        decode_plx_spot_check_measurement(bytes.fromhex(hex_data))


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("", TruncatedError),  # no Flags
        ("00 61 00 48", TruncatedError),  # the mandatory pulse rate cut short
        ("1F 61", TruncatedError),  # every optional field announced, mandatory SpO2 only
    ],
)
def test_malformed_continuous(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"PLX Continuous Measurement \(0x2A5F\)"):
        decode_plx_continuous_measurement(bytes.fromhex(hex_data))


sfloats = st.one_of(
    st.builds(decode_sfloat, st.integers(0, 0xFFFF)),
    st.floats(min_value=-2e10, max_value=2e10),
)
date_times = st.builds(
    DateTime.from_datetime, st.datetimes(datetime(1582, 1, 1), datetime(9999, 12, 31))
)
measurement_status = st.builds(
    PlxMeasurementStatus, st.integers(0, 0xFFFF).map(lambda b: b & ~0x1F)
)
device_status = st.builds(PlxDeviceSensorStatus, st.integers(0, 0xFFFF))
pairs = st.builds(SpO2PulseRate, sfloats, sfloats)


@given(
    st.builds(
        PlxSpotCheckMeasurement,
        spo2=sfloats,
        pulse_rate=sfloats,
        timestamp=st.none() | date_times,
        measurement_status=st.none() | measurement_status,
        device_sensor_status=st.none() | device_status,
        pulse_amplitude_index=st.none() | sfloats,
        device_clock_not_set=st.booleans(),
    )
)
def test_spot_check_round_trip(value: PlxSpotCheckMeasurement) -> None:
    data = encode_plx_spot_check_measurement(value)
    assert decode_plx_spot_check_measurement(data) == value
    assert encode_plx_spot_check_measurement(decode_plx_spot_check_measurement(data)) == data


@given(
    st.builds(
        PlxContinuousMeasurement,
        spo2=sfloats,
        pulse_rate=sfloats,
        fast=st.none() | pairs,
        slow=st.none() | pairs,
        measurement_status=st.none() | measurement_status,
        device_sensor_status=st.none() | device_status,
        pulse_amplitude_index=st.none() | sfloats,
    )
)
def test_continuous_round_trip(value: PlxContinuousMeasurement) -> None:
    data = encode_plx_continuous_measurement(value)
    assert decode_plx_continuous_measurement(data) == value
    assert encode_plx_continuous_measurement(decode_plx_continuous_measurement(data)) == data
