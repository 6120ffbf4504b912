"""Unit conversions from what devices send to the catalogue's canonical units.

Conversions happen once, when a sample is built; the typed values keep the unit the device used so
that encoding them gives back the device's bytes. Special values pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from nabd.contract.gatt.ieee11073 import MedFloat, Special

__all__ = [
    "GLUCOSE_MOLAR_MASS_G_PER_MOL",
    "INCH_IN_M",
    "MMHG_PER_KPA",
    "POUND_IN_KG",
    "convert",
    "fahrenheit_to_celsius",
    "glucose_kg_per_l_to_mmol_per_l",
    "glucose_mol_per_l_to_mmol_per_l",
    "inch_to_m",
    "kpa_to_mmhg",
    "pound_to_kg",
]

MMHG_PER_KPA: Final = 7.50061683
"""1 kPa in mmHg, taking 760 mmHg = 101325 Pa (1 mmHg = 1 torr); the conventional mmHg of
133.322387415 Pa differs by 1.4e-7 relative, far below any blood pressure resolution."""

POUND_IN_KG: Final = 0.45359237
"""The international avoirdupois pound, exact by definition (1959)."""

INCH_IN_M: Final = 0.0254
"""The international inch, exact by definition."""

GLUCOSE_MOLAR_MASS_G_PER_MOL: Final = 180.156
"""D-glucose, C6H12O6."""


def fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def kpa_to_mmhg(value: float) -> float:
    return value * MMHG_PER_KPA


def glucose_kg_per_l_to_mmol_per_l(value: float) -> float:
    """kg/L -> g/L (x 1000) -> mol/L (/ molar mass) -> mmol/L (x 1000)."""
    return value * 1_000_000.0 / GLUCOSE_MOLAR_MASS_G_PER_MOL


def glucose_mol_per_l_to_mmol_per_l(value: float) -> float:
    return value * 1000.0


def pound_to_kg(value: float) -> float:
    return value * POUND_IN_KG


def inch_to_m(value: float) -> float:
    return value * INCH_IN_M


def convert(value: MedFloat, conversion: Callable[[float], float]) -> MedFloat:
    """Apply ``conversion`` to a number; leave a special value as it is."""
    return value if isinstance(value, Special) else conversion(value)
