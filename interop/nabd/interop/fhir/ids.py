"""Resource ids: deterministic, decodable, and valid FHIR ids.

A FHIR id is 1 to 64 of ``[A-Za-z0-9-.]``. Nabd's ids (``^[a-z0-9][a-z0-9_-]{0,62}$``) may hold
``_``, which FHIR forbids, and never ``.``, so ``_`` is written as ``.``: a bijection, so
``Patient/p.7`` is patient ``p_7`` and nothing else.

Observations have no row id (a summary is many rows), so their id *encodes* their identity: the
same data always gets the same id (a re-export replaces rather than duplicates), and the API can
read an id back without a lookup table. A device or patient id can be 63 characters, too long to
embed, so it appears as a 64-bit digest (:func:`digest`, which SQL computes identically): within
one exact instant, metric and sequence number, a collision is not a practical concern.

=========  ======================================================  =========================
kind       id                                                      identity
=========  ======================================================  =========================
spot       ``s-<mdc>-<time>-<seq>-<digest(device)>``                one reading
summary    ``m-<mdc>-<start>-<period>-<digest(patient, device)>``   one metric, device, period
BP panel   ``b-<time>-<seq>-<digest(device)>``                      one cuff measurement
NEWS2      ``n-<time>-<digest(patient)>``                           one score
manual     ``e-<entry id>``                                        a nurse's entry (0035)
=========  ======================================================  =========================

Numbers are base 36; ``<time>`` is microseconds since 1970 (PostgreSQL's resolution),
``<start>`` and ``<period>`` seconds. Flags use the alert's UUID as is.
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from nabd.interop.fhir.errors import NotFoundError

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DIGEST_HEX: Final = 16
_FHIR_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NABD_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DIGITS: Final = string.digits + string.ascii_lowercase
_B36: Final = r"(0|[1-9a-z][0-9a-z]*)"
_HEX: Final = rf"([0-9a-f]{{{DIGEST_HEX}}})"
_PATTERNS: Final = {
    "s": re.compile(rf"^s-{_B36}-{_B36}-{_B36}-{_HEX}$"),
    "m": re.compile(rf"^m-{_B36}-{_B36}-{_B36}-{_HEX}$"),
    "b": re.compile(rf"^b-{_B36}-{_B36}-{_HEX}$"),
    "n": re.compile(rf"^n-{_B36}-{_HEX}$"),
    "e": re.compile(rf"^e-{_B36}$"),
}

DIGEST_SQL: Final = "left(encode(sha256(convert_to(concat_ws(chr(31), {}), 'UTF8')), 'hex'), 16)"
"""SQL template computing :func:`digest` of the comma-separated column list put in ``{}``."""


def to_fhir(nabd_id: str) -> str:
    """A patient or device id as a FHIR id."""
    if not _NABD_ID.fullmatch(nabd_id):
        raise ValueError(f"not a Nabd id: {nabd_id!r}")
    return nabd_id.replace("_", ".")


def from_fhir(fhir_id: str) -> str:
    """The Nabd id behind a Patient or Device id; NotFoundError if no Nabd id maps to it."""
    nabd_id = fhir_id.replace(".", "_")
    if not _NABD_ID.fullmatch(nabd_id) or "_" in fhir_id:
        raise NotFoundError(f"no resource has the id {fhir_id!r}")
    return nabd_id


def digest(*parts: str) -> str:
    """64-bit hex digest of ids joined by U+001F, as :data:`DIGEST_SQL` computes it."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:DIGEST_HEX]


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError(f"ids encode non-negative numbers, not {number}")
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if number == 0:
            return out


def micros(time: datetime) -> int:
    """Microseconds since 1970, exactly (no float)."""
    return (time - EPOCH) // timedelta(microseconds=1)


MAX_MICROS: Final = micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
"""The last instant Python (and so this API) can represent."""
MAX_CODE: Final = 2**31 - 1
"""``metric.mdc_code`` is a PostgreSQL ``integer``."""
MAX_SEQ: Final = 2**63 - 1
"""``observation.seq`` is a PostgreSQL ``bigint``."""
MAX_PERIOD_S: Final = 86400
"""Summary periods divide a day (:func:`nabd.interop.fhir.summaries.check_period`)."""


def from_micros(value: int) -> datetime:
    """The instant ``value`` microseconds after 1970; ValueError beyond year 9999."""
    if not 0 <= value <= MAX_MICROS:
        raise ValueError(f"{value} µs is outside the years 1970 to 9999")
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class SpotId:
    mdc_code: int
    time: datetime
    seq: int
    device_digest: str

    def __str__(self) -> str:
        numbers = "-".join(_b36(n) for n in (self.mdc_code, micros(self.time), self.seq))
        return f"s-{numbers}-{self.device_digest}"


@dataclass(frozen=True, slots=True)
class SummaryId:
    mdc_code: int
    start: datetime
    period_s: int
    subject_digest: str
    """digest(patient_id, device_id)"""

    def __str__(self) -> str:
        start = (self.start - EPOCH) // timedelta(seconds=1)
        return f"m-{_b36(self.mdc_code)}-{_b36(start)}-{_b36(self.period_s)}-{self.subject_digest}"


@dataclass(frozen=True, slots=True)
class PanelId:
    time: datetime
    seq: int
    device_digest: str

    def __str__(self) -> str:
        return f"b-{_b36(micros(self.time))}-{_b36(self.seq)}-{self.device_digest}"


@dataclass(frozen=True, slots=True)
class News2Id:
    time: datetime
    patient_digest: str

    def __str__(self) -> str:
        return f"n-{_b36(micros(self.time))}-{self.patient_digest}"


@dataclass(frozen=True, slots=True)
class ManualId:
    entry_id: int
    """``nurse_entry.id`` (a blood pressure's systolic row's)."""

    def __str__(self) -> str:
        return f"e-{_b36(self.entry_id)}"


ObservationId = SpotId | SummaryId | PanelId | News2Id | ManualId


def parse_observation_id(text: str) -> ObservationId:
    """Decode an Observation id; NotFoundError for anything Nabd never issues."""
    pattern = _PATTERNS.get(text[:1])
    match = None if pattern is None else pattern.fullmatch(text)
    if match is None or not _FHIR_ID.fullmatch(text):
        raise NotFoundError(f"no Observation has the id {text!r}")
    try:
        return _decode(text[0], match.groups())
    except ValueError as exc:  # a number no Nabd id holds (beyond a column's or a date's range)
        raise NotFoundError(f"no Observation has the id {text!r}") from exc


def _bounded(number: int, maximum: int) -> int:
    if number > maximum:
        raise ValueError(f"{number} exceeds {maximum}")
    return number


def _decode(kind: str, parts: tuple[str, ...]) -> ObservationId:
    numbers = [int(p, 36) for p in parts[:-1]]
    if kind == "s":
        code, seq = _bounded(numbers[0], MAX_CODE), _bounded(numbers[2], MAX_SEQ)
        return SpotId(code, from_micros(numbers[1]), seq, parts[-1])
    if kind == "m":
        start = from_micros(_bounded(numbers[1], MAX_MICROS // 10**6) * 10**6)
        code, period = _bounded(numbers[0], MAX_CODE), _bounded(numbers[2], MAX_PERIOD_S)
        return SummaryId(code, start, period, parts[-1])
    if kind == "b":
        return PanelId(from_micros(numbers[0]), _bounded(numbers[1], MAX_SEQ), parts[-1])
    if kind == "e":
        return ManualId(_bounded(int(parts[0], 36), MAX_SEQ))
    return News2Id(from_micros(numbers[0]), parts[-1])


def parse_flag_id(text: str) -> uuid.UUID:
    """The alert UUID behind a Flag id (canonical lower-case form only)."""
    try:
        value = uuid.UUID(text)
    except ValueError as exc:
        raise NotFoundError(f"no Flag has the id {text!r}") from exc
    if str(value) != text:
        raise NotFoundError(f"no Flag has the id {text!r}")
    return value
