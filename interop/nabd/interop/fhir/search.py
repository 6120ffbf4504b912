"""FHIR search parameters, parsed into typed values (pure; the API and the export share them).

Supported: ``patient`` (or ``subject``), ``code`` (tokens: ``system|code``, ``|code``, ``code``;
commas are OR, repeated parameters AND), ``date`` (prefixes ``eq``, ``ge``, ``gt``, ``le``, ``lt``
on a day ``YYYY-MM-DD`` or an instant with a UTC offset; repeated parameters AND), ``_count`` and
``_cursor`` (the opaque token of a ``next`` link). Anything else is refused rather than ignored:
a misspelt ``patinet`` must not widen a search.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from nabd.interop.fhir import ids
from nabd.interop.fhir.codes import Systems, stream_codes, streams
from nabd.interop.fhir.errors import NotFoundError, SearchError

Params = Sequence[tuple[str, str]]

FAR_PAST: Final = datetime(1, 1, 1, tzinfo=UTC)
FAR_FUTURE: Final = datetime(9999, 12, 31, tzinfo=UTC)
_PREFIXES: Final = ("eq", "ge", "gt", "le", "lt")
_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?P<fraction>\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
)
IGNORED: Final = frozenset({"_format"})
"""Accepted and ignored: responses are always JSON."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start, end)``; unbounded sides are :data:`FAR_PAST` and :data:`FAR_FUTURE`."""

    start: datetime = FAR_PAST
    end: datetime = FAR_FUTURE

    def __and__(self, other: TimeRange) -> TimeRange:
        return TimeRange(max(self.start, other.start), min(self.end, other.end))

    @property
    def empty(self) -> bool:
        return self.start >= self.end


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Where a page ended: the sort key of its last resource (time, source, key, device, seq)."""

    time: datetime
    rank: int
    key: str
    device: str
    seq: int

    def encode(self) -> str:
        raw = json.dumps([self.time.isoformat(), self.rank, self.key, self.device, self.seq])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            time, rank, key, device, seq = json.loads(raw)
            cursor = cls(datetime.fromisoformat(time), rank, key, device, seq)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise SearchError(f"_cursor: not a cursor this server issued: {token!r}") from exc
        if cursor.time.tzinfo is None or not all(
            isinstance(v, t) for v, t in ((rank, int), (key, str), (device, str), (seq, int))
        ):
            raise SearchError(f"_cursor: not a cursor this server issued: {token!r}")
        return cursor


START: Final = Cursor(FAR_PAST, -1, "", "", -1)
"""Sorts before every resource: the first page."""


@dataclass(frozen=True, slots=True)
class Page:
    count: int
    cursor: Cursor = START


@dataclass(frozen=True, slots=True)
class ObservationSearch:
    patient_id: str
    streams: frozenset[str]
    time: TimeRange
    page: Page


@dataclass(frozen=True, slots=True)
class FlagSearch:
    patient_id: str
    time: TimeRange
    page: Page


def _day_range(text: str) -> tuple[datetime, datetime]:
    day = date.fromisoformat(text)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _instant_range(text: str) -> tuple[datetime, datetime]:
    match = _INSTANT.fullmatch(text)
    if match is None:
        raise ValueError(text)
    start = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    precision = timedelta(microseconds=1) if match["fraction"] else timedelta(seconds=1)
    return start, start + precision


def parse_date(value: str) -> TimeRange:
    """One ``date`` parameter as the range of effective times it admits."""
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in _PREFIXES:
        raise SearchError(f"date: prefix {prefix!r} is not supported (use {', '.join(_PREFIXES)})")
    try:
        low, high = _day_range(text) if _DAY.fullmatch(text) else _instant_range(text)
    except (ValueError, OverflowError) as exc:
        raise SearchError(
            f"date: {text!r} is neither a day (YYYY-MM-DD) nor an instant with seconds and a "
            "UTC offset"
        ) from exc
    return {
        "eq": TimeRange(low, high),
        "ge": TimeRange(start=low),
        "gt": TimeRange(start=high),
        "le": TimeRange(end=high),
        "lt": TimeRange(end=low),
    }[prefix]


def parse_patient(value: str) -> str:
    """``Patient/<id>`` or ``<id>`` as the Nabd patient id."""
    fhir_id = value.removeprefix("Patient/")
    try:
        return ids.from_fhir(fhir_id)
    except NotFoundError as exc:
        raise SearchError(f"patient: {value!r} is not a Patient id") from exc


def parse_code(value: str, systems: Systems) -> frozenset[str]:
    """The Observation streams one ``code`` parameter matches (comma-separated tokens, OR).

    ``system|code`` matches that coding, ``code`` a code in any system, ``|code`` a code without
    a system (every Nabd coding has one, so nothing).
    """
    matched: set[str] = set()
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        if not code:
            raise SearchError(f"code: empty token in {value!r}")
        matched.update(
            stream
            for stream in streams()
            for coding in stream_codes(stream, systems)
            if coding.code == code and (not bar or coding.system == system)
        )
    return frozenset(matched)


def _page(params: Params, default: int, maximum: int) -> Page:
    counts = [v for k, v in params if k == "_count"]
    cursors = [v for k, v in params if k == "_cursor"]
    if len(counts) > 1 or len(cursors) > 1:
        raise SearchError("_count and _cursor may be given once each")
    count = default
    if counts:
        if not counts[0].isdigit() or not 1 <= int(counts[0]) <= maximum:
            raise SearchError(f"_count: must be a whole number from 1 to {maximum}")
        count = int(counts[0])
    return Page(count, Cursor.decode(cursors[0]) if cursors else START)


def _check_names(params: Params, allowed: frozenset[str]) -> None:
    unknown = sorted({k for k, _ in params} - allowed - IGNORED)
    if unknown:
        raise SearchError(
            f"unsupported search parameter(s): {', '.join(unknown)}; "
            f"supported: {', '.join(sorted(allowed))}"
        )


def _patient(params: Params) -> str:
    values = [v for k, v in params if k in ("patient", "subject")]
    if len(values) != 1:
        raise SearchError("patient (or subject) is required, once: searches are per patient")
    return parse_patient(values[0])


def _time(params: Params) -> TimeRange:
    time = TimeRange()
    for key, value in params:
        if key == "date":
            time &= parse_date(value)
    return time


def observation_search(
    params: Params, systems: Systems, *, default_count: int, max_count: int
) -> ObservationSearch:
    """Parse the query of ``GET /Observation``."""
    _check_names(params, frozenset({"patient", "subject", "code", "date", "_count", "_cursor"}))
    selected = frozenset(streams())
    for key, value in params:
        if key == "code":
            selected &= parse_code(value, systems)
    return ObservationSearch(
        _patient(params), selected, _time(params), _page(params, default_count, max_count)
    )


def flag_search(params: Params, *, default_count: int, max_count: int) -> FlagSearch:
    """Parse the query of ``GET /Flag`` (``date`` matches the flag's active period)."""
    _check_names(params, frozenset({"patient", "subject", "date", "_count", "_cursor"}))
    return FlagSearch(_patient(params), _time(params), _page(params, default_count, max_count))


def device_search(params: Params) -> str:
    """Parse the query of ``GET /Device``: the patient whose devices are wanted."""
    _check_names(params, frozenset({"patient"}))
    return _patient(params)
