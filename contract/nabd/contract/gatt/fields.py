"""Validation and normalisation helpers for the typed characteristic values.

Typed values are *quantised on construction*: a field is stored as the wire will carry it (an
SFLOAT field holds what the receiver of its SFLOAT reads, an RR interval a multiple of 1/1024 s).
So a value that constructs can always be encoded, and ``decode(encode(x)) == x`` for every ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import IntFlag
from typing import TypeVar

from nabd.contract.gatt.errors import GattValueError
from nabd.contract.gatt.ieee11073 import MedFloat, quantize_float, quantize_sfloat

__all__ = [
    "check_flag_bits",
    "check_range",
    "on_grid",
    "quantized",
    "replace_field",
]

F = TypeVar("F", bound=IntFlag)


def check_range(owner: str, field: str, value: int, low: int, high: int) -> None:
    """Reject an integer field outside ``[low, high]``."""
    if not low <= value <= high:
        raise GattValueError(f"{owner}: {field} {value} is outside {low}..{high}")


def check_flag_bits(owner: str, field: str, value: F, defined: int) -> None:
    """Reject a status bit set that uses bits the specification does not define."""
    if int(value) & ~defined:
        raise GattValueError(f"{owner}: {field} sets undefined bits {int(value) & ~defined:#x}")


def replace_field(instance: object, field: str, value: object) -> None:
    """Store a normalised field on a frozen dataclass (only from ``__post_init__``)."""
    object.__setattr__(instance, field, value)


def quantized(owner: str, field: str, value: MedFloat, *, wide: bool = False) -> MedFloat:
    """``value`` as an SFLOAT (or, with ``wide``, a FLOAT) carries it."""
    quantize: Callable[[MedFloat], MedFloat] = quantize_float if wide else quantize_sfloat
    try:
        return quantize(value)
    except GattValueError as exc:
        raise GattValueError(f"{owner}: {field}: {exc}") from exc


def on_grid(owner: str, field: str, value: float, per_unit: int, maximum: int) -> float:
    """``value`` rounded to a multiple of ``1 / per_unit``, as a uint field of that resolution.

    Returns ``count / per_unit`` (one correctly rounded division), the exact float a decoder
    produces from the raw ``count``; ``count`` must lie in ``0..maximum``.
    """
    scaled = value * per_unit
    count = round(scaled) if math.isfinite(scaled) else -1
    if not 0 <= count <= maximum:
        raise GattValueError(
            f"{owner}: {field} {value} is outside 0..{maximum / per_unit} at 1/{per_unit}"
        )
    return count / per_unit
