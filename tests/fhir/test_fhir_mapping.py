"""Records to FHIR resources: every resource validates with fhir.resources (R4B) after a JSON
round trip, and its codes, systems and units are the catalogue's (or the profile's, where the
profile demands another)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from hypothesis import given
from hypothesis import strategies as st

from nabd.analytics.news2 import PARAMETER_NAMES, score
from nabd.contract.catalogue import METRICS, MetricKind
from nabd.contract.payloads import Quality
from nabd.interop.fhir import mapping
from nabd.interop.fhir.codes import (
    BLOOD_PRESSURE_KEYS,
    FLAG_PRIORITY_EXTENSION,
    LOINC,
    MDC,
    NOT_EXPORTED,
    STATISTICS,
    UCUM,
    VITAL_SIGNS,
    Systems,
    covered_metrics,
)
from nabd.interop.fhir.records import (
    NEWS2_SUBSCORES,
    AlertRecord,
    BloodPressureRecord,
    DeviceRecord,
    IdentityRecord,
    ManualRecord,
    News2Record,
    PatientRecord,
    ReadingRecord,
)
from nabd.interop.fhir.summaries import Summary

SYSTEMS = Systems("https://nabd.example.org/fhir", "https://hospital.example.org/sid/mrn")
T = datetime(2026, 3, 1, 9, 41, 17, 250000, tzinfo=UTC)
MINUTE = datetime(2026, 3, 1, 9, 41, tzinfo=UTC)
VITALS_PROFILE_UNITS = {  # FHIR R4 vital-signs profiles: the UCUM codes each allows
    "heartrate": {"/min"},
    "resprate": {"/min"},
    "oxygensat": {"%"},
    "bodytemp": {"Cel", "[degF]"},
    "bodyheight": {"cm", "[in_i]"},
    "bodyweight": {"g", "kg", "[lb_av]"},
    "bmi": {"kg/m2"},
}


def roundtrip(resource: Resource) -> dict[str, Any]:
    """Serialise, parse back with the same model (it must validate) and compare; return JSON."""
    text = resource.model_dump_json()
    assert type(resource).model_validate_json(text) == resource
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def codings(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept["coding"]]


def test_every_catalogue_metric_has_a_fhir_decision() -> None:
    assert covered_metrics() == set(METRICS)
    assert set(NOT_EXPORTED) == {k for k, m in METRICS.items() if m.kind is MetricKind.TECHNICAL}


@pytest.mark.parametrize("key", [k for k, v in VITAL_SIGNS.items() if not v.streamed])
def test_spot_reading_codes_and_units_come_from_the_catalogue(key: str) -> None:
    row = METRICS[key]
    value = (row.min_value + row.max_value) / 2
    record = ReadingRecord(time=T, patient_id="p_7", device_id="d-1", key=key, seq=9, value=value)
    obs = roundtrip(mapping.reading_observation(record, SYSTEMS))
    vital = VITAL_SIGNS[key]
    found = codings(obs["code"])
    assert (MDC, str(row.mdc_code)) in found
    if row.loinc is not None:
        assert (LOINC, row.loinc) in found
    quantity = obs["valueQuantity"]
    assert quantity["system"] == UCUM
    assert quantity["code"] == vital.unit
    assert quantity["value"] == float(Decimal(repr(value)) * vital.scale)
    if vital.unit == row.unit:
        assert vital.scale == 1
    assert obs["category"][0]["coding"][0]["code"] == vital.category
    if vital.profile is not None:
        assert obs["meta"]["profile"] == [
            f"http://hl7.org/fhir/StructureDefinition/{vital.profile}"
        ]
        assert quantity["code"] in VITALS_PROFILE_UNITS[vital.profile]
    assert obs["subject"] == {"reference": "Patient/p.7"}
    assert obs["device"] == {"reference": "Device/d-1"}
    assert obs["effectiveDateTime"] == "2026-03-01T09:41:17.250000Z"


def test_body_height_is_exported_in_cm_exactly() -> None:
    record = ReadingRecord(
        time=T, patient_id="p", device_id="s", key="body_height", seq=1, value=1.73
    )
    obs = mapping.reading_observation(record, SYSTEMS)
    assert obs.valueQuantity is not None
    assert (obs.valueQuantity.value, obs.valueQuantity.code) == (Decimal("173.00"), "cm")


def test_profile_codes_come_first() -> None:
    spo2 = ReadingRecord(time=T, patient_id="p", device_id="o", key="spo2", seq=1, value=97.0)
    pulse = ReadingRecord(time=T, patient_id="p", device_id="o", key="pulse_rate", seq=1, value=1)
    with pytest.raises(ValueError, match="streamed"):
        mapping.reading_observation(spo2, SYSTEMS)  # streamed metrics are summarised
    assert [c.code for c in VITAL_SIGNS["spo2"].codes] == ["2708-6", "59408-5", "150456"]
    assert [c.code for c in VITAL_SIGNS["pulse_rate"].codes] == ["8867-4", "8889-8", "149530"]
    assert VITAL_SIGNS[pulse.key].streamed


def test_an_unavailable_or_early_reading() -> None:
    record = ReadingRecord(
        time=T,
        patient_id="p",
        device_id="t",
        key="body_temperature",
        seq=2,
        value=None,
        quality=("unavailable",),
    )
    obs = roundtrip(mapping.reading_observation(record, SYSTEMS))
    assert "valueQuantity" not in obs
    assert codings(obs["dataAbsentReason"]) == [
        ("http://terminology.hl7.org/CodeSystem/data-absent-reason", "error")
    ]
    assert obs["extension"] == [{"url": SYSTEMS.reading_quality, "valueCode": "unavailable"}]
    early = ReadingRecord(
        time=T, patient_id="p", device_id="t", key="glucose", seq=3, value=5.4,
        quality=("early_estimate", "questionable"),
    )  # fmt: skip
    assert mapping.reading_observation(early, SYSTEMS).status == "preliminary"


def _summary(key: str = "heart_rate", **changes: Any) -> Summary:
    fields: dict[str, Any] = {
        "patient_id": "p_7",
        "device_id": "hr-1",
        "key": key,
        "start": MINUTE,
        "period_s": 60,
        "count": 3,
        "average": 72.33333333333333,
        "minimum": 70.0,
        "maximum": 75.0,
    }
    return Summary(**(fields | changes))


@pytest.mark.parametrize("key", [k for k, v in VITAL_SIGNS.items() if v.streamed])
def test_a_summary_per_period(key: str) -> None:
    after = MINUTE + timedelta(minutes=2)
    obs = roundtrip(mapping.summary_observation(_summary(key), SYSTEMS, now=after))
    vital = VITAL_SIGNS[key]
    assert obs["status"] == "final"
    assert obs["effectivePeriod"] == {
        "start": "2026-03-01T09:41:00Z",
        "end": "2026-03-01T09:42:00Z",
    }
    expected = {"average": 72.333, "maximum": 75.0}[vital.statistic]
    assert obs["valueQuantity"] == {
        "value": expected,
        "unit": obs["valueQuantity"]["unit"],
        "system": UCUM,
        "code": METRICS[key].unit,
    }
    assert codings(obs["method"]) == [(STATISTICS, vital.statistic)]
    parts = {c["code"]["coding"][0]["code"]: c for c in obs["component"]}
    assert parts["minimum"]["valueQuantity"]["value"] == 70.0
    assert parts["maximum"]["valueQuantity"]["value"] == 75.0
    assert parts["count"]["valueInteger"] == 3
    assert all(c["code"]["coding"][0]["system"] == STATISTICS for c in obs["component"])


def test_a_summary_still_filling_is_preliminary_and_empty_one_absent() -> None:
    during = MINUTE + timedelta(seconds=30)
    assert mapping.summary_observation(_summary(), SYSTEMS, now=during).status == "preliminary"
    empty = _summary(count=0, average=None, minimum=None, maximum=None, quality=("unavailable",))
    obs = roundtrip(mapping.summary_observation(empty, SYSTEMS, now=during))
    assert "valueQuantity" not in obs
    assert obs["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert [c["valueInteger"] for c in obs["component"]] == [0]


def test_summary_ids_are_stable_and_distinct() -> None:
    now = MINUTE + timedelta(hours=1)
    first = mapping.summary_observation(_summary(), SYSTEMS, now=now).id
    again = mapping.summary_observation(_summary(average=80.0, maximum=90.0), SYSTEMS, now=now).id
    other_device = mapping.summary_observation(_summary(device_id="hr-2"), SYSTEMS, now=now).id
    next_minute = _summary(start=MINUTE + timedelta(minutes=1))
    later = mapping.summary_observation(next_minute, SYSTEMS, now=now).id
    assert first == again
    assert len({first, other_device, later}) == 3


def test_blood_pressure_panel() -> None:
    record = BloodPressureRecord(
        time=T,
        patient_id="p",
        device_id="bpm-1",
        seq=4,
        values={"systolic_bp": 128.0, "diastolic_bp": 84.0, "mean_arterial_pressure": 99.0},
    )
    obs = roundtrip(mapping.blood_pressure_observation(record, SYSTEMS))
    assert obs["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/bp"]
    assert codings(obs["code"]) == [(LOINC, "85354-9"), (MDC, "150020")]
    assert "valueQuantity" not in obs
    for component, key in zip(obs["component"], BLOOD_PRESSURE_KEYS, strict=True):
        row = METRICS[key]
        assert codings(component["code"]) == [(LOINC, row.loinc), (MDC, str(row.mdc_code))]
        assert component["valueQuantity"]["code"] == "mm[Hg]" == row.unit
    assert [c["valueQuantity"]["value"] for c in obs["component"]] == [128.0, 84.0, 99.0]


def test_a_panel_missing_a_part_says_why() -> None:
    record = BloodPressureRecord(
        time=T, patient_id="p", device_id="b", seq=4, values={"diastolic_bp": None}
    )
    obs = roundtrip(mapping.blood_pressure_observation(record, SYSTEMS))
    reasons = [c["dataAbsentReason"]["coding"][0]["code"] for c in obs["component"]]
    assert reasons == ["unknown", "error"]  # systolic never sent; diastolic a special value


@pytest.mark.parametrize(
    ("key", "value", "profile", "unit"),
    [
        ("respiration_rate", 22.0, "resprate", "/min"),
        ("spo2", 93.0, "oxygensat", "%"),
        ("pulse_rate", 112.0, "heartrate", "/min"),
        ("body_temperature", 38.4, "bodytemp", "Cel"),
    ],
)
def test_a_nurses_entry_names_her_as_performer_and_no_device(
    key: str, value: float, profile: str, unit: str
) -> None:
    # Issue 20 item 2: a value a nurse measured is hers, not a device's.
    record = ManualRecord(
        entry_id=41, time=T, patient_id="p_1", key=key, values={key: value},
        performer="Nurse Ines",
    )  # fmt: skip
    obs = roundtrip(mapping.manual_observation(record, SYSTEMS))
    assert obs["id"] == "e-15"  # 41 in base 36
    assert obs["performer"] == [{"display": "Nurse Ines"}]
    assert "device" not in obs
    assert obs["meta"]["profile"] == [f"http://hl7.org/fhir/StructureDefinition/{profile}"]
    assert obs["valueQuantity"]["value"] == value
    assert obs["valueQuantity"]["code"] == unit
    assert obs["valueQuantity"]["code"] in VITALS_PROFILE_UNITS[profile]
    assert obs["status"] == "final"
    assert obs["effectiveDateTime"].startswith("2026-03-01T09:41:17.25")
    assert "nurse" in obs["method"]["text"]


def test_a_nurses_blood_pressure_is_a_panel_with_her_as_performer() -> None:
    record = ManualRecord(
        entry_id=7, time=T, patient_id="p_1", key="blood_pressure",
        values={"systolic_bp": 98.0, "diastolic_bp": 60.0}, performer="amina",
    )  # fmt: skip
    obs = roundtrip(mapping.manual_observation(record, SYSTEMS))
    assert obs["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/bp"]
    assert codings(obs["code"]) == [(LOINC, "85354-9"), (MDC, "150020")]
    assert [c["valueQuantity"]["value"] for c in obs["component"]] == [98.0, 60.0]
    assert obs["performer"] == [{"display": "amina"}]
    assert "device" not in obs


def test_news2_from_the_analytics_score() -> None:
    # RR 24 -> 2, SpO2 91 (scale 1) -> 3, oxygen -> 2, 39.5 degC -> 2, SBP 95 -> 2,
    # HR 125 -> 2, consciousness missing: total 13 from six parameters, an incomplete score.
    result = score(24, 91, True, 39.5, 95, 125, None)
    record = News2Record.from_score(result, (), time=T, patient_id="p_7")
    obs = roundtrip(mapping.news2_observation(record, SYSTEMS))
    assert obs["valueInteger"] == 13 == int(result.total)
    assert obs["status"] == "preliminary"
    assert codings(obs["code"])[0] == ("http://snomed.info/sct", "1104051000000101")
    by_field = {c["code"]["coding"][1]["code"]: c for c in obs["component"]}
    assert {f: c.get("valueInteger") for f, c in by_field.items()} == {
        "respiration_rate": 2,
        "spo2": 3,
        "air_or_oxygen": 2,
        "systolic_bp": 2,
        "heart_rate": 2,
        "consciousness": None,
        "temperature": 2,
    }
    assert by_field["consciousness"]["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert by_field["spo2"]["code"]["coding"][0]["code"] == "1104311000000102"  # scale 1
    assert codings(obs["interpretation"][0]) == [(SYSTEMS.news2_risk, "high")]


def test_news2_complete_on_scale_2() -> None:
    result = score(18, 90, False, 37.0, 120, 80, "A", scale2=True)
    record = News2Record.from_score(result, (), time=T, patient_id="p")
    obs = roundtrip(mapping.news2_observation(record, SYSTEMS))
    assert (obs["status"], obs["valueInteger"]) == ("final", 0)
    spo2 = next(c for c in obs["component"] if c["code"]["coding"][1]["code"] == "spo2")
    assert spo2["code"]["coding"][0]["code"] == "1104321000000108"


def test_news2_record_refuses_impossible_sub_scores() -> None:
    good = {f: 0 for f in ("respiration_rate", "spo2", "air_or_oxygen", "systolic_bp",
                           "heart_rate", "consciousness", "temperature")}  # fmt: skip
    with pytest.raises(ValueError, match="-1"):
        News2Record(time=T, patient_id="p", total=0, risk="low", complete=True, scale2=False,
                    subscores=good | {"spo2": 4})  # fmt: skip
    with pytest.raises(ValueError, match="exactly"):
        News2Record(time=T, patient_id="p", total=0, risk="low", complete=True, scale2=False,
                    subscores={"spo2": 0})  # fmt: skip


def test_news2_with_no_parameter_exports_no_total_and_no_risk() -> None:
    # Issue 20: nothing measured is no score, never total 0 / risk "low".
    result = score(None, None, None, None, None, None, None)
    record = News2Record.from_score(result, (), time=T, patient_id="p")
    assert (record.total, record.risk) == (None, None)
    obs = roundtrip(mapping.news2_observation(record, SYSTEMS))
    assert "valueInteger" not in obs
    assert "interpretation" not in obs
    assert obs["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert obs["status"] == "preliminary"
    assert all("valueInteger" not in c for c in obs["component"])
    assert "respiratory rate" in obs["note"][0]["text"]


_PRESENT: dict[str, Any] = {
    "respiration_rate": 18, "spo2": 97, "on_oxygen": False, "temperature": 37.0,
    "systolic_bp": 120, "heart_rate": 70, "consciousness": "A",
}  # fmt: skip
_FIELD = {"on_oxygen": "air_or_oxygen"}


@given(st.sets(st.sampled_from(sorted(_PRESENT))))
def test_news2_export_names_exactly_the_missing_parameters(absent: set[str]) -> None:
    inputs: dict[str, Any] = {k: None if k in absent else v for k, v in _PRESENT.items()}
    result = score(**inputs)
    record = News2Record.from_score(result, (), time=T, patient_id="p")
    obs = roundtrip(mapping.news2_observation(record, SYSTEMS))
    missing = {_FIELD.get(k, k) for k in absent}
    assert set(record.missing) == missing
    assert ("valueInteger" in obs) == (len(absent) < len(_PRESENT))
    notes = " ".join(n["text"] for n in obs.get("note", []))
    for field in NEWS2_SUBSCORES:
        assert (PARAMETER_NAMES[field] in notes) == (field in missing), (field, notes)


def test_news2_record_refuses_a_total_without_a_parameter_or_none_with_one() -> None:
    nothing = dict.fromkeys(NEWS2_SUBSCORES, -1)
    with pytest.raises(ValueError, match="exactly when"):
        News2Record(time=T, patient_id="p", total=0, risk="low", complete=False, scale2=False,
                    subscores=nothing)  # fmt: skip
    with pytest.raises(ValueError, match="exactly when"):
        News2Record(time=T, patient_id="p", total=None, risk=None, complete=False,
                    scale2=False, subscores=nothing | {"spo2": 0})  # fmt: skip


@pytest.mark.parametrize(
    ("state", "priority", "status", "code"),
    [
        ("raised", "critical", "active", "PH"),
        ("acknowledged", "medium", "active", "PM"),
        ("raised", "low", "active", "PL"),
        ("resolved", "high", "inactive", "PH"),
    ],
)
def test_alert_as_flag(state: str, priority: str, status: str, code: str) -> None:
    resolved = T + timedelta(minutes=5) if state == "resolved" else None
    record = AlertRecord(
        id=uuid.UUID("9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f"),
        patient_id="p_7",
        condition="spo2_low",
        priority=priority,
        state=state,
        message="SpO2 below 90 % for 5 minutes",
        raised_at=T,
        resolved_at=resolved,
        metric_key="spo2",
    )
    flag = roundtrip(mapping.flag(record, SYSTEMS))
    assert flag["status"] == status
    assert flag["id"] == "9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f"
    extensions = {e["url"]: e for e in flag["extension"]}
    priority_codes = codings(extensions[FLAG_PRIORITY_EXTENSION]["valueCodeableConcept"])
    assert priority_codes == [
        ("http://hl7.org/fhir/flag-priority-code", code),
        (SYSTEMS.alert_priority, priority),
    ]
    assert extensions[SYSTEMS.alert_state]["valueCode"] == state
    assert ("end" in flag["period"]) == (resolved is not None)
    assert Flag.model_validate(flag).code.text == "SpO2 below 90 % for 5 minutes"


def test_patient_is_pseudonymous_without_identity() -> None:
    record = PatientRecord(id="p_7", ward_id="w", admitted_at=T, discharged_at=None)
    patient = roundtrip(mapping.patient(record, SYSTEMS))
    assert patient["id"] == "p.7"
    assert patient["identifier"] == [
        {
            "use": "secondary",
            "type": {"coding": [mapping.PSEUDONYMISED.coding()]},
            "system": SYSTEMS.patient,
            "value": "p_7",
        }
    ]
    assert patient["meta"]["security"] == [mapping.PSEUDONYMISED.coding()]
    assert not {"name", "birthDate", "telecom", "address"} & set(patient)


def test_patient_with_identity() -> None:
    person = IdentityRecord(
        mrn="MRN-1", given_name="Amina", family_name="Haddad", birth_date=date(1948, 5, 17)
    )
    record = PatientRecord(
        id="p_7", ward_id="w", admitted_at=T, discharged_at=T + timedelta(days=2), identity=person
    )
    patient = mapping.patient(record, SYSTEMS)
    roundtrip(patient)
    assert patient.active is False
    assert patient.meta is None
    assert [(i.system, i.value) for i in patient.identifier or []] == [
        (SYSTEMS.patient, "p_7"),
        (SYSTEMS.mrn, "MRN-1"),
    ]
    assert patient.name is not None
    assert patient.name[0].given == ["Amina"]
    assert patient.birthDate == date(1948, 5, 17)
    assert isinstance(patient, Patient)


def test_device_information() -> None:
    full = DeviceRecord(
        id="hr_1", kind="heart_rate", manufacturer="Polar", model="H10", serial="C7A1",
        firmware="3.1.1", battery_level=81.0, patient_id="p_7",
    )  # fmt: skip
    device = roundtrip(mapping.device(full, SYSTEMS))
    assert (device["id"], device["manufacturer"], device["serialNumber"]) == (
        "hr.1",
        "Polar",
        "C7A1",
    )
    assert device["modelNumber"] == "H10"
    assert device["version"] == [{"type": {"text": "firmware"}, "value": "3.1.1"}]
    battery = device["property"][0]
    assert codings(battery["type"]) == [(MDC, str(METRICS["battery_level"].mdc_code))]
    assert battery["valueQuantity"][0]["code"] == "%"
    assert device["patient"] == {"reference": "Patient/p.7"}
    bare = DeviceRecord(
        id="t", kind="thermometer", manufacturer=None, model=None, serial=None, firmware=None,
        battery_level=None, patient_id=None,
    )  # fmt: skip
    assert not {"manufacturer", "version", "property", "patient"} & set(
        roundtrip(mapping.device(bare, SYSTEMS))
    )
    assert isinstance(mapping.device(bare, SYSTEMS), Device)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        mapping.instant(datetime(2026, 3, 1, 9, 0))


def test_observations_are_observations() -> None:
    record = ReadingRecord(time=T, patient_id="p", device_id="d", key="bmi", seq=1, value=24.2)
    assert isinstance(mapping.reading_observation(record, SYSTEMS), Observation)


SPOT_KEYS = [k for k, v in VITAL_SIGNS.items() if not v.streamed]


@st.composite
def spot_readings(draw: st.DrawFn) -> ReadingRecord:
    key = draw(st.sampled_from(SPOT_KEYS))
    row = METRICS[key]
    flags = draw(st.sets(st.sampled_from([q.value for q in Quality if q != Quality.UNAVAILABLE])))
    value = draw(st.none() | st.floats(row.min_value, row.max_value))
    return ReadingRecord(
        time=draw(st.datetimes(min_value=datetime(2020, 1, 1), timezones=st.just(UTC))),
        patient_id=draw(st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z")),
        device_id=draw(st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z")),
        key=key,
        seq=draw(st.integers(0, 2**63 - 1)),
        value=value,
        quality=tuple(sorted(flags | ({"unavailable"} if value is None else set()))),
    )


@given(spot_readings())
def test_any_valid_reading_maps_to_a_valid_observation(record: ReadingRecord) -> None:
    obs = roundtrip(mapping.reading_observation(record, SYSTEMS))
    assert ("valueQuantity" in obs) != ("dataAbsentReason" in obs)
    assert [e["valueCode"] for e in obs.get("extension", [])] == list(record.quality)
    if record.value is not None:
        vital = VITAL_SIGNS[record.key]
        expected = float(Decimal(repr(record.value)) * vital.scale)
        assert obs["valueQuantity"]["value"] == expected
