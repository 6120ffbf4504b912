"""The analytics service: an asyncio shell around the engine, until SIGTERM.

Two tasks in one :class:`asyncio.TaskGroup`:

* the **listener** holds a connection that ``LISTEN``\\ s on ingest's hand-off channel and sets a
  wake-up event on every notification (waiting at most ``tick_s`` at a time, so it notices a
  stop);
* the **ticker** waits for that event or for ``tick_s`` (so time-driven transitions such as
  staleness, escalation and silence expiry happen without data), keeps at least ``min_tick_s``
  between ticks (notifications arriving faster are coalesced into one micro-batch), and runs a
  tick: refresh the registry when due, fetch the journal entries after the watermark, fold them
  in, detect, then one transaction that takes the alert lock, applies the nurses' pending
  actions, writes transitions, NEWS2 scores and the tick's timings, and commits; only then are
  the alert messages published and the watermark advanced.

At start the service takes the journal's head as its watermark, reads the registry, restores the
open alerts, and refills the windows from the hypertable (warm-up). A lost database connection
ends the session: the service waits (exponential backoff), reconnects, and restores the open
alerts from the database again, so an in-memory transition whose transaction did not commit is
forgotten and, its condition still active, raised again. The watermark only moves after a
commit, so no observation is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import psycopg

from nabd.analytics.alerts import AlertEventKind
from nabd.analytics.arrays import NEVER, NS_PER_S, seconds_to_ns
from nabd.analytics.service.config import MINUTE_METRICS, EngineConfig
from nabd.analytics.service.engine import Detection, Engine, facts, message
from nabd.analytics.service.errors import MonitorUnavailableError
from nabd.analytics.service.lifecycle import AlertBook, Transition
from nabd.analytics.service.publish import AlertPublisher
from nabd.analytics.service.samples import Samples
from nabd.analytics.service.settings import MonitorSettings
from nabd.analytics.service.source import CHANNEL, Fetched, ObservationSource, load_registry
from nabd.analytics.service.store import AlertStore, News2Writer, Published, TickRecord
from nabd.contract.payloads import AlertFacts

__all__ = ["MonitorService", "TickStats"]

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[tuple[Any, ...]]

_WITH_MESSAGE: Final = (AlertEventKind.RAISED, AlertEventKind.WORSENED)


@dataclass
class TickStats:
    """Counters since start, for logs and tests."""

    ticks: int = 0
    samples: int = 0
    transitions: int = 0
    published: int = 0
    last_detect_ms: float = 0.0
    last_store_ms: float = 0.0
    sessions: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


class MonitorService:
    """Everything the analytics service holds between ticks."""

    def __init__(self, settings: MonitorSettings, config: EngineConfig | None = None) -> None:
        self.settings = settings
        self.engine = Engine(
            config
            or EngineConfig(
                window_every_s=settings.window_every_s,
                slow_every_s=settings.slow_every_s,
                window_cohorts=settings.window_cohorts,
                slow_cohorts=settings.slow_cohorts,
            )
        )
        self.publisher = AlertPublisher(settings)
        self.stats = TickStats()
        self.ready = asyncio.Event()
        """Set once the first session has restored its state and is ticking."""
        self._news2 = News2Writer(settings.news2_every_s)
        self._watermark = -1
        self._discharged = 0
        """The newest discharge number (migration 0032) this service has acted on."""
        self._warm = False
        self._registry_at = NEVER

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; reconnect to the database with backoff when it fails."""
        self.publisher.start()
        backoff = self.settings.backoff_min_s
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                    backoff = self.settings.backoff_min_s
                except* (psycopg.Error, MonitorUnavailableError) as group:
                    # Whatever the database refused or lost, the session restarts from what is
                    # committed: open alerts are read back, the watermark has not moved.
                    log.error("database session ended: %s", group.exceptions[0])
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(backoff * 2, self.settings.backoff_max_s)
        finally:
            await asyncio.to_thread(self.publisher.stop, self.settings.shutdown_timeout_s)

    async def _connect(self) -> Conn:
        s = self.settings
        timeout_ms = round(s.statement_timeout_s * 1000)
        try:
            return await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    s.database_url,
                    autocommit=True,
                    connect_timeout=max(1, round(s.connect_timeout_s)),
                    # A transaction left open (the process hung or stopped mid-tick) is ended
                    # by the server, so its locks do not block ingest's watchdog or the nurses.
                    options=f"-c statement_timeout={timeout_ms}"
                    f" -c idle_in_transaction_session_timeout={timeout_ms}",
                ),
                s.connect_timeout_s + 1,
            )
        except TimeoutError as exc:
            raise MonitorUnavailableError("database: no connection within the deadline") from exc

    async def _session(self, stop: asyncio.Event) -> None:
        conn = await self._connect()
        listener = await self._connect()
        async with conn, listener:
            self.stats.sessions += 1
            await listener.execute(f"LISTEN {CHANNEL}")
            source = ObservationSource(conn, self.settings.fetch_limit)
            store = AlertStore(conn)
            await source.setup()
            if self._watermark < 0:
                self._watermark = await source.head()
            # Discharges numbered from here on are dropped at the next tick; earlier ones are
            # already out of the registry snapshot read just after.
            self._discharged = await store.discharge_head()
            await self._refresh(conn, source)
            self.engine.book = AlertBook(self.engine.config.policy, self.engine.patients)
            self.engine.book.restore(await store.open_alerts(self.engine.state.index))
            if not self._warm:
                await self._warm_up(source)
                self._warm = True
            log.info(
                "analytics ready: %d patients, %d open alerts, watermark %d",
                self.engine.patients,
                self.engine.book.open_count,
                self._watermark,
            )
            self.ready.set()
            wake = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._listen(listener, wake, stop))
                group.create_task(self._tick_loop(conn, source, store, wake, stop))

    async def _listen(self, conn: Conn, wake: asyncio.Event, stop: asyncio.Event) -> None:
        while not stop.is_set():
            async for _ in conn.notifies(timeout=self.settings.tick_s):
                wake.set()
                if stop.is_set():
                    break

    async def _tick_loop(
        self,
        conn: Conn,
        source: ObservationSource,
        store: AlertStore,
        wake: asyncio.Event,
        stop: asyncio.Event,
    ) -> None:
        s = self.settings
        last = time.monotonic() - s.tick_s
        while not stop.is_set():
            wait = max(0.0, last + s.tick_s - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_either(wake, stop), wait)
            if stop.is_set():
                return
            wake.clear()
            gap = last + s.min_tick_s - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)
            last = time.monotonic()
            more = await self.tick(conn, source, store)
            if more:
                wake.set()  # catching up: the journal had more than one fetch's worth

    async def tick(self, conn: Conn, source: ObservationSource, store: AlertStore) -> bool:
        """One tick; return whether the journal has more entries waiting."""
        started = time.perf_counter()
        now = time.time_ns()
        if self._registry_at == NEVER or now - self._registry_at >= seconds_to_ns(
            self.settings.registry_s
        ):
            await self._refresh(conn, source)
        fetched = await source.fetch(self._watermark)
        samples = fetched.samples
        if fetched.unknown:  # patients admitted since the last refresh
            await self._refresh(conn, source)
            samples = await source.refetch_unknown(self._watermark, fetched.watermark)
        self.engine.ingest(samples)
        found = self.engine.detect(time.time_ns())
        detect_ms = (time.perf_counter() - started) * 1000
        published = await self._commit(conn, store, found, fetched, len(samples), detect_ms)
        self._watermark = fetched.watermark
        self.stats.published += self.publisher.publish(published)
        self.stats.ticks += 1
        self.stats.samples += len(samples)
        self.stats.last_detect_ms = detect_ms
        return fetched.commits >= self.settings.fetch_limit

    async def _commit(  # noqa: PLR0917 - one tick's inputs, private
        self,
        conn: Conn,
        store: AlertStore,
        found: Detection,
        fetched: Fetched,
        samples: int,
        detect_ms: float,
    ) -> list[Published]:
        started = time.perf_counter()
        st = self.engine.state
        async with conn.transaction():
            await store.lock()
            gone, self._discharged = await store.discharges(self._discharged)
            closed = self.engine.discharge(found, gone)
            actions = await store.pending_actions()
            transitions = closed + self.engine.alerts(found, actions)
            messages = _messages(found, transitions)
            said = _facts(found, transitions)
            published = await store.write(
                transitions, st.index, st.ward_of, st.ward_names, messages, facts=said
            )
            await store.mark_applied(actions)
            rows = self._news2.due(found.now, found.news2, st.monitored)
            await News2Writer.write(conn, found.now, found.news2, rows, st.index)
            store_ms = (time.perf_counter() - started) * 1000
            await store.write_tick(
                TickRecord(
                    time=found.now,
                    duration_ms=detect_ms + store_ms,
                    patients=int(st.monitored.sum()),
                    samples=samples,
                    events=len(transitions),
                    detect_ms=detect_ms,
                    store_ms=store_ms,
                    oldest_commit=fetched.oldest_commit,
                )
            )
        self.stats.last_store_ms = (time.perf_counter() - started) * 1000
        self.stats.transitions += len(transitions)
        for t in transitions:
            self.stats.kinds[t.kind.value] = self.stats.kinds.get(t.kind.value, 0) + 1
        return published

    async def _refresh(self, conn: Conn, source: ObservationSource) -> None:
        new = self.engine.apply(await load_registry(conn))
        await source.register(self.engine.state.index.ids)
        self._registry_at = time.time_ns()
        if new:
            log.info("admitted %d patient(s)", len(new))

    async def _warm_up(self, source: ObservationSource) -> None:
        s, now = self.settings, time.time_ns()
        if s.warmup_s > 0:
            keys = (*self.engine.state.rings, "battery_level")
            samples = await source.warmup(now - seconds_to_ns(s.warmup_s), keys)
            self.engine.ingest(samples)
            log.info("warm-up: %d observations of the last %g s", len(samples), s.warmup_s)
        if s.baseline_warmup_s > 0:
            minute = 60 * NS_PER_S
            upto = now - now % minute
            rows, metric, times, medians = await source.minute_medians(
                now - seconds_to_ns(s.baseline_warmup_s), upto, (*MINUTE_METRICS, "pulse_rate")
            )
            zeros = np.zeros(rows.shape[0], dtype=np.bool_)
            self.engine.warm_minutes(Samples(rows, metric, times, medians, zeros, zeros), upto)


async def _either(wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Return when either event is set."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _facts(found: Detection, transitions: list[Transition]) -> dict[tuple[int, str], AlertFacts]:
    return {
        (t.row, t.condition): facts(found, t.row, t.condition)
        for t in transitions
        if t.kind in _WITH_MESSAGE
    }


def _messages(found: Detection, transitions: list[Transition]) -> dict[tuple[int, str], str]:
    return {
        (t.row, t.condition): message(found, t.row, t.condition)
        for t in transitions
        if t.kind in _WITH_MESSAGE
    }
