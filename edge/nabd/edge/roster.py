"""Which devices the gateway reads now: the server's list when it has one, else ``edge.toml``'s.

The server publishes a whole, versioned :class:`~nabd.contract.payloads.GatewayConfig` (retained,
docs/contract.md). The roster accepts one only for this gateway and with a version above the one
it applied, keeps it on disk (``<data_dir>/gateway-config.json``, replaced atomically) so that a
restart without the broker reads the last list it was given, and wakes the central, which starts
a session for each new device and stops the session of each removed one (:func:`changes`).
The ``[[devices]]`` of ``edge.toml`` are the offline fallback: used only until the first list
ever arrives. Readings already captured from a released device stay in the outbox until ingest
acknowledges them: releasing stops reading, never discards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nabd.contract.errors import PayloadError
from nabd.contract.payloads import GatewayConfig, parse, to_json
from nabd.edge.config import DeviceConfig

__all__ = ["Changes", "Roster", "Verdict", "changes", "devices_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    start: tuple[DeviceConfig, ...]
    stop: tuple[str, ...]
    """Device ids whose sessions end (removed, or listed again at another address)."""


def changes(running: Mapping[str, str], wanted: Sequence[DeviceConfig]) -> Changes:
    """From ``running`` (device id -> address) to ``wanted``: what to stop, what to start. A
    device listed again at another address is restarted (its old address is another radio)."""
    by_id = {device.id: device for device in wanted}
    stop = tuple(
        sorted(d for d, address in running.items() if d not in by_id or by_id[d].address != address)
    )
    start = tuple(device for device in wanted if device.id not in running or device.id in stop)
    return Changes(start, stop)


def devices_of(config: GatewayConfig, fallback: Sequence[DeviceConfig]) -> tuple[DeviceConfig, ...]:
    """The server's devices as the central runs them; a device the file also lists (same id and
    address) keeps the file's patient and time zone."""
    local = {(d.id, d.address): d for d in fallback}
    return tuple(
        local.get((d.device_id, d.address)) or DeviceConfig(id=d.device_id, address=d.address)
        for d in config.devices
    )


class Verdict:
    APPLIED = "applied"
    OLD = "old"
    """Not above the applied version: a replay or a late message."""
    OTHER_GATEWAY = "other_gateway"
    CLEARED = "cleared"
    """An empty payload: the server cleared the retained message (a revoked gateway)."""


class Roster:
    """The devices wanted now, their source, and a wake-up for the central."""

    def __init__(self, gateway_id: str, fallback: Sequence[DeviceConfig], path: Path) -> None:
        self._gateway_id = gateway_id
        self._fallback = tuple(fallback)
        self._path = path
        self.config: GatewayConfig | None = None
        """The server's list last applied; ``None``: none ever, the file's list is used."""
        self.changed = asyncio.Event()
        """Set at every applied change; the central clears it when it has caught up."""
        self._load()

    @property
    def devices(self) -> tuple[DeviceConfig, ...]:
        if self.config is None:
            return self._fallback
        return devices_of(self.config, self._fallback)

    @property
    def version(self) -> int | None:
        return None if self.config is None else self.config.version

    def offer(self, raw: bytes) -> str:
        """Apply a received payload if it is this gateway's and newer; say what happened.
        Raises :class:`PayloadError` for a payload that is not a configuration."""
        if not raw:
            return Verdict.CLEARED
        config = parse(GatewayConfig, raw)
        if config.gateway_id != self._gateway_id:
            return Verdict.OTHER_GATEWAY
        if self.config is not None and config.version <= self.config.version:
            return Verdict.OLD
        try:
            self._save(config)
        except OSError as exc:  # reading the devices matters more than remembering them
            log.error("cannot keep the configuration in %s: %s", self._path, exc)
        self.config = config
        self.changed.set()
        return Verdict.APPLIED

    def _load(self) -> None:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read %s (%s): using edge.toml's devices", self._path, exc)
            return
        try:
            config = parse(GatewayConfig, raw)
        except PayloadError as exc:
            log.error("%s is not a configuration (%s): using edge.toml's devices", self._path, exc)
            return
        if config.gateway_id == self._gateway_id:
            self.config = config

    def _save(self, config: GatewayConfig) -> None:
        """Write before applying: a list applied is a list a restart finds again."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(to_json(config))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
