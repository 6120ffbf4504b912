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

from nabd.ingest.attribution import Registry

__all__ = ["VERSION_SQL", "RegistryCache"]

VERSION_SQL: Final = "SELECT version FROM registry_version"

RegistryRow = tuple[Any, ...]


class RegistryCache:
    """Registry rows by device id, valid for one ``registry_version``.

    ``limit`` bounds the devices kept (unknown ids sent by a misconfigured gateway are cached
    too, as "no rows"): past it, the cache starts afresh rather than grow without end.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self._limit = limit
        self._version: int | None = None
        self._rows: dict[str, tuple[RegistryRow, ...]] = {}
        self.reads = 0
        """Registry reads made (devices not cached, or a changed registry): for tests."""

    def clear(self) -> None:
        """Forget everything (a new connection may be to another server: a failover)."""
        self._version = None
        self._rows.clear()

    def registry(
        self,
        devices: Iterable[str],
        version: int,
        read: Callable[[Sequence[str]], Iterable[RegistryRow]],
    ) -> Registry:
        """The :class:`Registry` of ``devices`` at registry ``version``; ``read(ids)`` returns
        the registry rows of ``ids`` (first column: the device id) from the database."""
        if version != self._version:
            self._rows.clear()
            self._version = version
        wanted = set(devices)
        missing = sorted(wanted.difference(self._rows))
        if missing:
            if len(self._rows) + len(missing) > self._limit:
                self._rows.clear()
                missing = sorted(wanted)
            found: dict[str, list[RegistryRow]] = {d: [] for d in missing}
            for row in read(missing):
                found[str(row[0])].append(tuple(row))
            self._rows.update((d, tuple(rows)) for d, rows in found.items())
            self.reads += 1
        rows = self._rows
        return Registry.from_rows(row for d in wanted for row in rows[d])
