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

**Wards.** The service scores the wards it holds a lease on (:mod:`nabd.analytics.service.leases`;
alone, every ward). Each tick starts with a balance pass (heartbeat, claim or let go of wards);
the write transaction renews the leases first and drops the wards another worker has taken
(fencing: a worker that hung past its lease writes nothing for them). Patients are *adopted*
when they appear in a held ward (start, a ward taken over, an admission, a transfer in): their
open alerts are restored from the database (acknowledged, silenced, latched, escalation level:
the lifecycle continues where the earlier owner left it) and their windows are refilled from the
hypertable (warm-up). Patients of a ward let go or lost are *released*: their rows retired, their
open alerts forgotten without a word (the new owner restores them).

At start the service takes the journal's head as its watermark, then claims wards and adopts
their patients. A lost database connection ends the session: the service waits (exponential
backoff), reconnects, and restores the open alerts of its patients from the database again, so
an in-memory transition whose transaction did not commit is forgotten and, its condition still
active, raised again. The watermark only moves after a commit, so no observation is skipped. A
clean stop (SIGTERM) lets every ward go at once, so another worker takes them at its next tick.
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
from nabd.analytics.arrays import NEVER, NS_PER_S, IntArray, seconds_to_ns
from nabd.analytics.service.config import MINUTE_METRICS, EngineConfig
from nabd.analytics.service.engine import Detection, Engine, facts, message
from nabd.analytics.service.errors import MonitorUnavailableError
from nabd.analytics.service.home import HomePatients
from nabd.analytics.service.leases import Leases
from nabd.analytics.service.lifecycle import AlertBook, Transition
from nabd.analytics.service.publish import AlertPublisher
from nabd.analytics.service.samples import Samples
from nabd.analytics.service.settings import MonitorSettings
from nabd.analytics.service.source import CHANNEL, Fetched, ObservationSource, load_registry
from nabd.analytics.service.store import AlertStore, News2Writer, Published, TickRecord
from nabd.contract.alert_text import SILENCES
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
        self.home = HomePatients(settings.home_every_s)
        self._watermark = -1
        self._discharged = 0
        """The newest discharge number (migration 0032) this service has acted on."""
        self._late = False
        """Whether the last tick found readings arriving late (logged when that changes)."""
        self._registry_at = NEVER
        self.leases = Leases(settings.worker_id, settings.lease_s)
        self._balanced = -float("inf")
        """``time.monotonic()`` of the last balance pass (at most two per tick_s)."""

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
        idle_ms = round(min(s.statement_timeout_s, s.lease_s) * 1000)
        try:
            return await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    s.database_url,
                    autocommit=True,
                    connect_timeout=max(1, round(s.connect_timeout_s)),
                    # A transaction left open (the process hung or stopped mid-tick) is ended
                    # by the server, so its locks do not block ingest's watchdog, the nurses
                    # or the worker taking its wards over for longer than a lease.
                    options=f"-c statement_timeout={timeout_ms}"
                    f" -c idle_in_transaction_session_timeout={idle_ms}",
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
            source = ObservationSource(conn, self.settings.fetch_limit, self.settings.fetch_rows)
            store = AlertStore(conn)
            await source.setup()
            if self._watermark < 0:
                self._watermark = await source.head()
            # Discharges numbered from here on are dropped at the next tick; earlier ones are
            # already out of the registry snapshot read just after.
            self._discharged = await store.discharge_head()
            # After a reconnect: the patients kept are restored here, new ones when adopted.
            self.engine.book = AlertBook(self.engine.config.policy, self.engine.patients)
            self.engine.book.restore(await store.open_alerts(self.engine.state.index))
            self.home.reset()
            await self._balance(conn, source, store, force=True)
            log.info(
                "analytics ready: worker %s, wards %s, %d patients, %d open alerts, watermark %d",
                self.leases.worker_id,
                ",".join(self.leases.wards) or "-",
                int(self.engine.state.monitored.sum()),
                self.engine.book.open_count,
                self._watermark,
            )
            self.ready.set()
            wake = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._listen(listener, wake, stop))
                group.create_task(self._tick_loop(conn, source, store, wake, stop))
            await self.leases.release_all(conn)

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
        await self._balance(conn, source, store)
        now = time.time_ns()
        if now - self._registry_at >= seconds_to_ns(self.settings.registry_s):
            await self._refresh(conn, source, store)
        wards = self.leases.wards
        fetched = await source.fetch(self._watermark, wards)
        samples = fetched.samples
        if fetched.unknown:  # patients admitted since the last refresh
            await self._refresh(conn, source, store)
            samples = await source.refetch_unknown(self._watermark, fetched.watermark, wards)
        self.engine.ingest(samples)
        now = time.time_ns()
        self.engine.arrived(now, samples, away=self.home.rows)
        if self.home.due(now, samples.row):
            await self.home.judge(conn, self.engine.state.index, now, wards)
        found = self.engine.detect(now)
        self.home.overlay(found, self.engine.state.monitored)
        detect_ms = (time.perf_counter() - started) * 1000
        published = await self._commit(
            conn, (source, store), found, fetched, len(samples), detect_ms
        )
        self._watermark = fetched.watermark
        self.stats.published += self.publisher.publish(published)
        self.stats.ticks += 1
        self.stats.samples += len(samples)
        self.stats.last_detect_ms = detect_ms
        return fetched.commits >= self.settings.fetch_limit

    async def _commit(  # noqa: PLR0917 - one tick's inputs, private
        self,
        conn: Conn,
        io: tuple[ObservationSource, AlertStore],
        found: Detection,
        fetched: Fetched,
        samples: int,
        detect_ms: float,
    ) -> list[Published]:
        started = time.perf_counter()
        st = self.engine.state
        source, store = io
        async with conn.transaction():
            await store.lock()
            delayed = self.engine.delay.delayed_s(found.now)
            self._say_late(delayed)
            lost = await self.leases.fence(conn, delayed)
            if lost:  # this worker hung past its leases: another one owns these wards now
                rows = await self._release(source, lost)
                found.active[rows] = False
            gone, self._discharged = await store.discharges(self._discharged)
            closed = self.engine.discharge(found, gone)
            actions = await store.pending_actions(self.leases.wards)
            transitions = await self._ours(
                source, store, closed + self.engine.alerts(found, actions)
            )
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
                    readings_delay_s=delayed,
                )
            )
        self.stats.last_store_ms = (time.perf_counter() - started) * 1000
        self.stats.transitions += len(transitions)
        for t in transitions:
            self.stats.kinds[t.kind.value] = self.stats.kinds.get(t.kind.value, 0) + 1
        return published

    def _say_late(self, delayed: float | None) -> None:
        """Log when readings start or stop arriving late: for IT, what the station shows."""
        if (delayed is not None) == self._late:
            return
        self._late = delayed is not None
        if delayed is not None:
            log.warning(
                "readings arrive %.0f s late: silence is judged beyond that delay and the "
                "nurse station says so (the server is likely overloaded)",
                delayed,
            )
        else:
            log.warning("readings arrive on time again")

    async def _balance(
        self, conn: Conn, source: ObservationSource, store: AlertStore, *, force: bool = False
    ) -> None:
        """Claim or let go of wards; adopt the patients of wards claimed. At most once per
        half ``tick_s`` (ticks come faster under load; the write transactions renew the leases)."""
        if not force and time.monotonic() - self._balanced < self.settings.tick_s / 2:
            return
        self._balanced = time.monotonic()
        change = await self.leases.balance(conn)
        if change.released:
            await self._release(source, change.released)
        if change.gained or force:
            await self._refresh(conn, source, store)
            self.home.reset()  # adopted patients at home: judged at once (restored alerts)
            if change.gained:  # a long warm-up must not cost the wards held meanwhile
                lost = await self.leases.renew(conn)
                if lost:
                    await self._release(source, lost)

    async def _release(self, source: ObservationSource, wards: tuple[str, ...]) -> IntArray:
        """Stop watching the patients of ``wards`` (no longer this worker's); their rows."""
        st = self.engine.state
        names = np.array(st.ward_names or [""], dtype=np.str_)
        mine = st.monitored & np.isin(names[st.ward_of], list(wards))
        ids = [st.index.id_of(int(r)) for r in np.flatnonzero(mine)]
        await source.forget(ids)
        return self.engine.release(ids)

    async def _ours(
        self, source: ObservationSource, store: AlertStore, transitions: list[Transition]
    ) -> list[Transition]:
        """The transitions of patients still in this worker's wards. One moved to another
        worker's ward (a transfer not yet seen by the registry refresh) is released here, and
        its transitions dropped: its ward's owner writes them."""
        index = self.engine.state.index
        ids = {index.id_of(t.row) for t in transitions if t.reason is None}
        if not ids:
            return transitions
        moved = ids - await store.in_wards(sorted(ids), self.leases.wards)
        if not moved:
            return transitions
        await source.forget(sorted(moved))
        self.engine.release(sorted(moved))
        return [t for t in transitions if t.reason is not None or index.id_of(t.row) not in moved]

    async def _refresh(self, conn: Conn, source: ObservationSource, store: AlertStore) -> None:
        st = self.engine.state
        before = np.flatnonzero(st.monitored)
        new = self.engine.apply(await load_registry(conn, self.leases.wards))
        await source.register(st.index)
        self._registry_at = time.time_ns()
        left = [st.index.id_of(int(r)) for r in before if not st.monitored[r]]
        if left:  # discharged (the tick closes their alerts), out of consent, or moved away
            moved = await source.moved_away(left, self.leases.wards)
            await source.forget(moved)
            self.engine.release(moved)
        if new:
            await self._adopt(source, store, new)

    async def _adopt(self, source: ObservationSource, store: AlertStore, new: list[str]) -> None:
        """Patients new to this worker: their open alerts, then their windows (warm-up)."""
        index = self.engine.state.index
        self.engine.book.restore(await store.open_alerts(index, new))
        s, now = self.settings, time.time_ns()
        if s.warmup_s > 0:
            keys = (*self.engine.state.rings, "battery_level")
            samples = await source.warmup(now - seconds_to_ns(s.warmup_s), keys, new)
            self.engine.ingest(samples)
        if s.baseline_warmup_s > 0:
            minute = 60 * NS_PER_S
            upto = now - now % minute
            rows, metric, times, medians = await source.minute_medians(
                now - seconds_to_ns(s.baseline_warmup_s),
                upto,
                (*MINUTE_METRICS, "pulse_rate"),
                new,
            )
            zeros = np.zeros(rows.shape[0], dtype=np.bool_)
            everyone = len(new) == len(index)
            self.engine.warm_minutes(
                Samples(rows, metric, times, medians, zeros, zeros),
                upto,
                None if everyone else index.rows(new),
            )
        log.info("adopted %d patient(s), warm-up %g s", len(new), s.warmup_s)


async def _either(wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Return when either event is set."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _facts(found: Detection, transitions: list[Transition]) -> dict[tuple[int, str], AlertFacts]:
    """What raised or worsened alerts say, and silence alerts silent again (the store)."""
    return {
        (t.row, t.condition): facts(found, t.row, t.condition)
        for t in transitions
        if t.kind in _WITH_MESSAGE
        or (t.kind is AlertEventKind.UNLATCHED and t.condition in SILENCES)
    }


def _messages(found: Detection, transitions: list[Transition]) -> dict[tuple[int, str], str]:
    return {
        (t.row, t.condition): message(found, t.row, t.condition)
        for t in transitions
        if t.kind in _WITH_MESSAGE
    }
