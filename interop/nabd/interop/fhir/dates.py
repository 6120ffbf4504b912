"""FHIR ``date`` search values as ranges of instants (pure).

A FHIR date or dateTime stands for the whole range of its precision: ``2026`` is the year,
``2026-03`` the month, ``2026-03-02T08:00Z`` the minute. A prefix compares a resource's time with
that range (FHIR R4 search, 3.1.1.5.6, for a resource time that is a point):

======  ==============================  ======  ==============================
``eq``  within the range (the default)  ``ge``  at or after its start
``gt``  after its end                   ``le``  before its end
``lt``  before its start
======  ==============================  ======  ==============================

Accepted: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` (UTC days), and ``YYYY-MM-DDThh:mm[:ss[.f]]``
with ``Z`` or ``±hh:mm`` (an instant without an offset has no meaning). Refused, each with its
own reason: other prefixes (``ne``, ``sa``, ``eb``, ``ap``), leap seconds (``:60``: neither
Python nor PostgreSQL represents them), dates whose range does not fit in years 1 to 9999, and
anything else, with the accepted forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from nabd.interop.fhir.errors import SearchError, shown

FAR_PAST: Final = datetime(1, 1, 1, tzinfo=UTC)
FAR_FUTURE: Final = datetime(9999, 12, 31, tzinfo=UTC)
PREFIXES: Final = ("eq", "ge", "gt", "le", "lt")
UNSUPPORTED_PREFIXES: Final = ("ne", "sa", "eb", "ap")
ACCEPTED: Final = (
    "accepted: [prefix]YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.ffffff]] with Z or "
    f"+hh:mm, prefix one of {', '.join(PREFIXES)}"
)
_DATE: Final = re.compile(
    r"(?P<year>[0-9]{4})(-(?P<month>[0-9]{2})(-(?P<day>[0-9]{2})"
    r"(T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(:(?P<second>[0-9]{2})(\.(?P<fraction>[0-9]{1,6}))?)?"
    r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2}))?)?)?",
    re.ASCII,
)


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


def _precision(match: re.Match[str]) -> timedelta:
    if match["fraction"]:
        return timedelta(microseconds=10 ** (6 - len(match["fraction"])))
    return timedelta(seconds=1) if match["second"] else timedelta(minutes=1)


def _calendar_range(match: re.Match[str]) -> tuple[datetime, datetime]:
    """A year, month or day (UTC) as [first instant, first instant of the next)."""
    year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
    start = datetime(year, month, day, tzinfo=UTC)
    if match["day"]:
        return start, start + timedelta(days=1)
    if match["month"]:
        following = (year + month // 12, month % 12 + 1)
        return start, datetime(*following, 1, tzinfo=UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=UTC)


def _range(text: str) -> tuple[datetime, datetime]:
    """The range a date value stands for; ValueError or OverflowError when it cannot be one."""
    match = _DATE.fullmatch(text)
    if match is None:
        raise SearchError(f"date: {shown(text)} is not a FHIR date; {ACCEPTED}")
    if match["second"] == "60":
        raise SearchError(f"date: {shown(text)} is a leap second, which is not supported: use :59")
    if match["hour"] is None:
        return _calendar_range(match)
    start = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return start, start + _precision(match)


def parse_date(value: str) -> TimeRange:
    """One ``date`` parameter as the range of resource times it admits (SearchError if none)."""
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix in UNSUPPORTED_PREFIXES:
        raise SearchError(f"date: prefix {prefix!r} is not supported; {ACCEPTED}")
    if prefix not in PREFIXES:
        raise SearchError(f"date: {shown(value)} is not a FHIR date; {ACCEPTED}")
    try:
        low, high = _range(text)
    except OverflowError as exc:
        raise SearchError(
            f"date: {shown(text)} is out of range: its period must lie within the years 1 to 9999"
        ) from exc
    except ValueError as exc:
        if isinstance(exc, SearchError):
            raise
        raise SearchError(
            f"date: {shown(text)} is not a valid calendar date or time ({exc})"
        ) from exc
    if high > FAR_FUTURE or low < FAR_PAST:
        raise SearchError(
            f"date: {shown(text)} is out of range: dates from 0001-01-01 to 9999-12-30 are accepted"
        )
    return {
        "eq": TimeRange(low, high),
        "ge": TimeRange(start=low),
        "gt": TimeRange(start=high),
        "le": TimeRange(end=high),
        "lt": TimeRange(end=low),
    }[prefix]
