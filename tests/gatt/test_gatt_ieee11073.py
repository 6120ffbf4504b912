"""IEEE 11073-20601 SFLOAT / FLOAT: known codes worked out by hand, specials, encoder rounding."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.errors import GattValueError
from nabd.contract.gatt.ieee11073 import (
    FLOAT,
    SFLOAT,
    Special,
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
    finite_or_none,
    quantize_sfloat,
)

SFLOAT_SPECIALS = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
FLOAT_SPECIALS = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0x0072, 114.0),  # exponent 0, mantissa 0x072 = 114
        (0xF2E6, 74.2),  # exponent 0xF = -1, mantissa 0x2E6 = 742
        (0xF014, 2.0),  # exponent -1, mantissa 20 (HL7 PHD IG example)
        (0xE0C8, 2.0),  # exponent -2, mantissa 200
        (0x1002, 20.0),  # exponent 1, mantissa 2
        (0x0FFF, -1.0),  # exponent 0, mantissa 0xFFF = -1 (two's complement)
        (0xFF9C, -10.0),  # exponent -1, mantissa 0xF9C = -100
        (0x8001, 1e-8),  # exponent 0x8 = -8, mantissa 1
        (0x77FD, 2.045e10),  # exponent 7, mantissa 0x7FD = 2045
        (0x17FF, 20470.0),  # exponent 1, mantissa 2047: NaN's mantissa but not exponent 0
        (0x1800, -20480.0),  # exponent 1, mantissa -2048: finite away from exponent 0
        (0x0000, 0.0),
    ],
)
def test_sfloat_known_values(raw: int, expected: float) -> None:
    assert decode_sfloat(raw) == expected


@pytest.mark.parametrize(("raw", "special"), SFLOAT_SPECIALS.items())
def test_sfloat_special_values_are_never_numbers(raw: int, special: Special) -> None:
    assert decode_sfloat(raw) is special
    assert encode_sfloat(special) == raw
    assert finite_or_none(decode_sfloat(raw)) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0xFF00016E, 36.6),  # exponent -1, mantissa 0x00016E = 366
        (0xFF0003DA, 98.6),  # exponent -1, mantissa 986
        (0xFE000E74, 37.0),  # exponent -2, mantissa 0x000E74 = 3700
        (0x00FFFFFF, -1.0),  # exponent 0, mantissa -1
        (0x7F000001, 1e127),  # exponent 127, mantissa 1
        (0x80000001, 1e-128),  # exponent -128, mantissa 1
        (0x017FFFFF, 83886070.0),  # exponent 1: NaN's mantissa is a number here
    ],
)
def test_float_known_values(raw: int, expected: float) -> None:
    assert decode_float(raw) == expected


@pytest.mark.parametrize(("raw", "special"), FLOAT_SPECIALS.items())
def test_float_special_values_are_never_numbers(raw: int, special: Special) -> None:
    assert decode_float(raw) is special
    assert encode_float(special) == raw


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        (114, 0x0072),  # exact, exponent closest to 0 (not 0xF474 = 1140e-1)
        (74.2, 0xF2E6),
        (36.6, 0xF16E),  # mantissa 366, exponent -1
        (0.5, 0xF005),
        (-10.0, 0x0FF6),  # mantissa -10 (0xFF6), exponent 0
        (2e10, 0x77D0),  # mantissa 2000 (0x7D0), exponent 7: 2e10 needs a positive exponent
        (0.0012, 0xC00C),  # mantissa 12, exponent -4 (a meter may send 120e-5: 0xB078)
        (97.123, 0xF3CB),  # rounded to 971e-1: 9712e-2 does not fit in 12 bits
        (100.25, 0xF3EA),  # 1002.5 -> 1002 (half to even) at exponent -1
        (100.35, 0xF3EC),  # 1003.5 -> 1004 (half to even)
        (2047, 0x10CD),  # 2047e0 is NaN's code: 205e1 = 2050 instead
        (-2048, 0x1F33),  # -2048e0 is NRes's code: -205e1
        (2.047e10, 0x77FF),  # largest SFLOAT: mantissa 2047 at exponent 7 is a number
    ],
)
def test_sfloat_encoder_choice(value: float, raw: int) -> None:
    assert encode_sfloat(value) == raw


def test_float_encoder_choice() -> None:
    assert encode_float(36.6) == 0xFF00016E
    assert encode_float(37) == 0x00000025  # exact, exponent 0
    # 8388607e0 is NaN's code; the encoder falls back to 838861e1.
    assert encode_float(8388607) == 0x010CCCCD
    assert decode_float(encode_float(36.612345678)) == 36.61235  # seven digits kept


@pytest.mark.parametrize("value", [2.05e10, -2.05e10, 1e300])
def test_sfloat_overflow_is_an_error_not_infinity(value: float) -> None:
    with pytest.raises(GattValueError, match="SFLOAT"):
        encode_sfloat(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_need_an_explicit_special(value: float) -> None:
    with pytest.raises(GattValueError):
        encode_sfloat(value)
    with pytest.raises(GattValueError):
        encode_float(value)


def test_underflow_rounds_to_zero() -> None:
    assert quantize_sfloat(1e-9) == 0.0


@given(st.integers(0, 0xFFFF))
def test_every_sfloat_code_reencodes_to_its_value(raw: int) -> None:
    value = decode_sfloat(raw)
    assert decode_sfloat(encode_sfloat(value)) == value


@given(st.integers(0, 0xFFFFFFFF))
def test_every_float_code_reencodes_to_its_value(raw: int) -> None:
    value = decode_float(raw)
    assert decode_float(encode_float(value)) == value


@given(st.floats(min_value=-2.04e10, max_value=2.04e10))
def test_sfloat_rounding_stays_within_half_a_unit(value: float) -> None:
    raw = encode_sfloat(value)
    assert raw not in SFLOAT_SPECIALS
    exponent = (raw >> 12) - 16 if raw >> 12 >= 8 else raw >> 12
    decoded = decode_sfloat(raw)
    assert isinstance(decoded, float)
    # Rounded half-to-even in the last kept digit: off by at most half of 10**exponent.
    error = abs(Decimal(repr(value)) - Decimal(repr(decoded)))
    assert error <= Decimal(10) ** exponent / 2
    assert encode_sfloat(decoded) == raw  # one code per number


@given(st.floats(min_value=-1e130, max_value=1e130))
def test_float_encoding_is_idempotent(value: float) -> None:
    once = decode_float(encode_float(value))
    assert encode_float(once) == encode_float(value)
    assert not isinstance(once, Special)


def test_layouts_match_the_standard() -> None:
    assert SFLOAT.mantissa_range == (-2048, 2047)
    assert SFLOAT.exponent_range == (-8, 7)
    assert FLOAT.mantissa_range == (-(2**23), 2**23 - 1)
    assert FLOAT.exponent_range == (-128, 127)
