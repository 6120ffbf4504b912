"""What the scanner has heard, and waiting to hear a device again.

One scanner runs for the whole gateway; each device's session waits here for an advertisement
*newer* than its last failure, so it connects only to a device that is present (connecting to
one that is not would sit in the controller until it reappears) and never re-uses a stale
``BLEDevice`` from before the device left.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

__all__ = ["Sighting", "Sightings"]


@dataclass(frozen=True, slots=True)
class Sighting:
    device: BLEDevice
    advertisement: AdvertisementData
    heard_at: float
    """Monotonic time of the advertisement."""


class Sightings:
    """The latest advertisement per address (upper-case ``AA:BB:...``)."""

    def __init__(self) -> None:
        self._latest: dict[str, Sighting] = {}
        self._heard: dict[str, asyncio.Event] = {}

    def record(self, sighting: Sighting) -> None:
        address = sighting.device.address.upper()
        self._latest[address] = sighting
        event = self._heard.get(address)
        if event is not None:
            event.set()

    def latest(self, address: str) -> Sighting | None:
        return self._latest.get(address.upper())

    async def heard_after(self, address: str, after: float) -> Sighting:
        """The first sighting of ``address`` newer than ``after`` (monotonic); the caller
        bounds the wait."""
        key = address.upper()
        event = self._heard.setdefault(key, asyncio.Event())
        while True:
            sighting = self._latest.get(key)
            if sighting is not None and sighting.heard_at > after:
                return sighting
            event.clear()
            await event.wait()
