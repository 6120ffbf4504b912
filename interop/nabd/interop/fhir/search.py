"""FHIR search parameters, parsed into typed values (pure; the API and the export share them).

Supported: ``patient`` (or ``subject``), ``category`` and ``code`` (tokens ``system|code``,
``|code``, ``code``; commas OR, repeated parameters AND), ``date`` (:mod:`.dates`), ``_count``,
``_sort`` (``date`` or ``-date``) and ``_cursor`` (the opaque token of a ``next`` link).

Unknown parameters are **ignored**, as FHIR's default (lenient) handling asks: the answer lists
them in an OperationOutcome entry and leaves them out of its ``self`` link, so the client sees
exactly what was applied. With ``Prefer: handling=strict`` they are refused (400). A bad value
of a supported parameter, or a modifier (``code:not``), is always refused: FHIR servers must
reject modifiers they do not support, since ignoring one would return the opposite answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from nabd.interop.fhir import ids
from nabd.interop.fhir.codes import (
    OBSERVATION_CATEGORY,
    Systems,
    stream_category,
    stream_codes,
    streams,
)
from nabd.interop.fhir.dates import FAR_FUTURE, FAR_PAST, TimeRange, parse_date
from nabd.interop.fhir.errors import NotFoundError, SearchError, shown

Params = Sequence[tuple[str, str]]

_CURSOR_TEXT: Final = re.compile(r"^[a-z0-9_-]{0,64}$")
"""Cursor keys and devices: metric keys, Nabd ids, alert UUIDs (or empty)."""
_COUNT: Final = re.compile(r"^[0-9]{1,9}$", re.ASCII)
_MAX_RANK: Final = 4
_MAX_CURSOR: Final = 512
"""A cursor this server writes is at most about 300 characters."""
IGNORED: Final = frozenset({"_format"})
"""Accepted and not a filter: ``_format`` is checked by the API (JSON only)."""
SORTS: Final = {"date": False, "-date": True}
"""``_sort`` values: whether the order is descending."""

__all__ = ["FAR_FUTURE", "FAR_PAST", "TimeRange", "parse_date"]


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
        """The cursor of a ``next`` link; SearchError for anything this server did not write."""
        if len(token) > _MAX_CURSOR:  # also keeps json from recursing into "[[[[..."
            raise SearchError(f"_cursor: not a cursor this server issued: {shown(token)}")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            time, rank, key, device, seq = json.loads(raw)
            cursor = cls(datetime.fromisoformat(time), rank, key, device, seq)
        except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
            raise SearchError(f"_cursor: not a cursor this server issued: {shown(token)}") from exc
        if not cursor.plausible():
            raise SearchError(f"_cursor: not a cursor this server issued: {shown(token)}")
        return cursor

    def plausible(self) -> bool:
        """Whether every field is one this server could have written (types, ranges, alphabet).

        Checked before anything reaches SQL: text with NUL or a number beyond ``bigint`` would
        otherwise be refused by PostgreSQL itself, as a server error.
        """
        typed = all(
            isinstance(v, t) and not isinstance(v, bool)
            for v, t in ((self.rank, int), (self.key, str), (self.device, str), (self.seq, int))
        )
        return (
            typed
            and self.time.tzinfo is not None
            and -1 <= self.rank <= _MAX_RANK
            and -1 <= self.seq <= ids.MAX_SEQ
            and all(_CURSOR_TEXT.fullmatch(v) for v in (self.key, self.device))
        )


START: Final = Cursor(FAR_PAST, -1, "", "", -1)
"""Sorts before every resource: the first page of an ascending listing."""
END: Final = Cursor(FAR_FUTURE, _MAX_RANK + 1, "~", "~", ids.MAX_SEQ)
"""Sorts after every resource (``~`` follows ids' alphabet in "C" order): the first page of a
descending listing."""


@dataclass(frozen=True, slots=True)
class Page:
    count: int
    cursor: Cursor = START
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    """A search's parameters: those it applies (in the ``self`` link) and those it ignored."""

    applied: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObservationSearch:
    patient_id: str
    streams: frozenset[str]
    time: TimeRange
    page: Page
    request: Request


@dataclass(frozen=True, slots=True)
class FlagSearch:
    patient_id: str
    time: TimeRange
    page: Page
    request: Request


@dataclass(frozen=True, slots=True)
class DeviceSearch:
    patient_id: str
    request: Request


def parse_patient(value: str) -> str:
    """``Patient/<id>`` or ``<id>`` as the Nabd patient id."""
    fhir_id = value.removeprefix("Patient/")
    try:
        return ids.from_fhir(fhir_id)
    except NotFoundError as exc:
        raise SearchError(f"patient: {shown(value)} is not a Patient id") from exc


def _tokens(name: str, value: str) -> list[tuple[str | None, str]]:
    """Comma-separated tokens as (system, code); system None means any, "" means none."""
    found: list[tuple[str | None, str]] = []
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        if not code:
            raise SearchError(f"{name}: empty token in {shown(value)}; use system|code or code")
        found.append((system if bar else None, code))
    return found


def parse_code(value: str, systems: Systems) -> frozenset[str]:
    """The Observation streams one ``code`` parameter matches (comma-separated tokens, OR).

    ``system|code`` matches that coding, ``code`` a code in any system, ``|code`` a code without
    a system (every Nabd coding has one, so nothing).
    """
    return frozenset(
        stream
        for system, code in _tokens("code", value)
        for stream in streams()
        for coding in stream_codes(stream, systems)
        if coding.code == code and system in (None, coding.system)
    )


def parse_category(value: str) -> frozenset[str]:
    """The Observation streams one ``category`` parameter matches (observation-category codes:
    ``vital-signs``, ``survey`` for NEWS2, ``procedure``, ``activity``, ``laboratory``)."""
    return frozenset(
        stream
        for system, code in _tokens("category", value)
        for stream in streams()
        if code == stream_category(stream) and system in (None, OBSERVATION_CATEGORY)
    )


def _one(params: Params, name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise SearchError(f"{name} may be given once")
    return values[0] if values else None


def _page(params: Params, default: int, maximum: int) -> Page:
    count, cursor, sort = _one(params, "_count"), _one(params, "_cursor"), _one(params, "_sort")
    if count is not None and not (_COUNT.fullmatch(count) and 1 <= int(count) <= maximum):
        raise SearchError(f"_count: {shown(count)} is not a whole number from 1 to {maximum}")
    if sort is not None and sort not in SORTS:
        raise SearchError(f"_sort: {shown(sort)} is not supported; use date or -date")
    descending = SORTS[sort or "date"]
    first = END if descending else START
    start = first if cursor is None else Cursor.decode(cursor)
    return Page(default if count is None else int(count), start, descending)


def split(params: Params, allowed: frozenset[str], *, strict: bool) -> Request:
    """Separate the parameters a search applies from those it ignores (or refuses, if strict)."""
    applied: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, value in params:
        if name in allowed or name in IGNORED:
            applied.append((name, value))
        elif name.partition(":")[0] in allowed:
            raise SearchError(f"{shown(name)}: search modifiers are not supported")
        else:
            ignored.append(name)
    if strict and ignored:
        raise SearchError(
            f"unsupported search parameter(s): {', '.join(map(shown, sorted(set(ignored))))}; "
            f"supported: {', '.join(sorted(allowed))}"
        )
    return Request(tuple(applied), tuple(dict.fromkeys(ignored)))


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


OBSERVATION_PARAMS: Final = frozenset(
    {"patient", "subject", "category", "code", "date", "_count", "_sort", "_cursor"}
)
FLAG_PARAMS: Final = frozenset({"patient", "subject", "date", "_count", "_cursor"})
DEVICE_PARAMS: Final = frozenset({"patient"})


def observation_search(
    params: Params, systems: Systems, *, default_count: int, max_count: int, strict: bool = False
) -> ObservationSearch:
    """Parse the query of ``GET /Observation``."""
    request = split(params, OBSERVATION_PARAMS, strict=strict)
    applied = request.applied
    selected = frozenset(streams())
    for key, value in applied:
        if key == "code":
            selected &= parse_code(value, systems)
        elif key == "category":
            selected &= parse_category(value)
    page = _page(applied, default_count, max_count)
    return ObservationSearch(_patient(applied), selected, _time(applied), page, request)


def flag_search(
    params: Params, *, default_count: int, max_count: int, strict: bool = False
) -> FlagSearch:
    """Parse the query of ``GET /Flag`` (``date`` matches the flag's active period)."""
    request = split(params, FLAG_PARAMS, strict=strict)
    applied = request.applied
    page = _page(applied, default_count, max_count)
    return FlagSearch(_patient(applied), _time(applied), page, request)


def device_search(params: Params, *, strict: bool = False) -> DeviceSearch:
    """Parse the query of ``GET /Device``: the patient whose devices are wanted."""
    request = split(params, DEVICE_PARAMS, strict=strict)
    return DeviceSearch(_patient(request.applied), request)
