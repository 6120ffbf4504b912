"""Every word a nurse or an operator reads on the dashboards, in English, French and Arabic.

One frozen :class:`Strings` per language: a missing translation is a missing constructor
argument, which mypy and the first import refuse, not a blank label on a ward screen. Metric
names come from the contract's catalogue (``name_en``/``name_fr``/``name_ar``) and are not
repeated here. The nurse station takes its risk, priority, state and column labels from here in
all three languages, so a nurse reads the same words on both screens.

Arabic keeps Western digits (0-9), as Moroccan wards write them and as the monitors show them;
international symbols (%, °C, mmHg, kg, SpO2, NEWS2) stay as printed on the devices.

Risk, priority, state and connection labels are also written into SQL results and matched by the
panels' value mappings, so they must stay distinct from one another (``Strings`` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from nabd.contract.catalogue import METRICS

__all__ = ["STRINGS", "Lang", "Strings", "metric_name", "strings"]


_FORBIDDEN: Final = frozenset("'\\$")
"""Labels go into SQL literals and Grafana interpolates ``$``: keep both out of them."""


class Lang(StrEnum):
    """A dashboard language."""

    EN = "en"
    FR = "fr"
    AR = "ar"


@dataclass(frozen=True, kw_only=True)
class Strings:  # one field per label; grouped by dashboard
    # Dashboards and variables.
    ward_title: str
    patient_title: str
    alerts_title: str
    devices_title: str
    pipeline_title: str
    var_ward: str
    var_patient: str
    open_patient: str
    open_in_station: str
    # Markers written into cells by SQL.
    stale: str
    sensor_off: str
    no_value: str
    incomplete: str
    no_score: str
    scale2: str
    unit_min: str
    unit_hour: str
    unit_day: str
    unit_per_min: str
    """A rate's unit on the charts (pulse, respiration)."""
    # NEWS2 risk (Chart 3).
    risk_low: str
    risk_low_medium: str
    risk_medium: str
    risk_high: str
    # Alerts.
    priority_low: str
    priority_medium: str
    priority_high: str
    priority_critical: str
    state_raised: str
    state_acknowledged: str
    state_silenced: str
    state_resolved: str
    # Gateways and devices.
    gateway_online: str
    gateway_offline: str
    gateway_unknown: str
    conn_connected: str
    conn_silent: str
    conn_gateway_offline: str
    conn_no_data: str
    # Column headers.
    col_patient: str
    col_ward: str
    col_news2: str
    col_pulse: str
    col_spo2: str
    col_respiration: str
    col_temperature: str
    col_systolic: str
    col_alerts: str
    col_last_seen: str
    col_device: str
    col_kind: str
    col_battery: str
    col_gateway: str
    col_gateway_state: str
    col_connection: str
    col_devices: str
    col_metric: str
    col_value: str
    col_unit: str
    col_time: str
    col_priority: str
    col_state: str
    col_condition: str
    col_message: str
    col_age: str
    col_escalation: str
    col_acknowledged_by: str
    col_received: str
    col_expected: str
    col_completeness: str
    col_topic: str
    col_reason: str
    col_field: str
    col_worker: str
    col_mqtt: str
    col_pending: str
    col_flush: str
    col_lag: str
    col_db_errors: str
    mqtt_connected: str
    mqtt_disconnected: str
    # Ward overview.
    stat_patients: str
    stat_high_risk: str
    stat_unacknowledged: str
    stat_stale_patients: str
    table_patients: str
    # Patient detail.
    stat_news2: str
    stat_open_alerts: str
    stat_last_data: str
    panel_pulse: str
    panel_blood_pressure: str
    panel_body: str
    panel_news2_trend: str
    panel_devices: str
    panel_battery: str
    annotation_alerts: str
    # Alerts.
    stat_critical: str
    stat_high: str
    stat_escalated: str
    table_open_alerts: str
    panel_alerts_raised: str
    # Devices and gateways.
    stat_gateways_offline: str
    stat_devices_silent: str
    stat_low_battery: str
    table_gateways: str
    table_devices: str
    table_completeness: str
    # Pipeline health.
    stat_ingest_rate: str
    stat_last_batch: str
    stat_dead_letters: str
    stat_last_tick: str
    panel_ingest_rate: str
    panel_lag: str
    panel_tick: str
    panel_dead_letters: str
    table_dead_letters: str
    table_ingest_workers: str
    series_readings: str
    series_batches: str
    series_lag_p50: str
    series_lag_p95: str
    series_tick_max: str
    series_tick_mean: str
    series_readings_late: str
    series_dead_letters: str
    # Remote monitoring (patients at home).
    remote_title: str
    stat_home_patients: str
    stat_adherence_alerts: str
    stat_home_alerts: str
    stat_home_technical: str
    stat_silent_day: str
    table_home_patients: str
    col_programmes: str
    col_days_with_data: str
    col_weight: str
    col_blood_pressure: str
    panel_weight_trend: str
    panel_systolic_trend: str

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value.strip() or set(value) & _FORBIDDEN:
                raise ValueError(f"{f.name}: {value!r} must be non-empty, without {_FORBIDDEN}")
        for group in (self.risks(), self.priorities(), self.states(), self.connections()):
            if len(set(group.values())) != len(group):
                raise ValueError(f"labels must be distinct: {sorted(group.values())}")

    def risks(self) -> dict[str, str]:
        """NEWS2 risk key (as stored in ``news2_score.risk``) -> label."""
        return {
            "low": self.risk_low,
            "low-medium": self.risk_low_medium,
            "medium": self.risk_medium,
            "high": self.risk_high,
        }

    def priorities(self) -> dict[str, str]:
        """Alert priority key -> label."""
        return {
            "low": self.priority_low,
            "medium": self.priority_medium,
            "high": self.priority_high,
            "critical": self.priority_critical,
        }

    def states(self) -> dict[str, str]:
        """Alert state key -> label."""
        return {
            "raised": self.state_raised,
            "acknowledged": self.state_acknowledged,
            "silenced": self.state_silenced,
            "resolved": self.state_resolved,
        }

    def gateway_states(self) -> dict[str, str]:
        """Gateway ``last_status`` (or ``unknown`` before its first status) -> label."""
        return {
            "online": self.gateway_online,
            "offline": self.gateway_offline,
            "unknown": self.gateway_unknown,
        }

    def connections(self) -> dict[str, str]:
        """Device connection state (computed in SQL) -> label."""
        return {
            "connected": self.conn_connected,
            "silent": self.conn_silent,
            "gateway_offline": self.conn_gateway_offline,
            "no_data": self.conn_no_data,
        }


_EN: Final = Strings(
    ward_title="Nabd · Ward overview",
    patient_title="Nabd · Patient detail",
    alerts_title="Nabd · Alerts",
    devices_title="Nabd · Devices and gateways",
    pipeline_title="Nabd · Pipeline health",
    var_ward="Ward",
    var_patient="Patient",
    open_patient="Open patient detail",
    open_in_station="Open in the nurse station",
    stale="stale",
    sensor_off="sensor off",
    no_value="no value",
    incomplete="incomplete",
    no_score="no score (no parameter measured)",
    scale2="SpO2 scale 2",
    unit_min="min",
    unit_hour="h",
    unit_day="d",
    unit_per_min="/min",
    risk_low="Low",
    risk_low_medium="Low-medium",
    risk_medium="Medium",
    risk_high="High",
    priority_low="Low",
    priority_medium="Medium",
    priority_high="High",
    priority_critical="Critical",
    state_raised="Not acknowledged",
    state_acknowledged="Acknowledged",
    state_silenced="Silenced",
    state_resolved="Resolved",
    gateway_online="Online",
    gateway_offline="Offline",
    gateway_unknown="Unknown",
    conn_connected="Connected",
    conn_silent="Silent",
    conn_gateway_offline="Gateway offline",
    conn_no_data="No data",
    col_patient="Patient",
    col_ward="Ward",
    col_news2="NEWS2",
    col_pulse="Pulse /min",
    col_spo2="SpO2 %",
    col_respiration="Resp. /min",
    col_temperature="Temp. °C",
    col_systolic="Syst. BP mmHg",
    col_alerts="Open alerts",
    col_last_seen="Last data",
    col_device="Device",
    col_kind="Kind",
    col_battery="Battery",
    col_gateway="Gateway",
    col_gateway_state="Gateway state",
    col_connection="Connection",
    col_devices="Devices",
    col_metric="Measurement",
    col_value="Value",
    col_unit="Unit",
    col_time="Time",
    col_priority="Priority",
    col_state="State",
    col_condition="Condition",
    col_message="Message",
    col_age="Open for",
    col_escalation="Escalation",
    col_acknowledged_by="Acknowledged by",
    col_received="Received",
    col_expected="Expected",
    col_completeness="Completeness",
    col_topic="Topic",
    col_reason="Reason",
    col_field="Field",
    col_worker="Ingest worker",
    col_mqtt="MQTT",
    col_pending="Pending messages",
    col_flush="Last flush",
    col_lag="Last lag",
    col_db_errors="Database errors",
    mqtt_connected="Connected",
    mqtt_disconnected="Disconnected",
    stat_patients="Patients",
    stat_high_risk="High NEWS2 risk",
    stat_unacknowledged="Unacknowledged alerts",
    stat_stale_patients="Patients with stale data",
    table_patients="Patients, most acute first",
    stat_news2="NEWS2",
    stat_open_alerts="Open alerts",
    stat_last_data="Last data",
    panel_pulse="Heart rate and pulse",
    panel_blood_pressure="Blood pressure",
    panel_body="Body measurements (latest)",
    panel_news2_trend="NEWS2 trend",
    panel_devices="Devices",
    panel_battery="Device battery",
    annotation_alerts="Alerts",
    stat_critical="Critical alerts",
    stat_high="High-priority alerts",
    stat_escalated="Escalated alerts",
    table_open_alerts="Open alerts, unacknowledged first",
    panel_alerts_raised="Alerts raised",
    stat_gateways_offline="Gateways offline",
    stat_devices_silent="Silent devices",
    stat_low_battery="Batteries at or below 20 %",
    table_gateways="Gateways",
    table_devices="Devices",
    table_completeness="Data completeness (received / expected samples)",
    stat_ingest_rate="Readings per second (5 min)",
    stat_last_batch="Since last batch",
    stat_dead_letters="Dead letters",
    stat_last_tick="Since last analytics tick",
    panel_ingest_rate="Ingest rate",
    panel_lag="Lag from gateway to database",
    panel_tick="Analytics tick time",
    panel_dead_letters="Dead letters",
    table_dead_letters="Latest dead letters",
    table_ingest_workers="Ingest workers",
    series_readings="readings/s",
    series_batches="batches/s",
    series_lag_p50="median",
    series_lag_p95="95th percentile",
    series_tick_max="longest",
    series_tick_mean="mean",
    series_readings_late="readings late by",
    series_dead_letters="dead letters",
    remote_title="Nabd · Remote monitoring",
    stat_home_patients="Patients at home",
    stat_adherence_alerts="Measurements missed (open)",
    stat_home_alerts="Clinical alerts (open)",
    stat_home_technical="Technical alerts (open)",
    stat_silent_day="No data for 24 h",
    table_home_patients="Patients at home, open alerts first",
    col_programmes="Programmes",
    col_days_with_data="Days with data (7 d)",
    col_weight="Weight (kg)",
    col_blood_pressure="Blood pressure",
    panel_weight_trend="Weight",
    panel_systolic_trend="Systolic blood pressure",
)

_FR: Final = Strings(
    ward_title="Nabd · Vue du service",
    patient_title="Nabd · Dossier du patient",
    alerts_title="Nabd · Alertes",
    devices_title="Nabd · Capteurs et passerelles",
    pipeline_title="Nabd · Santé de la chaîne de données",
    var_ward="Service",
    var_patient="Patient",
    open_patient="Ouvrir le dossier du patient",
    open_in_station="Ouvrir au poste de soins",
    stale="périmé",
    sensor_off="capteur retiré",
    no_value="sans valeur",
    incomplete="incomplet",
    no_score="pas de score (aucun paramètre mesuré)",
    scale2="SpO2 échelle 2",
    unit_min="min",
    unit_hour="h",
    unit_day="j",
    unit_per_min="/min",
    risk_low="Faible",
    risk_low_medium="Faible-moyen",
    risk_medium="Moyen",
    risk_high="Élevé",
    priority_low="Basse",
    priority_medium="Moyenne",
    priority_high="Haute",
    priority_critical="Critique",
    state_raised="Non acquittée",
    state_acknowledged="Acquittée",
    state_silenced="En sourdine",
    state_resolved="Résolue",
    gateway_online="En ligne",
    gateway_offline="Hors ligne",
    gateway_unknown="Inconnu",
    conn_connected="Connecté",
    conn_silent="Muet",
    conn_gateway_offline="Passerelle hors ligne",
    conn_no_data="Aucune donnée",
    col_patient="Patient",
    col_ward="Service",
    col_news2="NEWS2",
    col_pulse="Pouls /min",
    col_spo2="SpO2 %",
    col_respiration="Resp. /min",
    col_temperature="Temp. °C",
    col_systolic="PA syst. mmHg",
    col_alerts="Alertes ouvertes",
    col_last_seen="Dernière donnée",
    col_device="Capteur",
    col_kind="Type",
    col_battery="Batterie",
    col_gateway="Passerelle",
    col_gateway_state="État de la passerelle",
    col_connection="Connexion",
    col_devices="Capteurs",
    col_metric="Mesure",
    col_value="Valeur",
    col_unit="Unité",
    col_time="Heure",
    col_priority="Priorité",
    col_state="État",
    col_condition="Condition",
    col_message="Message",
    col_age="Ouverte depuis",
    col_escalation="Escalade",
    col_acknowledged_by="Acquittée par",
    col_received="Reçus",
    col_expected="Attendus",
    col_completeness="Complétude",
    col_topic="Sujet MQTT",
    col_reason="Motif",
    col_field="Champ",
    col_worker="Processus en entrée",
    col_mqtt="MQTT",
    col_pending="Messages en attente",
    col_flush="Dernière écriture",
    col_lag="Dernier délai",
    col_db_errors="Erreurs de base",
    mqtt_connected="Connecté",
    mqtt_disconnected="Déconnecté",
    stat_patients="Patients",
    stat_high_risk="Risque NEWS2 élevé",
    stat_unacknowledged="Alertes non acquittées",
    stat_stale_patients="Patients aux données périmées",
    table_patients="Patients, les plus graves en premier",
    stat_news2="NEWS2",
    stat_open_alerts="Alertes ouvertes",
    stat_last_data="Dernière donnée",
    panel_pulse="Fréquence cardiaque et pouls",
    panel_blood_pressure="Pression artérielle",
    panel_body="Mesures corporelles (dernières)",
    panel_news2_trend="Évolution du NEWS2",
    panel_devices="Capteurs",
    panel_battery="Batterie des capteurs",
    annotation_alerts="Alertes",
    stat_critical="Alertes critiques",
    stat_high="Alertes de priorité haute",
    stat_escalated="Alertes escaladées",
    table_open_alerts="Alertes ouvertes, non acquittées en premier",
    panel_alerts_raised="Alertes déclenchées",
    stat_gateways_offline="Passerelles hors ligne",
    stat_devices_silent="Capteurs muets",
    stat_low_battery="Batteries à 20 % ou moins",
    table_gateways="Passerelles",
    table_devices="Capteurs",
    table_completeness="Complétude des données (échantillons reçus / attendus)",
    stat_ingest_rate="Mesures par seconde (5 min)",
    stat_last_batch="Depuis le dernier lot",
    stat_dead_letters="Messages rejetés",
    stat_last_tick="Depuis le dernier cycle analytique",
    panel_ingest_rate="Débit en entrée",
    panel_lag="Délai de la passerelle à la base",
    panel_tick="Durée du cycle analytique",
    panel_dead_letters="Messages rejetés",
    table_dead_letters="Derniers messages rejetés",
    table_ingest_workers="Processus en entrée",
    series_readings="mesures/s",
    series_batches="lots/s",
    series_lag_p50="médiane",
    series_lag_p95="95e centile",
    series_tick_max="plus long",
    series_tick_mean="moyenne",
    series_readings_late="retard des mesures",
    series_dead_letters="messages rejetés",
    remote_title="Nabd · Télésurveillance",
    stat_home_patients="Patients à domicile",
    stat_adherence_alerts="Mesures manquées (ouvertes)",
    stat_home_alerts="Alertes cliniques (ouvertes)",
    stat_home_technical="Alertes techniques (ouvertes)",
    stat_silent_day="Sans donnée depuis 24 h",
    table_home_patients="Patients à domicile, alertes ouvertes en premier",
    col_programmes="Programmes",
    col_days_with_data="Jours avec données (7 j)",
    col_weight="Poids (kg)",
    col_blood_pressure="Pression artérielle",
    panel_weight_trend="Poids",
    panel_systolic_trend="Pression artérielle systolique",
)

_AR: Final = Strings(
    ward_title="Nabd · نظرة عامة على المصلحة",
    patient_title="Nabd · ملف المريض",
    alerts_title="Nabd · الإنذارات",
    devices_title="Nabd · الأجهزة والبوابات",
    pipeline_title="Nabd · حالة سلسلة البيانات",
    var_ward="المصلحة",
    var_patient="المريض",
    open_patient="فتح ملف المريض",
    open_in_station="فتح في محطة التمريض",
    stale="قديم",
    sensor_off="المستشعر منزوع",
    no_value="لا قيمة",
    incomplete="غير مكتمل",
    no_score="لا درجة (لم يُقَس أي مؤشر)",
    scale2="السلّم 2 لـ SpO2",
    unit_min="دقيقة",
    unit_hour="ساعة",
    unit_day="يوم",
    unit_per_min="/دقيقة",
    risk_low="منخفض",
    risk_low_medium="منخفض-متوسط",
    risk_medium="متوسط",
    risk_high="مرتفع",
    priority_low="منخفضة",
    priority_medium="متوسطة",
    priority_high="عالية",
    priority_critical="حرجة",
    state_raised="غير مؤكَّد",
    state_acknowledged="مؤكَّد",
    state_silenced="مكتوم",
    state_resolved="منتهٍ",
    gateway_online="متصلة",
    gateway_offline="غير متصلة",
    gateway_unknown="غير معروفة",
    conn_connected="متصل",
    conn_silent="صامت",
    conn_gateway_offline="البوابة غير متصلة",
    conn_no_data="لا بيانات",
    col_patient="المريض",
    col_ward="المصلحة",
    col_news2="NEWS2",
    col_pulse="النبض /دقيقة",
    col_spo2="SpO2 %",
    col_respiration="التنفس /دقيقة",
    col_temperature="الحرارة °C",
    col_systolic="الضغط الانقباضي mmHg",
    col_alerts="الإنذارات",
    col_last_seen="آخر البيانات",
    col_device="الجهاز",
    col_kind="النوع",
    col_battery="البطارية",
    col_gateway="البوابة",
    col_gateway_state="حالة البوابة",
    col_connection="الاتصال",
    col_devices="الأجهزة",
    col_metric="القياس",
    col_value="القيمة",
    col_unit="الوحدة",
    col_time="الوقت",
    col_priority="الأولوية",
    col_state="الحالة",
    col_condition="نوع الإنذار",
    col_message="الرسالة",
    col_age="مفتوح منذ",
    col_escalation="التصعيد",
    col_acknowledged_by="أكّده",
    col_received="المستلمة",
    col_expected="المتوقعة",
    col_completeness="الاكتمال",
    col_topic="موضوع MQTT",
    col_reason="السبب",
    col_field="الحقل",
    col_worker="عملية الاستقبال",
    col_mqtt="MQTT",
    col_pending="رسائل في الانتظار",
    col_flush="آخر كتابة",
    col_lag="آخر تأخير",
    col_db_errors="أخطاء قاعدة البيانات",
    mqtt_connected="متصل",
    mqtt_disconnected="غير متصل",
    stat_patients="المرضى",
    stat_high_risk="خطر NEWS2 مرتفع",
    stat_unacknowledged="إنذارات غير مؤكَّدة",
    stat_stale_patients="مرضى ببيانات قديمة",
    table_patients="المرضى، الأخطر أولًا",
    stat_news2="NEWS2",
    stat_open_alerts="الإنذارات المفتوحة",
    stat_last_data="آخر البيانات",
    panel_pulse="معدل ضربات القلب والنبض",
    panel_blood_pressure="ضغط الدم",
    panel_body="قياسات الجسم (الأحدث)",
    panel_news2_trend="تطور NEWS2",
    panel_devices="الأجهزة",
    panel_battery="بطارية الأجهزة",
    annotation_alerts="الإنذارات",
    stat_critical="إنذارات حرجة",
    stat_high="إنذارات ذات أولوية عالية",
    stat_escalated="إنذارات مصعَّدة",
    table_open_alerts="الإنذارات المفتوحة، غير المؤكَّدة أولًا",
    panel_alerts_raised="الإنذارات المُطلقة",
    stat_gateways_offline="بوابات غير متصلة",
    stat_devices_silent="أجهزة صامتة",
    stat_low_battery="بطاريات عند 20 % أو أقل",
    table_gateways="البوابات",
    table_devices="الأجهزة",
    table_completeness="اكتمال البيانات (العينات المستلمة / المتوقعة)",
    stat_ingest_rate="القراءات في الثانية (5 دقائق)",
    stat_last_batch="منذ آخر دفعة",
    stat_dead_letters="الرسائل المرفوضة",
    stat_last_tick="منذ آخر دورة تحليل",
    panel_ingest_rate="معدل الاستقبال",
    panel_lag="التأخير من البوابة إلى قاعدة البيانات",
    panel_tick="مدة دورة التحليل",
    panel_dead_letters="الرسائل المرفوضة",
    table_dead_letters="آخر الرسائل المرفوضة",
    table_ingest_workers="عمليات الاستقبال",
    series_readings="قراءة/ثانية",
    series_batches="دفعة/ثانية",
    series_lag_p50="الوسيط",
    series_lag_p95="المئين 95",
    series_tick_max="الأطول",
    series_tick_mean="المتوسط",
    series_readings_late="تأخر وصول القراءات",
    series_dead_letters="رسائل مرفوضة",
    remote_title="Nabd · المراقبة عن بعد",
    stat_home_patients="المرضى في المنزل",
    stat_adherence_alerts="قياسات فائتة (مفتوحة)",
    stat_home_alerts="إنذارات سريرية (مفتوحة)",
    stat_home_technical="إنذارات تقنية (مفتوحة)",
    stat_silent_day="بلا بيانات منذ 24 ساعة",
    table_home_patients="المرضى في المنزل، الإنذارات المفتوحة أولًا",
    col_programmes="البرامج",
    col_days_with_data="أيام بها بيانات (7 أيام)",
    col_weight="الوزن (kg)",
    col_blood_pressure="ضغط الدم",
    panel_weight_trend="الوزن",
    panel_systolic_trend="الضغط الانقباضي",
)
"""Arabic: the nurse station's words where it has them (risk, priority, alert state, the ward's
columns; alert condition names and "stale" as ``nabd.contract.alert_text`` writes them)."""

STRINGS: Final[Mapping[Lang, Strings]] = MappingProxyType(
    {Lang.EN: _EN, Lang.FR: _FR, Lang.AR: _AR}
)


def strings(lang: Lang) -> Strings:
    """The labels of one language."""
    return STRINGS[lang]


def metric_name(key: str, lang: Lang) -> str:
    """A catalogue metric's name in ``lang``."""
    row = METRICS[key]
    return {Lang.EN: row.name_en, Lang.FR: row.name_fr, Lang.AR: row.name_ar}[lang]
