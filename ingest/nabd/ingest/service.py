"""The ingest worker: consumer, inbox, writer, metrics, composed; and its stop.

Threads: paho's network thread receives, validates and stages each message
(:meth:`IngestService._receive`) into the inbox; the thread that called :meth:`IngestService.run`
takes due flushes from the inbox, commits them, then acknowledges them (PUBACK and
``IngestAck``). A flush that fails is retried with exponential backoff and acknowledged only once
committed; meanwhile the broker stops sending at Receive Maximum, so memory stays bounded.
:meth:`IngestService.stop` (SIGTERM) makes the loop flush what it holds, acknowledge it and
disconnect, keeping the broker session.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from prometheus_client import CollectorRegistry

from nabd.ingest import dead_letter_rows
from nabd.ingest.acks import ingest_acks
from nabd.ingest.consumer import Consumer, Delivery
from nabd.ingest.errors import DatabaseUnavailableError, RefusedByDatabaseError
from nabd.ingest.gateway_configs import ConfigPublisher
from nabd.ingest.gateway_status import StatusRecorder
from nabd.ingest.inbox import FlushPolicy, Inbox, Pending
from nabd.ingest.metrics import IngestMetrics, MetricsServer
from nabd.ingest.settings import IngestSettings
from nabd.ingest.validate import Accepted, Category, Rejected, refuse, validate
from nabd.ingest.watchdog import Watchdog
from nabd.ingest.writer import FlushOutcome, Writer

__all__ = ["GIL_SWITCH_INTERVAL_S", "IngestService"]

log = logging.getLogger(__name__)

GIL_SWITCH_INTERVAL_S: Final = 0.0002
"""While :meth:`IngestService.run` runs, the interpreter's thread switch interval (default 5 ms).

The writer thread gives up the GIL at every network write of a COPY and must get it back from
the MQTT thread, which is busy validating the next messages; with the default interval each
such hand-back can wait 5 ms, which stretched a 12 800-row flush from ~0.1 s to ~0.35 s in the
benchmark. A short interval lets the two threads overlap as intended (database waits on one
side, validation on the other)."""

GC_THRESHOLDS: Final = (10_000, 10, 10)
"""While :meth:`IngestService.run` runs, the cyclic garbage collector's thresholds (default
``(700, 10, 10)``). Every reading allocates a dozen objects (models, datetimes, tuples) and none
forms a cycle, so the default collected every few readings: 10-25 % of the worker's CPU in the
benchmark. Much larger thresholds saved a little more but made the rarer full collections walk
every pending batch at once (p99 latency 850 ms instead of ~420 ms)."""


class IngestService:
    """One ingest worker. :meth:`run` blocks until :meth:`stop`; returns an exit status."""

    def __init__(
        self, settings: IngestSettings, *, registry: CollectorRegistry | None = None
    ) -> None:
        self.settings = settings
        self.metrics = IngestMetrics(settings.worker_id, registry)
        self._stop = threading.Event()
        self._inbox = Inbox(
            FlushPolicy(
                max_messages=settings.flush_max_messages,
                max_rows=settings.flush_max_rows,
                max_age_s=settings.flush_max_age_s,
            )
        )
        self._writer = Writer(
            settings.database_url,
            settings.worker_id,
            statement_timeout_s=settings.statement_timeout_s,
            journal_retention_s=settings.journal_retention_s,
            dead_letter_retention_s=settings.dead_letter_retention_days * 86_400,
            reattribute_interval_s=settings.reattribute_interval_s,
        )
        self._metric_ids: dict[str, int] = {}
        self._window = settings.window
        self._statuses = StatusRecorder(
            settings.database_url,
            settings.worker_id,
            lambda deliveries: self._consumer.acknowledge(deliveries),  # noqa: PLW0108 (built below)
            registry=self.metrics.registry,
            fallback=lambda how: self.metrics.dead_letter_fallbacks.labels(how).inc(),
            backoff_min_s=settings.backoff_min_s,
            backoff_max_s=settings.backoff_max_s,
            statement_timeout_s=settings.statement_timeout_s,
        )
        self._consumer = Consumer(
            settings,
            self._receive,
            on_connection=self._connection,
            handle_status=self._statuses.put,
        )
        self._configs = ConfigPublisher(
            settings.database_url,
            settings.worker_id,
            self._consumer.publish_config,
            lambda: self._consumer.epoch,
            interval_s=settings.config_interval_s,
            statement_timeout_s=settings.statement_timeout_s,
        )
        self._metrics_server: MetricsServer | None = None
        self._next_health = 0.0
        self.watchdog = (
            Watchdog(
                settings.database_url,
                self._consumer.publish,
                stale_after_s=settings.watchdog_stale_s,
                interval_s=settings.watchdog_interval_s,
                statement_timeout_s=settings.statement_timeout_s,
            )
            if settings.watchdog_stale_s > 0
            else None
        )

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to flush, acknowledge and return (from any thread, not a signal
        handler: start a thread there)."""
        self._stop.set()
        self._inbox.interrupt()

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the worker is connected and subscribed (what it receives from then on is
        stored or dead-lettered; before that the broker delivers only to existing sessions)."""
        return self._consumer.wait_subscribed(timeout_s)

    @property
    def metrics_port(self) -> int | None:
        return None if self._metrics_server is None else self._metrics_server.port

    def run(self) -> int:
        """Serve until stopped: 0 after a clean stop, 1 if the last flush could not commit."""
        s = self.settings
        previous_interval, previous_gc = sys.getswitchinterval(), gc.get_threshold()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        gc.set_threshold(*GC_THRESHOLDS)
        if s.metrics_port is not None:
            self._metrics_server = MetricsServer(
                self.metrics.registry, s.metrics_host, s.metrics_port
            )
        try:
            if not self._connect_database(deadline=None):
                return 0  # stopped before the database ever answered: nothing was received
            self._statuses.start()
            self._consumer.start()
            if self.watchdog is not None:
                self.watchdog.start()
            self._configs.start()
            log.info("ingest worker running", extra={"worker_id": s.worker_id})
            while not self._stop.is_set():
                items = self._inbox.take(idle_s=min(s.health_interval_s, 1.0))
                if items and not self._commit(items, deadline=None):
                    break
                self._health_if_due()
            return 0 if self._shutdown() else 1
        finally:
            self._writer.close()
            if self._metrics_server is not None:
                self._metrics_server.close()
            sys.setswitchinterval(previous_interval)
            gc.set_threshold(*previous_gc)

    def _shutdown(self) -> bool:
        deadline = time.monotonic() + self.settings.shutdown_timeout_s
        items = self._inbox.drain()
        committed = not items or self._commit(items, deadline=deadline)
        if self.watchdog is not None:
            self.watchdog.stop(timeout_s=max(0.5, deadline - time.monotonic()))
        self._statuses.stop(timeout_s=max(0.5, deadline - time.monotonic()))
        self._configs.stop(timeout_s=max(0.5, deadline - time.monotonic()))
        self._consumer.stop(timeout_s=max(0.5, deadline - time.monotonic()))
        self._health_if_due(force=True)
        log.info(
            "ingest worker stopped",
            extra={"worker_id": self.settings.worker_id, "flushed": committed},
        )
        return committed

    # -- receiving (paho's thread) ----------------------------------------------------------

    def _receive(self, delivery: Delivery) -> None:
        self.metrics.received.inc()
        try:
            verdict = validate(
                delivery.topic,
                delivery.payload,
                self._metric_ids,
                window=self._window,
                now=datetime.fromtimestamp(delivery.received_at, UTC),
            )
            if isinstance(verdict, Accepted):
                rows, newest = verdict.rows, verdict.newest_sample
            else:
                rows, newest = (), None
        except Exception as exc:  # a bug must cost one message (kept whole), not the stream
            log.exception("could not process a message; dead-lettering it")
            verdict = Rejected(
                delivery.topic, delivery.payload, None, Category.INTERNAL, f"ingest failed: {exc!r}"
            )
            rows, newest = (), None
        self._inbox.put(Pending(delivery, verdict, rows, newest))
        self.metrics.pending.set(len(self._inbox))

    def _connection(self, up: bool) -> None:
        self.metrics.connected.set(1 if up else 0)

    # -- committing (the run thread) --------------------------------------------------------

    def _connect_database(self, deadline: float | None) -> bool:
        delay = self.settings.backoff_min_s
        while True:
            try:
                self._metric_ids.update(self._writer.connect())
                return True
            except DatabaseUnavailableError as exc:
                log.warning("database unavailable", extra={"error": str(exc), "retry_in_s": delay})
            if not self._pause(delay, deadline):
                return False
            delay = min(delay * 2, self.settings.backoff_max_s)

    def _pause(self, delay: float, deadline: float | None) -> bool:
        """Sleep before a retry; False when the retry would pass the deadline or we must stop."""
        if deadline is None:
            return not self._stop.wait(delay)
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
        return True

    def _commit(self, items: list[Pending], deadline: float | None) -> bool:
        """Commit ``items`` (retrying), then acknowledge them; False if the deadline passed."""
        delay = self.settings.backoff_min_s
        while True:
            if deadline is None and self._stop.is_set():
                deadline = time.monotonic() + self.settings.shutdown_timeout_s
            started = time.perf_counter()
            try:
                if not self._writer.connected:
                    self._metric_ids.update(self._writer.connect())
                try:
                    outcome = self._writer.write(items)
                except RefusedByDatabaseError as exc:
                    log.error(
                        "database refused a flush; writing message by message",
                        extra={"error": str(exc)},
                    )
                    outcome = self._write_one_by_one(items)
                break
            except DatabaseUnavailableError as exc:
                self.metrics.record_db_error()
                log.warning(
                    "flush failed; nothing acknowledged",
                    extra={"error": str(exc), "messages": len(items), "retry_in_s": delay},
                )
                if not self._pause(delay, deadline):
                    return False
                delay = min(delay * 2, self.settings.backoff_max_s)
        self._acknowledge(items, outcome, time.perf_counter() - started)
        return True

    def _write_one_by_one(self, items: list[Pending]) -> FlushOutcome:
        outcomes: list[FlushOutcome] = []
        for item in items:
            try:
                outcomes.append(self._writer.write([item]))
            except RefusedByDatabaseError as exc:
                rejected = self._dead_letter(_refused(item, str(exc)))
                outcomes.append(FlushOutcome((), (), (rejected,), 0, 0, None))
        return FlushOutcome(
            tuple(p for o in outcomes for p in o.stored),
            tuple(p for o in outcomes for p in o.duplicates),
            tuple(r for o in outcomes for r in o.dead),
            sum(o.rows_stored for o in outcomes),
            sum(o.rows_unattributed for o in outcomes),
            max((o.commit_seq for o in outcomes if o.commit_seq is not None), default=None),
            tuple(r for o in outcomes for r in o.withheld),
        )

    def _dead_letter(self, rejected: Rejected) -> Rejected:
        """Commit one dead letter alone; if the database refuses it, keep it raw, and if it
        refuses that too, log its bytes: a message must never stop the stream behind it."""
        try:
            self._writer.dead_letter([rejected])
            return rejected
        except RefusedByDatabaseError as exc:
            raw = dead_letter_rows.last_resort(rejected, str(exc))
            log.error(
                "the database refused a dead letter; keeping it raw",
                extra={"error": ascii(str(exc))},
            )
        try:
            self._writer.dead_letter([raw])
            self.metrics.dead_letter_fallbacks.labels(dead_letter_rows.FALLBACK_RAW).inc()
        except RefusedByDatabaseError as exc:
            dead_letter_rows.log_lost(raw, str(exc))
            self.metrics.dead_letter_fallbacks.labels(dead_letter_rows.FALLBACK_LOGGED).inc()
            return replace(raw, batch_id=None)  # not held durably: no IngestAck, the gateway
            # keeps it and may send it again (it is then logged again, not stored)
        return raw

    def _acknowledge(self, items: list[Pending], outcome: FlushOutcome, seconds: float) -> None:
        self._consumer.acknowledge(p.delivery for p in items)
        self._consumer.publish_acks(ingest_acks(outcome.committed_batches))
        now = datetime.now(UTC)
        lags = [
            (now - p.newest_sample).total_seconds()
            for p in outcome.stored
            if p.newest_sample is not None
        ]
        self.metrics.implausible_times.inc(sum(_implausible(p) for p in outcome.stored))
        self.metrics.record_flush(
            stored=len(outcome.stored),
            duplicates=len(outcome.duplicates),
            dead=[r.category for r in (*outcome.dead, *outcome.withheld)],
            rows_stored=outcome.rows_stored,
            rows_unattributed=outcome.rows_unattributed,
            seconds=seconds,
            lags=lags,
        )
        self.metrics.pending.set(len(self._inbox))
        log.debug(
            "flush committed",
            extra={
                "messages": len(items),
                "rows": outcome.rows_stored,
                "unattributed": outcome.rows_unattributed,
                "dead_letters": len(outcome.dead),
                "seconds": round(seconds, 4),
                "commit_seq": outcome.commit_seq,
            },
        )

    def _health_if_due(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_health:
            return
        self._next_health = now + self.settings.health_interval_s
        snapshot = self.metrics.snapshot(
            mqtt_connected=self._consumer.connected, pending=len(self._inbox)
        )
        try:
            if not self._writer.connected:
                self._metric_ids.update(self._writer.connect())
            self._writer.write_health(snapshot)
        except (DatabaseUnavailableError, RefusedByDatabaseError) as exc:
            log.warning("could not write the health row", extra={"error": str(exc)})


def _implausible(item: Pending) -> int:
    return item.verdict.implausible if isinstance(item.verdict, Accepted) else 0


def _refused(item: Pending, reason: str) -> Rejected:
    verdict = item.verdict
    if isinstance(verdict, Accepted):
        return refuse(verdict, Category.DATABASE, reason, None)
    return replace(verdict, category=Category.DATABASE, reason=f"{verdict.reason}; {reason}")
