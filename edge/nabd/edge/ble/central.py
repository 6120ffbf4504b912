"""The gateway's BLE central: one scanner, one session per device, several devices at once.

Configured devices (by address) get a session from the start. With discovery on, a device that
advertises one of the configured standard health services gets a session the first time it is
heard, with an id derived from its address (``<prefix>-f0f1f2f3f4f5``), up to
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
from nabd.edge.ble.session import DeviceSession
from nabd.edge.ble.sightings import Sighting, Sightings
from nabd.edge.clock import ClockWatch
from nabd.edge.config import EdgeConfig
from nabd.edge.ingress import Ingress
from nabd.edge.runtime import Runtime
from nabd.edge.status import DeviceHealth

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
    ) -> None:
        self._config = config
        self._backend = backend
        self._ingress = ingress
        self._devices = devices
        """Shared with the status reporter: every device that has (had) a session."""
        self._runtime = runtime
        self._sightings = Sightings()
        self._by_address: dict[str, str] = {d.address: d.id for d in config.devices}
        self._wanted = {service.uuid for service in config.discovery.services}
        self._group: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        scanner = BleakScanner(
            detection_callback=self._on_advertisement, **self._backend.scanner_args()
        )
        async with asyncio.TaskGroup() as group:
            self._group = group
            for device in self._config.devices:
                self._start(device.id, device.address, device.patient, device.timezone)
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
        """Keep the group (and the scanner) alive until cancelled, looking up now and then."""
        never = asyncio.Event()
        while not never.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(never.wait(), _IDLE_WAIT)

    def _start(self, device_id: str, address: str, patient: str | None, zone: str | None) -> None:
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
        self._group.create_task(session.run(), name=f"ble-{device_id}")

    def _note_rssi(self, address: str, rssi: int) -> None:
        health = self._devices.get(self._by_address.get(address, ""))
        if health is not None:
            health.rssi_dbm = rssi if _RSSI_MIN <= rssi <= _RSSI_MAX else None

    def _on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        address = device.address.upper()
        self._sightings.record(Sighting(device, advertisement, self._runtime.monotonic()))
        self._note_rssi(address, advertisement.rssi)
        if address in self._by_address or not self._config.discovery.enabled:
            return
        if self._group is None or not self._wanted & set(advertisement.service_uuids):
            return
        discovered = len(self._by_address) - len(self._config.devices)
        if discovered >= self._config.discovery.max_devices:
            return
        device_id = f"{self._config.discovery.id_prefix}-{address.replace(':', '').lower()}"
        self._by_address[address] = device_id
        log.info("discovered %s (%s) as %s", address, advertisement.local_name, device_id)
        self._runtime.event("device_discovered", address, device_id)
        self._start(device_id, address, None, None)
