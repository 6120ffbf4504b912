"""Who a reading belongs to: the device must be the publishing gateway's, and the patient is the
one the device was assigned to at the sample's time.

The registry rows of a flush's devices are as of *the flush transaction*: read by one query
(:data:`REGISTRY_SQL`), or kept from an earlier flush when the registry's change counter, read in
this transaction, has not moved (:mod:`nabd.ingest.registry_cache`), so a device registered or
re-assigned a moment ago counts at once; the rules themselves are pure (:class:`Registry`):

* **Registration.** Every reading's device must be registered (``device.gateway_id``) to the
  gateway whose topic carried the batch; otherwise the whole batch is a dead letter (a gateway
  reporting someone else's device is misconfigured or lying, and its other readings are suspect).
* **Attribution by time.** The assignment whose ``valid`` range contains the sample time: a
  device moved to another patient on Tuesday leaves Monday's samples with the first patient,
  however late they arrive. Ranges honour their bounds (``[)`` as written by Nabd).
* **Unassigned is kept.** A reading whose device had no patient at that instant has no patient
  here; the writer stores it in ``unattributed_observation`` (visible, re-attributable), never
  drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Final, cast

from nabd.ingest.sample_times import FLAG as UNTIMED
from nabd.ingest.staging import Row

__all__ = [
    "REGISTRY_SQL",
    "Assignment",
    "Attributed",
    "Registry",
    "attribute",
    "identities",
    "unregistered_reason",
]

REGISTRY_SQL: Final = """
SELECT d.id, d.gateway_id, a.patient_id,
       nullif(lower(a.valid), '-infinity'), nullif(upper(a.valid), 'infinity'),
       lower_inc(a.valid), upper_inc(a.valid)
FROM device d LEFT JOIN device_assignment a ON a.device_id = d.id
WHERE d.id = ANY(%s)
"""
"""The registry rows of some devices: one row per assignment (or one with NULLs if none)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """A device worn by a patient over a time range (``None``: unbounded on that side)."""

    patient_id: str
    start: datetime | None
    end: datetime | None
    start_inclusive: bool = True
    end_inclusive: bool = False

    def covers(self, t: datetime) -> bool:
        after_start = (
            self.start is None or t > self.start or (self.start_inclusive and t == self.start)
        )
        before_end = self.end is None or t < self.end or (self.end_inclusive and t == self.end)
        return after_start and before_end


@dataclass(frozen=True, slots=True)
class Registry:
    """Who owns and who wears the devices of one flush, as read in its transaction."""

    gateways: Mapping[str, str] = field(default_factory=dict)
    """Device id -> the gateway it is registered to (unknown devices are absent)."""
    assignments: Mapping[str, tuple[Assignment, ...]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, ...]]) -> Registry:
        """Build from :data:`REGISTRY_SQL` rows."""
        gateways: dict[str, str] = {}
        assignments: dict[str, list[Assignment]] = {}
        for device, gateway, patient, start, end, start_inc, end_inc in rows:
            if gateway is not None:  # a device registered to no gateway yet (nabd.care) is no one's
                gateways[str(device)] = str(gateway)
            if patient is not None:
                assignments.setdefault(str(device), []).append(
                    Assignment(str(patient), start, end, bool(start_inc), bool(end_inc))
                )
        return cls(gateways, {d: tuple(a) for d, a in assignments.items()})

    def unregistered(
        self, gateway_id: str, devices: Sequence[str]
    ) -> tuple[int, str, str | None] | None:
        """The first reading, given the devices of a batch's readings in order, whose device is
        not ``gateway_id``'s: (index, device, owner)."""
        gateways = self.gateways
        foreign = {d for d in set(devices) if gateways.get(d) != gateway_id}  # a few devices
        if not foreign:
            return None
        index = next(i for i, d in enumerate(devices) if d in foreign)
        return index, devices[index], gateways.get(devices[index])

    def patients_throughout(self, start: datetime, end: datetime) -> dict[str, str]:
        """Device -> patient, for the devices one assignment covers from ``start`` to ``end``
        (both included; an assignment is one interval, so it covers everything between)."""
        return {
            device: a.patient_id
            for device, assignments in self.assignments.items()
            for a in assignments
            if a.covers(start) and a.covers(end)
        }

    def patient_at(self, device_id: str, t: datetime) -> str | None:
        """The patient wearing ``device_id`` at ``t``, or ``None``.

        Assignments of one device cannot overlap (an exclusion constraint), so at most one
        covers ``t``.
        """
        for a in self.assignments.get(device_id, ()):
            if a.covers(t):
                return a.patient_id
        return None


def unregistered_reason(device_id: str, gateway_id: str, owner: str | None) -> str:
    """The dead-letter reason for a device that is not ``gateway_id``'s."""
    where = "an unknown device" if owner is None else f"registered to gateway {owner!r}"
    return f"device {device_id!r} is not registered to gateway {gateway_id!r} ({where})"


@dataclass(slots=True)
class Attributed:
    """The rows of a flush, split by whether someone wore the device at the sample's time."""

    observed: list[tuple[Any, ...]] = field(default_factory=list)
    """``(patient_id, *Row)`` for ``observation``."""
    unattributed: list[Row] = field(default_factory=list)
    latest: dict[tuple[str, int], Row] = field(default_factory=dict)
    """Newest row per (patient, metric): what ``observation_latest`` must hold at least. Rows
    flagged ``time_implausible`` never count: their time is not known
    (:mod:`nabd.ingest.sample_times`)."""
    untimed: set[str] = field(default_factory=set)
    """Patients of flagged rows (so they are in :attr:`patients` even without a latest row)."""

    def only(self, keep: Callable[[Row], bool]) -> Attributed:
        """The rows ``keep`` accepts, with the newest per (patient, metric) among them."""
        out = Attributed(unattributed=[row for row in self.unattributed if keep(row)])
        for observed in self.observed:
            row = cast(Row, observed[1:])
            if keep(row):
                _observe(out, observed[0], row)
        return out

    @property
    def patients(self) -> list[str]:
        return sorted({p for p, _ in self.latest} | self.untimed)

    @property
    def first_time(self) -> datetime | None:
        return min(map(itemgetter(1), self.observed), default=None)

    @property
    def last_time(self) -> datetime | None:
        return max(map(itemgetter(1), self.observed), default=None)


def identities(split: Attributed) -> list[tuple[str, int, int, datetime]]:
    """``(device_id, seq, metric_id, time)`` of every row: the ``reading_identity`` rows."""
    return [(r[2], r[4], r[3], r[1]) for r in split.observed] + [
        (r[1], r[3], r[2], r[0]) for r in split.unattributed
    ]


def _observe(out: Attributed, patient: str, row: Row) -> None:
    out.observed.append((patient, *row))
    if row[5] and UNTIMED in row[5]:
        out.untimed.add(patient)
        return
    key = (patient, row[2])
    newest = out.latest.get(key)
    if newest is None or row[0] >= newest[0]:
        out.latest[key] = row


def attribute(rows: Iterable[Row], registry: Registry) -> Attributed:
    """Give each row its patient at its sample time (``Row[0]``), or set it aside.

    A device whose one assignment covers the flush's whole time span (the usual case) gives its
    patient to its rows without a range check per row.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    out = Attributed()
    if not rows:
        return out
    times = list(map(itemgetter(0), rows))
    throughout = registry.patients_throughout(min(times), max(times))
    patient_at, latest = registry.patient_at, out.latest  # local names: this loop is hot
    observed, unattributed = out.observed.append, out.unattributed.append
    for row in rows:
        patient = throughout.get(row[1]) or patient_at(row[1], row[0])
        if patient is None:
            unattributed(row)
            continue
        observed((patient, *row))
        if row[5] and UNTIMED in row[5]:  # flags are usually the one shared empty list
            out.untimed.add(patient)
            continue
        key = (patient, row[2])
        newest = latest.get(key)
        if newest is None or row[0] >= newest[0]:
            latest[key] = row
    return out
