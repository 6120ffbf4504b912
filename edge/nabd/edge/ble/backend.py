"""Which Bluetooth stack bleak drives: chosen by configuration, invisible to the agent's code.

The agent only ever calls ``BleakScanner(**backend.scanner_args())`` and passes
``**backend.client_args()`` through ``establish_connection`` to ``BleakClient``. With
``ble.backend = "bluez"`` those are bleak's own platform arguments (BlueZ over D-Bus, optionally
on one adapter); with ``"bumble"`` they name the bumble scanner and client classes bound to a
bumble host on ``ble.transport``. bumble is imported only in the second case, so a BlueZ gateway
does not need it installed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from nabd.edge.config import BleConfig

__all__ = ["BackendClasses", "open_backend"]


@dataclass(frozen=True)
class BackendClasses:
    """What to hand to ``BleakScanner`` and ``BleakClient``; ``None`` is bleak's default."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
    name: str = "bluez"
    adapter: str | None = None
    """BlueZ adapter name, when one is configured."""

    def scanner_args(self) -> dict[str, Any]:
        return self._args(self.scanner)

    def client_args(self) -> dict[str, Any]:
        return self._args(self.client)

    def _args(self, backend: type[Any] | None) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if backend is not None:
            args["backend"] = backend
        if self.adapter is not None:
            args["bluez"] = {"adapter": self.adapter}
        return args


@dataclass(frozen=True)
class OpenBackend:
    """An opened backend and a future that completes if its controller is lost."""

    classes: BackendClasses
    lost: asyncio.Future[None]


@contextlib.asynccontextmanager
async def open_backend(config: BleConfig, seed: str) -> AsyncIterator[OpenBackend]:
    """The configured stack, ready; ``seed`` (the gateway id) fixes bumble's own address."""
    if config.backend == "bluez":
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        yield OpenBackend(BackendClasses(adapter=config.adapter), never)
        return
    from nabd.edge.ble.bumble_backend import bleak_backend  # noqa: PLC0415  (optional stack)
    from nabd.edge.ble.bumble_host import BumbleHost, static_address  # noqa: PLC0415

    assert config.transport is not None  # enforced by BleConfig
    async with BumbleHost.open(config.transport, static_address(seed), f"nabd-{seed}") as host:
        yield OpenBackend(bleak_backend(host), host.terminated)
