"""bleak's scanner backend on a bumble host: real advertising reports from a real controller.

``BleakScanner(backend=...)`` instantiates this class (bound to a :class:`BumbleHost` by
:func:`nabd.edge.ble.bumble_backend.bleak_backend`). ``start`` registers with the host, which
runs one controller scan for all scanners; every advertising report (merged with its scan
response) becomes a ``BLEDevice`` + ``AdvertisementData`` exactly as BlueZ reports them. The
``BLEDevice.details`` is bumble's typed :class:`~bumble.hci.Address` (public or random), which the
client needs to initiate a connection.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner
from bumble.device import Advertisement

from nabd.edge.ble.bumble_convert import advertisement_data
from nabd.edge.ble.bumble_host import BumbleHost

__all__ = ["BumbleScanner"]


class BumbleScanner(BaseBleakScanner):
    """A ``BaseBleakScanner`` on the class's :attr:`host`."""

    host: ClassVar[BumbleHost]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        # The host scans actively for all scanners (scan responses carry the names); a
        # "passive" scanner receives the same reports.
        self._scanning_mode = scanning_mode
        self._running = False

    async def start(self) -> None:
        self.seen_devices = {}
        if not self._running:
            await self.host.add_listener(self._on_advertisement)
            self._running = True

    async def stop(self) -> None:
        if self._running:
            self._running = False
            await self.host.remove_listener(self._on_advertisement)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement_data(advertisement)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = advertisement.address.to_string(with_type_qualifier=False)
        device = self.create_or_update_device(
            address, address, data.local_name, advertisement.address, data
        )
        self.call_detection_callbacks(device, data)
