"""The Date Time structure (characteristic 0x2A08), embedded as a time stamp in most health values.

Seven bytes: year (uint16, 1582-9999, 0 = unknown), month (0 = unknown, 1-12), day (0 = unknown,
1-31), hours (0-23), minutes (0-59), seconds (0-59). It is the device's wall-clock time with no
zone, so :meth:`DateTime.to_datetime` returns a *naive* datetime; attaching a zone (or preferring
the gateway's receive time) is the edge agent's decision, not the codec's.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from nabd.contract.gatt.errors import GattValueError

__all__ = ["DATE_TIME_SIZE", "DateTime"]

DATE_TIME_SIZE: Final = 7
"""Bytes on the wire."""

_LEAP_YEAR: Final = 2000
"""Stands in for an unknown year when checking a day: 29 February is valid in some year."""


def _problem(value: DateTime) -> str | None:
    if value.year != 0 and not 1582 <= value.year <= 9999:
        return f"year {value.year} is neither 0 (unknown) nor 1582-9999"
    if not 0 <= value.month <= 12:
        return f"month {value.month} is neither 0 (unknown) nor 1-12"
    last_day = 31
    if value.month:
        last_day = calendar.monthrange(value.year or _LEAP_YEAR, value.month)[1]
    if not 0 <= value.day <= last_day:
        return f"day {value.day} is neither 0 (unknown) nor 1-{last_day}"
    if not (0 <= value.hours <= 23 and 0 <= value.minutes <= 59 and 0 <= value.seconds <= 59):
        return f"time {value.hours}:{value.minutes}:{value.seconds} is not a time of day"
    return None


@dataclass(frozen=True, slots=True)
class DateTime:
    """A Date Time value; 0 in ``year``, ``month`` or ``day`` means "not known"."""

    year: int
    month: int
    day: int
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            raise GattValueError(f"Date Time: {problem}")

    @classmethod
    def from_datetime(cls, moment: datetime) -> DateTime:
        """The wall-clock fields of ``moment``; sub-second digits and any zone are dropped."""
        return cls(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)

    @property
    def is_complete(self) -> bool:
        """True when year, month and day are all known."""
        return bool(self.year and self.month and self.day)

    def to_datetime(self) -> datetime | None:
        """Naive datetime, or ``None`` when the device does not know the date."""
        if not self.is_complete:
            return None
        # Naive on purpose: the device sends wall-clock time without a zone.
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)
