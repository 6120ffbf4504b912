"""Retention policy as data: the classes of personal data, their tables, floors and cutoffs.

A hospital decides how long each *class* of data is kept (docs/privacy.md); ``nabd privacy
retention set CLASS DAYS`` records it and ``apply`` deletes what is older. This module is the
pure part: which tables make up a class and which rows of them a cutoff reaches (as SQL
conditions over one ``%(cutoff)s`` parameter), the floors below which a period is refused, and
the parsing of what a person typed. The database part is :mod:`nabd.app.privacy.store`.

Floors are Nabd's, not the law's: they stop a typo (``set observations 3``) from deleting what
the system itself still needs, and keep the audit trail for at least a year, which is shorter than
what most medical-record rules ask (a hospital sets its own period above it, with its DPO).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

MAX_DAYS: Final = 36_500
"""A hundred years: anything longer is "for ever", which is said with ``forever``."""
FOREVER: Final = "forever"


class RetentionError(ValueError):
    """A period or class a person typed that cannot be a policy: the message says what is."""


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a class: the rows a cutoff reaches, and the column that dates them.

    ``expired`` is an SQL condition with one ``%(cutoff)s`` parameter; a hypertable is reduced
    by dropping whole chunks older than the cutoff (``drop_chunks``), so its condition is
    ``time < cutoff`` and rows in a chunk that straddles the cutoff wait for the next run.
    """

    name: str
    time_column: str | None
    """What dates a row, for "oldest kept"; None when nothing in the row does."""
    expired: str
    hypertable: bool = False
    erases_identity: bool = False
    """Each row is one patient's identity: deleting it is an erasure, audited per patient as
    ``nabd patient erase`` audits one (``identity_erased``, the pseudonym only)."""


@dataclass(frozen=True, slots=True)
class DataClass:
    """A class of data with one retention period: its tables in deletion order."""

    key: str
    label: str
    floor_days: int
    floor_reason: str
    tables: tuple[Table, ...]


def _by_time(name: str, column: str = "time", *, hypertable: bool = False) -> Table:
    return Table(name, column, f"{column} < %(cutoff)s", hypertable)


_RESOLVED_BEFORE: Final = (
    "SELECT id FROM alert WHERE state = 'resolved' AND resolved_at < %(cutoff)s"
)

AUDIT_LOG: Final = "audit_log"

CLASSES: Final[tuple[DataClass, ...]] = (
    DataClass(
        "observations",
        "readings from devices (vital signs), worn or not, with their identities",
        30,
        "a gateway resends for 7 days at most and ingest accepts 8",
        (
            _by_time("observation", hypertable=True),
            _by_time("unattributed_observation", hypertable=True),
            _by_time("reading_identity"),
            _by_time("observation_latest"),
        ),
    ),
    DataClass(
        "news2_scores",
        "NEWS2 scores computed every tick",
        30,
        "a month of trend on the dashboards",
        (_by_time("news2_score", hypertable=True),),
    ),
    DataClass(
        "alerts",
        "resolved alerts and the nurses' actions on them (open alerts are never deleted)",
        30,
        "a month of alert history for review",
        (
            Table("alert_action", "at", f"alert_id IN ({_RESOLVED_BEFORE})"),
            Table("alert", "raised_at", "state = 'resolved' AND resolved_at < %(cutoff)s"),
        ),
    ),
    DataClass(
        "nurse_entries",
        "nurses' NEWS2 entries (consciousness, oxygen, counted respiration), once expired",
        30,
        "as long as the scores they fed",
        (Table("nurse_entry", "observed_at", "valid_until < %(cutoff)s"),),
    ),
    DataClass(
        "dead_letters",
        "messages ingest could not store, with their raw bytes",
        7,
        "a week to notice, fix the cause and replay",
        (_by_time("dead_letter", "received_at"),),
    ),
    DataClass(
        "ingest_bookkeeping",
        "ingested batches, the hand-off journal, analytics ticks (no clinical values)",
        14,
        "a resent batch must be recognised as long as a gateway resends, 7 days",
        (
            _by_time("ingested_batch", "committed_at"),
            _by_time("observation_commit", "committed_at"),
            _by_time("analytics_tick", hypertable=True),
        ),
    ),
    DataClass(
        AUDIT_LOG,
        "the hash-chained audit log (who did what, when); the chain stays verifiable",
        365,
        "a year of accountability at least; medical-record rules usually ask for more",
        (_by_time(AUDIT_LOG, "at"),),
    ),
    DataClass(
        "identity_access",
        "who read which patient's identity, when and through which channel (the access log)",
        365,
        "evidence of who saw a patient's identity, kept as long as the audit log",
        (_by_time("identity_access", "at"),),
    ),
    DataClass(
        "identity",
        "names, MRN and birth date of patients discharged longer ago than the period",
        30,
        "a month after discharge to correct and export the record under its name",
        (
            Table(
                "identity.patient_identity",
                None,
                "patient_id IN (SELECT id FROM patient WHERE discharged_at < %(cutoff)s)",
                erases_identity=True,
            ),
        ),
    ),
)

NOT_RETAINED: Final[dict[str, str]] = {
    "patient": "the pseudonymous admission every clinical row refers to; no identity in it",
    "device_assignment": "which device measured which pseudonym when; needed to read the data",
    "alarm_limit": "current alarm limits (a change is in the audit log)",
    "care_plan": "a home patient's current care plan (each change is in the audit log)",
    "ward": "the registry: wards",
    "bed": "the registry: beds",
    "gateway": "the registry: gateways",
    "device": "the registry: devices",
    "metric": "the catalogue of metrics",
    "gateway_state": "current state, replaced by each status",
    "gateway_device_state": "current state, replaced by each status",
    "gateway_nearby": "current state, replaced by each status",
    "ingest_health": "one row per ingest worker, rewritten",
    "analytics_worker": "one row per analytics worker, rewritten (its heartbeat)",
    "analytics_lease": "which analytics worker scores which ward now, rewritten every tick",
    "observation_commit_counter": "one counter row",
    "registry_version": "one counter row: how many times the device registry changed",
    "station_user": "staff accounts of the nurse station (staff, not patients)",
    "station_session": "signed-in sessions, deleted at sign-out",
    "ward_viewer": "which login sees which ward",
    "retention_policy": "these decisions themselves",
    "consent": "consents and withdrawals: the evidence that collection was lawful, kept with it",
    "consent_policy": "whether collection and FHIR sharing need consent (changes are audited)",
    "schema_migration": "the schema's history",
}
"""Tables no class covers, and why: current state or registry rather than a history of a
person's data. A new table must be added to a class or here (tests/privacy check it)."""

_BY_KEY: Final = {c.key: c for c in CLASSES}
_DAYS: Final = re.compile(r"^\s*(\d{1,9})\s*$")


def data_class(key: str) -> DataClass:
    """The class named ``key``, or a RetentionError listing the classes there are."""
    found = _BY_KEY.get(key.strip().lower())
    if found is None:
        raise RetentionError(
            f"no data class {key!r}: one of {', '.join(_BY_KEY)} (`nabd privacy retention show`)"
        )
    return found


def parse_days(cls: DataClass, text: str) -> int | None:
    """The period a person typed for ``cls``, in whole days; None for ``forever``.

    Refused, in one sentence naming what is accepted: not a whole number, zero, more than
    :data:`MAX_DAYS`, or below the class's floor.
    """
    if text.strip().lower() == FOREVER:
        return None
    match = _DAYS.match(text)
    if match is None:
        raise RetentionError(
            f"{text!r} is not a number of days: give whole days, e.g. 365, or {FOREVER}"
        )
    days = int(match[1])
    if days > MAX_DAYS:
        raise RetentionError(f"{days} days is over {MAX_DAYS} (100 years): say {FOREVER} instead")
    if days < cls.floor_days:
        raise RetentionError(
            f"{cls.key} cannot be kept less than {cls.floor_days} days ({cls.floor_reason}):"
            f" give {cls.floor_days} or more, or {FOREVER}"
        )
    return days


def cutoff(now: datetime, days: int) -> datetime:
    """Rows dated before this are past a period of ``days`` at ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now - timedelta(days=days)


def describe_period(days: int | None, *, decided: bool) -> str:
    """How ``show`` says a period: ``365 days``, ``kept for ever``, or ``not set (kept)``."""
    if not decided:
        return "not set: kept for ever"
    return "kept for ever" if days is None else f"{days} days"
