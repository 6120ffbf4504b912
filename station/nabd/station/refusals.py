"""Every refusal the station shows, in its user's language (French, English, Arabic).

The care operations (:mod:`nabd.care`) and the analytics service's actions raise typed errors:
a code (``why``: :class:`nabd.care.errors.Why`, :class:`nabd.analytics.service.errors.Why`)
and the values the sentence names (``params``); their ``str()`` is the command line's English
one-liner, with its hints about commands. The station does not parse or show that English: it
looks the code up here and fills in the values, dates and numbers written in her locale
(:meth:`nabd.station.i18n.Translator.when`, :meth:`~nabd.station.i18n.Translator.number`).
The station's own refusals carry a phrase key (:class:`nabd.station.errors.StationError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from nabd.analytics.service.errors import MonitorError
from nabd.analytics.service.errors import Why as MonitorWhy
from nabd.care.errors import CareError
from nabd.care.errors import Why as CareWhy
from nabd.station.errors import StationError
from nabd.station.i18n import Translator

__all__ = ["CARE", "FIELDS", "MONITOR", "in_words"]

Phrase = Mapping[str, str]

CARE: Final[Mapping[CareWhy, Phrase]] = {
    CareWhy.BAD_ID: {
        "en": "The {what} id {value} is not accepted: use 1 to 63 lower-case letters, digits,"
              " '_' or '-', starting with a letter or digit (e.g. icu-2).",
        "fr": "L'identifiant {what} {value} n'est pas accepté : 1 à 63 lettres minuscules,"
              " chiffres, « _ » ou « - », commençant par une lettre ou un chiffre (ex. icu-2).",
        "ar": "المعرّف ({what}) {value} غير مقبول: من 1 إلى 63 حرفًا لاتينيًا صغيرًا أو رقمًا"
              " أو «_» أو «-»، يبدأ بحرف أو رقم (مثال: icu-2).",
    },
    CareWhy.BAD_BED: {
        "en": "Bed {value} is not accepted: use 1 to 32 letters, digits, '_', '.' or '-'"
              " (e.g. 12 or B-3).",
        "fr": "Le lit {value} n'est pas accepté : 1 à 32 lettres, chiffres, « _ », « . » ou"
              " « - » (ex. 12 ou B-3).",
        "ar": "السرير {value} غير مقبول: من 1 إلى 32 حرفًا أو رقمًا أو «_» أو «.» أو «-»"
              " (مثال: 12 أو B-3).",
    },
    CareWhy.BAD_MRN: {
        "en": "MRN {value} is not accepted: use 1 to 40 letters, digits, '_', '.', '/' or '-'.",
        "fr": "L'IPP {value} n'est pas accepté : 1 à 40 lettres, chiffres, « _ », « . », « / »"
              " ou « - ».",
        "ar": "رقم الملف الطبي {value} غير مقبول: من 1 إلى 40 حرفًا أو رقمًا أو «_» أو «.»"
              " أو «/» أو «-».",
    },
    CareWhy.BAD_ACTOR: {
        "en": "Your name for the audit log must be 1 to 100 characters.",
        "fr": "Votre nom pour le journal d'audit doit faire 1 à 100 caractères.",
        "ar": "يجب أن يكون اسمك في سجل التدقيق من 1 إلى 100 حرف.",
    },
    CareWhy.BAD_TEXT: {
        "en": "{what} must be 1 to {limit} printable characters.",
        "fr": "{what} : 1 à {limit} caractères imprimables.",
        "ar": "{what}: من 1 إلى {limit} حرفًا قابلًا للطباعة.",
    },
    CareWhy.BAD_NAME: {
        "en": "The name {value} is not accepted: write 'Given Family' or 'FAMILY, Given'.",
        "fr": "Le nom {value} n'est pas accepté : écrivez « Prénom Nom » ou « NOM, Prénom ».",
        "ar": "الاسم {value} غير مقبول: اكتب «الاسم العائلة» أو «العائلة، الاسم».",
    },
    CareWhy.BAD_BIRTH_DATE: {
        "en": "The birth date {value} is not accepted: give a date.",
        "fr": "La date de naissance {value} n'est pas acceptée : donnez une date.",
        "ar": "تاريخ الميلاد {value} غير مقبول: أدخل تاريخًا.",
    },
    CareWhy.BIRTH_DATE_RANGE: {
        "en": "The birth date {value} is not accepted: it must be between 1900 and today.",
        "fr": "La date de naissance {value} n'est pas acceptée : entre 1900 et aujourd'hui.",
        "ar": "تاريخ الميلاد {value} غير مقبول: يجب أن يكون بين 1900 واليوم.",
    },
    CareWhy.BAD_ADDRESS: {
        "en": "{value} is not a Bluetooth address: six hex pairs separated by ':',"
              " e.g. F0:F1:F2:F3:F4:05.",
        "fr": "{value} n'est pas une adresse Bluetooth : six paires hexadécimales séparées par"
              " « : », ex. F0:F1:F2:F3:F4:05.",
        "ar": "{value} ليس عنوان بلوتوث: ستة أزواج ست عشرية مفصولة بـ «:»،"
              " مثال: F0:F1:F2:F3:F4:05.",
    },
    CareWhy.RESERVED_ADDRESS: {
        "en": "Address {value} is reserved and names no device.",
        "fr": "L'adresse {value} est réservée et ne désigne aucun appareil.",
        "ar": "العنوان {value} محجوز ولا يدل على أي جهاز.",
    },
    CareWhy.BAD_KIND: {
        "en": "Device kind {value} is not accepted: one of {kinds}.",
        "fr": "Le type d'appareil {value} n'est pas accepté : l'un de {kinds}.",
        "ar": "نوع الجهاز {value} غير مقبول: واحد من {kinds}.",
    },
    CareWhy.BAD_TIME: {
        "en": "The time {value} is not accepted: give a date and time with its time zone.",
        "fr": "L'heure {value} n'est pas acceptée : donnez une date et une heure avec son"
              " fuseau.",
        "ar": "الوقت {value} غير مقبول: أدخل تاريخًا ووقتًا مع المنطقة الزمنية.",
    },
    CareWhy.TIME_IN_FUTURE: {
        "en": "The time {value} is in the future: give when it happened.",
        "fr": "L'heure {value} est dans le futur : donnez le moment où c'est arrivé.",
        "ar": "الوقت {value} في المستقبل: أدخل وقت حدوثه.",
    },
    CareWhy.NO_BEDS_GIVEN: {
        "en": "Give one or more beds, separated by spaces or commas.",
        "fr": "Donnez un ou plusieurs lits, séparés par des espaces ou des virgules.",
        "ar": "أدخل سريرًا أو أكثر، مفصولة بمسافات أو فواصل.",
    },
    CareWhy.MRN_ADMITTED: {
        "en": "MRN {mrn} is already admitted as patient {patient} (ward {ward}, bed {bed},"
              " since {since}): transfer or discharge that admission instead.",
        "fr": "L'IPP {mrn} est déjà admis comme patient {patient} (service {ward}, lit {bed},"
              " depuis le {since}) : transférez ou faites sortir cette admission.",
        "ar": "رقم الملف {mrn} مُدخَل بالفعل باسم المريض {patient} (القسم {ward}، السرير {bed}،"
              " منذ {since}): انقل هذا الإدخال أو سجّل خروجه بدلًا من ذلك.",
    },
    CareWhy.MRN_ADMITTED_ELSEWHERE: {
        "en": "MRN {mrn} is already admitted in another ward: that ward transfers or discharges"
              " it before it can be admitted here.",
        "fr": "L'IPP {mrn} est déjà admis dans un autre service : ce service doit le transférer"
              " ou le faire sortir avant qu'il puisse être admis ici.",
        "ar": "رقم الملف {mrn} مُدخَل بالفعل في قسم آخر: على ذلك القسم نقله أو تسجيل خروجه"
              " قبل إدخاله هنا.",
    },
    CareWhy.PATIENT_ID_TAKEN: {
        "en": "Patient id {patient} is taken: a pseudonym names one admission.",
        "fr": "L'identifiant patient {patient} est pris : un pseudonyme désigne une admission.",
        "ar": "معرّف المريض {patient} مستخدم: كل اسم مستعار يخص إدخالًا واحدًا.",
    },
    CareWhy.BED_OCCUPIED: {
        "en": "Bed {bed} of ward {ward} is taken by patient {patient}: discharge or transfer"
              " them first, or choose a free bed.",
        "fr": "Le lit {bed} du service {ward} est occupé par le patient {patient} : faites-le"
              " sortir ou transférez-le d'abord, ou choisissez un lit libre.",
        "ar": "السرير {bed} في القسم {ward} يشغله المريض {patient}: سجّل خروجه أو انقله أولًا،"
              " أو اختر سريرًا شاغرًا.",
    },
    CareWhy.NO_PATIENT: {
        "en": "No patient {patient}.",
        "fr": "Aucun patient {patient}.",
        "ar": "لا يوجد مريض {patient}.",
    },
    CareWhy.DISCHARGED: {
        "en": "Patient {patient} was discharged on {at}: a new stay is a new admission.",
        "fr": "Le patient {patient} est sorti le {at} : un nouveau séjour est une nouvelle"
              " admission.",
        "ar": "خرج المريض {patient} في {at}: الإقامة الجديدة إدخال جديد.",
    },
    CareWhy.ADDRESS_TAKEN: {
        "en": "Address {address} is registered already as device {device}: one device, one id.",
        "fr": "L'adresse {address} est déjà enregistrée pour l'appareil {device} : un appareil,"
              " un identifiant.",
        "ar": "العنوان {address} مسجَّل بالفعل للجهاز {device}: جهاز واحد، معرّف واحد.",
    },
    CareWhy.DEVICE_CONFLICT: {
        "en": "Device {device} is registered already with other fields: give the registered"
              " ones, or choose another id.",
        "fr": "L'appareil {device} est déjà enregistré avec d'autres valeurs : reprenez"
              " celles enregistrées, ou choisissez un autre identifiant.",
        "ar": "الجهاز {device} مسجَّل بالفعل ببيانات أخرى: أدخل البيانات المسجلة أو اختر"
              " معرّفًا آخر.",
    },
    CareWhy.NO_DEVICE: {
        "en": "No device {device}: register it first.",
        "fr": "Aucun appareil {device} : enregistrez-le d'abord.",
        "ar": "لا يوجد جهاز {device}: سجّله أولًا.",
    },
    CareWhy.ASSIGNMENT_IN_FUTURE: {
        "en": "An assignment cannot start in the future ({at}).",
        "fr": "Une attribution ne peut pas commencer dans le futur ({at}).",
        "ar": "لا يمكن أن يبدأ التخصيص في المستقبل ({at}).",
    },
    CareWhy.ASSIGNMENT_BEFORE_ADMISSION: {
        "en": "Patient {patient} was admitted on {at}: an assignment cannot start before.",
        "fr": "Le patient {patient} a été admis le {at} : une attribution ne peut pas commencer"
              " avant.",
        "ar": "أُدخل المريض {patient} في {at}: لا يمكن أن يبدأ التخصيص قبل ذلك.",
    },
    CareWhy.DEVICE_WORN: {
        "en": "Device {device} is worn by patient {patient} since {since}: unassign it first.",
        "fr": "L'appareil {device} est porté par le patient {patient} depuis le {since} :"
              " retirez-le d'abord.",
        "ar": "الجهاز {device} يحمله المريض {patient} منذ {since}: ألغِ تخصيصه أولًا.",
    },
    CareWhy.NO_WARD: {
        "en": "No ward {ward}.",
        "fr": "Aucun service {ward}.",
        "ar": "لا يوجد قسم {ward}.",
    },
    CareWhy.NO_BED: {
        "en": "Ward {ward} has no bed {bed}.",
        "fr": "Le service {ward} n'a pas de lit {bed}.",
        "ar": "القسم {ward} ليس فيه سرير {bed}.",
    },
    CareWhy.NO_GATEWAY: {
        "en": "No gateway {gateway}.",
        "fr": "Aucune passerelle {gateway}.",
        "ar": "لا توجد بوابة {gateway}.",
    },
    CareWhy.GATEWAY_REVOKED: {
        "en": "Gateway {gateway} was revoked on {at}: a revoked gateway is not registered"
              " again; choose a new id.",
        "fr": "La passerelle {gateway} a été révoquée le {at} : une passerelle révoquée n'est"
              " pas réenregistrée ; choisissez un nouvel identifiant.",
        "ar": "أُلغيت البوابة {gateway} في {at}: البوابة الملغاة لا تُسجَّل مجددًا؛ اختر"
              " معرّفًا جديدًا.",
    },
    CareWhy.GATEWAY_ELSEWHERE: {
        "en": "Gateway {gateway} exists already on another ward: choose another id.",
        "fr": "La passerelle {gateway} existe déjà dans un autre service : choisissez un autre"
              " identifiant.",
        "ar": "البوابة {gateway} موجودة بالفعل في قسم آخر: اختر معرّفًا آخر.",
    },
    CareWhy.WARD_CONFLICT: {
        "en": "Ward {ward} exists already, named {name}.",
        "fr": "Le service {ward} existe déjà, nommé {name}.",
        "ar": "القسم {ward} موجود بالفعل باسم {name}.",
    },
    CareWhy.BED_GATEWAY_CONFLICT: {
        "en": "Bed {bed} of ward {ward} exists already with gateway {gateway}.",
        "fr": "Le lit {bed} du service {ward} existe déjà avec la passerelle {gateway}.",
        "ar": "السرير {bed} في القسم {ward} موجود بالفعل مع البوابة {gateway}.",
    },
    CareWhy.CONCURRENT_CHANGE: {
        "en": "Refused: it conflicts with a change made at the same moment; look at the page"
              " again and retry.",
        "fr": "Refusé : cela entre en conflit avec une modification faite au même moment ;"
              " regardez à nouveau la page et réessayez.",
        "ar": "مرفوض: يتعارض مع تغيير أُجري في اللحظة نفسها؛ راجع الصفحة مجددًا وأعد المحاولة.",
    },
    CareWhy.NOT_PERMITTED: {
        "en": "Refused: this station's database login may not do it; ask IT.",
        "fr": "Refusé : le compte de base de données de cette station ne le permet pas ;"
              " contactez l'informatique.",
        "ar": "مرفوض: حساب قاعدة البيانات لهذه المحطة لا يسمح بذلك؛ اتصل بقسم المعلوميات.",
    },
    CareWhy.BAD_SCOPE: {
        "en": "Consent scope {value} is not accepted: one of {scopes}.",
        "fr": "Le périmètre de consentement {value} n'est pas accepté : l'un de {scopes}.",
        "ar": "نطاق الموافقة {value} غير مقبول: واحد من {scopes}.",
    },
    CareWhy.CONSENTED_ALREADY: {
        "en": "Patient {patient} consented to {scope} on {at}: withdraw that consent first.",
        "fr": "Le patient {patient} a consenti à {scope} le {at} : retirez d'abord ce"
              " consentement.",
        "ar": "وافق المريض {patient} على {scope} في {at}: اسحب تلك الموافقة أولًا.",
    },
    CareWhy.CONSENT_BEFORE_WITHDRAWAL: {
        "en": "Patient {patient} withdrew consent to {scope} on {at}: a new consent cannot be"
              " dated before that.",
        "fr": "Le patient {patient} a retiré son consentement à {scope} le {at} : un nouveau"
              " consentement ne peut pas être daté d'avant.",
        "ar": "سحب المريض {patient} موافقته على {scope} في {at}: لا يمكن تأريخ موافقة جديدة"
              " قبل ذلك.",
    },
    CareWhy.NO_CONSENT: {
        "en": "Patient {patient} has no consent to {scope} recorded: nothing to withdraw.",
        "fr": "Aucun consentement de {patient} à {scope} n'est enregistré : rien à retirer.",
        "ar": "لا توجد موافقة مسجلة للمريض {patient} على {scope}: لا شيء لسحبه.",
    },
    CareWhy.WITHDRAWAL_BEFORE_CONSENT: {
        "en": "Patient {patient} consented to {scope} on {at}: a withdrawal cannot be dated"
              " before it.",
        "fr": "Le patient {patient} a consenti à {scope} le {at} : un retrait ne peut pas être"
              " daté d'avant.",
        "ar": "وافق المريض {patient} على {scope} في {at}: لا يمكن تأريخ السحب قبل ذلك.",
    },
    CareWhy.CONSENT_WITHDRAWN: {
        "en": "Patient {patient} withdrew consent to collection on {at}: their devices are not"
              " read; record a new consent first.",
        "fr": "Le patient {patient} a retiré son consentement à la collecte le {at} : ses"
              " appareils ne sont pas lus ; enregistrez d'abord un nouveau consentement.",
        "ar": "سحب المريض {patient} موافقته على جمع البيانات في {at}: لا تُقرأ أجهزته؛ سجّل"
              " موافقة جديدة أولًا.",
    },
    CareWhy.CONSENT_REQUIRED: {
        "en": "Patient {patient} has no consent to collection recorded and this hospital"
              " requires one before a device collects their readings.",
        "fr": "Aucun consentement à la collecte n'est enregistré pour {patient} et cet hôpital"
              " en exige un avant qu'un appareil collecte ses mesures.",
        "ar": "لا توجد موافقة مسجلة للمريض {patient} على جمع البيانات، وهذا المستشفى يشترطها"
              " قبل أن يجمع جهاز قياساته.",
    },
    CareWhy.BAD_FILE: {
        "en": "The file was refused ({detail}).",
        "fr": "Le fichier a été refusé ({detail}).",
        "ar": "رُفض الملف ({detail}).",
    },
    CareWhy.BAD_ROWS: {
        "en": "{refused} of {total} rows refused; nothing was imported.",
        "fr": "{refused} lignes sur {total} refusées ; rien n'a été importé.",
        "ar": "رُفض {refused} من {total} سطرًا؛ لم يُستورد شيء.",
    },
    CareWhy.BAD_BUNDLE: {
        "en": "The gateway's folder was refused ({detail}).",
        "fr": "Le dossier de la passerelle a été refusé ({detail}).",
        "ar": "رُفض مجلد البوابة ({detail}).",
    },
    CareWhy.BAD_USAGE: {
        "en": "Refused: {detail} is missing.",
        "fr": "Refusé : {detail} manque.",
        "ar": "مرفوض: {detail} ناقص.",
    },
    CareWhy.NOTHING_TO_RECTIFY: {
        "en": "Nothing to rectify: give the MRN, given name, family name or birth date.",
        "fr": "Rien à rectifier : donnez l'IPP, le prénom, le nom ou la date de naissance.",
        "ar": "لا شيء للتصحيح: أدخل رقم الملف أو الاسم أو اسم العائلة أو تاريخ الميلاد.",
    },
    CareWhy.MRN_AMBIGUOUS: {
        "en": "MRN {mrn} names {count} admissions ({patients}): give one of these ids.",
        "fr": "L'IPP {mrn} désigne {count} admissions ({patients}) : donnez l'un de ces"
              " identifiants.",
        "ar": "رقم الملف {mrn} يخص {count} إدخالات ({patients}): أدخل أحد هذه المعرّفات.",
    },
    CareWhy.ERASE_ADMITTED: {
        "en": "Patient {patient} is admitted: the ward needs to know who is in the bed;"
              " discharge first, then erase.",
        "fr": "Le patient {patient} est admis : le service doit savoir qui occupe le lit ;"
              " faites-le sortir d'abord, puis effacez.",
        "ar": "المريض {patient} مُدخَل: يحتاج القسم إلى معرفة من في السرير؛ سجّل خروجه أولًا"
              " ثم امسح.",
    },
    CareWhy.NO_IDENTITY: {
        "en": "Patient {patient} has no identity: it was erased or never given.",
        "fr": "Le patient {patient} n'a pas d'identité : elle a été effacée ou jamais donnée.",
        "ar": "المريض {patient} بلا هوية: مُسحت أو لم تُعطَ قط.",
    },
}  # fmt: skip
"""The care operations' refusals; each may name any of its code's values (``PARAMS``)."""

FIELDS: Final[Mapping[str, Phrase]] = {
    "ward": {"en": "ward", "fr": "de service", "ar": "القسم"},
    "patient": {"en": "patient", "fr": "de patient", "ar": "المريض"},
    "device": {"en": "device", "fr": "d'appareil", "ar": "الجهاز"},
    "gateway": {"en": "gateway", "fr": "de passerelle", "ar": "البوابة"},
    "the family name": {"en": "The family name", "fr": "Le nom de famille",
                        "ar": "اسم العائلة"},
    "the given name": {"en": "The given name", "fr": "Le prénom", "ar": "الاسم الشخصي"},
    "--serial": {"en": "The serial number", "fr": "Le numéro de série",
                 "ar": "الرقم التسلسلي"},
    "--model": {"en": "The model", "fr": "Le modèle", "ar": "الطراز"},
}  # fmt: skip
"""The field a value-check names (``what``), as the sentence says it."""

MONITOR: Final[Mapping[MonitorWhy, Phrase]] = {
    MonitorWhy.LIMIT_ORDER: {
        "en": "The low limit ({low}) must be below the high limit ({high}).",
        "fr": "Le seuil bas ({low}) doit être inférieur au seuil haut ({high}).",
        "ar": "يجب أن يكون الحد الأدنى ({low}) أقل من الحد الأعلى ({high}).",
    },
    MonitorWhy.LIMIT_SIDES: {
        "en": "Give a low limit, a high limit or both.",
        "fr": "Donnez un seuil bas, un seuil haut ou les deux.",
        "ar": "أدخل حدًا أدنى أو حدًا أعلى أو كليهما.",
    },
    MonitorWhy.LIMIT_METRIC: {
        "en": "No alarm limits for {metric}: one of {metrics}.",
        "fr": "Pas de seuils d'alarme pour {metric} : l'un de {metrics}.",
        "ar": "لا حدود إنذار لـ {metric}: واحد من {metrics}.",
    },
    MonitorWhy.LIMIT_REFUSED: {
        "en": "This limit is outside what the measure can take, or the patient has left.",
        "fr": "Ce seuil est hors de ce que la mesure peut prendre, ou le patient est sorti.",
        "ar": "هذا الحد خارج ما يمكن أن يأخذه القياس، أو أن المريض قد خرج.",
    },
    MonitorWhy.ALERT_STATE: {
        "en": "This alert is {state} now: nothing to do.",
        "fr": "Cette alerte est maintenant {state} : rien à faire.",
        "ar": "هذا الإنذار الآن {state}: لا شيء لفعله.",
    },
    MonitorWhy.ALREADY_SILENCED: {
        "en": "This alert is already silenced for longer.",
        "fr": "Cette alerte est déjà en sourdine plus longtemps.",
        "ar": "هذا الإنذار مكتوم بالفعل لمدة أطول.",
    },
    MonitorWhy.NO_ALERT: {
        "en": "No such alert.",
        "fr": "Aucune alerte de ce type.",
        "ar": "لا يوجد هذا الإنذار.",
    },
}  # fmt: skip
"""The analytics service's refusals a person can meet through the station."""

_UNEXPLAINED: Final[Phrase] = {
    "en": "Refused: {detail}",
    "fr": "Refusé (détail en anglais) : {detail}",
    "ar": "مرفوض (التفاصيل بالإنجليزية): {detail}",
}
"""An error with no code (none the station can reach today; kept so a new one still shows)."""


_NONE: Final = "\N{EN DASH}"


def _shown(name: str, value: object, t: Translator) -> str:
    """A refusal's value as written in her language: dates and numbers in her locale, an alert
    state or a field's name in her words, nothing as a dash."""
    shown = str(value)
    if value is None:
        shown = _NONE
    elif isinstance(value, datetime):
        shown = t.when(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        shown = t.number(value)
    elif name == "what" and shown in FIELDS:
        shown = FIELDS[shown][t.lang.value]
    elif name == "state":
        shown = t(f"state_{value}")
    return shown


def in_words(exc: Exception, t: Translator) -> str:
    """The sentence the page shows for ``exc``, in ``t``'s language."""
    if isinstance(exc, StationError):
        return exc.in_words(t)
    phrase: Phrase | None = None
    params: Mapping[str, object] = {}
    if isinstance(exc, CareError):
        phrase, params = CARE[exc.why], exc.params
    elif isinstance(exc, MonitorError) and exc.why is not None:
        phrase, params = MONITOR[exc.why], exc.params
    if phrase is None:
        return _UNEXPLAINED[t.lang.value].format(detail=str(exc))
    values = {k: _shown(k, v, t) for k, v in params.items()}
    return phrase[t.lang.value].format(**values)
