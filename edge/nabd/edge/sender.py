"""Outbox -> broker: batches, acknowledgements, re-sends and the catch-up pace.

One loop, woken when readings are committed, when an ack arrives, when the link comes up, or
when its next deadline (linger, ack timeout, rate limit) passes. Each turn it

1. applies acknowledgements: the acknowledged batches' readings are deleted from the outbox
   (acks for another gateway or another boot are ignored: a batch is named by
   ``(gateway_id, boot_id, batch_seq)``);
2. re-sends overdue batches with their original ``batch_seq``;
3. opens new batches while the window has room, a batch is ready (full, or its oldest reading
   lingered ``batch_linger_s``) and the rate limit allows.

Nothing is sent while the broker link is down; the outbox just grows, within its bounds. When the
link returns, the backlog drains at ``catch_up_readings_per_s`` at most, in full batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from nabd.contract import topics
from nabd.contract.errors import PayloadError
from nabd.contract.payloads import OBS_SCHEMA, IngestAck, ObservationBatch, parse, to_json
from nabd.edge.batching import BatchWindow, InFlight, TokenBucket, ready_to_send
from nabd.edge.config import OutboxConfig
from nabd.edge.outbox import Stored
from nabd.edge.outbox_thread import OutboxThread
from nabd.edge.runtime import Runtime

__all__ = ["Sender"]

log = logging.getLogger(__name__)

_IDLE_WAIT: Final = 1.0
"""Longest sleep between two looks at the outbox, whatever the deadlines say."""


class Sender:
    """Publishes the outbox; see the module docstring."""

    def __init__(
        self,
        outbox: OutboxThread,
        *,
        publish: Callable[[str, bytes], None],
        connected: asyncio.Event,
        gateway_id: str,
        boot_id: str,
        config: OutboxConfig,
        runtime: Runtime,
    ) -> None:
        self._outbox = outbox
        self._publish = publish
        self._connected = connected
        self._gateway_id = gateway_id
        self._boot_id = boot_id
        self._config = config
        self._clock = runtime.clock
        self._monotonic = runtime.monotonic
        self._topic = topics.observations(gateway_id)
        self.window = BatchWindow(config.max_batches_in_flight, config.ack_timeout_s)
        self._bucket = TokenBucket(
            config.catch_up_readings_per_s,
            max(config.catch_up_readings_per_s, float(config.batch_max_readings)),
        )
        self._acks: list[IngestAck] = []
        self._wake = asyncio.Event()
        self.published = 0
        """Batches published (first sends and re-sends) since the start."""
        self.resent = 0

    def wake(self) -> None:
        self._wake.set()

    def on_ack(self, payload: bytes) -> None:
        """An ``IngestAck`` arrived (called on the event loop)."""
        try:
            ack = parse(IngestAck, payload)
        except PayloadError as exc:
            log.warning("ignoring a malformed ack: %s", exc)
            return
        if ack.gateway_id != self._gateway_id or ack.boot_id != self._boot_id:
            log.debug("ignoring an ack for %s/%s", ack.gateway_id, ack.boot_id)
            return
        self._acks.append(ack)
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self._apply_acks()
            delay = _IDLE_WAIT
            if self._connected.is_set():
                await self._resend_overdue()
                delay = min(delay, await self._send_new())
                deadline = self.window.next_deadline()
                if deadline is not None:
                    delay = min(delay, max(0.0, deadline - self._monotonic()))
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives
            # as the wait ends (gh-86296), and the agent then never stopped (seen with delay 0).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _apply_acks(self) -> None:
        acks, self._acks = self._acks, []
        ids = self.window.acknowledged(seq for ack in acks for seq in ack.committed)
        if ids:
            await self._outbox.call(self._outbox.outbox.remove, ids)

    async def _resend_overdue(self) -> None:
        for batch in self.window.overdue(self._monotonic()):
            stored = await self._outbox.call(self._outbox.outbox.get, list(batch.ids))
            if not stored:
                self.window.forget(batch.batch_seq)
                continue
            log.info(
                "re-sending batch %d (no ack after %.0f s)",
                batch.batch_seq,
                self._config.ack_timeout_s,
            )
            self._emit(batch.batch_seq, stored)
            self.window.resent(batch, tuple(s.id for s in stored), self._monotonic())
            self.resent += 1

    async def _send_new(self) -> float:
        """Open batches while allowed; returns how long until it is worth looking again."""
        limit = self._config.batch_max_readings
        while self.window.has_room:
            count, oldest = await self._outbox.call(
                self._outbox.outbox.peek, self.window.cursor, limit
            )
            if count == 0 or oldest is None:
                return _IDLE_WAIT
            waited = (self._clock() - oldest).total_seconds()
            if not ready_to_send(count, waited, limit, self._config.batch_linger_s):
                return max(0.0, self._config.batch_linger_s - waited)
            pause = self._bucket.wait_for(count, self._monotonic())
            if pause > 0:
                return pause
            stored = await self._outbox.call(self._outbox.outbox.after, self.window.cursor, limit)
            if not stored:
                return _IDLE_WAIT
            batch = self.window.open((s.id for s in stored), self._monotonic())
            self._emit(batch.batch_seq, stored)
        return _IDLE_WAIT

    def _emit(self, batch_seq: int, stored: list[Stored]) -> None:
        batch = ObservationBatch(
            schema=OBS_SCHEMA,
            gateway_id=self._gateway_id,
            boot_id=self._boot_id,
            batch_seq=batch_seq,
            sent_at=self._clock(),
            readings=tuple(s.reading for s in stored),
        )
        self._publish(self._topic, to_json(batch))
        self.published += 1

    def in_flight(self) -> list[InFlight]:
        return list(self.window.in_flight.values())
