"""The gateway's BLE central: one scanner, one session per device, several devices at once.

The devices of the roster (the server's list, or ``edge.toml``'s until one arrives; see
:mod:`nabd.edge.roster`) get a session from the start; when the roster changes, a newly listed
device gets one and a device no longer listed has its session stopped (it disconnects; its
readings already received are in the outbox), without restarting anything. With discovery on,
a device that advertises one of the configured standard health services gets a session the
first time it is heard, with an id derived from its address (``<prefix>-f0f1f2f3f4f5``), up to
``discovery.max_devices``. Everything runs in one ``TaskGroup``: when the Bluetooth stack fails
the group ends and the agent's supervisor opens the stack again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from nabd.edge.ble.backend import BackendClasses
from nabd.edge.ble.nearby import Nearby
from nabd.edge.ble.session import DeviceSession
from nabd.edge.ble.sightings import Sighting, Sightings
from nabd.edge.clock import ClockWatch
from nabd.edge.config import EdgeConfig
from nabd.edge.ingress import Ingress
from nabd.edge.roster import Roster, changes
from nabd.edge.runtime import Runtime
from nabd.edge.status import DeviceHealth
from nabd.edge.waiting import at_most

__all__ = ["Central"]

log = logging.getLogger(__name__)

_SCANNER_TIMEOUT: Final = 10.0
_IDLE_WAIT: Final = 5.0
_RSSI_MIN: Final = -127
_RSSI_MAX: Final = 20
"""The range of an RSSI in dBm (Core Specification); anything else means "not available"."""


class Central:
    """Scans, and runs a :class:`DeviceSession` per device; see the module docstring."""

    def __init__(
        self,
        config: EdgeConfig,
        backend: BackendClasses,
        ingress: Ingress,
        devices: dict[str, DeviceHealth],
        runtime: Runtime,
        *,
        roster: Roster,
        nearby: Nearby | None = None,
    ) -> None:
        self._config = config
        self._backend = backend
        self._ingress = ingress
        self._devices = devices
        """Shared with the status reporter: every device that has (had) a session."""
        self._runtime = runtime
        self._roster = roster
        self._nearby = nearby or Nearby()
        self._sightings = Sightings()
        self._by_address: dict[str, str] = {}
        """Every device with a session, listed or discovered, by address."""
        self._sessions: dict[str, tuple[str, asyncio.Task[None]]] = {}
        """Listed devices' sessions: id -> (address, task)."""
        self._discovered = 0
        self._wanted = {service.uuid for service in config.discovery.services}
        self._group: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        scanner = BleakScanner(
            detection_callback=self._on_advertisement, **self._backend.scanner_args()
        )
        async with asyncio.TaskGroup() as group:
            self._group = group
            self._roster.changed.clear()
            await self._follow_roster()
            async with asyncio.timeout(_SCANNER_TIMEOUT):
                await scanner.start()
            try:
                await self._park()
            finally:
                self._group = None
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(_SCANNER_TIMEOUT):
                        await scanner.stop()

    async def _park(self) -> None:
        """Keep the group (and the scanner) alive until cancelled, following the roster."""
        while True:
            await at_most(self._roster.changed.wait(), _IDLE_WAIT)
            if self._roster.changed.is_set():
                self._roster.changed.clear()
                await self._follow_roster()

    async def _follow_roster(self) -> None:
        """Stop the sessions of devices no longer listed, start those of new ones."""
        running = {device_id: address for device_id, (address, _) in self._sessions.items()}
        todo = changes(running, self._roster.devices)
        for device_id in todo.stop:
            await self._release(device_id)
        for device in todo.start:
            if self._roster.config is not None:  # the server's list: the device may have moved
                floor = int(self._runtime.clock().timestamp() * 1_000_000)
                self._ingress.renumber_from(device.id, floor)
            self._by_address[device.address] = device.id
            task = self._start(device.id, device.address, device.patient, device.timezone)
            self._sessions[device.id] = (device.address, task)
            self._runtime.event("device_assigned", device.address, device.id)
        if todo.start or todo.stop:
            log.info(
                "devices now %s (server list version %s)",
                sorted(self._sessions) or "none",
                self._roster.version,
            )

    async def _release(self, device_id: str) -> None:
        address, task = self._sessions.pop(device_id)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({task}, timeout=_SCANNER_TIMEOUT)  # it disconnects on the way out
        if self._by_address.get(address) == device_id:
            del self._by_address[address]
        self._devices.pop(device_id, None)
        self._runtime.event("device_released", address, device_id)

    def _start(
        self, device_id: str, address: str, patient: str | None, zone: str | None
    ) -> asyncio.Task[None]:
        assert self._group is not None
        tolerance = self._config.ble.clock_tolerance_s
        health = self._devices.get(device_id)
        if health is None:
            watch = ClockWatch(timedelta(seconds=tolerance))
            health = DeviceHealth(device_id, address, patient, watch)
            self._devices[device_id] = health
        session = DeviceSession(
            health,
            zone=ZoneInfo(zone or self._config.device_timezone),
            backend=self._backend,
            sightings=self._sightings,
            ingress=self._ingress,
            config=self._config.ble,
            runtime=self._runtime,
        )
        return self._group.create_task(session.run(), name=f"ble-{device_id}")

    def _note_rssi(self, address: str, rssi: int) -> None:
        health = self._devices.get(self._by_address.get(address, ""))
        if health is not None:
            health.rssi_dbm = rssi if _RSSI_MIN <= rssi <= _RSSI_MAX else None

    def _on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        address = device.address.upper()
        self._sightings.record(Sighting(device, advertisement, self._runtime.monotonic()))
        self._note_rssi(address, advertisement.rssi)
        if address not in self._by_address:
            self._nearby.record(
                address,
                advertisement.local_name,
                advertisement.service_uuids,
                advertisement.rssi,
                self._runtime.clock(),
            )
        if address in self._by_address or not self._config.discovery.enabled:
            return
        if self._group is None or not self._wanted & set(advertisement.service_uuids):
            return
        if self._discovered >= self._config.discovery.max_devices:
            return
        self._discovered += 1
        device_id = f"{self._config.discovery.id_prefix}-{address.replace(':', '').lower()}"
        self._by_address[address] = device_id
        log.info("discovered %s (%s) as %s", address, advertisement.local_name, device_id)
        self._runtime.event("device_discovered", address, device_id)
        self._start(device_id, address, None, None)
