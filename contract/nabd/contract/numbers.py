"""Numbers as each of Nabd's languages writes them, for every reader that shows one to a person.

Western digits (0-9) in all three languages: the Maghreb's Arabic writes them, as the devices
and the charts do (Arabic-Indic digits are the Mashriq's, not the users' here). The decimal
separator is CLDR's: ``en`` a point, ``fr`` and ``ar-MA`` a comma. No grouping: a vital sign, a
limit or a weight has at most four digits. The nurse station's labels and charts
(``nabd.station.i18n``) and the alert sentences (:mod:`nabd.contract.alert_text`) both write
numbers here, so "39,4" on the station never reads "39.4" in the alert beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["DECIMAL", "number"]

DECIMAL: Final[Mapping[str, str]] = MappingProxyType({"en": ".", "fr": ",", "ar": ","})
"""Decimal separator per language (any other language: a point)."""


def number(value: float, lang: str, decimals: int | None = None, *, signed: bool = False) -> str:
    """``value`` with ``decimals`` places (None: as few as it needs, at most 2) and ``lang``'s
    decimal separator; ``signed`` writes ``+`` before a positive one (a trend). A zero never
    reads ``-0``; an infinite value reads ``∞`` (an open limit)."""
    if math.isinf(value):
        return ("-" if value < 0 else "+" if signed else "") + "∞"
    text = f"{value:.2f}".rstrip("0").rstrip(".") if decimals is None else f"{value:.{decimals}f}"
    if text.startswith("-") and not text.strip("-0."):  # rounds to zero
        text = text[1:]
    if signed and not text.startswith("-"):
        text = "+" + text
    return text.replace(".", DECIMAL.get(lang, "."))
