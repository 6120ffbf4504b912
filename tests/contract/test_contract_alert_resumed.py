"""A silence alert once what fell silent is back: its facts (:func:`resumed`) keep what it
named, drop what described the silence, and say how long the whole silence lasted; its sentence
says what resumed and after how long, in French, English and Arabic, worded as ingest's watchdog
words ``monitoring_interrupted``."""

from __future__ import annotations

import pytest

from nabd.analytics.service.conditions import NAMES as CONDITION_NAMES
from nabd.contract.alert_text import LANGUAGES, RESUMED, SILENCES, render, renderings, resumed
from nabd.contract.payloads import AlertFacts


@pytest.mark.parametrize(
    ("raised", "silent_s", "expected"),
    [
        (
            AlertFacts(condition="stale_data", duration_s=100.0, items=("heart_rate", "spo2")),
            280.0,
            {
                "en": "Data arriving again after 4 min: heart rate, SpO2",
                "fr": "Données de nouveau reçues après 4 min : fréquence cardiaque, SpO2",
                "ar": "عودة وصول البيانات بعد 4 دقيقة: نبض القلب, SpO2",
            },
        ),
        (
            AlertFacts(condition="gateway_offline", duration_s=200.0),
            95.5,
            {
                "en": "Bedside gateway back online after 95 s",
                "fr": "Passerelle de chevet de nouveau en ligne après 95 s",
                "ar": "بوابة السرير متصلة من جديد بعد 95 ثانية",
            },
        ),
        (
            AlertFacts(condition="device_disconnected", duration_s=120.0, items=("thermo-7",)),
            300.0,
            {
                "en": "Device reconnected after 5 min: thermo-7",
                "fr": "Appareil reconnecté après 5 min : thermo-7",
                "ar": "الجهاز متصل من جديد بعد 5 دقيقة: thermo-7",
            },
        ),
        (
            AlertFacts(
                condition="home_gateway_offline", duration_s=13 * 3600.0, items=("gw-home-17",)
            ),
            15 * 3600.0,
            {
                "en": "Home gateway heard from again after 15 h: gw-home-17",
                "fr": "Passerelle du domicile de nouveau entendue après 15 h : gw-home-17",
                "ar": "بوابة المنزل تتصل من جديد بعد 15 ساعة: gw-home-17",
            },
        ),
    ],
)
def test_a_resolved_silence_says_what_resumed_and_after_how_long(
    raised: AlertFacts, silent_s: float, expected: dict[str, str]
) -> None:
    back = resumed(raised, raised.condition, silent_s)
    assert back.condition == raised.condition
    assert back.duration_s == silent_s
    assert back.items == (*raised.items, RESUMED)  # what it named, kept
    assert renderings(back) == expected
    assert {lang: render(back, lang) for lang in LANGUAGES} == expected


def test_resumed_facts_drop_what_described_the_silence() -> None:
    """A note of the silence (the home gateway silent) no longer holds once it is back, and a
    second resumption (latched, then resolved) does not stack the note twice; a silence alert
    whose facts were never known (restored from before facts) still says what resumed."""
    said = AlertFacts(
        condition="stale_data", duration_s=40.0, items=("spo2", "home_gateway_silent")
    )
    once = resumed(said, "stale_data", 100.0)
    assert once.items == ("spo2", RESUMED)
    assert resumed(once, "stale_data", 100.0).items == ("spo2", RESUMED)
    bare = resumed(None, "gateway_offline", -3.0)  # a clock step back: never a negative time
    assert bare.duration_s == 0.0
    assert render(bare, "en") == "Bedside gateway back online after 0 s"


def test_every_silence_the_service_raises_has_a_resumed_sentence() -> None:
    """The silences the analytics service raises, and the watchdog's, are the conditions with
    a "resumed" phrase: one added to one list and not the other would resolve saying its raise
    (or its name, "(resumed)")."""
    assert {*SILENCES} - {"monitoring_interrupted"} <= set(CONDITION_NAMES)
    assert {"stale_data", "gateway_offline", "device_disconnected", "home_gateway_offline"} == (
        SILENCES - {"monitoring_interrupted"}
    )
