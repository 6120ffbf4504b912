"""From a device message to readings on disk: decode, number, stamp, queue, write.

BLE callbacks run on the event loop and must return at once, so :meth:`Ingress.accept` does only
pure, fast work (decoding, numbering, validating against the contract) and queues the readings;
:meth:`Ingress.run` writes everything queued in one outbox transaction at a time (one fsync for
many readings), then wakes the sender. A reading is published only after it has been committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from nabd.contract.payloads import Reading
from nabd.edge.clock import device_time
from nabd.edge.errors import OutboxError
from nabd.edge.gatt import Reading as Sample
from nabd.edge.outbox_thread import OutboxThread
from nabd.edge.records import RecordMarks, record_seq
from nabd.edge.runtime import Runtime
from nabd.edge.sequence import SeqAllocator, group_seqs
from nabd.edge.stamp import stamp, usable
from nabd.edge.status import DeviceHealth
from nabd.edge.waiting import at_most

__all__ = ["Ingress"]

_IDLE_WAIT: Final = 1.0
"""Longest wait for a queued message before the writer loop looks again."""
_RETRY_WAIT: Final = 1.0
"""Seconds between attempts to write after the outbox refused a write (disk full?)."""
_BATTERY: Final = "battery_level"


class Ingress:
    """The path from BLE callbacks to the outbox."""

    def __init__(
        self,
        outbox: OutboxThread,
        allocator: SeqAllocator,
        runtime: Runtime,
        wake_sender: Callable[[], None],
        *,
        marks: RecordMarks | None = None,
    ) -> None:
        self._outbox = outbox
        self.marks = marks or RecordMarks()
        """Each glucose meter's last stored record received (:mod:`nabd.edge.records`)."""
        self._allocator = allocator
        self._runtime = runtime
        self._wake_sender = wake_sender
        self._pending: list[Reading] = []
        self._ready = asyncio.Event()

    def accept(
        self, health: DeviceHealth, samples: list[Sample], received_at: datetime, zone: ZoneInfo
    ) -> None:
        """Number, stamp and queue one message's samples (called on the event loop)."""
        kept, test_data = usable(samples)
        health.test_data += test_data
        record = samples[0].record if samples else None
        if record is not None:
            self.marks.note(health.device_id, record)
            self._ready.set()  # the mark is written even if the record gives no reading
        if not kept:
            return
        time = device_time(kept[0].timestamp, kept[0].clock_unset, zone)
        was_off = health.clock.off
        health.clock.observe(time, received_at)
        if health.clock.off and not was_off:
            self._runtime.event("device_clock_off", self._clock_detail(health), health.device_id)
        metrics = [s.metric for s in kept]
        if record is None:
            seqs = self._allocator.take(health.device_id, metrics)
        else:  # a stored record: the same record is the same reading, however often it comes
            seqs = group_seqs(metrics, record_seq(record, kept[0].timestamp))
        stamped = stamp(health.device_id, kept, seqs, received_at, time)
        for reason in stamped.rejected:
            health.rejected += 1
            self._runtime.event("reading_rejected", reason, health.device_id)
        self._note(health, stamped.readings, received_at)
        if stamped.readings:
            self._pending += stamped.readings
            self._ready.set()

    def _note(self, health: DeviceHealth, readings: tuple[Reading, ...], at: datetime) -> None:
        measurements = 0
        for reading in readings:
            if reading.metric == _BATTERY:
                if reading.value is not None:
                    health.battery_percent = round(reading.value)
            else:
                measurements += 1
        health.readings += len(readings)
        if measurements:
            health.last_reading_at = at
            health.last_reading_monotonic = self._runtime.monotonic()

    @staticmethod
    def _clock_detail(health: DeviceHealth) -> str:
        offset = health.clock.offset
        if offset is None:
            return "the device sends time stamps from a clock that was never set"
        return f"device clock {offset / timedelta(seconds=1):+.0f} s from the gateway's"

    def renumber_from(self, device_id: str, floor: int) -> None:
        """See :meth:`SeqAllocator.raise_to` (a device this gateway is newly told to read)."""
        self._allocator.raise_to(device_id, floor)

    @property
    def queued(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """Write queued readings to the outbox, many per transaction, until cancelled."""
        while True:
            if not self._pending and not self._ready.is_set():
                await at_most(self._ready.wait(), _IDLE_WAIT)
                continue
            try:
                await self.flush()
            except OutboxError as exc:
                self._runtime.event("outbox_error", f"cannot write, retrying: {exc}")
                await asyncio.sleep(_RETRY_WAIT)

    async def flush(self) -> None:
        """Write everything queued so far in one transaction (also at shutdown)."""
        self._ready.clear()
        readings, self._pending = self._pending, []
        marks = self.marks.take_unwritten()
        if not readings and not marks:
            return
        # A cancelled caller still waits for this write to finish (see OutboxThread.call).
        try:
            dropped = await self._outbox.call(self._outbox.outbox.append, readings, marks)
        except OutboxError:
            self._pending = readings + self._pending
            self.marks.restore(marks)
            self._ready.set()
            raise
        if dropped:
            self._runtime.event("outbox_full", f"dropped the {dropped} oldest readings")
        self._wake_sender()
