"""The MQTT load generator: thousands of virtual gateways publishing observation batches over TLS
at a set aggregate rate, for benchmarks and soak tests, recording everything they sent.

No BLE: each virtual gateway publishes contract :class:`~nabd.contract.payloads.ObservationBatch`
messages (see :mod:`~nabd.simulators.load_batches`) on its own topic with its own account, at
QoS 1, as a real gateway does. A token bucket (:mod:`~nabd.simulators.ratelimit`) holds the
aggregate rate in batches per second; the gateways take turns, so each publishes at
``rate / gateways``. Every batch is recorded in a :class:`~nabd.simulators.load_record.SentRecord`
with its PUBACK, and with the ``IngestAck`` when ``subscribe_acks`` is on and ingest runs: publish
-> commit latency. Without ingest the generator works the same (acks simply never come).

Loss and duplication are counted afterwards, against what a subscriber received or what the
database holds (:mod:`~nabd.simulators.loss`).

One thread does everything (:class:`~nabd.simulators.load_mqtt.MqttFleet`); the measured limits
of one process are in docs/simulators.md.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from nabd.contract import topics
from nabd.contract.errors import ContractError
from nabd.contract.payloads import IngestAck, parse
from nabd.simulators.errors import LoadError
from nabd.simulators.load_batches import BatchFactory, ValuePool, fleet_plan
from nabd.simulators.load_mqtt import Broker, GatewayAccount, MqttFleet, socket_limit
from nabd.simulators.load_record import FLUSH_S, SentRecord
from nabd.simulators.ratelimit import TokenBucket

__all__ = ["LoadResult", "LoadSettings", "Progress", "percentile", "run_load"]

log = logging.getLogger(__name__)

_MAX_POLL_S: Final = 0.01
_SPARE_SOCKETS: Final = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSettings:
    """What to generate. ``rate`` is batches per second over all gateways together."""

    rate: float
    duration_s: float
    devices_per_gateway: int = 2
    burst: float | None = None
    """Batches a late publisher may catch up at once (default: 50 ms worth, at least 1)."""
    subscribe_acks: bool = False
    connect_timeout_s: float = 120.0
    drain_s: float = 10.0
    """After the last publish, how long to wait for outstanding PUBACKs (and ingest acks)."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rate", "duration_s", "connect_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise LoadError(f"{name} must be a positive number, got {value}")
        if not (math.isfinite(self.drain_s) and self.drain_s >= 0):
            raise LoadError(f"drain_s must be >= 0, got {self.drain_s}")

    @property
    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate / 20.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadResult:
    """What a run did; latencies in seconds (``None`` when nothing was acknowledged)."""

    gateways: int
    connected: int
    connect_s: float
    publish_s: float
    published: int
    pubacked: int
    refused: int
    acked: int
    disconnects: int
    puback_p50: float | None
    puback_p99: float | None
    ack_p50: float | None
    ack_p99: float | None
    record: Path

    @property
    def achieved_rate(self) -> float:
        """Batches published per second over the publishing window."""
        return self.published / self.publish_s if self.publish_s > 0 else 0.0


Progress = Callable[[str], None]


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (``None`` for none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class _Run:
    """One run's state, driven by :func:`run_load` from one thread."""

    def __init__(
        self,
        broker: Broker,
        accounts: Sequence[GatewayAccount],
        settings: LoadSettings,
        record_path: Path,
    ) -> None:
        self.settings = settings
        plans = fleet_plan([a.gateway_id for a in accounts], settings.devices_per_gateway)
        boot_ids = {p.gateway_id: str(uuid.uuid4()) for p in plans}
        seq_base = time.time_ns() // 1000
        self.record = SentRecord.create(
            record_path,
            plans,
            boot_ids,
            seq_base,
            {
                "rate": settings.rate,
                "duration_s": settings.duration_s,
                "devices_per_gateway": settings.devices_per_gateway,
                "broker": f"{broker.host}:{broker.port}",
            },
        )
        pool = ValuePool(settings.seed)
        self.factories = [BatchFactory(p, boot_ids[p.gateway_id], seq_base, pool) for p in plans]
        self.topics = [topics.observations(p.gateway_id) for p in plans]
        self.acked: set[tuple[int, int]] = set()
        self.fleet = MqttFleet(
            broker,
            accounts,
            on_puback=self._puback,
            on_ack=self._ack if settings.subscribe_acks else None,
        )
        self._turn = 0

    def _puback(self, index: int, batch_seq: int, at: float, reason: int) -> None:
        self.record.pubacked(self.factories[index].plan.gateway_id, batch_seq, at, reason)

    def _ack(self, index: int, payload: bytes, at: float) -> None:
        factory = self.factories[index]
        try:
            ack = parse(IngestAck, payload)
        except ContractError:
            log.warning("gateway %s: unreadable ack", factory.plan.gateway_id)
            return
        if ack.boot_id != factory.boot_id:
            return
        for batch_seq in ack.committed:
            if (index, batch_seq) not in self.acked:
                self.acked.add((index, batch_seq))
                self.record.acked(factory.plan.gateway_id, batch_seq, at)

    def publish(self, count: int) -> int:
        """Publish up to ``count`` batches, gateways taking turns; returns how many went out."""
        done = 0
        gateways = len(self.factories)
        misses = 0
        while done < count and misses < gateways:
            index = self._turn
            self._turn = (self._turn + 1) % gateways
            if not self.fleet.is_connected(index):
                misses += 1
                continue
            misses = 0
            factory = self.factories[index]
            batch_seq, payload = factory.next(datetime.now(UTC))
            if self.fleet.publish(index, self.topics[index], payload, batch_seq):
                self.record.sent(factory.plan.gateway_id, batch_seq, time.time())
                done += 1
            else:  # lost its session between the check and the publish: resend the number
                factory.next_seq -= 1
        return done


def _check_sockets(count: int) -> None:
    limit = socket_limit()
    if count + _SPARE_SOCKETS > limit:
        raise LoadError(
            f"{count} gateways need {count + _SPARE_SOCKETS} file descriptors, the limit is "
            f"{limit}: raise it (ulimit -n) or run several processes"
        )


def run_load(
    broker: Broker,
    accounts: Sequence[GatewayAccount],
    settings: LoadSettings,
    record_path: Path,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Connect every gateway, publish for ``duration_s`` at ``rate``, drain, record, report."""
    if not accounts:
        raise LoadError("no gateway accounts")
    _check_sockets(len(accounts))
    say = progress or (lambda _text: None)
    run = _Run(broker, accounts, settings, record_path)
    try:
        started = time.monotonic()
        connected = run.fleet.connect_all(settings.connect_timeout_s)
        connect_s = time.monotonic() - started
        say(f"{connected}/{len(accounts)} gateways connected in {connect_s:.1f} s")
        if connected == 0:
            raise LoadError(f"no gateway could connect: {'; '.join(run.fleet.refusals[:3])}")
        publish_s = _publish(run, settings, stop, say)
        _drain(run, settings)
        disconnects = run.fleet.disconnects
    except BaseException:
        run.fleet.close()
        run.record.close()  # what was sent before the failure stays recorded
        raise
    run.fleet.close()
    run.record.flush()
    counts = run.record.counts()
    pubacks, acks = run.record.latencies("puback"), run.record.latencies("ack")
    run.record.set_meta("result", repr(counts))
    run.record.close()
    return LoadResult(
        gateways=len(accounts),
        connected=connected,
        connect_s=connect_s,
        publish_s=publish_s,
        published=counts["published"],
        pubacked=counts["pubacked"],
        refused=counts["refused"],
        acked=counts["acked"],
        disconnects=disconnects,
        puback_p50=percentile(pubacks, 0.5),
        puback_p99=percentile(pubacks, 0.99),
        ack_p50=percentile(acks, 0.5),
        ack_p99=percentile(acks, 0.99),
        record=record_path,
    )


def _publish(
    run: _Run, settings: LoadSettings, stop: threading.Event | None, say: Progress
) -> float:
    """The publishing window: tokens in, batches out, network events in between."""
    start = time.monotonic()
    end = start + settings.duration_s
    bucket = TokenBucket(settings.rate, settings.bucket_size, now=start)
    next_flush = start + FLUSH_S
    next_report = start + 10.0
    now = start
    while now < end and not (stop is not None and stop.is_set()):
        tokens = bucket.take(now)
        if tokens:
            bucket.give_back(tokens - run.publish(tokens))
        now = time.monotonic()
        run.fleet.poll(min(bucket.wait(now), end - now, _MAX_POLL_S))
        now = time.monotonic()
        if now >= next_flush:
            run.record.flush()
            next_flush = now + FLUSH_S
        if now >= next_report:
            say(f"{now - start:.0f} s: {sum(f.next_seq for f in run.factories)} batches sent")
            next_report = now + 10.0
    return now - start


def _drain(run: _Run, settings: LoadSettings) -> None:
    """Wait for the outstanding PUBACKs (and, when subscribed, ingest's acks)."""
    deadline = time.monotonic() + settings.drain_s
    sent = sum(f.next_seq for f in run.factories)
    while time.monotonic() < deadline:
        waiting = run.fleet.awaiting_puback > 0
        if settings.subscribe_acks:
            waiting = waiting or len(run.acked) < sent
        if not waiting:
            return
        run.fleet.poll(0.05)
        run.record.flush()
