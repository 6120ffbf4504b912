"""The nurse station and the alert sentences write a number alike in each language: the value
in a bed's cell (``Translator.number``) reads as in the alert beside it (``alert_text``), a
decimal comma in French and in Arabic (CLDR ``ar-MA``), Western digits everywhere. Pure: no
database, no browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nabd.contract.alert_text import render
from nabd.contract.numbers import number
from nabd.contract.payloads import AlertFacts
from nabd.station.i18n import Translator
from nabd.station.users import Language


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize(
    ("value", "decimals"),
    [
        (86.0, 0),
        (120.0, 0),
        (39.4, 1),
        (35.0, 1),
        (-1.5, 1),
        (-0.04, 1),
        (72.25, None),
        (5.0, None),
    ],
)
def test_the_station_writes_numbers_with_the_contracts_function(
    lang: Language, value: float, decimals: int | None
) -> None:
    assert Translator(lang).number(value, decimals) == number(value, lang.value, decimals)


@pytest.mark.parametrize(
    ("facts", "shown"),
    [
        (
            AlertFacts(condition="spo2_low", value=86.0, unit="%", limit=90.0),
            [(86.0, 0), (90.0, 0)],
        ),
        (
            AlertFacts(condition="temperature_high", value=39.4, unit="Cel", limit=39.1),
            [(39.4, 1), (39.1, 1)],
        ),
        (
            AlertFacts(condition="hypoglycaemia", value=2.8, unit="mmol/L", limit=3.0),
            [(2.8, 1), (3.0, 1)],
        ),
        (AlertFacts(condition="weight_gain", value=-1.5, unit="kg"), [(-1.5, 1)]),
    ],
)
@pytest.mark.parametrize("lang", list(Language))
def test_an_alert_writes_its_numbers_as_the_station_does(
    facts: AlertFacts, shown: list[tuple[float, int]], lang: Language
) -> None:
    sentence = render(facts, lang.value)
    for value, decimals in shown:
        assert Translator(lang).number(value, decimals) in sentence, sentence


def test_arabic_writes_a_decimal_comma_in_both() -> None:
    facts = AlertFacts(condition="temperature_high", value=39.4, unit="Cel", limit=39.1)
    assert render(facts, "ar") == "ارتفاع الحرارة: 39,4 °C (الحد 39,1 °C)"
    assert Translator(Language.AR).number(39.4, 1) == "39,4"
    assert Translator(Language.AR).number(-1.5, 1) == "-1,5"
    assert Translator(Language.AR).number(86, 0) == "86"
    trend = AlertFacts(condition="heart_rate_trend", value=-2.5, unit="/min")
    assert render(trend, "ar").startswith("تغير مستمر في نبض القلب: -2,5 /min/ساعة")


@pytest.mark.parametrize(
    ("seconds", "en", "ar"),
    [
        (41, "41 s ago", "منذ 41 ثانية"),
        (180, "3 min ago", "منذ 3 دقيقة"),
        (7200, "2 h ago", "منذ 2 ساعة"),
    ],
)
def test_an_age_is_written_with_each_languages_unit_words(seconds: int, en: str, ar: str) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    at = now - timedelta(seconds=seconds)
    assert Translator(Language("en")).age(at, now) == en
    assert Translator(Language("ar")).age(at, now) == ar
