"""An alert's facts in words a nurse reads, in French, English or Arabic.

Analytics stores and publishes what raised an alert as data (:class:`AlertFacts`: the
condition, the value and its unit, the limit, the patient's usual value, how long it has held,
the devices concerned) and a default English rendering. Every reader renders the facts in its
own user's language at display time with :func:`render`, e.g. ``SpO2 low: 86 % for 90 s
(limit 90 %)``, ``SpO2 basse : 86 % depuis 90 s (seuil 90 %)``. Numbers are written as the
nurse station writes them (:mod:`nabd.contract.numbers`): Western digits in Arabic (as written
on Maghreb wards and on the devices themselves), a decimal comma in French and Arabic.
A condition with no phrase here (a newer publisher) reads as its name: never an error.

Readers that cannot run Python (the Grafana dashboards, which only run SQL) read the sentences
rendered by the writer of the facts, in every language, from ``alert.messages``
(:func:`renderings`, migration 0130): still this one renderer, never a copy of it in SQL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from nabd.contract.numbers import number
from nabd.contract.payloads import MAX_MESSAGE_CHARS, AlertFacts

__all__ = ["LANGUAGES", "NAMES", "RESUMED", "SILENCES", "render", "renderings", "resumed"]

LANGUAGES: Final = ("fr", "en", "ar")

_N: Final = {
    "news2": ("NEWS2", "NEWS2", "NEWS2"),
    "heart_rate_high": ("Fréquence cardiaque haute", "Heart rate high", "ارتفاع نبض القلب"),
    "heart_rate_low": ("Fréquence cardiaque basse", "Heart rate low", "انخفاض نبض القلب"),
    "spo2_low": ("SpO2 basse", "SpO2 low", "انخفاض تشبع الأكسجين SpO2"),
    "respiration_rate_high": (
        "Fréquence respiratoire haute",
        "Respiratory rate high",
        "ارتفاع معدل التنفس",
    ),
    "respiration_rate_low": (
        "Fréquence respiratoire basse",
        "Respiratory rate low",
        "انخفاض معدل التنفس",
    ),
    "systolic_bp_high": ("Pression systolique haute", "Systolic BP high", "ارتفاع الضغط الانقباضي"),
    "systolic_bp_low": ("Pression systolique basse", "Systolic BP low", "انخفاض الضغط الانقباضي"),
    "temperature_high": ("Température haute", "Temperature high", "ارتفاع الحرارة"),
    "temperature_low": ("Température basse", "Temperature low", "انخفاض الحرارة"),
    "heart_rate_deviation": (
        "Fréquence cardiaque inhabituelle pour ce patient",
        "Heart rate far from this patient's usual",
        "نبض القلب بعيد عن المعتاد لهذا المريض",
    ),
    "spo2_deviation": (
        "SpO2 bien en dessous de l'habituel pour ce patient",
        "SpO2 well below this patient's usual",
        "تشبع الأكسجين أقل بكثير من المعتاد لهذا المريض",
    ),
    "respiration_rate_deviation": (
        "Fréquence respiratoire inhabituelle pour ce patient",
        "Respiratory rate far from this patient's usual",
        "معدل التنفس بعيد عن المعتاد لهذا المريض",
    ),
    "heart_rate_trend": (
        "Fréquence cardiaque en évolution",
        "Heart rate trending",
        "تغير مستمر في نبض القلب",
    ),
    "respiration_rate_trend": (
        "Fréquence respiratoire en évolution",
        "Respiratory rate trending",
        "تغير مستمر في معدل التنفس",
    ),
    "spo2_trend": ("SpO2 en baisse", "SpO2 falling", "تشبع الأكسجين في انخفاض"),
    "desaturation": ("Désaturation", "SpO2 desaturation", "هبوط تشبع الأكسجين"),
    "atrial_fibrillation": (
        "Rythme irrégulier évoquant une fibrillation atriale",
        "Irregular rhythm suggesting atrial fibrillation",
        "نظم غير منتظم يوحي برجفان أذيني",
    ),
    "hypoglycaemia": ("Glycémie basse", "Glucose low", "انخفاض سكر الدم"),
    "no_data": (
        "Aucune donnée reçue depuis l'admission",
        "No data received since admission",
        "لم تصل أي بيانات منذ الدخول",
    ),
    "stale_data": ("Surveillance interrompue", "Monitoring interrupted", "انقطاع المراقبة"),
    "sensor_off": (
        "Capteur retiré ou sans contact avec la peau",
        "Sensor off or no skin contact",
        "المستشعر منزوع أو لا يلامس الجلد",
    ),
    "flatline": (
        "Signal figé (aucune variation)",
        "Signal frozen (no variation)",
        "إشارة متجمدة (بلا تغير)",
    ),
    "low_battery": ("Batterie de l'appareil faible", "Device battery low", "بطارية الجهاز ضعيفة"),
    "gateway_offline": (
        "Passerelle de chevet hors ligne",
        "Bedside gateway offline",
        "بوابة السرير غير متصلة",
    ),
    "device_disconnected": ("Appareil déconnecté", "Device disconnected", "الجهاز غير متصل"),
    # Ingest's watchdog: analytics stopped, so no alarm can be raised for the patient.
    "monitoring_interrupted": (
        "Surveillance interrompue : analyse des alarmes arrêtée",
        "Monitoring interrupted: alarm analysis stopped",
        "انقطاع المراقبة: تحليل الإنذارات متوقف",
    ),
    # Patients at home (docs/home-monitoring.md).
    "weight_gain": ("Prise de poids", "Weight gain", "زيادة الوزن"),
    "bp_severe": (
        "Pression artérielle à domicile très élevée",
        "Home blood pressure severe",
        "ارتفاع شديد في ضغط الدم المنزلي",
    ),
    "bp_low": (
        "Pression artérielle à domicile basse",
        "Home blood pressure low",
        "انخفاض ضغط الدم المنزلي",
    ),
    "bp_mean_high": (
        "Moyenne sur 7 jours de la pression à domicile élevée",
        "Home blood pressure 7-day mean high",
        "ارتفاع متوسط ضغط الدم المنزلي لسبعة أيام",
    ),
    "glucose_low": (
        "Glycémie basse (domicile)",
        "Glucose low (home)",
        "انخفاض سكر الدم (في المنزل)",
    ),
    "glucose_high": (
        "Glycémie haute (domicile)",
        "Glucose high (home)",
        "ارتفاع سكر الدم (في المنزل)",
    ),
    "adherence_weight": (
        "Poids non mesuré comme prévu, mesures manquées de suite",
        "Weight not measured as planned, missed in a row",
        "لم يُقَس الوزن كما هو مقرر، قياسات فائتة متتالية",
    ),
    "adherence_blood_pressure": (
        "Pression artérielle non mesurée comme prévu, mesures manquées de suite",
        "Blood pressure not measured as planned, missed in a row",
        "لم يُقَس ضغط الدم كما هو مقرر، قياسات فائتة متتالية",
    ),
    "adherence_glucose": (
        "Glycémie non mesurée comme prévu, mesures manquées de suite",
        "Glucose not measured as planned, missed in a row",
        "لم يُقَس سكر الدم كما هو مقرر، قياسات فائتة متتالية",
    ),
    "adherence_spo2": (
        "SpO2 non mesurée comme prévu, mesures manquées de suite",
        "SpO2 not measured as planned, missed in a row",
        "لم يُقَس تشبع الأكسجين كما هو مقرر، قياسات فائتة متتالية",
    ),
    "home_gateway_offline": (
        "Passerelle du domicile muette",
        "Home gateway not heard from",
        "بوابة المنزل لا تتصل",
    ),
}


def _by_language(table: Mapping[str, tuple[str, str, str]]) -> Mapping[str, Mapping[str, str]]:
    """``{key: (fr, en, ar)}`` as ``{lang: {key: text}}``, read-only."""
    return MappingProxyType(
        {
            lang: MappingProxyType({key: texts[i] for key, texts in table.items()})
            for i, lang in enumerate(LANGUAGES)
        }
    )


NAMES: Final[Mapping[str, Mapping[str, str]]] = _by_language(_N)
"""Per language, each condition's name as a nurse says it."""

_WORDS: Final = MappingProxyType(
    {
        "fr": {"for": "depuis", "limit": "seuil", "usual": "habituel", "risk": "risque",
               "incomplete": "incomplet, manque", "low": "faible", "low-medium": "faible à moyen",
               "medium": "moyen", "high": "élevé", "s": "s", "min": "min", "h": "h",
               "colon": " : ", "per_h": "/h", "stale": "périmé", "after": "après",
               "resumed": "rétabli"},
        "en": {"for": "for", "limit": "limit", "usual": "usual", "risk": "risk",
               "incomplete": "incomplete, missing", "low": "low", "low-medium": "low-medium",
               "medium": "medium", "high": "high", "s": "s", "min": "min", "h": "h",
               "colon": ": ", "per_h": "/h", "stale": "stale", "after": "after",
               "resumed": "resumed"},
        "ar": {"for": "منذ", "limit": "الحد", "usual": "المعتاد", "risk": "الخطر",
               "incomplete": "غير مكتمل، ينقص", "low": "منخفض", "low-medium": "منخفض إلى متوسط",
               "medium": "متوسط", "high": "مرتفع", "s": "ثانية", "min": "دقيقة", "h": "ساعة",
               "colon": ": ", "per_h": "/ساعة", "stale": "قديم", "after": "بعد",
               "resumed": "انتهى"},
    }
)  # fmt: skip

_T: Final = {
    "respiration_rate": ("fréquence respiratoire", "respiratory rate", "معدل التنفس"),
    "spo2": ("SpO2", "SpO2", "SpO2"),
    "air_or_oxygen": ("air ou oxygène", "air or oxygen", "هواء أو أكسجين"),
    "systolic_bp": ("pression systolique", "systolic BP", "الضغط الانقباضي"),
    "heart_rate": ("fréquence cardiaque", "heart rate", "نبض القلب"),
    "pulse_rate": ("pouls", "pulse rate", "النبض"),
    "rr_interval": ("intervalles RR", "RR intervals", "فواصل RR"),
    "consciousness": ("conscience", "consciousness", "الوعي"),
    "temperature": ("température", "temperature", "الحرارة"),
    "body_temperature": ("température", "temperature", "الحرارة"),
}
_NOTE: Final = {
    # An adherence alert whose missed window passed with the home gateway silent: the
    # measurement may have been taken and be waiting in the device (docs/home-monitoring.md).
    "home_gateway_silent": (
        "passerelle du domicile muette, les mesures attendent peut-être dans les appareils",
        "home gateway silent, readings may be waiting in the devices",
        "بوابة المنزل لا تتصل، قد تكون القياسات محفوظة في الأجهزة",
    ),
}
RESUMED: Final = "resumed"
"""The note a silence alert carries once what fell silent is back (:data:`_R`): its facts then
say what resumed, ``duration_s`` how long it had been silent, ``items`` still what it names.
Written by whoever ends the silence (ingest's watchdog for ``monitoring_interrupted``,
analytics for the others); a reader that knows no phrase for it shows the note's name."""
_R: Final = {
    "monitoring_interrupted": (
        "Surveillance rétablie : analyse des alarmes relancée",
        "Monitoring resumed: alarm analysis running again",
        "استئناف المراقبة: تحليل الإنذارات يعمل من جديد",
    ),
    "stale_data": ("Données de nouveau reçues", "Data arriving again", "عودة وصول البيانات"),
    "gateway_offline": (
        "Passerelle de chevet de nouveau en ligne",
        "Bedside gateway back online",
        "بوابة السرير متصلة من جديد",
    ),
    "device_disconnected": ("Appareil reconnecté", "Device reconnected", "الجهاز متصل من جديد"),
    "home_gateway_offline": (
        "Passerelle du domicile de nouveau entendue",
        "Home gateway heard from again",
        "بوابة المنزل تتصل من جديد",
    ),
}
SILENCES: Final = frozenset(_R)
"""The silence conditions: something stopped being heard from. Once it is back, their alert
says so, and after how long (:func:`resumed`), rather than what it said when raised."""
_RESUMED_NAMES: Final = _by_language(_R)
"""Per language, what a silence alert says once what fell silent is back."""
_NOTES: Final = _by_language(_NOTE)
"""Items that qualify the alert rather than name what it is about: rendered among the notes."""
_THINGS: Final = _by_language(_T)
"""Parameters and metrics an alert lists, by language; devices are listed by their id."""

_ONE_DECIMAL: Final = frozenset({"°C", "Cel", "mmol/L", "kg"})


def _number(value: float, unit: str | None, lang: str, signed: bool = False) -> str:
    """As the nurse station writes numbers (:func:`nabd.contract.numbers.number`)."""
    return number(value, lang, 1 if signed or unit in _ONE_DECIMAL else 0, signed=signed)


_DISPLAY: Final = MappingProxyType({"Cel": "°C", "mm[Hg]": "mmHg"})
"""UCUM units (the catalogue's) as printed on a chart."""


def _quantity(value: float, unit: str | None, lang: str, signed: bool = False) -> str:
    number = _number(value, unit, lang, signed)
    shown = _DISPLAY.get(unit, unit) if unit else None
    return f"{number} {shown}" if shown else number


def _duration(seconds: float, words: Mapping[str, str]) -> str:
    if seconds < 120:
        return f"{math.floor(seconds)} {words['s']}"
    if seconds < 7200:
        return f"{math.floor(seconds / 60)} {words['min']}"
    return f"{math.floor(seconds / 3600)} {words['h']}"


def render(facts: AlertFacts, lang: str = "en") -> str:
    """The alert's sentence in ``lang`` (``fr``, ``en``, ``ar``; anything else: English)."""
    lang = lang if lang in NAMES else "en"
    words = _WORDS[lang]
    if RESUMED in facts.items:
        return _resumed(facts, lang, words)
    name = NAMES[lang].get(facts.condition, facts.condition)
    trend = facts.condition.endswith("_trend")
    text = name
    if facts.value is not None:
        value = _quantity(
            facts.value, None if facts.condition == "news2" else facts.unit, lang, trend
        )
        value += words["per_h"] if trend else ""
        text += f" {value}" if facts.condition == "news2" else f"{words['colon']}{value}"
    if facts.duration_s is not None:
        text += f" {words['for']} {_duration(facts.duration_s, words)}"
    notes = []
    if facts.limit is not None:
        notes.append(f"{words['limit']} {_quantity(facts.limit, facts.unit, lang)}")
    if facts.baseline is not None:
        notes.append(f"{words['usual']} {_quantity(facts.baseline, facts.unit, lang)}")
    if facts.risk is not None:
        notes.append(f"{words['risk']} {words[facts.risk]}")
    things = _THINGS[lang]
    if facts.missing or facts.stale:
        missing = [things.get(m, m) for m in facts.missing]
        missing += [f"{things.get(m, m)} ({words['stale']})" for m in facts.stale]
        notes.append(f"{words['incomplete']}{words['colon']}{', '.join(missing)}")
    notes += [_NOTES[lang][i] for i in facts.items if i in _NOTE]
    if notes:
        text += f" ({'; '.join(notes)})"
    items = [things.get(i, i) for i in facts.items if i not in _NOTE]
    if items:
        text += f"{words['colon']}{', '.join(items)}"
    return text


def _resumed(facts: AlertFacts, lang: str, words: Mapping[str, str]) -> str:
    """A silence alert once what fell silent is back: ``Bedside gateway back online after 4
    min: gw-3``."""
    name = NAMES[lang].get(facts.condition, facts.condition)
    text = _RESUMED_NAMES[lang].get(facts.condition, f"{name} ({words['resumed']})")
    if facts.duration_s is not None:
        text += f" {words['after']} {_duration(facts.duration_s, words)}"
    things = _THINGS[lang]
    items = [things.get(i, i) for i in facts.items if i != RESUMED and i not in _NOTE]
    if items:
        text += f"{words['colon']}{', '.join(items)}"
    return text


def resumed(said: AlertFacts | None, condition: str, silent_s: float) -> AlertFacts:
    """What a silence alert says once what fell silent is back: the note :data:`RESUMED`,
    ``duration_s`` the whole silence (``silent_s``, from before the alert was raised to when
    it ended), and still the things the alert named (``said``, what it said until then: the
    devices, the metrics, the gateway), so ``Device disconnected for 2 min: thermo-7`` becomes
    ``Device reconnected after 5 min: thermo-7``. Its other notes described the silence."""
    kept = () if said is None else tuple(i for i in said.items if i != RESUMED and i not in _NOTE)
    return AlertFacts(condition=condition, duration_s=max(0.0, silent_s), items=(*kept, RESUMED))


def renderings(facts: AlertFacts) -> dict[str, str]:
    """The alert's sentence in every language (at most ``MAX_MESSAGE_CHARS`` each), as stored
    in ``alert.messages`` for readers that only run SQL (migration 0130)."""
    return {lang: render(facts, lang)[:MAX_MESSAGE_CHARS] for lang in LANGUAGES}
