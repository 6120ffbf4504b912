"""The agent's housekeeping: silent devices, outbox expiry, and the status report.

Every tick (at most a second, and often enough to notice silence within ``ble.silent_after_s``
plus a quarter of it) connected devices that stopped sending are marked ``silent`` with a
technical event; readings older than ``outbox.max_age_h`` are dropped, counted and reported; the
:class:`~nabd.edge.status.StatusReport` is rewritten (atomically: a reader never sees half a file)
and handed to ``publish`` (the retained ``GatewayStatus``) every ``status.interval_s``, whenever a
device changes state, and at once when :meth:`Reporter.request` asks (the broker link came up).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from nabd.edge.ble.nearby import Nearby
from nabd.edge.config import EdgeConfig
from nabd.edge.outbox_thread import OutboxThread
from nabd.edge.runtime import Runtime
from nabd.edge.status import (
    DeviceHealth,
    DeviceState,
    OutboxReport,
    StatusReport,
    is_silent,
)
from nabd.edge.waiting import at_most

__all__ = ["Reporter"]

_MAX_TICK: Final = 1.0
_EXPIRE_EVERY: Final = 60.0


class Reporter:
    """See the module docstring."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        gateway_id: str,
        boot_id: str,
        devices: dict[str, DeviceHealth],
        outbox: OutboxThread,
        in_flight: Callable[[], int],
        broker_connected: Callable[[], bool],
        runtime: Runtime,
        publish: Callable[[StatusReport], None] = lambda _report: None,
        nearby: Nearby | None = None,
    ) -> None:
        self._config = config
        self._gateway_id = gateway_id
        self._boot_id = boot_id
        self._devices = devices
        self._nearby = nearby or Nearby()
        self._outbox = outbox
        self._in_flight = in_flight
        self._broker_connected = broker_connected
        self._runtime = runtime
        self._clock = runtime.clock
        self._monotonic = runtime.monotonic
        self._path: Path = config.status_path
        self._tick = min(_MAX_TICK, config.ble.silent_after_s / 4)
        self._publish = publish
        self._requested = asyncio.Event()

    def request(self) -> None:
        """Write and publish at the next tick, without waiting for the interval (loop thread)."""
        self._requested.set()

    async def run(self) -> None:
        next_write = next_expiry = self._monotonic()
        states = self._states()
        while True:
            now = self._monotonic()
            self._mark_silent(now)
            if now >= next_expiry:
                await self._expire()
                next_expiry = now + _EXPIRE_EVERY
            current = self._states()
            if now >= next_write or current != states or self._requested.is_set():
                self._requested.clear()
                await self.write()
                next_write = now + self._config.status.interval_s
                states = current
            await at_most(self._requested.wait(), self._tick)

    def _states(self) -> dict[str, DeviceState]:
        return {device_id: health.state for device_id, health in self._devices.items()}

    def _mark_silent(self, now: float) -> None:
        for health in self._devices.values():
            if health.state is DeviceState.CONNECTED and is_silent(
                health, now, self._config.ble.silent_after_s
            ):
                health.set_state(DeviceState.SILENT, self._clock())
                detail = f"no reading for {self._config.ble.silent_after_s:.0f} s"
                self._runtime.event("device_silent", detail, health.device_id)

    async def _expire(self) -> None:
        dropped = await self._outbox.call(self._outbox.outbox.expire, self._clock())
        if dropped:
            detail = f"dropped {dropped} readings older than {self._config.outbox.max_age_h} h"
            self._runtime.event("outbox_expired", detail)

    async def report(self) -> StatusReport:
        stats = await self._outbox.call(self._outbox.outbox.stats)
        at = self._clock()
        return StatusReport(
            gateway_id=self._gateway_id,
            boot_id=self._boot_id,
            at=at,
            broker_connected=self._broker_connected(),
            devices=tuple(h.report(at) for h in self._devices.values()),
            outbox=OutboxReport(
                pending=stats.pending,
                oldest_received_at=stats.oldest_received_at,
                dropped_full=stats.dropped_full,
                dropped_expired=stats.dropped_expired,
                in_flight_batches=self._in_flight(),
            ),
            events=self._runtime.events.recent(),
            nearby=self._nearby.report(at, {h.address for h in self._devices.values()}),
        )

    async def write(self) -> None:
        report = await self.report()
        await asyncio.to_thread(_replace, self._path, report.model_dump_json(indent=2))
        self._publish(report)


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
