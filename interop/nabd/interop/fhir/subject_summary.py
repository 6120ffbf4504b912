"""The human-readable side of a subject-access export: one self-contained HTML page in the
patient's language (French, English or Arabic, right to left), from the tally of what the FHIR
Bundle holds and the identity access log.

Plain ``html.escape``d text and inline CSS, no script and no external resource: the page is
handed to a person, printed, or opened years later, offline. Times are UTC, written out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Final

from nabd.contract.catalogue import metric
from nabd.contract.errors import ContractError
from nabd.interop.fhir.subject_access import SubjectTally

__all__ = ["LANGUAGES", "AccessLine", "render"]

LANGUAGES: Final = ("fr", "en", "ar")
NEWS2_SHOWN: Final = 50
"""The most recent NEWS2 scores listed on the page (the Bundle has every one)."""

PHRASES: Final[Mapping[str, Mapping[str, str]]] = {
    "title": {"fr": "Vos données dans Nabd", "en": "Your data in Nabd",
              "ar": "بياناتك في نبض"},
    "intro": {
        "fr": "Copie des données de télésurveillance détenues à votre sujet pour ce séjour "
              "(droit d'accès, loi 09-08). Le fichier bundle.json contient l'ensemble, au "
              "format FHIR R4.",
        "en": "A copy of the remote-monitoring data held about you for this stay (right of "
              "access, law 09-08). The file bundle.json holds all of it, in FHIR R4 format.",
        "ar": "نسخة من بيانات المراقبة عن بعد المحفوظة عنك خلال هذه الإقامة (حق الولوج، "
              "القانون 09-08). يحتوي الملف bundle.json على كل البيانات بصيغة FHIR R4.",
    },
    "identity": {"fr": "Identité", "en": "Identity", "ar": "الهوية"},
    "name": {"fr": "Nom", "en": "Name", "ar": "الاسم"},
    "mrn": {"fr": "N° de dossier (IPP)", "en": "Medical record number",
            "ar": "رقم الملف الطبي"},
    "birth_date": {"fr": "Date de naissance", "en": "Birth date", "ar": "تاريخ الميلاد"},
    "pseudonym": {"fr": "Pseudonyme", "en": "Pseudonym", "ar": "الاسم المستعار"},
    "ward": {"fr": "Service", "en": "Ward", "ar": "المصلحة"},
    "admitted": {"fr": "Admission", "en": "Admitted", "ar": "الدخول"},
    "discharged": {"fr": "Sortie", "en": "Discharged", "ar": "الخروج"},
    "devices": {"fr": "Appareils", "en": "Devices", "ar": "الأجهزة"},
    "readings": {"fr": "Mesures", "en": "Readings", "ar": "القياسات"},
    "measure": {"fr": "Mesure", "en": "Measure", "ar": "القياس"},
    "count": {"fr": "Nombre", "en": "Count", "ar": "العدد"},
    "min": {"fr": "Min", "en": "Min", "ar": "الأدنى"},
    "max": {"fr": "Max", "en": "Max", "ar": "الأقصى"},
    "first": {"fr": "Première", "en": "First", "ar": "الأول"},
    "last": {"fr": "Dernière", "en": "Last", "ar": "الأخير"},
    "news2": {"fr": "Scores NEWS2", "en": "NEWS2 scores", "ar": "درجات NEWS2"},
    "news2_recent": {"fr": "{shown} plus récents sur {total}",
                     "en": "the {shown} most recent of {total}",
                     "ar": "أحدث {shown} من {total}"},
    "time": {"fr": "Heure", "en": "Time", "ar": "الوقت"},
    "score": {"fr": "Score", "en": "Score", "ar": "الدرجة"},
    "risk": {"fr": "Risque", "en": "Risk", "ar": "الخطر"},
    "alerts": {"fr": "Alertes", "en": "Alerts", "ar": "الإنذارات"},
    "condition": {"fr": "Motif", "en": "Condition", "ar": "السبب"},
    "priority": {"fr": "Priorité", "en": "Priority", "ar": "الأولوية"},
    "state": {"fr": "État", "en": "State", "ar": "الحالة"},
    "message": {"fr": "Message", "en": "Message", "ar": "الرسالة"},
    "nurse_entries": {"fr": "Saisies infirmières", "en": "Nurse entries",
                      "ar": "إدخالات التمريض"},
    "parameter": {"fr": "Paramètre", "en": "Parameter", "ar": "المؤشر"},
    "value": {"fr": "Valeur", "en": "Value", "ar": "القيمة"},
    "by": {"fr": "Par", "en": "By", "ar": "بواسطة"},
    "consents": {"fr": "Consentements", "en": "Consents", "ar": "الموافقات"},
    "programme": {"fr": "Programme", "en": "Programme", "ar": "البرنامج"},
    "text_version": {"fr": "Version du texte", "en": "Text version", "ar": "نسخة النص"},
    "given_at": {"fr": "Donné le", "en": "Given", "ar": "أُعطيت في"},
    "withdrawn": {"fr": "Retiré le", "en": "Withdrawn", "ar": "سُحبت في"},
    "accesses": {"fr": "Qui a consulté votre identité", "en": "Who viewed your identity",
                 "ar": "من اطلع على هويتك"},
    "channel": {"fr": "Canal", "en": "Channel", "ar": "القناة"},
    "who": {"fr": "Qui", "en": "Who", "ar": "من"},
    "what": {"fr": "Quoi", "en": "What", "ar": "ماذا"},
    "none": {"fr": "Aucune.", "en": "None.", "ar": "لا شيء."},
    "generated": {"fr": "Établi le {at}.", "en": "Produced on {at}.", "ar": "أُعد في {at}."},
    "no_score": {"fr": "pas de score", "en": "no score", "ar": "بدون درجة"},
    "consciousness": {"fr": "Conscience (ACVPU)", "en": "Consciousness (ACVPU)",
                      "ar": "الوعي (ACVPU)"},
    "supplemental_oxygen": {"fr": "Oxygène", "en": "Supplemental oxygen",
                            "ar": "أكسجين إضافي"},
    "respiration_rate": {"fr": "Fréquence respiratoire", "en": "Respiration rate",
                         "ar": "معدل التنفس"},
    "station": {"fr": "poste de soins", "en": "nurse station", "ar": "محطة التمريض"},
    "fhir": {"fr": "API FHIR", "en": "FHIR API", "ar": "واجهة FHIR"},
    "cli": {"fr": "ligne de commande", "en": "command line", "ar": "سطر الأوامر"},
    "export": {"fr": "export", "en": "export", "ar": "تصدير"},
    "low": {"fr": "faible", "en": "low", "ar": "منخفض"},
    "low-medium": {"fr": "faible à moyen", "en": "low-medium", "ar": "منخفض إلى متوسط"},
    "medium": {"fr": "moyen", "en": "medium", "ar": "متوسط"},
    "high": {"fr": "élevé", "en": "high", "ar": "مرتفع"},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AccessLine:
    """One recorded identity read, as the page lists it."""

    at: datetime
    channel: str
    actor: str
    what: str


def render(tally: SubjectTally, accesses: Sequence[AccessLine], *, lang: str, now: datetime) -> str:
    """The page; ``lang`` one of :data:`LANGUAGES`, ``tally.patient`` set (with identity)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r}: use one of {', '.join(LANGUAGES)}")
    p = tally.patient
    if p is None or p.identity is None:
        raise ValueError("the tally has no identified patient: nothing to summarise")
    t = _Words(lang)
    person = p.identity
    born = "-" if person.birth_date is None else person.birth_date.isoformat()
    identity = _pairs([
        (t("name"), f"{person.given_name} {person.family_name}".strip()),
        (t("mrn"), person.mrn), (t("birth_date"), born), (t("pseudonym"), p.id),
        (t("ward"), p.ward_id), (t("admitted"), _at(p.admitted_at)),
        (t("discharged"), _at(p.discharged_at)),
        (t("devices"), ", ".join(tally.devices) or "-"),
    ])  # fmt: skip
    readings = _table(
        [t(k) for k in ("measure", "count", "min", "max", "first", "last")],
        [[_metric_name(k, lang), str(m.count), _num(m.minimum), _num(m.maximum), _at(m.first),
          _at(m.last)] for k, m in sorted(tally.metrics.items())],
        t("none"),
    )  # fmt: skip
    recent = tally.news2[-NEWS2_SHOWN:][::-1]
    news2 = _table(
        [t("time"), t("score"), t("risk")],
        [[_at(s.time), t("no_score") if s.total is None else str(s.total),
          "-" if s.risk is None else t(s.risk)] for s in recent],
        t("none"),
    )  # fmt: skip
    if len(tally.news2) > NEWS2_SHOWN:
        more = t("news2_recent").format(shown=NEWS2_SHOWN, total=len(tally.news2))
        news2 = f"<p>{escape(more)}</p>{news2}"
    alerts = _table(
        [t(k) for k in ("time", "condition", "priority", "state", "message")],
        [[_at(a.raised_at), a.condition, a.priority, a.state, a.message] for a in tally.alerts],
        t("none"),
    )
    entries = _table(
        [t(k) for k in ("time", "parameter", "value", "by")],
        [[_at(e.observed_at), t(e.parameter), e.value, e.entered_by]
         for e in tally.nurse_entries],
        t("none"),
    )  # fmt: skip
    consents = _table(
        [t(k) for k in ("programme", "text_version", "given_at", "by", "withdrawn")],
        [[c.scope, c.text_version, _at(c.collected_at), c.collected_by, _at(c.withdrawn_at)]
         for c in tally.consents],
        t("none"),
    )  # fmt: skip
    access = _table(
        [t(k) for k in ("time", "channel", "who", "what")],
        [[_at(a.at), t(a.channel), a.actor, a.what] for a in accesses],
        t("none"),
    )
    sections = [
        (t("identity"), identity), (t("readings"), readings), (t("news2"), news2),
        (t("alerts"), alerts), (t("nurse_entries"), entries), (t("consents"), consents),
        (t("accesses"), access),
    ]  # fmt: skip
    body = "".join(f"<h2>{escape(h)}</h2>{content}" for h, content in sections)
    direction = "rtl" if lang == "ar" else "ltr"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
        f"<title>{escape(t('title'))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(t('title'))}</h1><p>{escape(t('intro'))}</p>{body}"
        f'<p class="foot">{escape(t("generated").format(at=_at(now)))}</p></body></html>\n'
    )


_STYLE: Final = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #999;padding:.2em .5em;"
    "text-align:start}th{background:#eee}.foot{color:#555;margin-top:2em}"
)


class _Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str) -> str:
        phrase = PHRASES.get(key)
        return key if phrase is None else phrase[self.lang]


def _metric_name(key: str, lang: str) -> str:
    try:
        row = metric(key)
    except ContractError:
        return key
    return {"ar": row.name_ar, "fr": row.name_fr}.get(lang, row.name_en)


def _at(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _pairs(rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
