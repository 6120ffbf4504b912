"""What the gateway reports about itself: the contract's ``GatewayStatus`` and a full report.

The broker carries the contract's :class:`~nabd.contract.payloads.GatewayStatus` (retained,
``online`` after connecting, ``offline`` as the last will). That payload has no fields yet for
devices, batteries, clocks, the outbox or technical events, so the agent keeps them in a
:class:`StatusReport`, written as JSON next to the outbox (``nabd edge status`` prints it) and
logged when something changes; :func:`gateway_status` is the one place that maps the report to
the wire, to be extended when the contract is.

Device states:

==============  ===================================================================
state           meaning
==============  ===================================================================
``searching``   not connected; waiting to hear the device advertise
``connecting``  heard; connecting, discovering, subscribing
``connected``   subscribed, readings arriving
``silent``      connected, but no reading for ``ble.silent_after_s``
``lost``        the connection dropped or failed; waiting before the next attempt
==============  ===================================================================
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from nabd.contract.payloads import STATUS_SCHEMA, GatewayState, GatewayStatus
from nabd.edge.clock import ClockWatch

__all__ = [
    "DeviceHealth",
    "DeviceReport",
    "DeviceState",
    "Event",
    "EventLog",
    "OutboxReport",
    "StatusReport",
    "gateway_status",
    "is_silent",
]

MAX_EVENTS: Final = 100
"""Recent technical events kept in the report."""


class DeviceState(StrEnum):
    SEARCHING = "searching"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    SILENT = "silent"
    LOST = "lost"


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Report):
    """A technical event: something an operator should know about the equipment."""

    at: datetime
    kind: str
    """``outbox_full``, ``outbox_expired``, ``device_silent``, ``device_clock_off``,
    ``reading_rejected``, ``decode_error``, ``device_lost``, ``broker_lost``, ..."""
    device_id: str | None = None
    detail: str = ""


class DeviceReport(_Report):
    device_id: str
    address: str
    patient: str | None
    state: DeviceState
    since: datetime
    last_reading_at: datetime | None
    battery_percent: int | None
    clock_offset_s: float | None
    clock_off: bool
    info: dict[str, str]
    readings: int
    rejected: int
    test_data: int
    decode_errors: int
    connections: int
    last_error: str | None


class OutboxReport(_Report):
    pending: int
    oldest_received_at: datetime | None
    dropped_full: int
    dropped_expired: int
    in_flight_batches: int


class StatusReport(_Report):
    gateway_id: str
    boot_id: str
    at: datetime
    broker_connected: bool
    devices: tuple[DeviceReport, ...]
    outbox: OutboxReport
    events: tuple[Event, ...]


@dataclass
class DeviceHealth:
    """One device's live state, updated by its session and read by the reporter."""

    device_id: str
    address: str
    patient: str | None
    clock: ClockWatch
    state: DeviceState = DeviceState.SEARCHING
    since: datetime | None = None
    last_reading_at: datetime | None = None
    last_reading_monotonic: float | None = None
    connected_monotonic: float | None = None
    battery_percent: int | None = None
    info: dict[str, str] = field(default_factory=dict)
    readings: int = 0
    rejected: int = 0
    test_data: int = 0
    decode_errors: int = 0
    connections: int = 0
    last_error: str | None = None

    def set_state(self, state: DeviceState, at: datetime) -> bool:
        """Move to ``state``; returns whether it changed."""
        if state is self.state and self.since is not None:
            return False
        self.state = state
        self.since = at
        return True

    def report(self, at: datetime) -> DeviceReport:
        offset = self.clock.offset
        return DeviceReport(
            device_id=self.device_id,
            address=self.address,
            patient=self.patient,
            state=self.state,
            since=self.since or at,
            last_reading_at=self.last_reading_at,
            battery_percent=self.battery_percent,
            clock_offset_s=None if offset is None else offset.total_seconds(),
            clock_off=self.clock.off,
            info=dict(self.info),
            readings=self.readings,
            rejected=self.rejected,
            test_data=self.test_data,
            decode_errors=self.decode_errors,
            connections=self.connections,
            last_error=self.last_error,
        )


def is_silent(health: DeviceHealth, now: float, silent_after: float) -> bool:
    """Connected, yet nothing received for ``silent_after`` seconds (since the last reading, or
    since the connection if none came)."""
    if health.state not in (DeviceState.CONNECTED, DeviceState.SILENT):
        return False
    last = health.last_reading_monotonic or health.connected_monotonic
    return last is not None and now - last >= silent_after


class EventLog:
    """The most recent technical events."""

    def __init__(self, size: int = MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=size)

    def add(self, event: Event) -> None:
        self._events.append(event)

    def recent(self) -> tuple[Event, ...]:
        return tuple(self._events)

    def kinds(self) -> list[str]:
        return [event.kind for event in self._events]


def gateway_status(
    gateway_id: str, boot_id: str, state: GatewayState, at: datetime, version: str | None
) -> GatewayStatus:
    """The retained status message (``online``, or ``offline`` as the last will)."""
    return GatewayStatus(
        schema=STATUS_SCHEMA,
        gateway_id=gateway_id,
        boot_id=boot_id,
        state=state,
        at=at,
        software_version=version,
    )
