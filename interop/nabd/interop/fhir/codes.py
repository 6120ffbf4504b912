"""Code systems, profiles and the per-metric FHIR mapping table.

The catalogue (``nabd.contract.catalogue``) owns each metric's LOINC code, IEEE 11073-10101 code
and canonical UCUM unit; this module adds only what FHIR needs on top of it:

* the **profile** of the FHIR R4 vital-signs family a metric falls under and the codes that
  profile *requires* before the catalogue's own (the oxygen-saturation profile fixes LOINC 2708-6,
  the catalogue's pulse-oximetry code 59408-5 follows it; the heart-rate profile fixes 8867-4,
  which the oximeter's pulse rate 8889-8 is a more specific child of);
* the **unit** the profile requires when it differs from the catalogue's: body height is stored in
  ``m`` but the R4 body-height profile binds ``valueQuantity.code`` to ``cm | [in_i]``
  (value set ``ucum-bodylength``, required), so it is exported in ``cm``, scaled exactly;
* whether a metric is **streamed** (summarised per period) or a **spot** measurement (one
  Observation per reading);
* the NEWS2 codes: SNOMED CT UK extension concepts, as NHS England's FHIR NEWS2 guidance uses
  them (LOINC has no NEWS2 total-score code that we could verify; ``1104051000000101`` is SNOMED).

Nabd's own code systems and extensions live under a deployment's base URL (:class:`Systems`),
because only the hospital can promise that a URL it names stays stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from nabd.contract.catalogue import metric

LOINC: Final = "http://loinc.org"
MDC: Final = "urn:iso:std:iso:11073:10101"
UCUM: Final = "http://unitsofmeasure.org"
SNOMED: Final = "http://snomed.info/sct"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
STATISTICS: Final = "http://terminology.hl7.org/CodeSystem/observation-statistics"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
FLAG_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_PRIORITY_EXTENSION: Final = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY: Final = "http://hl7.org/fhir/flag-priority-code"
IDENTIFIER_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_VALUE: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
PROFILE_BASE: Final = "http://hl7.org/fhir/StructureDefinition/"

FHIR_VERSION: Final = "4.0.1"
"""What the resources claim: R4. They are validated with R4B (4.3.0) models, whose Patient,
Device, Observation, Flag and Bundle are the same as R4's."""


@dataclass(frozen=True, slots=True)
class Code:
    """One FHIR Coding."""

    system: str
    code: str
    display: str | None = None

    def coding(self) -> dict[str, str]:
        """The Coding as FHIR JSON."""
        out = {"system": self.system, "code": self.code}
        if self.display is not None:
            out["display"] = self.display
        return out


def catalogue_codes(key: str) -> tuple[Code, ...]:
    """The catalogue's LOINC code (if any) and IEEE 11073-10101 code of a metric."""
    row = metric(key)
    mdc = Code(MDC, str(row.mdc_code), row.mdc_ref_id)
    return (mdc,) if row.loinc is None else (Code(LOINC, row.loinc), mdc)


@dataclass(frozen=True, slots=True)
class VitalSign:
    """How one catalogue metric becomes an Observation."""

    key: str
    category: str
    """observation-category code: vital-signs, laboratory, procedure, activity."""
    profile: str | None
    """R4 core profile the Observation claims (``meta.profile``), if any."""
    profile_codes: tuple[Code, ...]
    """Codes the profile fixes, placed before the catalogue's own."""
    unit: str
    """UCUM code of the exported value (the catalogue's unit unless the profile needs another)."""
    scale: Decimal
    """Exported value = stored value x scale (exact, in Decimal)."""
    streamed: bool
    """Summarised per period (high-rate) rather than one Observation per reading."""
    statistic: str = "average"
    """For streamed metrics: which observation-statistics value becomes valueQuantity."""

    @property
    def codes(self) -> tuple[Code, ...]:
        """Observation.code codings: the profile's first, then LOINC and MDC from the catalogue."""
        profile = {(c.system, c.code) for c in self.profile_codes}
        rest = tuple(c for c in catalogue_codes(self.key) if (c.system, c.code) not in profile)
        return self.profile_codes + rest

    @property
    def profile_url(self) -> str | None:
        return None if self.profile is None else PROFILE_BASE + self.profile


def _vital(
    key: str,
    profile: str | None,
    *,
    category: str = "vital-signs",
    profile_codes: tuple[Code, ...] = (),
    streamed: bool = False,
    unit: str | None = None,
    scale: str = "1",
    statistic: str = "average",
) -> VitalSign:
    return VitalSign(
        key=key,
        category=category,
        profile=profile,
        profile_codes=profile_codes,
        unit=metric(key).unit if unit is None else unit,
        scale=Decimal(scale),
        streamed=streamed,
        statistic=statistic,
    )


HEART_RATE_CODE: Final = Code(LOINC, "8867-4", "Heart rate")
OXYGEN_SATURATION_CODE: Final = Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood")

VITAL_SIGNS: Final[Mapping[str, VitalSign]] = MappingProxyType(
    {
        v.key: v
        for v in (
            _vital("heart_rate", "heartrate", streamed=True),
            _vital("pulse_rate", "heartrate", profile_codes=(HEART_RATE_CODE,), streamed=True),
            _vital("respiration_rate", "resprate", streamed=True),
            _vital("spo2", "oxygensat", profile_codes=(OXYGEN_SATURATION_CODE,), streamed=True),
            _vital("rr_interval", None, category="procedure", streamed=True),
            # Cumulative since the sensor's reset: the period's maximum is its latest total.
            _vital(
                "energy_expended", None, category="activity", streamed=True, statistic="maximum"
            ),
            _vital("body_temperature", "bodytemp"),
            _vital("body_weight", "bodyweight"),
            _vital("bmi", "bmi"),
            _vital("body_height", "bodyheight", unit="cm", scale="100"),
            _vital("glucose", None, category="laboratory"),
        )
    }
)
"""Metrics exported one Observation each (or one per period when streamed)."""

BLOOD_PRESSURE_KEYS: Final = ("systolic_bp", "diastolic_bp", "mean_arterial_pressure")
"""Exported together as components of one blood-pressure panel per measurement."""
BLOOD_PRESSURE_PROFILE: Final = PROFILE_BASE + "bp"
BLOOD_PRESSURE_CODES: Final = (
    Code(LOINC, "85354-9", "Blood pressure panel with all children optional"),
    # partition 2, term 18948: the compound whose members are 150021/150022/150023.
    Code(MDC, "150020", "MDC_PRESS_BLD_NONINV"),
)
BLOOD_PRESSURE_STREAM: Final = "blood_pressure"

NOT_EXPORTED: Final = MappingProxyType(
    {
        "battery_level": "a property of the device: Device.property, not an Observation",
        "pulse_amplitude_index": "signal quality used to judge SpO2, not a patient finding",
    }
)
"""Catalogue metrics deliberately not exported as Observations, and why."""

BATTERY_PROPERTY: Final = catalogue_codes("battery_level")

NEWS2_STREAM: Final = "news2"
NEWS2_PROFILE_CATEGORY: Final = "survey"
NEWS2_TOTAL: Final = Code(
    SNOMED, "1104051000000101", "Royal College of Physicians National Early Warning Score 2"
)
NEWS2_SUBSCORE_CODES: Final = MappingProxyType(
    {
        "respiration_rate": Code(SNOMED, "1104301000000104", "NEWS2 respiration rate score"),
        "spo2_scale1": Code(SNOMED, "1104311000000102", "NEWS2 oxygen saturation scale 1 score"),
        "spo2_scale2": Code(SNOMED, "1104321000000108", "NEWS2 oxygen saturation scale 2 score"),
        "air_or_oxygen": Code(SNOMED, "1104331000000105", "NEWS2 air or oxygen score"),
        "systolic_bp": Code(SNOMED, "1104341000000101", "NEWS2 systolic blood pressure score"),
        "heart_rate": Code(SNOMED, "1104351000000103", "NEWS2 pulse score"),
        "consciousness": Code(SNOMED, "1104361000000100", "NEWS2 consciousness score"),
        "temperature": Code(SNOMED, "1104371000000107", "NEWS2 temperature score"),
    }
)
"""Sub-score codes by the field of ``nabd.analytics.news2.News2`` (SpO2 by the scale used)."""

FLAG_PRIORITIES: Final = MappingProxyType(
    {
        "low": Code(FLAG_PRIORITY, "PL", "Low priority"),
        "medium": Code(FLAG_PRIORITY, "PM", "Medium priority"),
        "high": Code(FLAG_PRIORITY, "PH", "High priority"),
        "critical": Code(FLAG_PRIORITY, "PH", "High priority"),
    }
)
"""Alert priority to the flag-priority extension (IHE PCD alert priority has no 'critical')."""


@dataclass(frozen=True, slots=True)
class Systems:
    """Identifier systems, code systems and extensions that Nabd itself defines.

    They all live under ``base``, a URL the deployment controls (``NABD_FHIR_SYSTEM_BASE``), and
    ``mrn`` is the hospital's own medical-record-number system.
    """

    base: str
    mrn: str

    @property
    def patient(self) -> str:
        return f"{self.base}/sid/patient"

    @property
    def device(self) -> str:
        return f"{self.base}/sid/device"

    @property
    def alert(self) -> str:
        return f"{self.base}/sid/alert"

    @property
    def care_plan(self) -> str:
        return f"{self.base}/sid/care-plan"

    @property
    def care_plan_json(self) -> str:
        """The whole stored plan (thresholds included) as its JSON, for a lossless round trip."""
        return f"{self.base}/StructureDefinition/care-plan-json"

    @property
    def alert_condition(self) -> str:
        return f"{self.base}/CodeSystem/alert-condition"

    @property
    def alert_priority(self) -> str:
        return f"{self.base}/CodeSystem/alert-priority"

    @property
    def alert_state(self) -> str:
        return f"{self.base}/StructureDefinition/alert-state"

    @property
    def reading_quality(self) -> str:
        return f"{self.base}/StructureDefinition/reading-quality"

    @property
    def news2(self) -> str:
        return f"{self.base}/CodeSystem/news2"

    @property
    def news2_risk(self) -> str:
        return f"{self.base}/CodeSystem/news2-risk"

    @property
    def device_kind(self) -> str:
        return f"{self.base}/CodeSystem/device-kind"


def covered_metrics() -> frozenset[str]:
    """Every catalogue key this module decides about (exported, panel, or not exported)."""
    return frozenset(VITAL_SIGNS) | frozenset(BLOOD_PRESSURE_KEYS) | frozenset(NOT_EXPORTED)


def streams() -> tuple[str, ...]:
    """Every kind of Observation the export produces: metric keys, the BP panel and NEWS2."""
    return (*VITAL_SIGNS, BLOOD_PRESSURE_STREAM, NEWS2_STREAM)


def news2_code(systems: Systems, field: str) -> Code:
    """Nabd's own code for the NEWS2 total (``total``) or one sub-score (a ``News2`` field)."""
    return Code(systems.news2, field)


def stream_category(stream: str) -> str:
    """The observation-category code of one stream (what ``category=`` searches match)."""
    if stream == BLOOD_PRESSURE_STREAM:
        return "vital-signs"
    if stream == NEWS2_STREAM:
        return NEWS2_PROFILE_CATEGORY
    return VITAL_SIGNS[stream].category


def stream_codes(stream: str, systems: Systems) -> tuple[Code, ...]:
    """The Observation.code codings of one stream (what ``code=`` searches match)."""
    if stream == BLOOD_PRESSURE_STREAM:
        return BLOOD_PRESSURE_CODES
    if stream == NEWS2_STREAM:
        return (NEWS2_TOTAL, news2_code(systems, "total"))
    return VITAL_SIGNS[stream].codes
