"""The values care operations accept, checked before any database is touched (pure).

Each ``parse_*`` function takes what a person typed (or a web form sent) and returns the
canonical value or raises :class:`~nabd.care.errors.CareInputError` saying what is accepted.
Ids follow the registry's rule (migration 0002): they travel in MQTT topics and URLs.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from nabd.care.errors import CareInputError, Why
from nabd.contract.device_kinds import DEVICE_KINDS

__all__ = [
    "DEVICE_KINDS",
    "Admission",
    "DeviceSpec",
    "PersonName",
    "new_patient_id",
    "parse_actor",
    "parse_address",
    "parse_bed",
    "parse_birth_date",
    "parse_id",
    "parse_kind",
    "parse_mrn",
    "parse_name",
    "parse_text",
    "parse_time",
]

_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_BED_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_MRN_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,39}$")
_ADDRESS_RE: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_NOT_DEVICES: Final = frozenset({"00:00:00:00:00:00", "FF:FF:FF:FF:FF:FF"})
_OLDEST_BIRTH: Final = date(1900, 1, 1)
_CLOCK_SLACK: Final = timedelta(minutes=1)


def _matching(
    pattern: re.Pattern[str], value: str, refusal: str, why: Why, **params: object
) -> str:
    """``value`` without surrounding blanks if ``pattern`` matches it, else refuse."""
    cleaned = value.strip()
    if not pattern.fullmatch(cleaned):
        raise CareInputError(refusal, why, value=value, **params)
    return cleaned


def parse_id(what: str, value: str) -> str:
    """A ward, patient, device or gateway id: 1-63 of ``a-z 0-9 _ -``, starting alphanumeric."""
    return _matching(
        _ID_RE,
        value,
        f"{what} id {value!r} is not accepted: use 1 to 63 lower-case letters, digits, "
        "'_' or '-', starting with a letter or digit (e.g. 'icu-2')",
        Why.BAD_ID,
        what=what,
    )


def parse_bed(value: str) -> str:
    """A bed's label within its ward: 1-32 of ``A-Z a-z 0-9 _ . -`` (e.g. ``12``, ``B-3``)."""
    return _matching(
        _BED_RE,
        value,
        f"bed {value!r} is not accepted: use 1 to 32 letters, digits, '_', '.' or '-', "
        "starting with a letter or digit (e.g. '12' or 'B-3')",
        Why.BAD_BED,
    )


def parse_mrn(value: str) -> str:
    """The hospital's medical record number as printed: 1-40 of ``A-Z a-z 0-9 _ . / -``."""
    return _matching(
        _MRN_RE,
        value,
        f"MRN {value!r} is not accepted: use 1 to 40 letters, digits, '_', '.', '/' or '-'",
        Why.BAD_MRN,
    )


def parse_actor(value: str) -> str:
    """Who does it, as the audit log records it: 1-100 characters, not blank."""
    cleaned = " ".join(value.split())
    if not 1 <= len(cleaned) <= 100:
        raise CareInputError(
            "--by: say who does it (1 to 100 characters), e.g. --by 'Nurse Ines'", Why.BAD_ACTOR
        )
    return cleaned


def parse_text(what: str, value: str, limit: int = 200) -> str:
    """A free-text label (ward name, serial, model): 1-``limit`` characters, no control
    characters (they would corrupt a terminal or a CSV)."""
    cleaned = " ".join(value.split())
    if not 1 <= len(cleaned) <= limit or any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise CareInputError(
            f"{what} must be 1 to {limit} printable characters, not {value[:40]!r}",
            Why.BAD_TEXT, what=what, value=value[:40], limit=limit,
        )  # fmt: skip
    return cleaned


@dataclass(frozen=True)
class PersonName:
    """A patient's name as the identity schema stores it (given names, family name)."""

    given: str
    family: str

    def __str__(self) -> str:
        return f"{self.given} {self.family}".strip()


def parse_name(value: str) -> PersonName:
    """``"FAMILY, Given"`` (the admission system's order) or ``"Given Family"`` (the family name
    is then the last word)."""
    if "," in value:
        family, _, given = value.partition(",")
    else:
        *given_words, family = value.split() or [""]
        given = " ".join(given_words)
    family_name = parse_text("the family name", family, 100) if family.strip() else ""
    if not family_name:
        raise CareInputError(
            f"name {value!r} is not accepted: give 'Given Family' or 'FAMILY, Given'",
            Why.BAD_NAME, value=value,
        )  # fmt: skip
    given_name = parse_text("the given name", given, 100) if given.strip() else ""
    return PersonName(given_name, family_name)


def parse_birth_date(value: str, *, today: date | None = None) -> date:
    """``YYYY-MM-DD``, not in the future and not before 1900."""
    try:
        born = date.fromisoformat(value.strip())
    except ValueError:
        born = None
    if born is None or len(value.strip()) != 10:
        raise CareInputError(f"birth date {value!r} is not accepted: write YYYY-MM-DD",
                             Why.BAD_BIRTH_DATE, value=value)  # fmt: skip
    if not _OLDEST_BIRTH <= born <= (today or datetime.now(UTC).date()):
        raise CareInputError(
            f"birth date {value!r} is not accepted: it must be between 1900-01-01 and today",
            Why.BIRTH_DATE_RANGE, value=value,
        )  # fmt: skip
    return born


def parse_address(value: str) -> str:
    """A Bluetooth device address ``AA:BB:CC:DD:EE:FF`` (any case; returned upper-case)."""
    upper = value.strip().upper()
    if not _ADDRESS_RE.fullmatch(upper):
        raise CareInputError(
            f"address {value!r} is not a Bluetooth address: write six hex pairs separated by "
            "':', e.g. 'F0:F1:F2:F3:F4:05'",
            Why.BAD_ADDRESS, value=value,
        )  # fmt: skip
    if upper in _NOT_DEVICES:
        raise CareInputError(f"address {upper} is reserved and names no device",
                             Why.RESERVED_ADDRESS, value=upper)  # fmt: skip
    return upper


def parse_kind(value: str) -> str:
    """One of :data:`DEVICE_KINDS`."""
    cleaned = value.strip()
    if cleaned not in DEVICE_KINDS:
        raise CareInputError(
            f"device kind {value!r} is not accepted: use one of {', '.join(DEVICE_KINDS)}",
            Why.BAD_KIND, value=value, kinds=", ".join(DEVICE_KINDS),
        )  # fmt: skip
    return cleaned


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 instant with its UTC offset (``2026-12-06T09:30+01:00`` or ``...Z``), not in
    the future: an assignment records what happened, and a clock without a zone is ambiguous."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise CareInputError(
            f"time {value!r} is not accepted: write an ISO 8601 time with its offset, "
            "e.g. 2026-12-06T09:30+01:00 or 2026-12-06T08:30Z",
            Why.BAD_TIME, value=value,
        )  # fmt: skip
    if at > (now or datetime.now(UTC)) + _CLOCK_SLACK:
        raise CareInputError(f"time {value!r} is in the future: give when it started",
                             Why.TIME_IN_FUTURE, value=value)  # fmt: skip
    return at


def new_patient_id() -> str:
    """A fresh pseudonymous patient id: random, so it says nothing about the person."""
    return "p-" + secrets.token_hex(6)


@dataclass(frozen=True)
class Admission:
    """What admitting a patient needs, validated on construction from what a person typed."""

    ward: str
    bed: str
    mrn: str
    name: PersonName
    birth_date: date | None

    @classmethod
    def parse(
        cls, *, ward: str, bed: str, mrn: str, name: str, birth_date: str | None
    ) -> Admission:
        return cls(
            parse_id("ward", ward),
            parse_bed(bed),
            parse_mrn(mrn),
            parse_name(name),
            None if birth_date is None else parse_birth_date(birth_date),
        )


@dataclass(frozen=True)
class DeviceSpec:
    """A device as registered: id, kind, Bluetooth address and optional serial, model and
    manufacturer (compared with what the device reports, :mod:`nabd.ingest.device_identity`)."""

    id: str
    kind: str
    address: str
    serial: str | None = None
    model: str | None = None
    manufacturer: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        device_id: str,
        kind: str,
        address: str,
        serial: str | None = None,
        model: str | None = None,
        manufacturer: str | None = None,
    ) -> DeviceSpec:
        return cls(
            parse_id("device", device_id),
            parse_kind(kind),
            parse_address(address),
            None if serial is None else parse_text("--serial", serial, 100),
            None if model is None else parse_text("--model", model, 100),
            None if manufacturer is None else parse_text("--manufacturer", manufacturer, 100),
        )
