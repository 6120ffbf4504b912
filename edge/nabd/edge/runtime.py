"""What every part of the running agent shares: its two clocks and its technical event log.

Passing one :class:`Runtime` instead of clock functions keeps the parts testable with a fixed
clock, and gives every technical event the same shape (logged and kept for the status report).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nabd.edge.status import Event, EventLog

__all__ = ["Runtime", "utc_now"]

log = logging.getLogger("nabd.edge")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    clock: Callable[[], datetime] = utc_now
    """Wall clock (aware UTC): receive times, batch times, events."""
    monotonic: Callable[[], float] = time.monotonic
    """For durations and deadlines (immune to the wall clock being set)."""
    events: EventLog = field(default_factory=EventLog)

    def event(self, kind: str, detail: str, device_id: str | None = None) -> None:
        """Record a technical event and log it as a warning."""
        log.warning("%s%s: %s", f"{device_id}: " if device_id else "", kind, detail)
        self.events.add(Event(at=self.clock(), kind=kind, device_id=device_id, detail=detail))
