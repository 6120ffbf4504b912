"""Device time vs gateway time: which device time stamps to keep, and whose clock is off.

A health characteristic's Date Time carries the device's wall-clock time with no zone. The agent
attaches the zone configured for the device, converts to UTC and keeps it as ``device_time`` only
if it is a plausible time (inside the contract's ``[2020, 2100)``): a device whose clock was
never set reports 1970 or 2000, and such a time must not reach the record as if it were real. The
reading then carries the ``device_clock_unset`` flag instead, and the receive time stands.

:class:`ClockWatch` estimates how far a device's clock is from the gateway's. A time-stamped
measurement is received after it was taken (at once when live, later when the device replays
stored records), so ``device_time - received_at`` is at most the clock error, and equal to it for
a live reading: the largest offset among recent readings estimates the error. A device is
reported off when that estimate exceeds the tolerance either way (ahead: no real measurement comes
from the future; behind: not even the freshest recent reading is recent).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from nabd.contract.payloads import EARLIEST, LATEST

__all__ = ["ClockWatch", "DeviceTime", "device_time"]

_RECENT: Final = 5
"""Offsets kept per device for the estimate."""


@dataclass(frozen=True, slots=True)
class DeviceTime:
    """How one message's device time stamp is recorded."""

    at: datetime | None
    """Aware UTC device time, or ``None`` (no time stamp, or one that cannot be true)."""
    unset: bool
    """The message carried a time stamp from a clock that was not set."""

    def offset(self, received_at: datetime) -> timedelta | None:
        return None if self.at is None else self.at - received_at


def device_time(stamp: datetime | None, clock_unset: bool, zone: ZoneInfo) -> DeviceTime:
    """Interpret a device's naive wall-clock ``stamp`` in ``zone``."""
    if clock_unset:
        return DeviceTime(None, True)
    if stamp is None:
        return DeviceTime(None, False)
    try:
        moment = stamp.replace(tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError):
        return DeviceTime(None, True)
    if not EARLIEST <= moment < LATEST:
        return DeviceTime(None, True)
    return DeviceTime(moment, False)


class ClockWatch:
    """One device's clock offset estimate (see the module docstring)."""

    def __init__(self, tolerance: timedelta) -> None:
        self._tolerance = tolerance
        self._recent: deque[timedelta] = deque(maxlen=_RECENT)
        self.unset_seen = False
        """The device sent a time stamp from an unset clock since the agent started."""

    def observe(self, time: DeviceTime, received_at: datetime) -> None:
        offset = time.offset(received_at)
        if offset is not None:
            self._recent.append(offset)
        if time.unset:
            self.unset_seen = True

    @property
    def offset(self) -> timedelta | None:
        """Estimated device clock minus gateway clock, or ``None`` before any time stamp."""
        return max(self._recent) if self._recent else None

    @property
    def off(self) -> bool:
        """The clock is unset, or further from the gateway's than the tolerance."""
        offset = self.offset
        return self.unset_seen or (offset is not None and abs(offset) > self._tolerance)
