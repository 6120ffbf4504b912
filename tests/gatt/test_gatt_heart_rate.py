"""Heart Rate Measurement (0x2A37): vectors worked out from HRS / GSS, errors, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.errors import (
    GattDecodeError,
    GattValueError,
    TruncatedError,
)
from nabd.contract.gatt.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    decode_heart_rate_measurement,
    encode_heart_rate_measurement,
)
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag

NO_FLAGS: frozenset[SampleFlag] = frozenset()
CONTACT_LOST = frozenset({SampleFlag.SENSOR_CONTACT_LOST})


def test_minimal_uint8_value() -> None:
    # Flags 0x00 (uint8, no contact feature, nothing optional) | HR 0x48 = 72
    data = bytes.fromhex("00 48")
    value = decode_heart_rate_measurement(data)
    assert value == HeartRateMeasurement(heart_rate=72)
    assert value.samples() == [Sample(MetricKey.HEART_RATE, 72.0, NO_FLAGS)]
    assert encode_heart_rate_measurement(value) == data


def test_contact_detected_with_two_rr_intervals() -> None:
    # Flags 0x16: bit 1 contact detected, bit 2 contact supported, bit 4 RR present
    # HR 0x48 = 72 | RR 0x0334 = 820/1024 s | RR 0x0320 = 800/1024 s
    data = bytes.fromhex("16 48 34 03 20 03")
    value = decode_heart_rate_measurement(data)
    assert value.sensor_contact is SensorContact.DETECTED
    assert value.rr_intervals == (0.80078125, 0.78125)
    assert [s.metric for s in value.samples()] == [
        MetricKey.HEART_RATE,
        MetricKey.RR_INTERVAL,
        MetricKey.RR_INTERVAL,
    ]
    assert encode_heart_rate_measurement(value) == data


def test_uint16_energy_and_lost_contact() -> None:
    # Flags 0x0D: bit 0 uint16, bit 2 supported (bit 1 clear: not detected), bit 3 energy
    # HR 0x00B4 = 180 | Energy Expended 0x03E8 = 1000 kJ
    data = bytes.fromhex("0D B4 00 E8 03")
    value = decode_heart_rate_measurement(data)
    assert value == HeartRateMeasurement(
        heart_rate=180,
        uint16_format=True,
        sensor_contact=SensorContact.NOT_DETECTED,
        energy_expended=1000,
    )
    assert value.samples() == [
        Sample(MetricKey.HEART_RATE, 180.0, CONTACT_LOST),
        Sample(MetricKey.ENERGY_EXPENDED, 1000.0, NO_FLAGS),
    ]
    assert encode_heart_rate_measurement(value) == data


def test_contact_bit_without_support_means_not_supported() -> None:
    # Flags 0x02: "detected" without "supported" carries no information
    value = decode_heart_rate_measurement(bytes.fromhex("02 48"))
    assert value.sensor_contact is SensorContact.NOT_SUPPORTED
    assert value.samples()[0].flags == NO_FLAGS


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("", TruncatedError),  # no Flags
        ("01 48", TruncatedError),  # uint16 heart rate, one byte
    ],
)
def test_malformed_values(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"Heart Rate Measurement \(0x2A37\)"):
        decode_heart_rate_measurement(bytes.fromhex(hex_data))


def test_construction_checks_what_the_wire_can_carry() -> None:
    with pytest.raises(GattValueError):
        HeartRateMeasurement(heart_rate=300)  # needs the uint16 format
    with pytest.raises(GattValueError):
        HeartRateMeasurement(heart_rate=72, rr_intervals=(64.0,))  # above 65535/1024 s
    assert HeartRateMeasurement(heart_rate=72, rr_intervals=(0.8,)).rr_intervals == (819 / 1024,)


heart_rates = st.one_of(
    st.builds(
        HeartRateMeasurement,
        heart_rate=st.integers(0, 0xFF),
        uint16_format=st.just(False),
        sensor_contact=st.sampled_from(SensorContact),
        energy_expended=st.none() | st.integers(0, 0xFFFF),
        rr_intervals=st.lists(st.floats(0, 63.99), max_size=9).map(tuple),
    ),
    st.builds(
        HeartRateMeasurement,
        heart_rate=st.integers(0, 0xFFFF),
        uint16_format=st.just(True),
        sensor_contact=st.sampled_from(SensorContact),
    ),
)


@given(heart_rates)
def test_round_trip(value: HeartRateMeasurement) -> None:
    data = encode_heart_rate_measurement(value)
    assert decode_heart_rate_measurement(data) == value
    assert encode_heart_rate_measurement(decode_heart_rate_measurement(data)) == data
