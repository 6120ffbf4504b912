"""``nabd fhir export``: everything about one patient from a time on, as FHIR resources.

The Patient, the devices assigned to them in the window, every Observation (spot readings,
per-period summaries, blood-pressure panels, NEWS2 scores, values nurses measured) and the
alerts active in the window, read in one transaction (one consistent snapshot) and recorded in
the audit log in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from fhir.resources.R4B.resource import Resource

from nabd.interop.fhir import mapping, query
from nabd.interop.fhir.codes import Systems, streams
from nabd.interop.fhir.records import (
    BloodPressureRecord,
    ManualRecord,
    News2Record,
    ReadingRecord,
)
from nabd.interop.fhir.search import TimeRange
from nabd.interop.fhir.summaries import Summary, bucket_start


@dataclass(frozen=True, slots=True)
class ExportRequest:
    patient_id: str
    since: datetime
    until: datetime
    identity: query.Reader | None
    """Who exports identity (recorded as an access); None: a pseudonymous export."""
    period_s: int
    systems: Systems

    @property
    def window(self) -> TimeRange:
        """From the start of the summary period containing ``since``, up to ``until``."""
        return TimeRange(bucket_start(self.since, self.period_s), self.until)


def to_resource(record: query.ObservationRecord, systems: Systems, *, now: datetime) -> Resource:
    """Any Observation record as its FHIR Observation."""
    if isinstance(record, ReadingRecord):
        return mapping.reading_observation(record, systems)
    if isinstance(record, Summary):
        return mapping.summary_observation(record, systems, now=now)
    if isinstance(record, BloodPressureRecord):
        return mapping.blood_pressure_observation(record, systems)
    if isinstance(record, News2Record):
        return mapping.news2_observation(record, systems)
    if isinstance(record, ManualRecord):
        return mapping.manual_observation(record, systems)
    raise TypeError(f"not an Observation record: {record!r}")


def resources(conn: query.Conn, request: ExportRequest, *, now: datetime) -> Iterator[Resource]:
    """Patient, devices, observations and flags, in that order (NotFoundError: no patient)."""
    systems = request.systems
    window = request.window
    yield mapping.patient(
        query.patient(conn, request.patient_id, identity=request.identity), systems
    )
    for device in query.devices_of(conn, request.patient_id, window):
        yield mapping.device(device, systems)
    selection = query.Selection(request.patient_id, frozenset(streams()), window, request.period_s)
    for record in query.all_observations(conn, selection):
        yield to_resource(record, systems, now=now)
    for alert in query.all_alerts(conn, request.patient_id, window):
        yield mapping.flag(alert, systems)
