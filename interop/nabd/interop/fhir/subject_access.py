"""A patient's subject-access export (``nabd patient export``): everything Nabd holds about one
admission as FHIR resources, and a tally of it for the human-readable summary.

Law 09-08 (Morocco, article 7) and the GDPR (article 15) give a person the right to a copy of
the data held about them. The resources are the FHIR export's (``nabd.interop.fhir.export``:
Patient with identity, Devices, every Observation, the values nurses measured among them, alert
Flags) for the whole stay, plus the nurses' other entries (ACVPU consciousness and supplemental
oxygen, the two NEWS2 parameters only a nurse records: RCP NEWS2 2017, chart 1) as
Observations. The identity is read through
``identity.read_identities`` with channel ``export``, so the export itself is an access in the
log it carries (docs/patient-rights.md).

The tally is filled while the resources stream out, so the summary describes exactly the file
written, and a long stay never sits in memory as one list of resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.resource import Resource

from nabd.interop.fhir import export, mapping, query
from nabd.interop.fhir.codes import OBSERVATION_CATEGORY, Systems, streams
from nabd.interop.fhir.errors import NotFoundError
from nabd.interop.fhir.records import (
    AlertRecord,
    BloodPressureRecord,
    News2Record,
    PatientRecord,
    ReadingRecord,
)
from nabd.interop.fhir.search import TimeRange
from nabd.interop.fhir.summaries import Summary

__all__ = ["ConsentRecord", "MetricTally", "NurseEntry", "SubjectTally", "resources"]

CONSENT_CATEGORY: Final = ("http://loinc.org", "59284-0", "Patient Consent")
CONSENT_SCOPE: Final = (
    "http://terminology.hl7.org/CodeSystem/consentscope",
    "patient-privacy",
    "Privacy Consent",
)

NURSE_ENTRY_TEXT: Final = {
    "consciousness": "Consciousness (ACVPU), recorded by a nurse",
    "supplemental_oxygen": "Supplemental oxygen (air or oxygen), recorded by a nurse",
    "respiration_rate": "Respiration rate, counted by a nurse",
}


@dataclass(frozen=True, slots=True)
class NurseEntry:
    id: int
    parameter: str
    value: str
    observed_at: datetime
    entered_by: str


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A patient's consent to a programme (migration 0050, docs/consent.md)."""

    id: int
    scope: str
    text_version: str
    collected_at: datetime
    collected_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None


@dataclass(slots=True)
class MetricTally:
    """One metric over the stay: how many values, their range, and the first and last time
    of a reading (with a value or not)."""

    count: int = 0
    minimum: float | None = None
    maximum: float | None = None
    first: datetime | None = None
    last: datetime | None = None

    def add(self, at: datetime, count: int, low: float | None, high: float | None) -> None:
        self.count += count
        if low is not None:
            self.minimum = low if self.minimum is None else min(self.minimum, low)
        if high is not None:
            self.maximum = high if self.maximum is None else max(self.maximum, high)
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)


@dataclass(slots=True)
class SubjectTally:
    """What the export wrote, for the summary page."""

    patient: PatientRecord | None = None
    devices: list[str] = field(default_factory=list)
    metrics: dict[str, MetricTally] = field(default_factory=dict)
    news2: list[News2Record] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    nurse_entries: list[NurseEntry] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)
    resources: int = 0

    def observe(self, record: query.ObservationRecord) -> None:
        if isinstance(record, ReadingRecord):  # an unavailable reading (None) counts no value
            count = 0 if record.value is None else 1
            self._metric(record.key).add(record.time, count, record.value, record.value)
        elif isinstance(record, Summary):
            self._metric(record.key).add(record.start, record.count, record.minimum, record.maximum)
        elif isinstance(record, BloodPressureRecord):
            for key, value in record.values.items():
                self._metric(key).add(record.time, 0 if value is None else 1, value, value)
        elif isinstance(record, News2Record):
            self.news2.append(record)
        # A ManualRecord (a value a nurse measured) is tallied with the nurses' entries.

    def _metric(self, key: str) -> MetricTally:
        return self.metrics.setdefault(key, MetricTally())


def nurse_entries(conn: query.Conn, patient_id: str) -> list[NurseEntry]:
    rows = conn.execute(
        """SELECT id, parameter, value, observed_at, entered_by FROM nurse_entry
           WHERE patient_id = %s ORDER BY observed_at, id""",
        (patient_id,),
    ).fetchall()
    return [NurseEntry(**row) for row in rows]


def consents(conn: query.Conn, patient_id: str) -> list[ConsentRecord]:
    rows = conn.execute(
        """SELECT id, scope, text_version, collected_at, collected_by, withdrawn_at, withdrawn_by
           FROM consent WHERE patient_id = %s ORDER BY collected_at, id""",
        (patient_id,),
    ).fetchall()
    return [ConsentRecord(**row) for row in rows]


def consent_resource(record: ConsentRecord, patient_id: str) -> Consent:
    """A consent as a FHIR Consent: active until withdrawn, the programme and the version of the
    text the patient agreed to as its policy rule, permitting collection over its period."""
    period: dict[str, str] = {"start": mapping.instant(record.collected_at)}
    if record.withdrawn_at is not None:
        period["end"] = mapping.instant(record.withdrawn_at)
    system, code, display = CONSENT_SCOPE
    category = dict(zip(("system", "code", "display"), CONSENT_CATEGORY, strict=True))
    return Consent.model_validate(
        {
            "resourceType": "Consent",
            "id": f"consent-{record.id}",
            "status": "active" if record.withdrawn_at is None else "inactive",
            "scope": {"coding": [{"system": system, "code": code, "display": display}]},
            "category": [{"coding": [category]}],
            "patient": mapping.reference("Patient", patient_id),
            "dateTime": mapping.instant(record.collected_at),
            "performer": [{"display": record.collected_by}],
            "policyRule": {"text": f"{record.scope}, text version {record.text_version}"},
            "provision": {"type": "permit", "period": period},
        }
    )


def nurse_entry_observation(entry: NurseEntry, patient_id: str, systems: Systems) -> Observation:
    """A nurse's entry as an Observation coded in Nabd's own code system (the value as entered:
    A/C/V/P/U, air/oxygen, or breaths per minute), performed by the nurse named."""
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "id": f"nurse-entry-{entry.id}",
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
            "code": {
                "coding": [
                    {"system": f"{systems.base}/CodeSystem/nurse-entry", "code": entry.parameter}
                ],
                "text": NURSE_ENTRY_TEXT.get(entry.parameter, entry.parameter),
            },
            "subject": mapping.reference("Patient", patient_id),
            "effectiveDateTime": mapping.instant(entry.observed_at),
            "performer": [{"display": entry.entered_by}],
            "valueString": entry.value,
        }
    )


def resources(
    conn: query.Conn,
    patient_id: str,
    *,
    reader: query.Reader,
    systems: Systems,
    period_s: int,
    now: datetime,
    tally: SubjectTally,
) -> Iterator[Resource]:
    """Patient (with identity, recorded as an access), devices, every Observation of the
    patient (whatever its time), nurses' entries, alert Flags and Consents;
    :class:`NotFoundError` if there is no such patient or no identity left."""
    record = query.patient(conn, patient_id, identity=reader)
    if record.identity is None:
        raise NotFoundError(
            f"patient {patient_id} has no identity (erased, or never given): "
            "there is no person to export for"
        )
    tally.patient = record
    yield _counted(tally, mapping.patient(record, systems))
    window = TimeRange()  # all of it: a reading stamped before admission is still theirs
    for device in query.devices_of(conn, patient_id, window):
        tally.devices.append(device.id)
        yield _counted(tally, mapping.device(device, systems))
    selection = query.Selection(patient_id, frozenset(streams()), window, period_s)
    for observation in query.all_observations(conn, selection):
        tally.observe(observation)
        yield _counted(tally, export.to_resource(observation, systems, now=now))
    for entry in nurse_entries(conn, patient_id):
        tally.nurse_entries.append(entry)
        if entry.parameter not in query.MANUAL_KEYS:  # those are Observations above already
            yield _counted(tally, nurse_entry_observation(entry, patient_id, systems))
    for alert in query.all_alerts(conn, patient_id, window):
        tally.alerts.append(alert)
        yield _counted(tally, mapping.flag(alert, systems))
    for consent in consents(conn, patient_id):
        tally.consents.append(consent)
        yield _counted(tally, consent_resource(consent, patient_id))


def _counted(tally: SubjectTally, resource: Resource) -> Resource:
    tally.resources += 1
    return resource
