"""What ingest counts, and the two places it publishes it.

* **Prometheus** (``/metrics``, prometheus-client): counters and histograms for rates, alerting
  and latency percentiles. Each service instance has its own registry, so several can live in
  one process (tests, benchmarks).
* **The pipeline-health table** (``ingest_health``, one row per worker): for the dashboards,
  which read only the database. Totals since the worker started, its connection state, pending
  messages and the last flush's duration and lag; rewritten every ``health_interval_s``.

Lag is *sample time to commit* of each batch's newest reading: what a nurse's screen is behind
the patient, as far as ingest can see (gateway batching, the network, the broker and ingest).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from nabd.ingest.validate import Category

__all__ = ["HEALTH_UPSERT_SQL", "HealthSnapshot", "IngestMetrics", "MetricsServer"]

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

HEALTH_UPSERT_SQL: Final = """
INSERT INTO ingest_health AS h (
    worker_id, started_at, updated_at, mqtt_connected, pending_messages, messages, batches,
    duplicate_batches, rows_stored, rows_unattributed, dead_letters, flushes, db_errors,
    last_flush_at, last_flush_seconds, last_lag_seconds)
VALUES (%(worker_id)s, %(started_at)s, clock_timestamp(), %(mqtt_connected)s,
        %(pending_messages)s, %(messages)s, %(batches)s, %(duplicate_batches)s, %(rows_stored)s,
        %(rows_unattributed)s, %(dead_letters)s, %(flushes)s, %(db_errors)s, %(last_flush_at)s,
        %(last_flush_seconds)s, %(last_lag_seconds)s)
ON CONFLICT (worker_id) DO UPDATE SET
    started_at = excluded.started_at, updated_at = excluded.updated_at,
    mqtt_connected = excluded.mqtt_connected, pending_messages = excluded.pending_messages,
    messages = excluded.messages, batches = excluded.batches,
    duplicate_batches = excluded.duplicate_batches, rows_stored = excluded.rows_stored,
    rows_unattributed = excluded.rows_unattributed, dead_letters = excluded.dead_letters,
    flushes = excluded.flushes, db_errors = excluded.db_errors,
    last_flush_at = excluded.last_flush_at, last_flush_seconds = excluded.last_flush_seconds,
    last_lag_seconds = excluded.last_lag_seconds
"""


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """One ``ingest_health`` row."""

    worker_id: str
    started_at: datetime
    mqtt_connected: bool
    pending_messages: int
    messages: int
    batches: int
    duplicate_batches: int
    rows_stored: int
    rows_unattributed: int
    dead_letters: int
    flushes: int
    db_errors: int
    last_flush_at: datetime | None
    last_flush_seconds: float | None
    last_lag_seconds: float | None

    def params(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class _Totals:
    messages: int = 0
    batches: int = 0
    duplicate_batches: int = 0
    rows_stored: int = 0
    rows_unattributed: int = 0
    dead_letters: int = 0
    flushes: int = 0
    db_errors: int = 0
    last_flush_at: datetime | None = None
    last_flush_seconds: float | None = None
    last_lag_seconds: float | None = None


class IngestMetrics:
    """The worker's counters: Prometheus objects plus the totals of the health row."""

    def __init__(self, worker_id: str, registry: CollectorRegistry | None = None) -> None:
        self.worker_id = worker_id
        self.registry = registry if registry is not None else CollectorRegistry()
        self.started_at = datetime.now(UTC)
        self._totals = _Totals()
        self._lock = threading.Lock()
        r = self.registry
        self.received = Counter(
            "nabd_ingest_messages_received", "MQTT messages received (before commit)", registry=r
        )
        self.messages = Counter(
            "nabd_ingest_messages",
            "Messages committed, by outcome: stored, duplicate, dead_letter",
            ["outcome"],
            registry=r,
        )
        self.rows = Counter(
            "nabd_ingest_rows",
            "Readings inserted, by table: observation, unattributed_observation",
            ["table"],
            registry=r,
        )
        self.dead_letters = Counter(
            "nabd_ingest_dead_letters",
            "Messages dead-lettered, by category",
            ["category"],
            registry=r,
        )
        self.flush_seconds = Histogram(
            "nabd_ingest_flush_seconds",
            "Duration of one flush transaction, COMMIT included",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.lag_seconds = Histogram(
            "nabd_ingest_lag_seconds",
            "Sample time of a batch's newest reading to its commit",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.db_errors = Counter(
            "nabd_ingest_db_errors", "Flush attempts that failed and were retried", registry=r
        )
        self.pending = Gauge(
            "nabd_ingest_pending_messages", "Messages received, not yet committed", registry=r
        )
        self.connected = Gauge(
            "nabd_ingest_mqtt_connected",
            "1 while connected and subscribed to the broker",
            registry=r,
        )
        self.dead_letter_fallbacks = Counter(
            "nabd_ingest_dead_letter_fallbacks",
            "Dead letters the database refused: kept raw (raw), or only in the log (logged)",
            ["how"],
            registry=r,
        )
        self.implausible_times = Counter(
            "nabd_ingest_implausible_times",
            "Readings stored at their receipt because their sample time was implausible",
            registry=r,
        )
        for category in Category:
            self.dead_letters.labels(category.value)
        for how in ("raw", "logged"):
            self.dead_letter_fallbacks.labels(how)
        for outcome in ("stored", "duplicate", "dead_letter"):
            self.messages.labels(outcome)
        for table in ("observation", "unattributed_observation"):
            self.rows.labels(table)

    def record_flush(
        self,
        *,
        stored: int,
        duplicates: int,
        dead: list[Category],
        rows_stored: int,
        rows_unattributed: int,
        seconds: float,
        lags: list[float],
    ) -> None:
        """Count one committed flush."""
        self.messages.labels("stored").inc(stored)
        self.messages.labels("duplicate").inc(duplicates)
        self.messages.labels("dead_letter").inc(len(dead))
        for category in dead:
            self.dead_letters.labels(category.value).inc()
        self.rows.labels("observation").inc(rows_stored)
        self.rows.labels("unattributed_observation").inc(rows_unattributed)
        self.flush_seconds.observe(seconds)
        for lag in lags:
            self.lag_seconds.observe(lag)
        with self._lock:
            t = self._totals
            t.messages += stored + duplicates + len(dead)
            t.batches += stored
            t.duplicate_batches += duplicates
            t.rows_stored += rows_stored
            t.rows_unattributed += rows_unattributed
            t.dead_letters += len(dead)
            t.flushes += 1
            t.last_flush_at = datetime.now(UTC)
            t.last_flush_seconds = seconds
            t.last_lag_seconds = max(lags) if lags else t.last_lag_seconds

    def record_db_error(self) -> None:
        self.db_errors.inc()
        with self._lock:
            self._totals.db_errors += 1

    def snapshot(self, *, mqtt_connected: bool, pending: int) -> HealthSnapshot:
        """The health row as of now."""
        with self._lock:
            t = self._totals
            return HealthSnapshot(
                worker_id=self.worker_id,
                started_at=self.started_at,
                mqtt_connected=mqtt_connected,
                pending_messages=pending,
                messages=t.messages,
                batches=t.batches,
                duplicate_batches=t.duplicate_batches,
                rows_stored=t.rows_stored,
                rows_unattributed=t.rows_unattributed,
                dead_letters=t.dead_letters,
                flushes=t.flushes,
                db_errors=t.db_errors,
                last_flush_at=t.last_flush_at,
                last_flush_seconds=t.last_flush_seconds,
                last_lag_seconds=t.last_lag_seconds,
            )


class MetricsServer:
    """The ``/metrics`` HTTP endpoint of one registry, stoppable (unlike a bare daemon thread)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
