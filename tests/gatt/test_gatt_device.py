"""Battery Level (0x2A19) and Device Information Service strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.device import (
    BatteryLevel,
    DeviceInfoCharacteristic,
    DeviceInfoString,
    decode_battery_level,
    decode_device_info_string,
    encode_battery_level,
    encode_device_info_string,
)
from nabd.contract.gatt.errors import (
    GattDecodeError,
    GattValueError,
    InvalidFieldError,
    TruncatedError,
)
from nabd.contract.gatt.samples import MetricKey, Sample

MODEL = DeviceInfoCharacteristic.MODEL_NUMBER


@pytest.mark.parametrize(("hex_data", "percent"), [("00", 0), ("37", 55), ("64", 100)])
def test_battery_levels(hex_data: str, percent: int) -> None:
    value = decode_battery_level(bytes.fromhex(hex_data))
    assert value == BatteryLevel(percent)
    assert value.samples() == [Sample(MetricKey.BATTERY_LEVEL, float(percent), frozenset())]
    assert encode_battery_level(value) == bytes.fromhex(hex_data)


@pytest.mark.parametrize(
    ("hex_data", "error"),
    [
        ("65", InvalidFieldError),  # 101 %
        ("FF", InvalidFieldError),
        ("", TruncatedError),
    ],
)
def test_malformed_battery_levels(hex_data: str, error: type[GattDecodeError]) -> None:
    with pytest.raises(error, match=r"Battery Level \(0x2A19\)"):
        decode_battery_level(bytes.fromhex(hex_data))


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"Nabd Sim\x00\x00\x00", "Nabd Sim"),  # NUL padding to a fixed size
        (b"\x4f\x78\x69\x6d\xc3\xa8\x74\x72\x65", "Oxim\u00e8tre"),  # UTF-8 e-grave
        (b"", ""),
        (b"\x00\x00", ""),
    ],
)
def test_device_information_strings(data: bytes, text: str) -> None:
    value = decode_device_info_string(MODEL, data)
    assert value == DeviceInfoString(MODEL, text)
    assert value.uuid == 0x2A24
    assert value.samples() == []
    assert encode_device_info_string(value) == data.rstrip(b"\0")


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe",  # not UTF-8
        b"\xc3",  # a cut multi-byte sequence
        b"AB\x00junk",  # a buffer, not a string
        b"x" * 513,  # longer than any attribute value
    ],
)
def test_malformed_device_information(data: bytes) -> None:
    with pytest.raises(InvalidFieldError, match=r"Model Number String \(0x2A24\)"):
        decode_device_info_string(MODEL, data)


def test_typed_values_are_checked() -> None:
    with pytest.raises(GattValueError):
        BatteryLevel(101)
    with pytest.raises(GattValueError):
        DeviceInfoString(MODEL, "\ud800")  # a lone surrogate has no UTF-8 form


@given(
    st.sampled_from(DeviceInfoCharacteristic),
    st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=100),
)
def test_string_round_trip(characteristic: DeviceInfoCharacteristic, text: str) -> None:
    value = DeviceInfoString(characteristic, text)
    assert decode_device_info_string(characteristic, encode_device_info_string(value)) == value
