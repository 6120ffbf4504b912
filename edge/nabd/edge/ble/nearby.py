"""Health devices the gateway hears but does not read, for its status (issue 18, item 6).

An operator registering a device picks it from what a gateway near the bed hears: the scanner
records every advertisement naming one of the standard health services (:class:`HealthService`);
the status carries those heard within :data:`HEARD_WITHIN_S` whose address the gateway is not
reading, strongest first, at most :data:`MAX_NEARBY_DEVICES`. The advertised local name is not
kept: it is free text an owner may set to a person's name, and no identity leaves the gateway.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from nabd.contract.payloads import MAX_NEARBY_DEVICES, NearbyDevice
from nabd.edge.ble.profiles import HealthService

__all__ = ["HEARD_WITHIN_S", "Nearby"]

HEARD_WITHIN_S: Final = 60.0
"""A device not heard for this long is no longer listed."""
_RSSI: Final = range(-127, 21)
_BY_UUID: Final = {service.uuid: service for service in HealthService}
_REMEMBERED: Final = 4 * MAX_NEARBY_DEVICES
"""Addresses kept at most (a busy corridor must not grow the gateway's memory)."""


@dataclass(frozen=True, slots=True)
class _Heard:
    services: tuple[str, ...]
    rssi_dbm: int | None
    at: datetime


def _strength(heard: _Heard) -> int:
    """Sort key: the strongest first, an unknown RSSI last."""
    return -heard.rssi_dbm if heard.rssi_dbm is not None else 1000


class Nearby:
    """The latest advertisement of each health device heard, by address."""

    def __init__(self) -> None:
        self._heard: dict[str, _Heard] = {}

    def record(
        self, address: str, name: str | None, uuids: Iterable[str], rssi: int, at: datetime
    ) -> None:
        """Note an advertisement (``name`` is accepted from the scanner and dropped)."""
        del name
        services = tuple(sorted({_BY_UUID[u].value for u in uuids if u in _BY_UUID}))
        if not services:
            return
        key = address.upper()
        self._heard.pop(key, None)
        self._heard[key] = _Heard(services, rssi if rssi in _RSSI else None, at)
        while len(self._heard) > _REMEMBERED:  # the oldest first (insertion order)
            del self._heard[next(iter(self._heard))]

    def report(self, now: datetime, reading: Collection[str]) -> tuple[NearbyDevice, ...]:
        """Those heard recently whose address is not in ``reading``, strongest first."""
        since = now - timedelta(seconds=HEARD_WITHIN_S)
        heard = [
            (address, h)
            for address, h in self._heard.items()
            if h.at >= since and address not in reading
        ]
        heard.sort(
            key=lambda item: (
                -(item[1].rssi_dbm if item[1].rssi_dbm is not None else -999),
                item[0],
            )
        )
        return tuple(
            NearbyDevice(
                address=address,
                services=h.services,
                rssi_dbm=h.rssi_dbm,
                heard_at=h.at,
            )
            for address, h in heard[:MAX_NEARBY_DEVICES]
        )
