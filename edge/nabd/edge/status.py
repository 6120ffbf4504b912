"""What the gateway reports about itself: the contract's ``GatewayStatus`` and a full report.

The broker carries the contract's :class:`~nabd.contract.payloads.GatewayStatus` (retained:
``online`` after connecting, every status interval and at every device state change, with each
device's connection state, last reading, battery, signal strength and Device Information
strings (manufacturer, model, serial number, firmware revision) and the outbox's backlog;
``offline`` as the last will). The agent's fuller :class:`StatusReport` (clocks, Device
Information, counters, technical events) is written as JSON next to the outbox (``nabd edge
status`` prints it); :func:`wire_status` is the one place that maps the report to the wire.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict

from nabd.contract.payloads import (
    DEVICE_INFO_MAX_CHARS,
    STATUS_SCHEMA,
    DeviceConnection,
    DeviceInformation,
    DeviceStatus,
    GatewayState,
    GatewayStatus,
    NearbyDevice,
    OutboxStatus,
)
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
    "wire_information",
    "wire_status",
]

MAX_EVENTS: Final = 100
"""Recent technical events kept in the report."""


DeviceState = DeviceConnection
"""The contract's device connection states: what the agent tracks is what it publishes."""


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
    rssi_dbm: int | None = None
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
    nearby: tuple[NearbyDevice, ...] = ()
    """Health devices heard but not read (:mod:`nabd.edge.ble.nearby`)."""


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
    rssi_dbm: int | None = None
    """Signal strength of the device's latest advertisement (the central sets it)."""
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
            rssi_dbm=self.rssi_dbm,
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
    """A status without devices: the first ``online`` and the ``offline`` last will."""
    return GatewayStatus(
        schema=STATUS_SCHEMA,
        gateway_id=gateway_id,
        boot_id=boot_id,
        state=state,
        at=at,
        software_version=version,
    )


def wire_status(report: StatusReport, version: str | None) -> GatewayStatus:
    """The retained ``online`` status for ``report``: its devices and its outbox."""
    outbox = report.outbox
    return GatewayStatus(
        schema=STATUS_SCHEMA,
        gateway_id=report.gateway_id,
        boot_id=report.boot_id,
        state=GatewayState.ONLINE,
        at=report.at,
        software_version=version,
        devices=tuple(_wire_device(device) for device in report.devices),
        outbox=OutboxStatus(
            pending=outbox.pending,
            oldest_received_at=outbox.oldest_received_at,
            dropped_full=outbox.dropped_full,
            dropped_expired=outbox.dropped_expired,
        ),
        nearby=report.nearby,
    )


def _wire_device(device: DeviceReport) -> DeviceStatus:
    return DeviceStatus(
        device_id=device.device_id,
        state=device.state,
        since=device.since,
        last_reading_at=device.last_reading_at,
        battery_percent=device.battery_percent,
        rssi_dbm=device.rssi_dbm,
        information=wire_information(device.info),
    )


_WIRE_INFO: Final = ("manufacturer", "model", "serial_number", "firmware_revision")
"""Device Information strings sent to the server (the status keys are the contract's field
names); the hardware and software revisions stay in the local report."""


def _clean(text: str) -> str | None:
    """A device's string as the contract carries it: control characters removed, spaces
    trimmed, at most ``DEVICE_INFO_MAX_CHARS``; ``None`` if nothing is left."""
    printable = "".join(c for c in text if c.isprintable()).strip()
    return printable[:DEVICE_INFO_MAX_CHARS].rstrip() or None


def wire_information(info: Mapping[str, str]) -> DeviceInformation | None:
    """The Device Information part of a device's wire status (``None``: nothing read yet)."""
    fields = {key: _clean(info[key]) for key in _WIRE_INFO if key in info}
    present = {field: text for field, text in fields.items() if text is not None}
    return DeviceInformation(**present) if present else None
