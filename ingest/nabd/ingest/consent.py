"""Readings of a patient whose consent does not cover their sample time are withheld, not stored.

Whether a patient's readings may be collected at an instant is one rule in the database
(``consent_collection_periods``, migration 0050, docs/consent.md): covered by a consent to
``remote-monitoring`` when the deployment requires one, else every instant except from a
withdrawal to the next consent. It is read *inside the flush transaction* for the flush's
patients, like the registry (:mod:`nabd.ingest.attribution`), so a withdrawal counts at once.

A withheld reading is judged by its sample time, as attribution is: a reading taken while the
consent held and delivered after its withdrawal is kept (the withdrawal does not reach back),
one taken after is not. Withheld readings never reach ``observation`` (nor analytics, nor the
dashboards); their message is kept whole as a dead letter of category ``no_consent`` with a
reason that counts them and names the patients, pending: once a consent that covers them is
recorded (given on paper before the readings and entered late), ``nabd ingest dead-letters
replay`` stores them. Nothing is silently dropped, and the gateway's batch is acknowledged.

The rule is pure here (:func:`withhold`): patients with no restriction (the unbounded period,
the usual case when consent is not required) cost one set lookup per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

from psycopg.types.multirange import Multirange
from psycopg.types.range import Range

from nabd.ingest.attribution import Attributed
from nabd.ingest.staging import Row

__all__ = ["PERIODS_SQL", "Periods", "Withheld", "periods_from_rows", "reason", "withhold"]

PERIODS_SQL: Final = "SELECT patient_id, periods FROM consent_restricted_periods(%s::text[])"
"""The collection periods (a ``tstzmultirange``) of those of some patients who are not collected
at every instant (none, usually, when consent is not required)."""

Periods: TypeAlias = Mapping[str, tuple[Range[datetime], ...]]
"""Patient -> the ranges in which their readings may be collected; only restricted patients."""

Identity: TypeAlias = tuple[str, int, int, datetime]
"""(device, metric, seq, time) of a reading: how a withheld row is found in its message."""


def _unbounded(ranges: Sequence[Range[datetime]]) -> bool:
    return len(ranges) == 1 and ranges[0].lower_inf and ranges[0].upper_inf


def periods_from_rows(rows: Iterable[tuple[Any, ...]]) -> dict[str, tuple[Range[datetime], ...]]:
    """From :data:`PERIODS_SQL` rows, the patients whose readings are not always collected."""
    out: dict[str, tuple[Range[datetime], ...]] = {}
    for patient, multirange in rows:
        ranges = tuple(multirange if isinstance(multirange, Multirange) else ())
        if not _unbounded(ranges):
            out[str(patient)] = ranges
    return out


def _covered(ranges: Sequence[Range[datetime]], t: datetime) -> bool:
    return any(t in r for r in ranges)


@dataclass(frozen=True, slots=True)
class Withheld:
    """The readings a flush may not store: their identity -> their patient."""

    readings: Mapping[Identity, str]

    def of(self, rows: Iterable[Row]) -> list[str]:
        """The patients of ``rows`` (one message's) that are withheld, one entry per reading."""
        readings = self.readings
        return [
            readings[key] for key in ((r[1], r[2], r[3], r[0]) for r in rows) if key in readings
        ]


def withhold(split: Attributed, periods: Periods) -> tuple[Attributed, Withheld]:
    """``split`` without the readings no consent period of their patient covers, and those."""
    if not periods:
        return split, Withheld({})
    withheld: dict[Identity, str] = {}
    for observed in split.observed:
        patient, t = observed[0], observed[1]
        ranges = periods.get(patient)
        if ranges is not None and not _covered(ranges, t):
            withheld[(observed[2], observed[3], observed[4], t)] = patient
    if not withheld:
        return split, Withheld({})
    kept = split.only(lambda row: (row[1], row[2], row[3], row[0]) not in withheld)
    return kept, Withheld(withheld)


def reason(patients: Sequence[str], total: int) -> str:
    """The dead-letter reason of a message with ``patients`` (one per withheld reading)."""
    names = ", ".join(sorted(set(patients)))
    return (
        f"{len(patients)} of {total} readings are of patient(s) {names} at times no consent to "
        "remote-monitoring covers (none recorded while this deployment requires one, or "
        "withdrawn): not stored as observations; the others of this message were. If a consent "
        "given before these readings is recorded late (`nabd consent record ... --at TIME`), "
        "replay this dead letter"
    )
