"""IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit), the numbers of the health GATT services.

Both are ``mantissa * 10 ** exponent`` with two's-complement fields: SFLOAT has a 4-bit exponent
over a 12-bit mantissa, FLOAT an 8-bit exponent over a 24-bit mantissa. Five codes, all with
exponent 0, are not numbers (IEEE 11073-20601 / GATT Specification Supplement "medfloat"):

============  ==========  ============
meaning       SFLOAT      FLOAT
============  ==========  ============
NaN           ``0x07FF``  ``0x007FFFFF``
NRes          ``0x0800``  ``0x00800000``
+INFINITY     ``0x07FE``  ``0x007FFFFE``
-INFINITY     ``0x0802``  ``0x00800002``
reserved      ``0x0801``  ``0x00800001``
============  ==========  ============

A decoded value is a ``float`` or a :class:`Special`; a special code never becomes a finite number.
Only these exact codes are special: the standard defines them with exponent 0, so ``0x17FF`` is
the finite 20470.

Decoding is exact to the float: ``m * 10 ** e`` is computed in integers and rounded once.

Encoding a float picks the exponent as follows (the encoded value is what :func:`quantize_sfloat`
/ :func:`quantize_float` return):

1. take the shortest decimal that round-trips the float (what ``repr`` shows: ``36.6``, not
   ``36.600000000000001``);
2. if that decimal fits exactly, use the exact code whose exponent is closest to 0, which is
   how devices write integers (``114`` is ``0x0072``, not ``0xF474``; ``36.6`` is mantissa 366,
   exponent -1; ``2e10`` is mantissa 2000, exponent 7);
3. otherwise round it half-to-even at the *smallest* exponent whose mantissa fits, i.e. keep as
   many digits as the format allows (3-4 significant digits for SFLOAT, 6-7 for FLOAT), then
   write the rounded number as in 2 (so every number has one code: encoding is canonical);
4. a magnitude too large for the format raises :class:`GattValueError`; one too small rounds to 0.

A finite value is never encoded as one of the special codes (2047 in SFLOAT becomes 2050, that is
mantissa 205, exponent 1). Every finite value a decoder returns re-encodes to itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from types import MappingProxyType
from typing import Final, TypeAlias

from nabd.contract.gatt.errors import GattValueError

__all__ = [
    "FLOAT",
    "SFLOAT",
    "MedFloat",
    "NumberFormat",
    "Special",
    "decode_float",
    "decode_sfloat",
    "encode_float",
    "encode_sfloat",
    "finite_or_none",
    "quantize_float",
    "quantize_sfloat",
]


class Special(Enum):
    """The IEEE 11073 values that are not numbers."""

    NAN = "NaN"
    """Not a number: the device has no valid value (for example no signal)."""
    NRES = "NRes"
    """Not at this resolution: the value cannot be expressed with the device's precision."""
    POSITIVE_INFINITY = "+INFINITY"
    """Above the device's measuring range."""
    NEGATIVE_INFINITY = "-INFINITY"
    """Below the device's measuring range."""
    RESERVED = "reserved"
    """Reserved for future use by the standard; no meaning yet, so never a number."""


MedFloat: TypeAlias = float | Special
"""A decoded SFLOAT/FLOAT: a finite float, or the special value the device sent."""


def _signed(raw: int, bits: int) -> int:
    return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw


def _scaled(mantissa: int, exponent: int) -> float:
    # Integer arithmetic, one rounding: 742 * 10**-1 must be the float nearest 74.2.
    power: int = 10 ** abs(exponent)
    return float(mantissa * power) if exponent >= 0 else mantissa / power


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """One of the two IEEE 11073 decimal float layouts."""

    name: str
    mantissa_bits: int
    exponent_bits: int
    specials: Mapping[int, Special]
    """Raw code -> special value; every code has exponent 0."""

    @property
    def mantissa_range(self) -> tuple[int, int]:
        half = 1 << (self.mantissa_bits - 1)
        return -half, half - 1

    @property
    def exponent_range(self) -> tuple[int, int]:
        half = 1 << (self.exponent_bits - 1)
        return -half, half - 1

    @property
    def raw_limit(self) -> int:
        return 1 << (self.mantissa_bits + self.exponent_bits)

    def decode(self, raw: int) -> MedFloat:
        """The value of the raw (unsigned) code ``raw``."""
        if not 0 <= raw < self.raw_limit:
            raise GattValueError(f"{self.name} code {raw:#x} does not fit in its width")
        special = self.specials.get(raw)
        if special is not None:
            return special
        mantissa = _signed(raw & ((1 << self.mantissa_bits) - 1), self.mantissa_bits)
        exponent = _signed(raw >> self.mantissa_bits, self.exponent_bits)
        return _scaled(mantissa, exponent)

    def encode(self, value: MedFloat) -> int:
        """The raw (unsigned) code for ``value``; see the module docstring for the rounding."""
        if isinstance(value, Special):
            return self._special_codes[value]
        if not math.isfinite(value):
            raise GattValueError(f"{self.name} cannot carry {value!r}: pass a Special instead")
        mantissa, exponent = self._parts(Decimal(repr(float(value))))
        mantissa_mask = (1 << self.mantissa_bits) - 1
        exponent_mask = (1 << self.exponent_bits) - 1
        return ((exponent & exponent_mask) << self.mantissa_bits) | (mantissa & mantissa_mask)

    @property
    def _special_codes(self) -> Mapping[Special, int]:
        return {special: code for code, special in self.specials.items()}

    def _fits(self, mantissa: int, exponent: int) -> bool:
        low, high = self.mantissa_range
        if not low <= mantissa <= high:
            return False
        mantissa_mask = (1 << self.mantissa_bits) - 1
        return not (exponent == 0 and (mantissa & mantissa_mask) in self.specials)

    def _parts(self, value: Decimal) -> tuple[int, int]:
        if value.is_zero():
            return 0, 0
        exact = self._exact_parts(value)
        if exact is not None:
            return exact
        low, high = self.exponent_range
        digits = len(str(self.mantissa_range[1]))
        for exponent in range(max(low, value.adjusted() - digits), high + 1):
            scaled = value.scaleb(-exponent).to_integral_value(rounding=ROUND_HALF_EVEN)
            if self._fits(int(scaled), exponent):
                # Canonical form of the rounded value: 1000000e124 is sent as 1000e127.
                return self._exact_parts(scaled.scaleb(exponent)) or (int(scaled), exponent)
        raise GattValueError(f"{value} is beyond the {self.name} range")

    def _exact_parts(self, value: Decimal) -> tuple[int, int] | None:
        """The exact code closest to exponent 0 (so integers that fit get exponent 0)."""
        sign, digit_tuple, exponent = value.normalize().as_tuple()
        if not isinstance(exponent, int):  # pragma: no cover - finite by construction
            return None
        coefficient = int("".join(map(str, digit_tuple))) * (-1 if sign else 1)
        low, high = self.exponent_range
        # Exact codes have exponent <= the normalised one; the mantissa shrinks as it grows.
        if exponent < 0:
            candidates: range | list[int] = [exponent] if exponent >= low else []
        else:
            candidates = range(min(exponent, high) + 1)
        for chosen in candidates:
            mantissa = coefficient * 10 ** (exponent - chosen)
            if self._fits(mantissa, chosen):
                return mantissa, chosen
        return None


SFLOAT: Final = NumberFormat(
    name="SFLOAT",
    mantissa_bits=12,
    exponent_bits=4,
    specials=MappingProxyType(
        {
            0x07FF: Special.NAN,
            0x0800: Special.NRES,
            0x07FE: Special.POSITIVE_INFINITY,
            0x0802: Special.NEGATIVE_INFINITY,
            0x0801: Special.RESERVED,
        }
    ),
)

FLOAT: Final = NumberFormat(
    name="FLOAT",
    mantissa_bits=24,
    exponent_bits=8,
    specials=MappingProxyType(
        {
            0x007FFFFF: Special.NAN,
            0x00800000: Special.NRES,
            0x007FFFFE: Special.POSITIVE_INFINITY,
            0x00800002: Special.NEGATIVE_INFINITY,
            0x00800001: Special.RESERVED,
        }
    ),
)


def decode_sfloat(raw: int) -> MedFloat:
    """Value of a 16-bit SFLOAT code (as an unsigned int, already byte-swapped)."""
    return SFLOAT.decode(raw)


def encode_sfloat(value: MedFloat) -> int:
    """16-bit SFLOAT code for ``value``."""
    return SFLOAT.encode(value)


def decode_float(raw: int) -> MedFloat:
    """Value of a 32-bit FLOAT code (as an unsigned int, already byte-swapped)."""
    return FLOAT.decode(raw)


def encode_float(value: MedFloat) -> int:
    """32-bit FLOAT code for ``value``."""
    return FLOAT.encode(value)


def quantize_sfloat(value: MedFloat) -> MedFloat:
    """``value`` as an SFLOAT will carry it: what the receiver of ``encode_sfloat(value)`` reads."""
    return SFLOAT.decode(SFLOAT.encode(value))


def quantize_float(value: MedFloat) -> MedFloat:
    """``value`` as a FLOAT will carry it: what the receiver of ``encode_float(value)`` reads."""
    return FLOAT.decode(FLOAT.encode(value))


def finite_or_none(value: MedFloat) -> float | None:
    """The number, or ``None`` for a special value: the form a sample carries."""
    return None if isinstance(value, Special) else value
