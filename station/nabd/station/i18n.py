"""The station's words in French, English and Arabic (right to left).

Risk, priority, alert-state and column labels are the Grafana dashboards' own in all three
languages (:mod:`nabd.dashboards.i18n`), so a nurse reads the same word on both screens. Every
phrase must exist in all three languages (``tests/station`` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from nabd.contract.numbers import number
from nabd.dashboards.i18n import Lang, strings
from nabd.station.consent import CONSENT_PHRASES
from nabd.station.users import Language

__all__ = ["PHRASES", "Translator", "direction"]

_SHARED: Final = (
    "risk_low", "risk_low_medium", "risk_medium", "risk_high",
    "priority_low", "priority_medium", "priority_high", "priority_critical",
    "state_raised", "state_acknowledged", "state_silenced", "state_resolved",
    "col_patient", "col_ward", "col_news2", "col_pulse", "col_spo2", "col_respiration",
    "col_temperature", "col_alerts", "col_priority", "col_state", "col_message",
    "incomplete", "no_value",
)  # fmt: skip
"""Labels taken from the dashboards, in every language."""

PHRASES: Final[Mapping[str, Mapping[str, str]]] = {
    "title": {"en": "Nurse station", "fr": "Poste de soins", "ar": "محطة التمريض"},
    "sign_in": {"en": "Sign in", "fr": "Se connecter", "ar": "تسجيل الدخول"},
    "sign_out": {"en": "Sign out", "fr": "Se déconnecter", "ar": "تسجيل الخروج"},
    "user_name": {"en": "User name", "fr": "Identifiant", "ar": "اسم المستخدم"},
    "password": {"en": "Password", "fr": "Mot de passe", "ar": "كلمة المرور"},
    "board": {"en": "Ward board", "fr": "Tableau du service", "ar": "لوحة المصلحة"},
    "bp": {"en": "BP", "fr": "PA", "ar": "الضغط"},
    "bed": {"en": "bed", "fr": "lit", "ar": "سرير"},
    "acknowledge": {"en": "Acknowledge", "fr": "Acquitter", "ar": "تأكيد"},
    "silence": {"en": "Silence", "fr": "Mettre en sourdine", "ar": "كتم"},
    "reason": {"en": "Reason", "fr": "Motif", "ar": "السبب"},
    "minutes": {"en": "minutes", "fr": "minutes", "ar": "دقائق"},
    "no_patients": {
        "en": "No admitted patient in your wards.",
        "fr": "Aucun patient admis dans vos services.",
        "ar": "لا يوجد مريض مقيم في مصالحك.",
    },
    "no_alerts": {"en": "No open alert.", "fr": "Aucune alerte ouverte.", "ar": "لا إنذار مفتوح."},
    "counted_by": {"en": "counted by", "fr": "compté par", "ar": "عدّ يدوي بواسطة"},
    "news2_missing": {"en": "missing", "fr": "manque", "ar": "ينقص"},
    "news2_respiration": {
        "en": "respiratory rate",
        "fr": "fréquence respiratoire",
        "ar": "معدل التنفس",
    },
    "news2_spo2": {"en": "SpO2", "fr": "SpO2", "ar": "SpO2"},
    "news2_oxygen": {"en": "air/O2", "fr": "air/O2", "ar": "هواء/أكسجين"},
    "news2_bp": {"en": "systolic BP", "fr": "PA systolique", "ar": "الضغط الانقباضي"},
    "news2_pulse": {"en": "pulse", "fr": "pouls", "ar": "النبض"},
    "news2_consciousness": {"en": "consciousness", "fr": "conscience", "ar": "الوعي"},
    "news2_temperature": {"en": "temperature", "fr": "température", "ar": "الحرارة"},
    "record": {
        "en": "Record observations",
        "fr": "Saisir des observations",
        "ar": "تسجيل الملاحظات",
    },
    "counted_rr": {"en": "Respiratory rate (counted)", "fr": "Fréquence respiratoire (comptée)",
                   "ar": "معدل التنفس (معدود)"},
    "counted_rr_hint": {
        "en": "breaths counted over a full minute; blank: not counted",
        "fr": "respirations comptées sur une minute entière ; vide : non comptée",
        "ar": "الأنفاس معدودة خلال دقيقة كاملة؛ فارغ: لم تُعدّ",
    },
    "per_min": {"en": "/min", "fr": "/min", "ar": "/دقيقة"},
    "bad_rr": {
        "en": "Not recorded: a counted respiratory rate is a whole number of breaths/min from 0"
        " to 150.",
        "fr": "Non enregistré : une fréquence respiratoire comptée est un nombre entier de"
        " respirations/min de 0 à 150.",
        "ar": "لم يُسجَّل: معدل التنفس المعدود عدد صحيح من الأنفاس في الدقيقة بين 0 و150.",
    },
    "bad_spo2": {
        "en": "Not recorded: a measured SpO2 is a whole number of % from 50 to 100.",
        "fr": "Non enregistré : une SpO2 mesurée est un nombre entier de % de 50 à 100.",
        "ar": "لم يُسجَّل: SpO2 المقاسة عدد صحيح بالنسبة المئوية بين 50 و100.",
    },
    "bad_pulse": {
        "en": "Not recorded: a measured pulse is a whole number of beats/min from 20 to 250.",
        "fr": "Non enregistré : un pouls mesuré est un nombre entier de battements/min de 20 à"
        " 250.",
        "ar": "لم يُسجَّل: النبض المقاس عدد صحيح من النبضات في الدقيقة بين 20 و250.",
    },
    "bad_bp": {
        "en": "Not recorded: a blood pressure is the systolic (40-300 mmHg) and the diastolic"
        " (20-200 mmHg) together, whole numbers, the systolic the higher.",
        "fr": "Non enregistré : une pression artérielle, c'est la systolique (40-300 mmHg) et la"
        " diastolique (20-200 mmHg) ensemble, en nombres entiers, la systolique la plus haute.",
        "ar": "لم يُسجَّل: ضغط الدم هو الانقباضي (40-300 ملم زئبق) والانبساطي (20-200 ملم زئبق)"
        " معًا، أعدادًا صحيحة، والانقباضي هو الأعلى.",
    },
    "bad_temp": {
        "en": "Not recorded: a measured temperature is in °C from 25 to 45, with at most one"
        " decimal (e.g. 37.8).",
        "fr": "Non enregistré : une température mesurée est en °C de 25 à 45, avec au plus une"
        " décimale (p. ex. 37,8).",
        "ar": "لم يُسجَّل: الحرارة المقاسة بالدرجة المئوية بين 25 و45، بمنزلة عشرية واحدة على"
        " الأكثر (مثلًا 37.8).",
    },
    "spot_values": {"en": "Measured at the bedside", "fr": "Mesuré au lit du patient",
                    "ar": "مقاس بجانب السرير"},
    "spot_values_hint": {
        "en": "values you measured with the ward's instruments; blank: not measured. Each counts"
        " for 4 h unless a device measures one since.",
        "fr": "valeurs mesurées avec les appareils du service ; vide : non mesurée. Chacune compte"
        " 4 h, sauf si un appareil en mesure une depuis.",
        "ar": "قيم قستها بأجهزة المصلحة؛ فارغ: لم تُقَس. تُحتسب كل قيمة 4 ساعات ما لم يقسها جهاز"
        " بعدها.",
    },
    "systolic": {"en": "systolic", "fr": "systolique", "ar": "الانقباضي"},
    "diastolic": {"en": "diastolic", "fr": "diastolique", "ar": "الانبساطي"},
    "entered_by": {"en": "entered by", "fr": "saisi par", "ar": "أدخله"},
    "bad_acvpu": {
        "en": "Not recorded: consciousness is one of A, C, V, P, U.",
        "fr": "Non enregistré : la conscience est l'une de A, C, V, P, U.",
        "ar": "لم يُسجَّل: الوعي واحد من A, C, V, P, U.",
    },
    "bad_oxygen": {
        "en": "Not recorded: supplemental oxygen is 'air' or 'oxygen'.",
        "fr": "Non enregistré : l'oxygène est « air » ou « oxygène ».",
        "ar": "لم يُسجَّل: الأكسجين الإضافي «هواء» أو «أكسجين».",
    },
    "nothing_to_record": {
        "en": "Nothing to record: count a respiratory rate, enter a value you measured, or"
        " choose a consciousness level or oxygen.",
        "fr": "Rien à enregistrer : comptez une fréquence respiratoire, saisissez une valeur"
        " mesurée, ou choisissez une conscience ou l'oxygène.",
        "ar": "لا شيء للتسجيل: عُدّ معدل التنفس أو أدخل قيمة قستها أو اختر مستوى الوعي أو"
        " الأكسجين.",
    },
    "consciousness": {"en": "Consciousness (ACVPU)", "fr": "Conscience (ACVPU)",
                      "ar": "الوعي (ACVPU)"},
    "oxygen": {"en": "Supplemental oxygen", "fr": "Oxygène", "ar": "أكسجين إضافي"},
    "on_air": {"en": "Air", "fr": "Air ambiant", "ar": "هواء"},
    "on_oxygen": {"en": "Oxygen", "fr": "Oxygène", "ar": "أكسجين"},
    "save": {"en": "Save", "fr": "Enregistrer", "ar": "حفظ"},
    "not_entered": {"en": "not entered", "fr": "non saisi", "ar": "غير مُدخل"},
    "acknowledged_by": {"en": "acknowledged by", "fr": "acquittée par", "ar": "أكّده"},
    "already_acknowledged": {
        "en": "Already acknowledged by {who}.",
        "fr": "Déjà acquittée par {who}.",
        "ar": "سبق أن أكّده {who}.",
    },
    "done_ack": {"en": "Alert acknowledged.", "fr": "Alerte acquittée.", "ar": "تم تأكيد الإنذار."},
    "done_silence": {"en": "Alert silenced.", "fr": "Alerte mise en sourdine.",
                     "ar": "تم كتم الإنذار."},
    "done_record": {"en": "Observations recorded.", "fr": "Observations enregistrées.",
                    "ar": "تم تسجيل الملاحظات."},
    "ago": {"en": "{n} ago", "fr": "il y a {n}", "ar": "منذ {n}"},
    # Units of an age: Arabic writes the words, as the alert sentences do
    # (nabd.contract.alert_text), not "s" / "min" / "h" in Latin letters.
    "age_s": {"en": "{n} s", "fr": "{n} s", "ar": "{n} ثانية"},
    "age_min": {"en": "{n} min", "fr": "{n} min", "ar": "{n} دقيقة"},
    "age_h": {"en": "{n} h", "fr": "{n} h", "ar": "{n} ساعة"},
    # Readings, and so alarms, arriving late on a ward (nabd.station.delays); {late} is a
    # duration of :meth:`Translator.duration`. Arabic: to be reviewed by a native speaker.
    "late_readings": {"en": "Late readings", "fr": "Mesures en retard", "ar": "قياسات متأخرة"},
    "readings_late": {
        "en": "Readings from this ward arrive {late} late: alarms are {late} late too. The"
              " server is overloaded; tell IT.",
        "fr": "Les mesures de ce service arrivent avec {late} de retard : les alarmes aussi."
              " Le serveur est surchargé ; prévenez l'informatique.",
        "ar": "تصل قياسات هذه المصلحة بتأخر {late}: فالإنذارات أيضًا تتأخر {late}."
              " الخادم مُثقَل؛ أبلغ مصلحة المعلوميات.",
    },
    # A ward no longer scored at all (nabd.station.delays.stopped): no alarm is raised there.
    # {since} is a duration of :meth:`Translator.duration`. Arabic: to be reviewed by a native
    # speaker.
    "analysis_stopped": {"en": "Alarm analysis stopped", "fr": "Analyse des alarmes arrêtée",
                         "ar": "تحليل الإنذارات متوقف"},
    "analysis_stopped_since": {
        "en": "Alarm analysis for this ward stopped {since} ago: no alarm is being raised."
              " Watch the patients directly and call IT.",
        "fr": "L'analyse des alarmes de ce service est arrêtée depuis {since} : aucune alarme"
              " n'est déclenchée. Surveillez directement les patients et appelez"
              " l'informatique.",
        "ar": "تحليل الإنذارات لهذه المصلحة متوقف منذ {since}: لا يُطلَق أي إنذار. راقب المرضى"
              " مباشرةً واتصل بمصلحة المعلوميات.",
    },
    "analysis_not_running": {
        "en": "Alarm analysis is not running for this ward: no alarm is being raised. Watch the"
              " patients directly and call IT.",
        "fr": "L'analyse des alarmes ne tourne pas pour ce service : aucune alarme n'est"
              " déclenchée. Surveillez directement les patients et appelez l'informatique.",
        "ar": "تحليل الإنذارات لا يعمل لهذه المصلحة: لا يُطلَق أي إنذار. راقب المرضى مباشرةً"
              " واتصل بمصلحة المعلوميات.",
    },
    # The board itself not refreshing (static/board.js): shown by the browser, written here;
    # {at} is the time of the last good refresh (:meth:`Translator.clock`). Arabic: to be
    # reviewed by a native speaker.
    "screen_stale": {"en": "Screen not updated", "fr": "Écran non mis à jour",
                     "ar": "الشاشة غير محدَّثة"},
    "screen_stale_since": {
        "en": "This screen has not been updated since {at}: alarms may be missing. Check with"
              " IT.",
        "fr": "Cet écran n'est plus mis à jour depuis {at} : des alarmes peuvent manquer."
              " Vérifiez avec l'informatique.",
        "ar": "لم تُحدَّث هذه الشاشة منذ {at}: قد تغيب عنها إنذارات. تحقّق مع مصلحة المعلوميات.",
    },
    "new_alert": {"en": "New high-priority alert", "fr": "Nouvelle alerte prioritaire",
                  "ar": "إنذار جديد ذو أولوية عالية"},
    "back": {"en": "Back to the board", "fr": "Retour au tableau", "ar": "العودة إلى اللوحة"},
    "signed_in_as": {"en": "Signed in as", "fr": "Connectée en tant que", "ar": "متصل باسم"},
    "admin": {"en": "Admissions and devices", "fr": "Admissions et appareils",
              "ar": "الإدخالات والأجهزة"},
    "admitted": {"en": "Admitted patients", "fr": "Patients admis", "ar": "المرضى المقيمون"},
    "admit": {"en": "Admit", "fr": "Admettre", "ar": "إدخال"},
    "transfer": {"en": "Transfer", "fr": "Transférer", "ar": "نقل"},
    "discharge": {"en": "Discharge", "fr": "Sortie", "ar": "خروج"},
    "person_name": {"en": "Name (Given Family)", "fr": "Nom (Prénom Nom)",
                    "ar": "الاسم (الاسم العائلة)"},
    "birth_date": {"en": "Birth date", "fr": "Date de naissance", "ar": "تاريخ الميلاد"},
    "devices": {"en": "Devices", "fr": "Appareils", "ar": "الأجهزة"},
    "device": {"en": "Device", "fr": "Appareil", "ar": "الجهاز"},
    "kind": {"en": "Kind", "fr": "Type", "ar": "النوع"},
    "address": {"en": "Bluetooth address", "fr": "Adresse Bluetooth", "ar": "عنوان البلوتوث"},
    "serial": {"en": "Serial number", "fr": "Numéro de série", "ar": "الرقم التسلسلي"},
    "register_device": {"en": "Register a device", "fr": "Enregistrer un appareil",
                        "ar": "تسجيل جهاز"},
    "assign": {"en": "Assign", "fr": "Attribuer", "ar": "تخصيص"},
    "unassign": {"en": "Unassign", "fr": "Retirer", "ar": "إلغاء التخصيص"},
    "gateways": {"en": "Gateways", "fr": "Passerelles", "ar": "البوابات"},
    "gateway": {"en": "Gateway", "fr": "Passerelle", "ar": "البوابة"},
    "beds": {"en": "Beds", "fr": "Lits", "ar": "الأسرّة"},
    "gw_state": {"en": "State", "fr": "État", "ar": "الحالة"},
    "last_seen": {"en": "Last seen", "fr": "Vue pour la dernière fois", "ar": "آخر ظهور"},
    "revoked": {"en": "revoked", "fr": "révoquée", "ar": "ملغاة"},
    "no_gateways": {"en": "No gateway in your wards.", "fr": "Aucune passerelle dans vos services.",
                    "ar": "لا توجد بوابة في أقسامك."},
    "provision": {"en": "Provision a gateway", "fr": "Provisionner une passerelle",
                  "ar": "تجهيز بوابة"},
    "provision_hint": {
        "en": "Registers it on the ward, gives it a broker account and a certificate, and offers"
        " its folder (CA, certificate, private key, edge.toml) to download once.",
        "fr": "L'enregistre dans le service, lui donne un compte sur le broker et un certificat,"
        " et propose son dossier (CA, certificat, clé privée, edge.toml) à télécharger une fois.",
        "ar": "يسجّلها في القسم ويمنحها حسابًا على الوسيط وشهادة، ويعرض مجلدها (CA، الشهادة،"
        " المفتاح الخاص، edge.toml) للتنزيل مرة واحدة.",
    },
    "provision_unavailable": {
        "en": "This station issues no gateway credentials: provision with `nabd gateway"
        " provision` on the server.",
        "fr": "Cette station ne délivre pas d'identifiants de passerelle : provisionnez avec"
        " `nabd gateway provision` sur le serveur.",
        "ar": "هذه المحطة لا تُصدر بيانات اعتماد للبوابات: جهّزها بالأمر"
        " `nabd gateway provision` على الخادم.",
    },
    "data_dir": {"en": "Data folder on the gateway", "fr": "Dossier de données sur la passerelle",
                 "ar": "مجلد البيانات على البوابة"},
    "download_once": {
        "en": "Download the gateway's folder now: it holds its private key, is offered only"
        " once and only for 10 minutes, and is not kept. Copy it to the gateway and start"
        " `nabd edge run --config edge.toml` there.",
        "fr": "Téléchargez maintenant le dossier de la passerelle : il contient sa clé privée,"
        " n'est proposé qu'une fois et pendant 10 minutes, et n'est pas conservé. Copiez-le sur"
        " la passerelle et lancez-y `nabd edge run --config edge.toml`.",
        "ar": "نزّل مجلد البوابة الآن: يحتوي على مفتاحها الخاص، ويُعرض مرة واحدة فقط ولمدة 10"
        " دقائق، ولا يُحفظ. انسخه إلى البوابة وشغّل هناك `nabd edge run --config edge.toml`.",
    },
    "download": {"en": "Download (once)", "fr": "Télécharger (une fois)",
                 "ar": "تنزيل (مرة واحدة)"},
    "serve_beds": {"en": "Serve beds", "fr": "Desservir des lits", "ar": "خدمة الأسرّة"},
    "beds_hint": {"en": "bed labels, separated by spaces", "fr": "lits, séparés par des espaces",
                  "ar": "أرقام الأسرّة مفصولة بمسافات"},
    "revoke": {"en": "Revoke", "fr": "Révoquer", "ar": "إلغاء"},
    "revoke_hint": {
        "en": "Its broker account goes and its connection ends at once; a revoked gateway is"
        " never registered again.",
        "fr": "Son compte sur le broker est supprimé et sa connexion coupée aussitôt ; une"
        " passerelle révoquée n'est jamais réenregistrée.",
        "ar": "يُحذف حسابها على الوسيط ويُقطع اتصالها فورًا؛ ولا تُسجَّل البوابة الملغاة مجددًا.",
    },
    "done_provision": {"en": "Gateway provisioned.", "fr": "Passerelle provisionnée.",
                       "ar": "تم تجهيز البوابة."},
    "done_serve": {"en": "Beds served by the gateway.", "fr": "Lits desservis par la passerelle.",
                   "ar": "أصبحت الأسرّة تُخدم بالبوابة."},
    "done_revoke": {"en": "Gateway revoked.", "fr": "Passerelle révoquée.",
                    "ar": "تم إلغاء البوابة."},
    "users": {"en": "Users", "fr": "Utilisateurs", "ar": "المستخدمون"},
    "display_name": {"en": "Shown as", "fr": "Nom affiché", "ar": "الاسم المعروض"},
    "role": {"en": "Role", "fr": "Rôle", "ar": "الدور"},
    "role_nurse": {"en": "nurse", "fr": "infirmière", "ar": "ممرضة"},
    "role_charge_nurse": {"en": "charge nurse", "fr": "infirmière référente",
                          "ar": "ممرضة مسؤولة"},
    "role_admin": {"en": "admin", "fr": "administratrice", "ar": "مسؤولة النظام"},
    "wards": {"en": "Wards", "fr": "Services", "ar": "الأقسام"},
    "access": {"en": "Access", "fr": "Accès", "ar": "الوصول"},
    "active": {"en": "active", "fr": "actif", "ar": "مفعّل"},
    "disabled": {"en": "disabled", "fr": "désactivé", "ar": "معطّل"},
    "locked": {"en": "locked (wrong passwords)", "fr": "verrouillé (mots de passe erronés)",
               "ar": "مقفل (كلمات مرور خاطئة)"},
    "language": {"en": "Language", "fr": "Langue", "ar": "اللغة"},
    "sees_identity": {"en": "sees patients' names", "fr": "voit le nom des patients",
                      "ar": "يرى أسماء المرضى"},
    "first_password": {"en": "First password (10+ characters)",
                       "fr": "Premier mot de passe (10 caractères ou plus)",
                       "ar": "كلمة المرور الأولى (10 أحرف أو أكثر)"},
    "add_user": {"en": "Add a user", "fr": "Ajouter un utilisateur", "ar": "إضافة مستخدم"},
    "change_user": {"en": "Change a user", "fr": "Modifier un utilisateur",
                    "ar": "تعديل مستخدم"},
    "done_user_added": {"en": "User added.", "fr": "Utilisateur ajouté.",
                        "ar": "تمت إضافة المستخدم."},
    "done_user_changed": {"en": "User changed.", "fr": "Utilisateur modifié.",
                          "ar": "تم تعديل المستخدم."},
    "refused_csrf": {
        "en": "This form has expired or did not come from this station: reload the page and"
        " try again.",
        "fr": "Ce formulaire a expiré ou ne vient pas de cette station : rechargez la page et"
        " réessayez.",
        "ar": "انتهت صلاحية هذا النموذج أو لم يأتِ من هذه المحطة: أعد تحميل الصفحة وحاول مجددًا.",
    },
    "refused_role": {
        "en": "This page is for the {role} role; you are signed in as {mine}.",
        "fr": "Cette page est réservée au rôle {role} ; vous êtes connectée comme {mine}.",
        "ar": "هذه الصفحة لدور {role}؛ أنت متصل بصفة {mine}.",
    },
    "no_patient": {"en": "No patient {id} in your wards.",
                   "fr": "Aucun patient {id} dans vos services.",
                   "ar": "لا يوجد مريض {id} في أقسامك."},
    "no_alert": {"en": "No such alert in your wards.", "fr": "Aucune alerte de ce type dans vos"
                 " services.", "ar": "لا يوجد هذا الإنذار في أقسامك."},
    "no_ward": {"en": "No ward {id} among yours.", "fr": "Aucun service {id} parmi les vôtres.",
                "ar": "لا يوجد قسم {id} بين أقسامك."},
    "no_gateway": {"en": "No gateway {id} in your wards.",
                   "fr": "Aucune passerelle {id} dans vos services.",
                   "ar": "لا توجد بوابة {id} في أقسامك."},
    "no_device": {"en": "No device {id} in your wards.",
                  "fr": "Aucun appareil {id} dans vos services.",
                  "ar": "لا يوجد جهاز {id} في أقسامك."},
    "no_user": {"en": "No user {id} whose wards are all yours.",
                "fr": "Aucun utilisateur {id} dont tous les services sont les vôtres.",
                "ar": "لا يوجد مستخدم {id} كل أقسامه من أقسامك."},
    "not_yourself": {"en": "You cannot change your own role, wards or access here.",
                     "fr": "Vous ne pouvez pas modifier ici votre propre rôle, vos services ou"
                     " votre accès.",
                     "ar": "لا يمكنك هنا تغيير دورك أو أقسامك أو وصولك."},
    "gateway_taken": {"en": "Gateway id {id} is taken by another ward: choose another id.",
                      "fr": "L'identifiant de passerelle {id} est pris par un autre service :"
                      " choisissez-en un autre.",
                      "ar": "معرّف البوابة {id} مستخدم في قسم آخر: اختر معرّفًا آخر."},
    "download_gone": {
        "en": "This gateway folder is no longer available (it is offered once, for 10 minutes,"
        " to the admin who provisioned it): provision the gateway again.",
        "fr": "Ce dossier de passerelle n'est plus disponible (il est proposé une fois, pendant"
        " 10 minutes, à l'administratrice qui l'a provisionnée) : provisionnez la passerelle"
        " à nouveau.",
        "ar": "لم يعد مجلد البوابة متاحًا (يُعرض مرة واحدة لمدة 10 دقائق لمن جهّزها): جهّز"
        " البوابة من جديد.",
    },
    "done_admit": {"en": "Patient admitted.", "fr": "Patient admis.", "ar": "تم إدخال المريض."},
    "done_transfer": {"en": "Patient transferred.", "fr": "Patient transféré.",
                      "ar": "تم نقل المريض."},
    "done_discharge": {"en": "Patient discharged.", "fr": "Sortie enregistrée.",
                       "ar": "تم تسجيل خروج المريض."},
    "done_device": {"en": "Device registered.", "fr": "Appareil enregistré.",
                    "ar": "تم تسجيل الجهاز."},
    "done_assign": {"en": "Device assigned.", "fr": "Appareil attribué.", "ar": "تم تخصيص الجهاز."},
    "done_unassign": {"en": "Device unassigned.", "fr": "Appareil retiré.",
                      "ar": "تم إلغاء تخصيص الجهاز."},
    "charge": {"en": "Alarm limits and NEWS2", "fr": "Seuils d'alarme et NEWS2",
               "ar": "حدود الإنذار وNEWS2"},
    "alarm_limits": {"en": "Alarm limits", "fr": "Seuils d'alarme", "ar": "حدود الإنذار"},
    "metric": {"en": "Measure", "fr": "Mesure", "ar": "القياس"},
    "low": {"en": "Low", "fr": "Bas", "ar": "الأدنى"},
    "high": {"en": "High", "fr": "Haut", "ar": "الأعلى"},
    "set_by": {"en": "Set by", "fr": "Fixé par", "ar": "حدّده"},
    "defaults_only": {"en": "Default limits everywhere.", "fr": "Seuils par défaut partout.",
                      "ar": "الحدود الافتراضية في كل مكان."},
    "limits_hint": {
        "en": "Blank keeps a side as it is; 'off' switches it off."
              " A patient's limit replaces her ward's.",
        "fr": "Vide : le côté reste inchangé ; « off » le désactive."
              " Le seuil d'un patient remplace celui du service.",
        "ar": "فارغ: يبقى الحد كما هو؛ 'off' يوقفه. حد المريض يحل محل حد المصلحة.",
    },
    "clear_limit": {"en": "Back to the level above", "fr": "Revenir au niveau supérieur",
                    "ar": "العودة إلى المستوى الأعلى"},
    "news2_scale": {"en": "NEWS2 SpO2 scale", "fr": "Échelle SpO2 du NEWS2",
                    "ar": "سلّم SpO2 في NEWS2"},
    "scale2_hint": {
        "en": "Scale 2 only for confirmed hypercapnic respiratory failure with a prescribed"
              " 88-92 % target (RCP NEWS2, 2017).",
        "fr": "Échelle 2 seulement pour une insuffisance respiratoire hypercapnique confirmée"
              " avec une cible prescrite de 88-92 % (RCP NEWS2, 2017).",
        "ar": "السلّم 2 فقط لقصور تنفسي مفرط ثاني أكسيد الكربون مؤكَّد"
              " مع هدف موصوف 88-92 % (RCP NEWS2، 2017).",
    },
    "scale1": {"en": "Scale 1", "fr": "Échelle 1", "ar": "السلّم 1"},
    "scale2": {"en": "Scale 2", "fr": "Échelle 2", "ar": "السلّم 2"},
    "use_scale1": {"en": "Use Scale 1", "fr": "Passer à l'échelle 1", "ar": "استعمال السلّم 1"},
    "use_scale2": {"en": "Use Scale 2", "fr": "Passer à l'échelle 2", "ar": "استعمال السلّم 2"},
    "done_limit": {"en": "Alarm limit saved.", "fr": "Seuil enregistré.", "ar": "تم حفظ الحد."},
    "done_clear": {"en": "Alarm limit removed.", "fr": "Seuil supprimé.", "ar": "تم حذف الحد."},
    "done_scale": {"en": "NEWS2 scale changed.", "fr": "Échelle NEWS2 modifiée.",
                   "ar": "تم تغيير سلّم NEWS2."},
    "sign_in_refused": {"en": "Unknown user or wrong password.",
                        "fr": "Identifiant inconnu ou mot de passe erroné.",
                        "ar": "اسم مستخدم غير معروف أو كلمة مرور خاطئة."},
    "locked_out": {
        "en": "Too many wrong passwords: this account is locked for a while; ask an admin.",
        "fr": "Trop de mots de passe erronés : ce compte est verrouillé un moment ;"
              " demandez à une administratrice.",
        "ar": "كلمات مرور خاطئة كثيرة: هذا الحساب مقفل لبعض الوقت؛ اطلب المساعدة من المسؤول.",
    },
    "form_refused": {
        "en": "This form was refused: a value is missing, too long or not accepted ({fields});"
              " go back, correct it and try again.",
        "fr": "Ce formulaire a été refusé : une valeur manque, est trop longue ou n'est pas"
              " acceptée ({fields}) ; revenez en arrière, corrigez-la et réessayez.",
        "ar": "رُفض هذا النموذج: قيمة ناقصة أو طويلة جدًا أو غير مقبولة ({fields})؛ ارجع وصحّحها"
              " وحاول مجددًا.",
    },
    "server_failed": {
        "en": "Something went wrong on the server; it has been logged. Try again.",
        "fr": "Une erreur s'est produite sur le serveur ; elle a été journalisée. Réessayez.",
        "ar": "حدث خطأ في الخادم؛ تم تسجيله. حاول مجددًا.",
    },
    "side_low": {"en": "low", "fr": "bas", "ar": "الأدنى"},
    "side_high": {"en": "high", "fr": "haut", "ar": "الأعلى"},
    "bad_limit": {
        "en": "The {side} limit must be a number, 'off' or blank, not {value}.",
        "fr": "Le seuil {side} doit être un nombre, « off » ou vide, pas {value}.",
        "ar": "يجب أن يكون الحد {side} رقمًا أو 'off' أو فارغًا، وليس {value}.",
    },
    "bad_target": {"en": "A limit is for one of your wards or patients.",
                   "fr": "Un seuil s'applique à l'un de vos services ou patients.",
                   "ar": "الحد يخص أحد أقسامك أو مرضاك."},
    "bad_metric": {"en": "The measure must be one of {metrics}.",
                   "fr": "La mesure doit être l'une de {metrics}.",
                   "ar": "يجب أن يكون القياس واحدًا من {metrics}."},
    "bad_scale": {"en": "The NEWS2 SpO2 scale is 1 or 2.",
                  "fr": "L'échelle SpO2 du NEWS2 est 1 ou 2.",
                  "ar": "سلّم SpO2 في NEWS2 هو 1 أو 2."},
    "bad_user_name": {
        "en": "User name {name} is not accepted: 1 to 63 lower-case letters, digits, '.', '_'"
              " or '-', starting with a letter or digit.",
        "fr": "L'identifiant {name} n'est pas accepté : 1 à 63 lettres minuscules, chiffres,"
              " « . », « _ » ou « - », commençant par une lettre ou un chiffre.",
        "ar": "اسم المستخدم {name} غير مقبول: من 1 إلى 63 حرفًا لاتينيًا صغيرًا أو رقمًا أو «.»"
              " أو «_» أو «-»، يبدأ بحرف أو رقم.",
    },
    "bad_display_name": {"en": "The name shown must be 1 to 100 characters.",
                         "fr": "Le nom affiché doit faire 1 à 100 caractères.",
                         "ar": "يجب أن يكون الاسم المعروض من 1 إلى 100 حرف."},
    "no_ward_given": {"en": "Give at least one ward.", "fr": "Donnez au moins un service.",
                      "ar": "أدخل قسمًا واحدًا على الأقل."},
    "weak_password": {
        "en": "The password must be at least {n} characters, with at least {distinct} different"
              " ones, and must not contain the user name.",
        "fr": "Le mot de passe doit faire au moins {n} caractères, dont au moins {distinct}"
              " différents, et ne pas contenir l'identifiant.",
        "ar": "يجب أن تتكون كلمة المرور من {n} أحرف على الأقل، منها {distinct} مختلفة على"
              " الأقل، وألا تحتوي على اسم المستخدم.",
    },
    "user_taken": {"en": "This user name is taken: choose another.",
                   "fr": "Cet identifiant est déjà pris : choisissez-en un autre.",
                   "ar": "اسم المستخدم هذا مستعمل: اختر اسمًا آخر."},
    "user_refused": {"en": "The database refused this user ({detail}).",
                     "fr": "La base de données a refusé cet utilisateur ({detail}).",
                     "ar": "رفضت قاعدة البيانات هذا المستخدم ({detail})."},
    "bad_role": {"en": "The role is nurse, charge nurse or admin.",
                 "fr": "Le rôle est infirmière, infirmière référente ou administratrice.",
                 "ar": "الدور ممرضة أو ممرضة مسؤولة أو مسؤولة النظام."},
    "bad_language": {"en": "The language is fr, en or ar.", "fr": "La langue est fr, en ou ar.",
                     "ar": "اللغة fr أو en أو ar."},
    "credentials_failed": {
        "en": "The gateway's credentials could not be issued; nothing was provisioned"
              " (detail: {detail}).",
        "fr": "Les identifiants de la passerelle n'ont pas pu être délivrés ; rien n'a été"
              " provisionné (détail : {detail}).",
        "ar": "تعذّر إصدار بيانات اعتماد البوابة؛ لم يُجهَّز شيء (التفاصيل: {detail}).",
    },
    "change_password": {"en": "Change my password", "fr": "Changer mon mot de passe",
                        "ar": "تغيير كلمة المرور"},
    "current_password": {"en": "Current password", "fr": "Mot de passe actuel",
                         "ar": "كلمة المرور الحالية"},
    "new_password": {"en": "New password", "fr": "Nouveau mot de passe",
                     "ar": "كلمة المرور الجديدة"},
    "new_password_again": {"en": "New password, again", "fr": "Nouveau mot de passe, à nouveau",
                           "ar": "كلمة المرور الجديدة مرة أخرى"},
    "password_rule": {
        "en": "At least 10 characters (a few words make a good one), at least 5 different,"
              " not containing your user name. Your other sessions end.",
        "fr": "Au moins 10 caractères (quelques mots font un bon mot de passe), dont 5"
              " différents, sans votre identifiant. Vos autres sessions se terminent.",
        "ar": "10 أحرف على الأقل (بضع كلمات تصنع كلمة مرور جيدة)، منها 5 مختلفة، دون اسم"
              " المستخدم. تنتهي جلساتك الأخرى.",
    },
    "must_change_password": {
        "en": "An admin has reset your password: choose your own to continue.",
        "fr": "Une administratrice a réinitialisé votre mot de passe : choisissez le vôtre pour"
              " continuer.",
        "ar": "أعاد المسؤول تعيين كلمة مرورك: اختر كلمة مرورك للمتابعة.",
    },
    "done_password": {"en": "Password changed; your other sessions have ended.",
                      "fr": "Mot de passe changé ; vos autres sessions sont terminées.",
                      "ar": "تم تغيير كلمة المرور؛ انتهت جلساتك الأخرى."},
    "wrong_current_password": {"en": "The current password is wrong: nothing was changed.",
                               "fr": "Le mot de passe actuel est erroné : rien n'a été changé.",
                               "ar": "كلمة المرور الحالية خاطئة: لم يتغير شيء."},
    "same_password": {"en": "The new password is the current one: choose another.",
                      "fr": "Le nouveau mot de passe est l'actuel : choisissez-en un autre.",
                      "ar": "كلمة المرور الجديدة هي الحالية: اختر غيرها."},
    "passwords_differ": {"en": "The two new passwords differ: type the same one twice.",
                         "fr": "Les deux nouveaux mots de passe diffèrent : tapez deux fois le"
                               " même.",
                         "ar": "كلمتا المرور الجديدتان مختلفتان: اكتب الكلمة نفسها مرتين."},
    "reset_password": {"en": "Reset a password", "fr": "Réinitialiser un mot de passe",
                       "ar": "إعادة تعيين كلمة مرور"},
    "temporary_password": {"en": "Temporary password", "fr": "Mot de passe provisoire",
                           "ar": "كلمة مرور مؤقتة"},
    "reset_hint": {
        "en": "Her sessions end at once; at her next sign-in she chooses her own password.",
        "fr": "Ses sessions se terminent aussitôt ; à sa prochaine connexion elle choisit son"
              " propre mot de passe.",
        "ar": "تنتهي جلساتها فورًا؛ وعند دخولها التالي تختار كلمة مرورها.",
    },
    "done_password_reset": {"en": "Password reset; she will choose her own at her next sign-in.",
                            "fr": "Mot de passe réinitialisé ; elle choisira le sien à sa"
                                  " prochaine connexion.",
                            "ar": "أُعيد تعيين كلمة المرور؛ ستختار كلمتها عند دخولها التالي."},
}  # fmt: skip


def direction(lang: Language) -> str:
    """``rtl`` for Arabic, ``ltr`` otherwise (the page's ``dir`` attribute)."""
    return "rtl" if lang is Language.AR else "ltr"


_MONTHS: Final[Mapping[str, tuple[str, ...]]] = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc."),
    "ar": ("يناير", "فبراير", "مارس", "أبريل", "ماي", "يونيو", "يوليوز", "غشت", "شتنبر", "أكتوبر",
           "نونبر", "دجنبر"),
}  # fmt: skip
"""Month names as written in each locale; Arabic's are Morocco's (CLDR ``ar-MA``)."""

_DATE_SEPARATOR: Final[Mapping[str, str]] = {"en": ", ", "fr": ", ", "ar": "، "}


class Translator:
    """``t("key")`` in one language; shared labels from the dashboards; dates and
    numbers as that language writes them (:meth:`when`, :meth:`number`)."""

    def __init__(self, lang: Language, zone: tzinfo | None = None) -> None:
        self.lang = lang
        self.zone = zone or ZoneInfo("UTC")
        self._shared = strings(Lang(lang.value))

    def number(self, value: float, decimals: int | None = None) -> str:
        """``value`` with ``decimals`` places (default: as few as it needs, at most 2) and the
        locale's decimal separator, Western digits in all three languages; no grouping. The
        alert sentences write numbers with the same function (:mod:`nabd.contract.numbers`)."""
        return number(value, self.lang.value, decimals)

    def when(self, at: datetime) -> str:
        """A date and time in the station's time zone: ``6 Dec 2026, 14:05`` (en),
        ``6 déc. 2026, 14:05`` (fr), ``6 دجنبر 2026، 14:05`` (ar): the month in words, so
        day and month are never confused, the 24-hour clock of a ward."""
        local = at.astimezone(self.zone)
        month = _MONTHS[self.lang.value][local.month - 1]
        return (f"{local.day} {month} {local.year}{_DATE_SEPARATOR[self.lang.value]}"
                f"{local:%H:%M}")  # fmt: skip

    def clock(self, at: datetime) -> str:
        """The time of day in the station's time zone, ``14:02``, the 24-hour clock of a ward
        (Western digits in all three languages, as :meth:`when`)."""
        return f"{at.astimezone(self.zone):%H:%M}"

    def __call__(self, key: str, **values: object) -> str:
        if key in _SHARED:
            text = str(getattr(self._shared, key))
        else:
            text = (PHRASES.get(key) or CONSENT_PHRASES[key])[self.lang.value]
        return text.format(**values) if values else text

    def duration(self, seconds: float) -> str:
        """A length of time with the age units (``45 s``, ``3 min``, ``2 h``; in Arabic
        ``45 ثانية``): whole seconds below two minutes, where a nurse weighs each one."""
        whole = max(0, round(seconds))
        if whole < 120:
            return self("age_s", n=self.number(whole, 0))
        if whole < 7200:
            return self("age_min", n=self.number(whole // 60, 0))
        return self("age_h", n=self.number(whole // 3600, 0))

    def age(self, at: datetime, now: datetime) -> str:
        """How old a value is, in the largest whole unit (``12 s``, ``3 min``, ``2 h``; in
        Arabic ``12 ثانية``, with the alert sentences' unit words)."""
        seconds = max(0, int((now - at).total_seconds()))
        if seconds < 60:
            n = self("age_s", n=seconds)
        elif seconds < 3600:
            n = self("age_min", n=seconds // 60)
        else:
            n = self("age_h", n=seconds // 3600)
        return self("ago", n=n)
