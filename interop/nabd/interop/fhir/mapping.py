"""Nabd records to FHIR R4 resources: pure functions, each result validated on construction.

Every function builds the resource as FHIR JSON (so it reads like the specification) and parses
it with the ``fhir.resources`` R4B model, which raises on anything structurally invalid: a
resource that leaves this module has already passed validation. docs/fhir.md has the tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from fhir.resources.R4B.device import Device
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from nabd.analytics.news2 import PARAMETER_NAMES
from nabd.contract.catalogue import metric
from nabd.interop.fhir import ids
from nabd.interop.fhir.codes import (
    BATTERY_PROPERTY,
    BLOOD_PRESSURE_CODES,
    BLOOD_PRESSURE_KEYS,
    BLOOD_PRESSURE_PROFILE,
    BLOOD_PRESSURE_STREAM,
    DATA_ABSENT_REASON,
    FLAG_CATEGORY,
    FLAG_PRIORITIES,
    FLAG_PRIORITY_EXTENSION,
    IDENTIFIER_TYPE,
    NEWS2_PROFILE_CATEGORY,
    NEWS2_SUBSCORE_CODES,
    NEWS2_TOTAL,
    OBSERVATION_CATEGORY,
    OBSERVATION_VALUE,
    STATISTICS,
    UCUM,
    VITAL_SIGNS,
    Code,
    Systems,
    catalogue_codes,
    news2_code,
    stream_category,
)
from nabd.interop.fhir.records import (
    NEWS2_SUBSCORES,
    AlertRecord,
    BloodPressureRecord,
    DeviceRecord,
    ManualRecord,
    News2Record,
    PatientRecord,
    ReadingRecord,
)
from nabd.interop.fhir.summaries import Summary

Json = dict[str, Any]

CATEGORY_DISPLAY: Final = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "procedure": "Procedure",
    "activity": "Activity",
    "survey": "Survey",
}
UNIT_DISPLAY: Final = {"Cel": "°C", "mm[Hg]": "mmHg", "kg/m2": "kg/m²"}
STATISTIC_DISPLAY: Final = {
    "average": "Average",
    "minimum": "Minimum",
    "maximum": "Maximum",
    "count": "Count",
}
AVERAGE_PLACES: Final = 3
"""Averages are rounded to 3 decimal places (1 ms for RR intervals): more is noise."""
PSEUDONYMISED: Final = Code(OBSERVATION_VALUE, "PSEUDED", "pseudonymized")
MEDICAL_RECORD_NUMBER: Final = Code(IDENTIFIER_TYPE, "MR", "Medical record number")
RESOLVED: Final = "resolved"
"""The one alert state in which its Flag is inactive."""


def instant(time: datetime) -> str:
    """An aware datetime as a FHIR instant in UTC (``...Z``)."""
    if time.tzinfo is None:
        raise ValueError(f"naive datetime {time!r}: Nabd times are always UTC-aware")
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reference(resource_type: str, nabd_id: str) -> Json:
    return {"reference": f"{resource_type}/{ids.to_fhir(nabd_id)}"}


def _concept(codes: tuple[Code, ...], text: str | None = None) -> Json:
    out: Json = {"coding": [c.coding() for c in codes]}
    if text is not None:
        out["text"] = text
    return out


def _category(code: str) -> list[Json]:
    return [_concept((Code(OBSERVATION_CATEGORY, code, CATEGORY_DISPLAY[code]),))]


def _absent(code: str) -> Json:
    """dataAbsentReason: ``unknown`` (not sent, not scored) or ``error`` (device special value)."""
    return _concept((Code(DATA_ABSENT_REASON, code),))


def _number(value: float, scale: Decimal = Decimal(1), places: int | None = None) -> float:
    """A stored double, scaled and rounded in decimal (its shortest repr x scale, so 1.73 m is
    173 cm, not 173.00000000000003), then the nearest double: fhir.resources writes decimals as
    JSON numbers through float, so a float is what a reader will get back."""
    number = Decimal(repr(value)) * scale
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return float(number)


def _quantity(value: float, unit: str) -> Json:
    return {"value": value, "unit": UNIT_DISPLAY.get(unit, unit), "system": UCUM, "code": unit}


def _quality(quality: tuple[str, ...], systems: Systems) -> list[Json]:
    return [{"url": systems.reading_quality, "valueCode": flag} for flag in sorted(set(quality))]


def _status(quality: tuple[str, ...]) -> str:
    return "preliminary" if "early_estimate" in quality else "final"


def _observation(
    *,
    id_: str,
    status: str,
    category: str,
    profile: str | None,
    code: Json,
    patient_id: str,
    device_id: str | None,
    quality: tuple[str, ...],
    systems: Systems,
    **rest: Any,
) -> Observation:
    data: Json = {
        "resourceType": "Observation",
        "id": id_,
        "status": status,
        "category": _category(category),
        "code": code,
        "subject": reference("Patient", patient_id),
        **rest,
    }
    if profile is not None:
        data["meta"] = {"profile": [profile]}
    if device_id is not None:
        data["device"] = reference("Device", device_id)
    if quality:
        data["extension"] = _quality(quality, systems)
    return Observation.model_validate(data)


def reading_observation(record: ReadingRecord, systems: Systems) -> Observation:
    """One spot reading (temperature, weight, glucose, ...) per the metric's vital-signs profile."""
    vital = VITAL_SIGNS[record.key]
    if vital.streamed:
        raise ValueError(f"{record.key} is streamed: export it as a summary, not per reading")
    row = metric(record.key)
    value: Json = (
        {"dataAbsentReason": _absent("error")}
        if record.value is None
        else {"valueQuantity": _quantity(_number(record.value, vital.scale), vital.unit)}
    )
    return _observation(
        id_=str(ids.SpotId(row.mdc_code, record.time, record.seq, ids.digest(record.device_id))),
        status=_status(record.quality),
        category=vital.category,
        profile=vital.profile_url,
        code=_concept(vital.codes, row.name_en),
        patient_id=record.patient_id,
        device_id=record.device_id,
        quality=record.quality,
        systems=systems,
        effectiveDateTime=instant(record.time),
        **value,
    )


def _statistic(name: str) -> Json:
    return _concept((Code(STATISTICS, name, STATISTIC_DISPLAY[name]),))


def summary_observation(summary: Summary, systems: Systems, *, now: datetime) -> Observation:
    """One period of a streamed metric: value = its statistic, components min, max and count.

    A period that has not ended yet is ``preliminary``: a later export replaces it (same id).
    """
    vital = VITAL_SIGNS[summary.key]
    row = metric(summary.key)
    components: list[Json] = []
    value: Json
    main = summary.statistic(vital.statistic)
    extremes = summary.extremes()
    if main is None or extremes is None:
        value = {"dataAbsentReason": _absent("error")}
    else:
        places = AVERAGE_PLACES if vital.statistic == "average" else None
        value = {"valueQuantity": _quantity(_number(main, vital.scale, places), vital.unit)}
        for name, extreme in zip(("minimum", "maximum"), extremes, strict=True):
            components.append(
                {
                    "code": _statistic(name),
                    "valueQuantity": _quantity(_number(extreme, vital.scale), vital.unit),
                }
            )
    components.append({"code": _statistic("count"), "valueInteger": summary.count})
    return _observation(
        id_=str(
            ids.SummaryId(
                row.mdc_code,
                summary.start,
                summary.period_s,
                ids.digest(summary.patient_id, summary.device_id),
            )
        ),
        status="preliminary" if summary.end > now else "final",
        category=vital.category,
        profile=vital.profile_url,
        code=_concept(vital.codes, row.name_en),
        patient_id=summary.patient_id,
        device_id=summary.device_id,
        quality=summary.quality,
        systems=systems,
        effectivePeriod={"start": instant(summary.start), "end": instant(summary.end)},
        method=_concept(
            (Code(STATISTICS, vital.statistic, STATISTIC_DISPLAY[vital.statistic]),),
            f"{STATISTIC_DISPLAY[vital.statistic]} of {summary.count} readings over "
            f"{summary.period_s} s",
        ),
        component=components,
        **value,
    )


def blood_pressure_observation(record: BloodPressureRecord, systems: Systems) -> Observation:
    """One cuff measurement as the R4 blood-pressure panel: systolic, diastolic (, mean)."""
    components = []
    for key in BLOOD_PRESSURE_KEYS:
        if key not in record.values and key == "mean_arterial_pressure":
            continue  # optional: the profile requires systolic and diastolic only
        component: Json = {"code": _concept(catalogue_codes(key), metric(key).name_en)}
        value = record.values.get(key)
        if value is not None:
            component["valueQuantity"] = _quantity(_number(value), metric(key).unit)
        else:
            component["dataAbsentReason"] = _absent("error" if key in record.values else "unknown")
        components.append(component)
    return _observation(
        id_=str(ids.PanelId(record.time, record.seq, ids.digest(record.device_id))),
        status=_status(record.quality),
        category=stream_category(BLOOD_PRESSURE_STREAM),
        profile=BLOOD_PRESSURE_PROFILE,
        code=_concept(BLOOD_PRESSURE_CODES, "Blood pressure"),
        patient_id=record.patient_id,
        device_id=record.device_id,
        quality=record.quality,
        systems=systems,
        effectiveDateTime=instant(record.time),
        component=components,
    )


_MANUAL_METHOD: Final = {
    "respiration_rate": "Counted by a nurse over a full minute (manual entry)",
}
"""How a nurse's entry was obtained, as ``method.text`` (no code: none we could verify)."""


def manual_observation(record: ManualRecord, systems: Systems) -> Observation:
    """A value a nurse measured and entered: no device, the nurse as ``performer`` (a display
    name: Nabd keeps no Practitioner resources), the method in words. A blood pressure is the
    R4 blood-pressure panel, as a cuff's is."""
    common: Json = {
        "id_": str(ids.ManualId(record.entry_id)),
        "status": "final",
        "patient_id": record.patient_id,
        "device_id": None,
        "quality": (),
        "systems": systems,
        "effectiveDateTime": instant(record.time),
        "performer": [{"display": record.performer}],
        "method": {"text": _MANUAL_METHOD.get(record.key, "Measured by a nurse (manual entry)")},
    }
    if record.key == BLOOD_PRESSURE_STREAM:
        components = []
        for key in BLOOD_PRESSURE_KEYS[:2]:  # a nurse enters systolic and diastolic
            component: Json = {"code": _concept(catalogue_codes(key), metric(key).name_en)}
            value = record.values.get(key)
            if value is None:
                component["dataAbsentReason"] = _absent("unknown")
            else:
                component["valueQuantity"] = _quantity(_number(value), metric(key).unit)
            components.append(component)
        return _observation(
            category=stream_category(BLOOD_PRESSURE_STREAM),
            profile=BLOOD_PRESSURE_PROFILE,
            code=_concept(BLOOD_PRESSURE_CODES, "Blood pressure"),
            component=components,
            **common,
        )
    vital = VITAL_SIGNS[record.key]
    value = record.values[record.key]
    return _observation(
        category=vital.category,
        profile=vital.profile_url,
        code=_concept(vital.codes, metric(record.key).name_en),
        valueQuantity=_quantity(_number(value, vital.scale), vital.unit),
        **common,
    )


def _subscore_codes(field: str, record: News2Record, systems: Systems) -> tuple[Code, ...]:
    snomed = (
        NEWS2_SUBSCORE_CODES[f"spo2_scale{2 if record.scale2 else 1}"]
        if field == "spo2"
        else NEWS2_SUBSCORE_CODES[field]
    )
    return (snomed, news2_code(systems, field))


def news2_observation(record: News2Record, systems: Systems) -> Observation:
    """A NEWS2 score: total as valueInteger, the seven sub-scores as components.

    An incomplete score (a parameter missing) is ``preliminary``: its total is a lower bound and
    must never be shown as the patient's NEWS2; a note names the missing parameters. Missing
    sub-scores have dataAbsentReason ``unknown``; the SpO2 sub-score's code says which scale was
    used. With no parameter present there is no score: no valueInteger and no risk
    interpretation, only dataAbsentReason ``not-performed`` (never total 0 / risk low).
    """
    components = []
    for field in NEWS2_SUBSCORES:
        sub = record.subscores[field]
        component: Json = {"code": _concept(_subscore_codes(field, record, systems))}
        if sub < 0:
            component["dataAbsentReason"] = _absent("unknown")
        else:
            component["valueInteger"] = sub
        components.append(component)
    return _observation(
        id_=str(ids.News2Id(record.time, ids.digest(record.patient_id))),
        status="final" if record.complete else "preliminary",
        category=NEWS2_PROFILE_CATEGORY,
        profile=None,
        code=_concept((NEWS2_TOTAL, news2_code(systems, "total")), "NEWS2 total score"),
        patient_id=record.patient_id,
        device_id=None,
        quality=(),
        systems=systems,
        effectiveDateTime=instant(record.time),
        component=components,
        **_news2_value(record, systems),
    )


def _news2_value(record: News2Record, systems: Systems) -> Json:
    """The total and risk of a score, or why there are none; a note when it is incomplete."""
    missing = ", ".join(PARAMETER_NAMES[name] for name in record.missing)
    if record.total is None or record.risk is None:
        return {
            "dataAbsentReason": _absent("not-performed"),
            "note": [{"text": f"No NEWS2: no parameter was measured ({missing})."}],
        }
    value: Json = {
        "valueInteger": record.total,
        "interpretation": [
            _concept((Code(systems.news2_risk, record.risk),), f"NEWS2 {record.risk} risk")
        ],
    }
    if missing:
        value["note"] = [{"text": f"Incomplete NEWS2, a lower bound: missing {missing}."}]
    return value


def flag(record: AlertRecord, systems: Systems) -> Flag:
    """An alert as a Flag: active until resolved, its priority in the flag-priority extension."""
    period: Json = {"start": instant(record.raised_at)}
    if record.resolved_at is not None:
        period["end"] = instant(record.resolved_at)
    priority = (FLAG_PRIORITIES[record.priority], Code(systems.alert_priority, record.priority))
    return Flag.model_validate(
        {
            "resourceType": "Flag",
            "id": str(record.id),
            "identifier": [{"system": systems.alert, "value": str(record.id)}],
            "extension": [
                {"url": FLAG_PRIORITY_EXTENSION, "valueCodeableConcept": _concept(priority)},
                {"url": systems.alert_state, "valueCode": record.state},
            ],
            "status": "inactive" if record.state == RESOLVED else "active",
            "category": [_concept((Code(FLAG_CATEGORY, "clinical", "Clinical"),))],
            "code": _concept((Code(systems.alert_condition, record.condition),), record.message),
            "subject": reference("Patient", record.patient_id),
            "period": period,
        }
    )


def patient(record: PatientRecord, systems: Systems) -> Patient:
    """A patient by pseudonym; name, MRN and birth date only when ``record.identity`` is set.

    Without identity the resource is labelled ``PSEUDED`` (pseudonymised) in meta.security.
    """
    data: Json = {
        "resourceType": "Patient",
        "id": ids.to_fhir(record.id),
        "identifier": [
            {
                "use": "secondary",
                "type": _concept((PSEUDONYMISED,)),
                "system": systems.patient,
                "value": record.id,
            }
        ],
        "active": record.discharged_at is None,
    }
    person = record.identity
    if person is None:
        data["meta"] = {"security": [PSEUDONYMISED.coding()]}
    else:
        data["identifier"].append(
            {
                "use": "official",
                "type": _concept((MEDICAL_RECORD_NUMBER,)),
                "system": systems.mrn,
                "value": person.mrn,
            }
        )
        data["name"] = [
            {"use": "official", "family": person.family_name, "given": [person.given_name]}
        ]
        if person.birth_date is not None:
            data["birthDate"] = person.birth_date.isoformat()
    return Patient.model_validate(data)


def device(record: DeviceRecord, systems: Systems) -> Device:
    """A wearable: manufacturer, model, serial and firmware from its Device Information Service."""
    data: Json = {
        "resourceType": "Device",
        "id": ids.to_fhir(record.id),
        "identifier": [{"system": systems.device, "value": record.id}],
        "status": "active",
        "type": _concept((Code(systems.device_kind, record.kind),), record.kind),
    }
    optional = {
        "manufacturer": record.manufacturer,
        "modelNumber": record.model,
        "serialNumber": record.serial,
    }
    data.update({k: v for k, v in optional.items() if v})
    if record.model:
        data["deviceName"] = [{"name": record.model, "type": "model-name"}]
    if record.firmware:
        data["version"] = [{"type": {"text": "firmware"}, "value": record.firmware}]
    if record.battery_level is not None:
        data["property"] = [
            {
                "type": _concept(BATTERY_PROPERTY, metric("battery_level").name_en),
                "valueQuantity": [_quantity(_number(record.battery_level), "%")],
            }
        ]
    if record.patient_id is not None:
        data["patient"] = reference("Patient", record.patient_id)
    return Device.model_validate(data)
