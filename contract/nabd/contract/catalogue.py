"""The metric catalogue: what Nabd measures, in which unit, under which standard codes.

One row per metric key. Every reading on the wire names its metric by key and carries the metric's
canonical UCUM unit, so the unit is checked rather than trusted; conversion (°F, mg/dL, lb, kcal)
happens once, at the edge, before a reading is built.

Codes and where they were checked:

* IEEE 11073-10101 reference ids and term codes: the nomenclature tables used by the Continua /
  PHD (IEEE 11073-20601) implementations; the 32-bit code is ``partition * 65536 + term`` (for
  example ``MDC_PULS_OXIM_SAT_O2`` is partition 2 (SCADA), term 19384, code 150456, the code the
  HL7 US Core pulse-oximetry example uses).
* LOINC: the HL7 FHIR vital-signs value set (8867-4, 9279-1, 8310-5, 8302-2, 29463-7, 39156-5,
  8480-6, 8462-4, 8478-0), the US Core pulse-oximetry profile (59408-5), and LOINC term pages for
  the rest.

Ranges are *physiologically possible* bounds, not normal or alarm limits: a value outside them
cannot be a real measurement of a living patient (or of a working device) and is rejected at the
boundary. Alarm thresholds belong to analytics. Each row's ``range_basis`` says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from nabd.contract.errors import UnknownMetricError

__all__ = ["METRICS", "Metric", "MetricKind", "UnknownMetricError", "metric"]

MDC_PARTITION_SIZE: Final = 65536
"""IEEE 11073-10101 codes are 32-bit: a 16-bit partition above a 16-bit term code."""


class MetricKind(StrEnum):
    """Whether a metric describes the patient or the equipment."""

    VITAL = "vital"
    """A measurement of the patient; scored by analytics, shown to clinicians."""
    TECHNICAL = "technical"
    """A measurement of the equipment or of signal quality; used to judge the vitals, not scored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One catalogue row. Immutable: the catalogue is a contract, not configuration."""

    key: str
    mdc_ref_id: str
    mdc_partition: int
    mdc_term: int
    mdc_code: int
    """The published 32-bit code; kept alongside partition/term so a typo in either shows up."""
    loinc: str | None
    unit: str
    """Canonical UCUM code (case-sensitive, as in FHIR ``Quantity.code``)."""
    min_value: float
    max_value: float
    """Inclusive physiologically possible range, in ``unit``."""
    range_basis: str
    name_en: str
    name_fr: str
    name_ar: str
    """Display names in English, French and Arabic (dashboards, patient summaries)."""
    kind: MetricKind

    def admits(self, value: float) -> bool:
        """True when ``value`` (in the canonical unit) can be a real measurement."""
        return self.min_value <= value <= self.max_value


_ROWS: Final = (
    Metric(
        key="heart_rate",
        mdc_ref_id="MDC_ECG_HEART_RATE",
        mdc_partition=2,
        mdc_term=16770,
        mdc_code=147842,
        loinc="8867-4",
        unit="/min",
        min_value=0,
        max_value=350,
        range_basis="0 is asystole; ~300/min is the fastest conducted rhythm reported (pre-excited "
        "atrial fibrillation, neonatal SVT); 350 leaves margin",
        name_en="Heart rate",
        name_fr="Fréquence cardiaque",
        name_ar="معدل ضربات القلب",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="rr_interval",
        mdc_ref_id="MDC_ECG_TIME_PD_RR_GL",
        mdc_partition=2,
        mdc_term=16168,
        mdc_code=147240,
        loinc="8637-1",
        unit="s",
        min_value=0.1,
        max_value=60,
        range_basis="0.1 s is 600 beats/min, beyond any conducted rhythm; asystolic pauses of tens "
        "of seconds are documented in reflex syncope, 60 s bounds them",
        name_en="RR interval",
        name_fr="Intervalle RR",
        name_ar="الفاصل RR",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="energy_expended",
        mdc_ref_id="MDC_HF_ENERGY",
        mdc_partition=129,
        mdc_term=119,
        mdc_code=8454263,
        loinc="41981-2",
        unit="kJ",
        min_value=0,
        max_value=65535,
        range_basis="cumulative since the sensor's last reset; 65535 kJ is the ceiling of the "
        "Bluetooth Heart Rate Service field (a sensor saturates there), above any real day "
        "(~35 000 kJ for an ultra-endurance effort)",
        name_en="Energy expended",
        name_fr="Dépense énergétique",
        name_ar="الطاقة المستهلكة",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="spo2",
        mdc_ref_id="MDC_PULS_OXIM_SAT_O2",
        mdc_partition=2,
        mdc_term=19384,
        mdc_code=150456,
        loinc="59408-5",
        unit="%",
        min_value=0,
        max_value=100,
        range_basis="a saturation is a fraction of haemoglobin: 0 to 100 % by definition",
        name_en="Oxygen saturation (SpO2)",
        name_fr="Saturation en oxygène (SpO2)",
        name_ar="تشبع الأكسجين (SpO2)",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="pulse_rate",
        mdc_ref_id="MDC_PULS_OXIM_PULS_RATE",
        mdc_partition=2,
        mdc_term=18458,
        mdc_code=149530,
        loinc="8889-8",
        unit="/min",
        min_value=0,
        max_value=350,
        range_basis="same bounds as heart rate: a peripheral pulse cannot be faster than the heart",
        name_en="Pulse rate",
        name_fr="Fréquence du pouls",
        name_ar="معدل النبض",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="respiration_rate",
        mdc_ref_id="MDC_RESP_RATE",
        mdc_partition=2,
        mdc_term=20490,
        mdc_code=151562,
        loinc="9279-1",
        unit="/min",
        min_value=0,
        max_value=150,
        range_basis="0 is apnoea; distressed neonates reach ~120/min; 150 leaves margin",
        name_en="Respiratory rate",
        name_fr="Fréquence respiratoire",
        name_ar="معدل التنفس",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="body_temperature",
        mdc_ref_id="MDC_TEMP_BODY",
        mdc_partition=2,
        mdc_term=19292,
        mdc_code=150364,
        loinc="8310-5",
        unit="Cel",
        min_value=10,
        max_value=47,
        range_basis="survivals are recorded at a core temperature of 13.7 °C (accidental "
        "hypothermia) and 46.5 °C (heat stroke); 10 and 47 bound them",
        name_en="Body temperature",
        name_fr="Température corporelle",
        name_ar="حرارة الجسم",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="systolic_bp",
        mdc_ref_id="MDC_PRESS_BLD_NONINV_SYS",
        mdc_partition=2,
        mdc_term=18949,
        mdc_code=150021,
        loinc="8480-6",
        unit="mm[Hg]",
        min_value=0,
        max_value=300,
        range_basis="a non-invasive cuff cannot read above its maximum inflation pressure "
        "(about 300 mm[Hg] for automated cuffs); 0 is circulatory arrest",
        name_en="Systolic blood pressure",
        name_fr="Pression artérielle systolique",
        name_ar="الضغط الانقباضي",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="diastolic_bp",
        mdc_ref_id="MDC_PRESS_BLD_NONINV_DIA",
        mdc_partition=2,
        mdc_term=18950,
        mdc_code=150022,
        loinc="8462-4",
        unit="mm[Hg]",
        min_value=0,
        max_value=300,
        range_basis="same cuff limit as systolic; diastolic <= systolic is not checked per "
        "reading because the two arrive as separate readings",
        name_en="Diastolic blood pressure",
        name_fr="Pression artérielle diastolique",
        name_ar="الضغط الانبساطي",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="mean_arterial_pressure",
        mdc_ref_id="MDC_PRESS_BLD_NONINV_MEAN",
        mdc_partition=2,
        mdc_term=18951,
        mdc_code=150023,
        loinc="8478-0",
        unit="mm[Hg]",
        min_value=0,
        max_value=300,
        range_basis="lies between diastolic and systolic, so the same cuff limit applies",
        name_en="Mean arterial pressure",
        name_fr="Pression artérielle moyenne",
        name_ar="متوسط الضغط الشرياني",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="glucose",
        mdc_ref_id="MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD",
        mdc_partition=2,
        mdc_term=29112,
        mdc_code=160184,
        loinc="14743-9",
        unit="mmol/L",
        min_value=0,
        max_value=150,
        range_basis="the highest glucose recorded in a survivor is ~147 mmol/L (2656 mg/dL, "
        "hyperosmolar state); meters read 0.6-33 mmol/L, so 150 is generous",
        name_en="Blood glucose",
        name_fr="Glycémie",
        name_ar="سكر الدم",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="body_weight",
        mdc_ref_id="MDC_MASS_BODY_ACTUAL",
        mdc_partition=2,
        mdc_term=57664,
        mdc_code=188736,
        loinc="29463-7",
        unit="kg",
        min_value=0.2,
        max_value=700,
        range_basis="surviving extremely premature neonates weigh from ~0.25 kg; the heaviest "
        "recorded human ~635 kg",
        name_en="Body weight",
        name_fr="Poids corporel",
        name_ar="وزن الجسم",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="bmi",
        mdc_ref_id="MDC_RATIO_MASS_BODY_LEN_SQ",
        mdc_partition=2,
        mdc_term=57680,
        mdc_code=188752,
        loinc="39156-5",
        unit="kg/m2",
        min_value=5,
        max_value=250,
        range_basis="BMIs near 7 kg/m2 are reported in extreme anorexia nervosa; the heaviest "
        "recorded human was ~185 kg/m2",
        name_en="Body mass index",
        name_fr="Indice de masse corporelle",
        name_ar="مؤشر كتلة الجسم",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="body_height",
        mdc_ref_id="MDC_LEN_BODY_ACTUAL",
        mdc_partition=2,
        mdc_term=57668,
        mdc_code=188740,
        loinc="8302-2",
        unit="m",
        min_value=0.2,
        max_value=2.8,
        range_basis="extremely premature neonates measure from ~0.25 m; the tallest recorded "
        "human 2.72 m",
        name_en="Body height",
        name_fr="Taille",
        name_ar="طول الجسم",
        kind=MetricKind.VITAL,
    ),
    Metric(
        key="battery_level",
        # MDC_ATTR_VAL_BATT_CHARGE lives in the object partition (1): in 11073 it is an
        # attribute of the device (MDS), not a physiological metric.
        mdc_ref_id="MDC_ATTR_VAL_BATT_CHARGE",
        mdc_partition=1,
        mdc_term=2460,
        mdc_code=67996,
        # No LOINC code: LOINC names observations about patients and specimens, and a device's
        # battery charge is neither.
        loinc=None,
        unit="%",
        min_value=0,
        max_value=100,
        range_basis="a state of charge is 0 to 100 % by definition",
        name_en="Battery level",
        name_fr="Niveau de batterie",
        name_ar="مستوى البطارية",
        kind=MetricKind.TECHNICAL,
    ),
    Metric(
        key="pulse_amplitude_index",
        mdc_ref_id="MDC_PULS_OXIM_PERF_REL",
        mdc_partition=2,
        mdc_term=19376,
        mdc_code=150448,
        loinc="61006-3",
        unit="%",
        min_value=0,
        max_value=100,
        range_basis="pulsatile over total absorbed light: the pulsatile part is a fraction of "
        "the whole; oximeters display 0.02-20 %",
        name_en="Pulse amplitude index",
        name_fr="Indice d'amplitude du pouls",
        name_ar="مؤشر سعة النبض",
        # Technical: it says how trustworthy the SpO2 and pulse rate are, it is not scored itself.
        kind=MetricKind.TECHNICAL,
    ),
)

METRICS: Final[Mapping[str, Metric]] = MappingProxyType({row.key: row for row in _ROWS})
"""The catalogue, keyed by metric key, read-only."""


def metric(key: str) -> Metric:
    """The catalogue row for ``key``, or :class:`UnknownMetricError`."""
    try:
        return METRICS[key]
    except KeyError as exc:
        raise UnknownMetricError(f"unknown metric {key!r}") from exc
