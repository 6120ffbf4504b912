"""The edge agent: BLE central, durable outbox, MQTT publisher, housekeeping, in one TaskGroup.

::

    device --GATT--> session --decode/stamp--> Ingress --commit--> outbox (SQLite)
                                                                     |
    ingest <--obs batch (QoS 1)-- Sender <---------------------------+
    ingest --IngestAck--> Sender --delete acknowledged--> outbox
    server --GatewayConfig (retained)--> Roster --changed--> central: sessions started/stopped

The parts fail independently: a Bluetooth stack that cannot be opened (no adapter, bumble
transport down) is retried with backoff while the outbox keeps draining to the broker, and a
broker that is unreachable leaves the readings in the outbox while BLE keeps filling it.

Each start draws a new ``boot_id`` (batches are numbered from 0 within it). Stopping (``stop``
set, or SIGTERM through ``nabd edge run``) ends the BLE side first, writes every reading already
received to the outbox, publishes ``offline`` and closes the database. A ``kill -9`` loses only
what had not been committed yet: readings received in the last few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from importlib import metadata
from typing import Final

from nabd.contract.errors import PayloadError
from nabd.contract.payloads import GatewayState, to_json
from nabd.edge.backoff import Backoff
from nabd.edge.ble.backend import open_backend
from nabd.edge.ble.central import Central
from nabd.edge.ble.nearby import Nearby
from nabd.edge.config import EdgeConfig
from nabd.edge.errors import BleTransportError
from nabd.edge.ingress import Ingress
from nabd.edge.mqtt_link import MqttLink
from nabd.edge.outbox import OutboxLimits
from nabd.edge.outbox_thread import OutboxThread
from nabd.edge.records import RecordMarks
from nabd.edge.reporter import Reporter
from nabd.edge.roster import Roster, Verdict
from nabd.edge.runtime import Runtime
from nabd.edge.sender import Sender
from nabd.edge.sequence import SeqAllocator
from nabd.edge.settings import BrokerParams
from nabd.edge.status import (
    DeviceHealth,
    DeviceState,
    StatusReport,
    gateway_status,
    wire_status,
)
from nabd.edge.waiting import at_most

__all__ = ["Agent"]

log = logging.getLogger(__name__)

_STOP_POLL: Final = 1.0
_LOST_POLL: Final = 5.0
CONFIG_FILE: Final = "gateway-config.json"
"""The server's device list last applied, in ``data_dir`` (see :mod:`nabd.edge.roster`)."""


class _Stopping(Exception):
    """Raised inside the task group to end it when the agent is asked to stop."""


def _stop_if_cancelled(exc: Exception) -> None:
    """Re-raise a cancellation that a failure masked, instead of retrying forever.

    When this task is cancelled (the agent is stopping) at the moment the Bluetooth stack
    fails (its controller went away), a nested TaskGroup or the stack's own cleanup can raise
    the failure and swallow the ``CancelledError``; the task is still marked as cancelling, but
    nothing would cancel it again, so the retry loop would keep the agent from ever stopping.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


def _version() -> str | None:
    try:
        return metadata.version("nabd")
    except metadata.PackageNotFoundError:
        return None


class Agent:
    """One gateway's agent; :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        config: EdgeConfig,
        gateway_id: str,
        broker: BrokerParams,
        *,
        runtime: Runtime | None = None,
    ) -> None:
        self.config = config
        self.gateway_id = gateway_id
        self.broker = broker
        self.boot_id = str(uuid.uuid4())
        self.runtime = runtime or Runtime()
        self.devices: dict[str, DeviceHealth] = {}
        """Every device with a session, by id: state, battery, clock, counters."""
        self.sender: Sender | None = None
        self.reporter: Reporter | None = None
        self.nearby = Nearby()
        """Health devices heard but not read, for the status (``nabd gateway seen``)."""
        self.roster = Roster(gateway_id, config.devices, config.data_dir / CONFIG_FILE)
        """The devices to read: the server's list, or ``edge.toml``'s until one arrives."""

    async def run(self, stop: asyncio.Event) -> None:
        limits = OutboxLimits(
            self.config.outbox.max_readings, timedelta(hours=self.config.outbox.max_age_h)
        )
        outbox = await OutboxThread.open(self.config.outbox_path, limits)
        try:
            await self._run(outbox, stop)
        finally:
            await outbox.close()

    async def _run(self, outbox: OutboxThread, stop: asyncio.Event) -> None:
        started = self.runtime.clock()
        status = {
            state: to_json(
                gateway_status(self.gateway_id, self.boot_id, state, started, _version())
            )
            for state in GatewayState
        }

        def on_ack(payload: bytes) -> None:
            sender.on_ack(payload)

        def on_config(payload: bytes) -> None:
            self._on_config(payload)
            reporter.request()

        was_connected = stopping = False

        def on_link_change() -> None:
            nonlocal was_connected
            if was_connected and not link.connected.is_set():
                detail = link.last_error or "the broker link dropped"
                self.runtime.event("broker_lost", f"{detail}; readings wait in the outbox")
            was_connected = link.connected.is_set()
            if was_connected:
                reporter.request()  # a fresh status, newer than the one on_connect re-sent
            sender.wake()

        def publish_status(report: StatusReport) -> None:
            if not stopping:
                link.publish_status(to_json(wire_status(report, _version())))

        link = MqttLink(
            self.broker,
            self.gateway_id,
            online=status[GatewayState.ONLINE],
            offline=status[GatewayState.OFFLINE],
            on_ack=on_ack,
            on_config=on_config,
            on_change=on_link_change,
        )
        sender = Sender(
            outbox,
            publish=link.publish,
            connected=link.connected,
            gateway_id=self.gateway_id,
            boot_id=self.boot_id,
            config=self.config.outbox,
            runtime=self.runtime,
        )
        allocator = SeqAllocator(await outbox.call(outbox.outbox.next_seqs))
        marks = RecordMarks(await outbox.call(outbox.outbox.last_records))
        ingress = Ingress(outbox, allocator, self.runtime, sender.wake, marks=marks)
        reporter = Reporter(
            self.config,
            gateway_id=self.gateway_id,
            boot_id=self.boot_id,
            devices=self.devices,
            nearby=self.nearby,
            outbox=outbox,
            in_flight=lambda: len(sender.window.in_flight),
            broker_connected=link.connected.is_set,
            runtime=self.runtime,
            publish=publish_status,
        )
        self.sender, self.reporter = sender, reporter
        log.info("gateway %s starting, boot %s", self.gateway_id, self.boot_id)
        link.start()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(ingress.run(), name="ingress")
                group.create_task(sender.run(), name="sender")
                group.create_task(reporter.run(), name="reporter")
                group.create_task(self._bluetooth(ingress), name="bluetooth")
                group.create_task(self._until(stop), name="stop")
        except* _Stopping:
            pass
        finally:
            stopping = True  # the last report goes to status.json; the broker gets `offline`
            await ingress.flush()
            with contextlib.suppress(Exception):
                await reporter.write()
            await link.stop()
            log.info("gateway %s stopped", self.gateway_id)

    @staticmethod
    async def _until(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await at_most(stop.wait(), _STOP_POLL)
        raise _Stopping

    async def _bluetooth(self, ingress: Ingress) -> None:
        """Open the Bluetooth stack and run the central; on failure, back off and reopen."""
        ble = self.config.ble
        backoff = Backoff(ble.reconnect_initial_s, ble.reconnect_max_s)
        while True:
            try:
                async with open_backend(ble, self.gateway_id) as opened:
                    central = Central(
                        self.config,
                        opened.classes,
                        ingress,
                        self.devices,
                        self.runtime,
                        roster=self.roster,
                        nearby=self.nearby,
                    )
                    async with asyncio.TaskGroup() as group:
                        group.create_task(central.run(), name="central")
                        group.create_task(self._watch(opened.lost), name="controller")
            except Exception as exc:  # the stack's fault barrier: report, reopen later
                _stop_if_cancelled(exc)
                self._bluetooth_failed(exc)
            await asyncio.sleep(backoff.next_delay())

    def _on_config(self, payload: bytes) -> None:
        """A configuration from the server: applied if it is ours and newer (the central then
        follows it); anything else is logged and changes nothing."""
        try:
            verdict = self.roster.offer(payload)
        except PayloadError as exc:
            self.runtime.event("config_refused", f"not a configuration: {exc}")
            return
        if verdict == Verdict.APPLIED:
            devices = ", ".join(d.id for d in self.roster.devices) or "none"
            self.runtime.event("config_applied", f"version {self.roster.version}: {devices}")
        elif verdict != Verdict.CLEARED:
            self.runtime.event("config_ignored", f"{verdict} (applied: {self.roster.version})")

    @staticmethod
    async def _watch(lost: asyncio.Future[None]) -> None:
        while not lost.done():
            await asyncio.wait({lost}, timeout=_LOST_POLL)
        raise BleTransportError("the Bluetooth controller went away")

    def _bluetooth_failed(self, exc: Exception) -> None:
        causes = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        detail = "; ".join(str(cause) or type(cause).__name__ for cause in causes)
        self.runtime.event("bluetooth_unavailable", f"retrying: {detail}")
        for health in self.devices.values():
            health.set_state(DeviceState.LOST, self.runtime.clock())
