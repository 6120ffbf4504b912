"""The registry rows of the devices ingest has seen, read again only when the registry changed.

Every flush needs, for each device of its readings, the gateway it is registered to and who wore
it when (:data:`~nabd.ingest.attribution.REGISTRY_SQL`). Those rows change a few times a day;
reading them for every flush cost a tenth of a core at 3 000 beds (migration 0151). The database
counts the changes that matter (``registry_version``, bumped by triggers in the same transaction
as the change), so a flush reads the count first, in its own transaction: the same count means
the same rows as a fresh read would give, and only the devices never seen are read. Any change
empties the cache: a device registered or re-assigned a moment ago counts at once, as before.

Pure apart from the ``read`` callables passed in, so the rules are tested without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from nabd.ingest.attribution import Assignment, Registry

__all__ = ["VERSION_SQL", "RegistryCache"]

VERSION_SQL: Final = "SELECT version FROM registry_version"

RegistryRow = tuple[Any, ...]


class RegistryCache:
    """What the registry says of each device seen, valid for one ``registry_version``.

    ``limit`` bounds the devices kept (unknown ids sent by a misconfigured gateway are cached
    too, as "no rows"): past it, the cache starts afresh rather than grow without end.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._version: int | None = None
        self._devices: dict[str, tuple[str | None, tuple[Assignment, ...]]] = {}
        """Device -> (its gateway, its assignments), as :class:`Registry` holds them."""
        self.reads = 0
        """Registry reads made (devices not cached, or a changed registry): for tests."""

    def clear(self) -> None:
        """Forget everything (a new connection may be to another server: a failover)."""
        self._version = None
        self._devices.clear()

    def registry(
        self,
        devices: Iterable[str],
        version: int,
        read: Callable[[Sequence[str]], Iterable[RegistryRow]],
    ) -> Registry:
        """The :class:`Registry` of ``devices`` at registry ``version``; ``read(ids)`` returns
        the registry rows of ``ids`` (first column: the device id) from the database."""
        if version != self._version:
            self._devices.clear()
            self._version = version
        wanted = set(devices)
        missing = sorted(wanted.difference(self._devices))
        if missing:
            if len(self._devices) + len(missing) > self._limit:
                self._devices.clear()
                missing = sorted(wanted)
            found: dict[str, list[RegistryRow]] = {d: [] for d in missing}
            for row in read(missing):
                found[str(row[0])].append(tuple(row))
            for device, rows in found.items():
                one = Registry.from_rows(rows)
                self._devices[device] = (one.gateways.get(device), one.assignments.get(device, ()))
            self.reads += 1
        kept = [(d, self._devices[d]) for d in wanted]
        return Registry(
            {d: gateway for d, (gateway, _) in kept if gateway is not None},
            {d: worn for d, (_, worn) in kept if worn},
        )
