"""Alert facts rendered for nurses in French, English and Arabic: the worked examples, every
condition the service raises named in every language, and facts that survive the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.analytics.service.conditions import NAMES as CONDITION_NAMES
from nabd.contract.alert_text import LANGUAGES, NAMES, render, renderings
from nabd.contract.payloads import (
    MAX_MESSAGE_CHARS,
    Alert,
    AlertFacts,
    PayloadError,
    parse,
    to_json,
)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (
            AlertFacts(condition="spo2_low", value=86.0, unit="%", limit=90.0, duration_s=90.0),
            {
                "en": "SpO2 low: 86 % for 90 s (limit 90 %)",
                "fr": "SpO2 basse : 86 % depuis 90 s (seuil 90 %)",
                "ar": "انخفاض تشبع الأكسجين SpO2: 86 % منذ 90 ثانية (الحد 90 %)",
            },
        ),
        (
            AlertFacts(condition="temperature_high", value=39.4, unit="Cel", limit=39.1),
            {
                "en": "Temperature high: 39.4 °C (limit 39.1 °C)",
                "fr": "Température haute : 39,4 °C (seuil 39,1 °C)",
                "ar": "ارتفاع الحرارة: 39,4 °C (الحد 39,1 °C)",
            },
        ),
        (
            AlertFacts(condition="device_disconnected", duration_s=150.0, items=("thermo-7",)),
            {
                "en": "Device disconnected for 2 min: thermo-7",
                "fr": "Appareil déconnecté depuis 2 min : thermo-7",
                "ar": "الجهاز غير متصل منذ 2 دقيقة: thermo-7",
            },
        ),
        (
            AlertFacts(condition="news2", value=5.0, missing=("spo2",), stale=("temperature",)),
            {
                "en": "NEWS2 5 (incomplete, missing: SpO2, temperature (stale))",
                "fr": "NEWS2 5 (incomplet, manque : SpO2, température (périmé))",
                "ar": "NEWS2 5 (غير مكتمل، ينقص: SpO2, الحرارة (قديم))",
            },
        ),
        (
            AlertFacts(condition="news2", value=7.0, risk="high", duration_s=30.0),
            {
                "en": "NEWS2 7 for 30 s (risk high)",
                "fr": "NEWS2 7 depuis 30 s (risque élevé)",
                "ar": "NEWS2 7 منذ 30 ثانية (الخطر مرتفع)",
            },
        ),
        (
            AlertFacts(condition="heart_rate_deviation", value=118.0, unit="/min", baseline=74.0),
            {
                "en": "Heart rate far from this patient's usual: 118 /min (usual 74 /min)",
                "fr": "Fréquence cardiaque inhabituelle pour ce patient : 118 /min "
                "(habituel 74 /min)",
                "ar": "نبض القلب بعيد عن المعتاد لهذا المريض: 118 /min (المعتاد 74 /min)",
            },
        ),
        (
            AlertFacts(condition="monitoring_interrupted", duration_s=20.4),
            {
                "en": "Monitoring interrupted: alarm analysis stopped for 20 s",
                "fr": "Surveillance interrompue : analyse des alarmes arrêtée depuis 20 s",
                "ar": "انقطاع المراقبة: تحليل الإنذارات متوقف منذ 20 ثانية",
            },
        ),
        (  # A patient at home whose home gateway is silent (docs/home-monitoring.md).
            AlertFacts(
                condition="home_gateway_offline", duration_s=13.5 * 3600, items=("gw-home-17",)
            ),
            {
                "en": "Home gateway not heard from for 13 h: gw-home-17",
                "fr": "Passerelle du domicile muette depuis 13 h : gw-home-17",
                "ar": "بوابة المنزل لا تتصل منذ 13 ساعة: gw-home-17",
            },
        ),
        (  # An adherence alert whose missed window passed with that gateway silent.
            AlertFacts(condition="adherence_weight", value=2.0, items=("home_gateway_silent",)),
            {
                "en": "Weight not measured as planned, missed in a row: 2 (home gateway silent, "
                "readings may be waiting in the devices)",
                "fr": "Poids non mesuré comme prévu, mesures manquées de suite : 2 (passerelle "
                "du domicile muette, les mesures attendent peut-être dans les appareils)",
                "ar": "لم يُقَس الوزن كما هو مقرر، قياسات فائتة متتالية: 2 (بوابة المنزل لا تتصل، "
                "قد تكون القياسات محفوظة في الأجهزة)",
            },
        ),
    ],
)
def test_worked_examples_read_as_a_nurse_would_say_them(
    facts: AlertFacts, expected: dict[str, str]
) -> None:
    assert {lang: render(facts, lang) for lang in LANGUAGES} == expected
    assert renderings(facts) == expected  # what alert.messages stores for the dashboards


def test_stored_renderings_fit_the_message_limit() -> None:
    facts = AlertFacts(
        condition="device_disconnected", items=tuple(f"{'d' * 60}-{i}" for i in range(16))
    )
    stored = renderings(facts)
    assert set(stored) == set(LANGUAGES)
    for lang, text in stored.items():
        assert len(render(facts, lang)) > MAX_MESSAGE_CHARS
        assert text == render(facts, lang)[:MAX_MESSAGE_CHARS]


def test_every_condition_the_service_raises_has_a_name_in_every_language() -> None:
    for lang in LANGUAGES:
        assert set(CONDITION_NAMES) <= set(NAMES[lang]), lang


def test_an_unknown_condition_or_language_still_reads() -> None:
    assert render(AlertFacts(condition="future_thing"), "ar") == "future_thing"
    assert render(AlertFacts(condition="spo2_low", value=88.0, unit="%"), "de") == "SpO2 low: 88 %"


@given(
    value=st.none() | st.floats(-1e6, 1e6),
    limit=st.none() | st.floats(-1e6, 1e6),
    duration=st.none() | st.floats(0, 1e7),
    lang=st.sampled_from(["fr", "en", "ar", "xx"]),
    condition=st.sampled_from(sorted(CONDITION_NAMES)),
)
def test_any_facts_render_on_one_line(
    value: float | None, limit: float | None, duration: float | None, lang: str, condition: str
) -> None:
    facts = AlertFacts(condition=condition, value=value, limit=limit, duration_s=duration)
    text = render(facts, lang)
    assert text
    assert "\n" not in text
    assert "nan" not in text


def test_facts_travel_in_the_alert_payload_and_bad_ones_are_refused() -> None:
    alert = Alert.model_validate(
        {
            "schema": "nabd.alert/1",
            "alert_id": "9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f",
            "patient_id": "p0",
            "ward_id": "w1",
            "kind": "spo2_low",
            "priority": "high",
            "state": "raised",
            "raised_at": "2025-03-01T09:41:17Z",
            "message": "SpO2 low: 86 % for 90 s (limit 90 %)",
            "facts": {"condition": "spo2_low", "value": 86.0, "unit": "%", "limit": 90.0},
        },
        strict=False,
    )
    assert parse(Alert, to_json(alert)) == alert
    raw = to_json(alert).replace(b'"limit":90.0', b'"limit":"ninety"')
    with pytest.raises(PayloadError):
        parse(Alert, raw)
