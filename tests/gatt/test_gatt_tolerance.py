"""Real devices are messy: what every decoder tolerates on receipt, and what it still refuses.

The Bluetooth convention (Core Specification, "Reserved for Future Use"; each characteristic of
the GATT Specification Supplement) is that a receiver ignores reserved bits and values, and later
revisions append fields at the end. So for every characteristic: reserved Flags bits and trailing
bytes change nothing, an optional field cut short or holding a reserved value or an impossible date
is dropped alone, and the mandatory values of the same notification are kept.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract.gatt import (
    BatteryLevel,
    BloodPressureMeasurement,
    GlucoseMeasurement,
    HeartRateMeasurement,
    PlxContinuousMeasurement,
    PlxSpotCheckMeasurement,
    PulseRateRange,
    TemperatureMeasurement,
    WeightMeasurement,
    decode,
    decode_battery_level,
    decode_blood_pressure_measurement,
    decode_glucose_measurement,
    decode_heart_rate_measurement,
    decode_plx_continuous_measurement,
    decode_plx_spot_check_measurement,
    decode_temperature_measurement,
    decode_weight_measurement,
    encode_blood_pressure_measurement,
)
from nabd.contract.gatt.errors import GattDecodeError
from nabd.contract.gatt.samples import MetricKey
from tests.security.fuzz_budget import examples

# Valid notifications (the known-answer tests' values) and the Flags bits each specification
# defines; every other Flags bit is reserved.
VALID = [
    (0x2A37, "16 48 34 03 20 03", 0x1F),
    (0x2A37, "0D B4 00 E8 03", 0x1F),
    (0x2A5E, "1F D9 F3 48 00 E8 07 03 0F 0A 1E 00 40 40 20 20 00 19 F0", 0x1F),
    (0x2A5F, "1F 61 00 48 00 60 00 49 00 62 00 47 00 00 08 40 00 00 0A 00", 0x1F),
    (0x2A1C, "07 DA 03 00 FF E8 07 02 1D 0D 05 09 06", 0x07),
    (0x2A1E, "00 74 01 00 FF", 0x07),
    (0x2A35, "1E 78 00 50 00 5D 00 E7 07 0C 1F 17 3B 3B 48 00 01 0C 00", 0x1F),
    (0x2A36, "04 96 00 FF 07 FF 07 48 00", 0x1F),
    (0x2A18, "03 01 00 E8 07 01 01 08 00 00 FB FF 01 D0 11", 0x1F),
    (0x2A9D, "0E B0 36 E8 07 06 01 07 1E 00 02 E5 00 D6 06", 0x0F),
]


def _rr_fills_the_rest(uuid: int, data: bytes) -> bool:
    """Heart Rate Measurement with RR intervals: they fill the value, so nothing trails them."""
    return uuid == 0x2A37 and bool(data[0] & 0x10)


@pytest.mark.parametrize(("uuid", "hex_data", "defined"), VALID, ids=str)
@settings(max_examples=examples(200), deadline=None)
@given(reserved=st.integers(0, 0xFF), trailing=st.binary(max_size=16))
def test_reserved_flag_bits_and_trailing_bytes_change_nothing(
    uuid: int, hex_data: str, defined: int, reserved: int, trailing: bytes
) -> None:
    data = bytes.fromhex(hex_data)
    if _rr_fills_the_rest(uuid, data):
        trailing = b""
    noisy = bytes([data[0] | (reserved & ~defined & 0xFF)]) + data[1:] + trailing
    assert decode(uuid, noisy) == decode(uuid, data)


@pytest.mark.parametrize(("uuid", "hex_data", "defined"), VALID, ids=str)
@given(keep=st.integers(0, 40))
def test_a_value_cut_short_keeps_what_arrived_or_is_refused(
    uuid: int, hex_data: str, defined: int, keep: int
) -> None:
    """Any prefix either raises a decode error (a mandatory field is missing) or yields samples
    whose values are those of the whole value: nothing is made up from a partial field."""
    data = bytes.fromhex(hex_data)
    whole = {s.metric: s.value for s in decode(uuid, data).samples()}
    try:
        part = decode(uuid, data[:keep])
    except GattDecodeError:
        return
    for sample in part.samples():
        if sample.metric is not MetricKey.RR_INTERVAL:
            assert sample.value == whole[sample.metric]


# -- what the issue saw against a peripheral built from bumble's own profiles -------------------


@pytest.mark.parametrize(
    ("hex_data", "heart_rate", "rr"),
    [
        ("10 48", 72, ()),  # RR flag set, empty RR list: the heart rate stays
        ("90 48", 72, ()),  # and a reserved bit with it
        ("E0 48", 72, ()),  # reserved bits 5-7
        ("20 48", 72, ()),
        ("10 48 34 03 20", 72, (0x0334 / 1024,)),  # an odd byte after a whole interval
        ("08 48 E8", 72, ()),  # energy expended cut short: dropped
        ("00 48 00", 72, ()),  # a byte no flag announces
    ],
)
def test_heart_rate_is_kept(hex_data: str, heart_rate: int, rr: tuple[float, ...]) -> None:
    value = decode_heart_rate_measurement(bytes.fromhex(hex_data))
    assert value == HeartRateMeasurement(
        heart_rate=heart_rate,
        sensor_contact=value.sensor_contact,
        rr_intervals=rr,
    )


def test_blood_pressure_with_reserved_bits_and_fields_it_cannot_read() -> None:
    # Reserved flag bits 5-7 (a real cuff's capture), user id announced but absent.
    value = decode_blood_pressure_measurement(bytes.fromhex("E8 78 00 50 00 5D 00"))
    assert value == BloodPressureMeasurement(systolic=120, diastolic=80, mean_arterial=93)
    # Pulse rate range 0b11 is reserved: the range is unknown, the pressures stand.
    status = decode_blood_pressure_measurement(bytes.fromhex("10 78 00 50 00 5D 00 18 00")).status
    assert status is not None
    assert status.pulse_rate_range is None


@pytest.mark.parametrize(
    "hex_data",
    [
        "01 61 00 48 00 E8 07 03",  # timestamp cut short
        "01 61 00 48 00 E8 07 0D 0F 0A 1E 00",  # month 13
        "04 61 00 48 00 00 00",  # 24-bit device status, two bytes
        "20 61 00 48 00",  # reserved flag bit
    ],
)
def test_spot_check_keeps_spo2_and_pulse(hex_data: str) -> None:
    value = decode_plx_spot_check_measurement(bytes.fromhex(hex_data))
    assert value == PlxSpotCheckMeasurement(spo2=97, pulse_rate=72)


@pytest.mark.parametrize("hex_data", ["01 61 00 48 00 60 00", "10 61 00 48 00", "40 61 00 48 00"])
def test_continuous_keeps_spo2_and_pulse(hex_data: str) -> None:
    value = decode_plx_continuous_measurement(bytes.fromhex(hex_data))
    assert value == PlxContinuousMeasurement(spo2=97, pulse_rate=72)


@pytest.mark.parametrize(
    "hex_data",
    [
        "04 6E 01 00 FF 00",  # temperature type 0 (reserved)
        "04 6E 01 00 FF 0A",  # temperature type 10 (reserved)
        "02 6E 01 00 FF E8 07 02 1E 00 00 00",  # 30 February
        "02 6E 01 00 FF E8 07 01 01 18 00 00",  # hour 24
        "08 6E 01 00 FF",  # reserved flag bit 3
        "00 6E 01 00 FF 06",  # a type without its flag
    ],
)
def test_temperature_is_kept(hex_data: str) -> None:
    assert decode_temperature_measurement(bytes.fromhex(hex_data)) == TemperatureMeasurement(
        temperature=36.6
    )


def test_weight_without_its_height_keeps_the_weight() -> None:
    value = decode_weight_measurement(bytes.fromhex("18 B0 36 E5 00"))
    assert value == WeightMeasurement(weight=70.0)


def test_glucose_with_reserved_type_and_location_keeps_the_concentration() -> None:
    value = decode_glucose_measurement(bytes.fromhex("22 01 00 E8 07 01 01 08 00 00 01 D0 F0"))
    assert isinstance(value, GlucoseMeasurement)
    assert value.concentration is not None
    assert value.concentration.sample_type is None
    assert [s.metric for s in value.samples()] == [MetricKey.GLUCOSE]


def test_battery_level_ignores_trailing_bytes() -> None:
    assert decode_battery_level(bytes.fromhex("64 00")) == BatteryLevel(100)


def test_unknown_pulse_rate_range_round_trips() -> None:
    value = decode_blood_pressure_measurement(bytes.fromhex("10 78 00 50 00 5D 00 18 00"))
    assert decode_blood_pressure_measurement(encode_blood_pressure_measurement(value)) == value
    assert value.status is not None
    assert value.status.pulse_rate_range is not PulseRateRange.WITHIN_RANGE
