"""Benchmark the ingest service on a private local stack: raw COPY, end to end, naive, latency.

Usage (from the repository root; takes about two minutes)::

    .venv/bin/python bench/ingest_bench.py [--gateways 8] [--batches 400] [--readings 100]

It starts its own stack (``nabd.app.stack.testing.running_stack``) in a temporary folder, registers
``--gateways`` gateways of 3 patients with 5 devices each (every device assigned), and builds
realistic batches once: each gateway's batch holds ``--readings`` readings of its heart-rate
strap (heart rate, RR interval), oximeter (SpO2, pulse rate, perfusion index, with device time),
thermometer, blood-pressure cuff and scale. Then, on the same rows:

(a) **raw COPY**: binary COPY of the rows, already attributed, straight into ``observation``
    (one transaction per 20 000 rows), as the ingest login: the sink's limit;
(b) **end to end**: a real ``nabd ingest run`` process; the gateways publish every batch over
    TLS (QoS 1) as fast as they can; rate = rows / (first publish -> last commit);
(c) **naive**: a process that subscribes directly and, per message as it arrives, validates it
    and INSERTs each reading (attributed by a sub-select, ON CONFLICT DO NOTHING), committing per
    message; run on a subset (it is slow);
(d) **latency**: the real ingest again, the gateways publishing at half the rate measured in
    (b), paced, for ``--latency-s`` seconds: publish -> commit (``ingested_batch.committed_at``)
    and publish -> ``IngestAck`` received by the gateway, p50 and p99.

(g) **generator alone**: the same publishers with nobody subscribed (the broker drops the
    messages): the ceiling of the load generator and the broker's TLS intake, to check that (b)
    measures ingest and not its source.

Tables are emptied between phases. Everything runs on this machine, so publishers, broker,
ingest and PostgreSQL share its cores; the publishers run in this process, ingest in its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from nabd.app.stack.testing import MqttCredentials, RunningStack, running_stack
from nabd.contract import topics
from nabd.contract.catalogue import METRICS
from nabd.contract.payloads import IngestAck, parse, parse_batch
from nabd.ingest.settings import IngestSettings
from nabd.ingest.staging import OBSERVATION_COPY, OBSERVATION_TYPES
from nabd.mqtt.client import Broker, BrokerAccount, CleanStart, Session, build_client, connect

DEVICES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    # (kind, metrics per measurement, has a clock)
    ("hrs", ("heart_rate", "rr_interval"), False),
    ("plx", ("spo2", "pulse_rate", "pulse_amplitude_index"), True),
    ("thermo", ("body_temperature",), True),
    ("cuff", ("systolic_bp", "diastolic_bp", "mean_arterial_pressure", "pulse_rate"), True),
    ("scale", ("body_weight",), True),
)
TYPICAL = {
    "heart_rate": (72.0, 8.0),
    "rr_interval": (0.83, 0.08),
    "spo2": (96.0, 1.5),
    "pulse_rate": (74.0, 8.0),
    "pulse_amplitude_index": (3.0, 1.0),
    "body_temperature": (37.0, 0.4),
    "systolic_bp": (125.0, 12.0),
    "diastolic_bp": (78.0, 8.0),
    "mean_arterial_pressure": (94.0, 8.0),
    "body_weight": (78.0, 10.0),
}
COPY_CHUNK = 20_000
PATIENTS_PER_GATEWAY = 3
"""Each patient wears one device of each kind: 15 devices per gateway."""


# -- the workload ---------------------------------------------------------------------------


@dataclass
class Gateway:
    """One simulated gateway: its devices (id -> patient) and prebuilt batches."""

    gateway_id: str
    devices: dict[str, str]
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    payloads: list[bytes] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    """Per batch, its readings as observation rows (for the raw COPY)."""
    batch_rows: list[int] = field(default_factory=list)


def _value(metric: str, rng: random.Random) -> float:
    mean, sd = TYPICAL[metric]
    row = METRICS[metric]
    return round(min(row.max_value, max(row.min_value, rng.gauss(mean, sd))), 2)


def build_workload(gateways: int, batches: int, readings: int, seed: int = 7) -> list[Gateway]:
    """Deterministic batches: devices take turns, each measurement gives 1-4 readings."""
    rng = random.Random(seed)
    metric_ids = {key: i + 1 for i, key in enumerate(METRICS)}  # replaced by the real ids later
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    out: list[Gateway] = []
    for g in range(gateways):
        gw = Gateway(
            f"gw-bench-{g}",
            {
                f"{kind}-{g}-{copy}": f"p-bench-{g}-{copy}"
                for kind, _, _ in DEVICES
                for copy in range(PATIENTS_PER_GATEWAY)
            },
        )
        devices = [(d, next(k for k in DEVICES if d.startswith(k[0] + "-"))) for d in gw.devices]
        seq = dict.fromkeys(gw.devices, 0)
        clock = start
        for b in range(batches):
            docs: list[dict[str, Any]] = []
            while len(docs) < readings:
                device, (_, metrics, has_clock) = devices[len(docs) % len(devices)]
                clock += timedelta(milliseconds=40)
                for metric in metrics[: readings - len(docs)]:
                    doc: dict[str, Any] = {
                        "device_id": device,
                        "seq": seq[device],
                        "metric": metric,
                        "value": _value(metric, rng),
                        "unit": METRICS[metric].unit,
                        "received_at": clock.isoformat(),
                    }
                    if has_clock:
                        doc["device_time"] = (clock - timedelta(milliseconds=300)).isoformat()
                    if rng.random() < 0.02:
                        doc["quality"] = ["artefact"]
                    docs.append(doc)
                seq[device] += 1
            batch = {
                "schema": "nabd.obs/1",
                "gateway_id": gw.gateway_id,
                "boot_id": gw.boot_id,
                "batch_seq": b,
                "sent_at": clock.isoformat(),
                "readings": docs,
            }
            payload = json.dumps(batch, separators=(",", ":")).encode()
            parse_batch(payload)  # the workload itself is valid
            gw.payloads.append(payload)
            gw.batch_rows.append(len(docs))
            gw.rows += [
                (
                    datetime.fromisoformat(d.get("device_time", d["received_at"])),
                    gw.devices[d["device_id"]],
                    d["device_id"],
                    metric_ids[d["metric"]],
                    d["seq"],
                    d["value"],
                    d.get("quality", []),
                    datetime.fromisoformat(d["received_at"]),
                    gw.gateway_id,
                )
                for d in docs
            ]
        out.append(gw)
    return out


def register(owner_url: str, gws: list[Gateway]) -> dict[str, int]:
    """Registry rows for every gateway, device and patient; returns the metric ids."""
    with psycopg.connect(owner_url) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('bench', 'Bench') ON CONFLICT DO NOTHING")
        for gw in gws:
            conn.execute("INSERT INTO gateway (id, ward_id) VALUES (%s, 'bench')", (gw.gateway_id,))
            for device, patient in gw.devices.items():
                conn.execute(
                    "INSERT INTO patient (id, ward_id) VALUES (%s, 'bench') ON CONFLICT DO NOTHING",
                    (patient,),
                )
                conn.execute(
                    "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'bench')",
                    (device, gw.gateway_id),
                )
                conn.execute(
                    "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                    " VALUES (%s, %s, tstzrange('2020-01-01', NULL), 'bench')",
                    (device, patient),
                )
        return {str(k): int(v) for k, v in conn.execute("SELECT key, id FROM metric")}


def empty_tables(owner_url: str) -> None:
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE observation, observation_latest, unattributed_observation, ingested_batch,"
            " dead_letter, observation_commit"
        )


_POLLING: dict[str, psycopg.Connection[tuple[Any, ...]]] = {}


def count_batches(owner_url: str) -> int:
    """Committed batches, on one connection kept open: a connection per poll (20 a second)
    made PostgreSQL fork a backend each time, CPU taken from what is being measured."""
    conn = _POLLING.get(owner_url)
    if conn is None or conn.closed:
        conn = _POLLING[owner_url] = psycopg.connect(owner_url, autocommit=True)
    row = conn.execute("SELECT count(*) FROM ingested_batch").fetchone()
    return int(row[0]) if row else 0


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


# -- (a) raw COPY ---------------------------------------------------------------------------


def raw_copy(ingest_url: str, gws: list[Gateway], metric_ids: dict[str, int]) -> float:
    """Rows per second of binary COPY straight into the hypertable (ingest's own statement)."""
    remap = {i + 1: metric_ids[key] for i, key in enumerate(METRICS)}
    rows = [(r[1], r[0], r[2], remap[r[3]], *r[4:]) for gw in gws for r in gw.rows]
    started = time.perf_counter()
    with psycopg.connect(ingest_url) as conn:
        for i in range(0, len(rows), COPY_CHUNK):
            with conn.transaction(), conn.cursor() as cur, cur.copy(OBSERVATION_COPY) as copy:
                copy.set_types(list(OBSERVATION_TYPES))
                for row in rows[i : i + COPY_CHUNK]:
                    copy.write_row(row)
    return len(rows) / (time.perf_counter() - started)


# -- gateways over MQTT ---------------------------------------------------------------------


def stack_client(stack: RunningStack, creds: MqttCredentials, client_id: str) -> mqtt.Client:
    """A paho client for the stack's broker, built as the components build theirs."""
    broker = Broker(stack.mqtt_host, creds.port, stack.ca_file)
    return build_client(BrokerAccount.of(broker, creds), client_id)


class Publisher:
    """A gateway's paho client: publishes QoS 1 over TLS, timestamps publishes and acks."""

    def __init__(self, stack: RunningStack, gw: Gateway, creds: MqttCredentials) -> None:
        self.gw = gw
        self.published: dict[int, float] = {}
        self.acked: dict[int, float] = {}
        self._subscribed = threading.Event()
        client = stack_client(stack, creds, topics.gateway_client_id(gw.gateway_id))
        client.max_inflight_messages_set(100)
        client.on_message = self._on_ack
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.connect(stack.mqtt_host, creds.port)
        client.loop_start()
        client.subscribe(topics.ack(gw.gateway_id), qos=1)
        if not self._subscribed.wait(10):
            raise SystemExit("bench: gateway could not subscribe to its acks")
        self.client = client

    def _on_ack(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        for seq in parse(IngestAck, bytes(message.payload)).committed:
            self.acked.setdefault(seq, now)

    def publish(self, seq: int) -> mqtt.MQTTMessageInfo:
        self.published[seq] = time.time()
        return self.client.publish(
            topics.observations(self.gw.gateway_id), self.gw.payloads[seq], qos=1
        )

    def reset(self) -> None:
        self.published.clear()
        self.acked.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_all(pubs: list[Publisher], batches: range) -> float:
    """Publish every batch of every gateway as fast as possible; return the first publish time."""
    first = time.time()

    def run(pub: Publisher) -> None:
        infos = [pub.publish(seq) for seq in batches]
        for info in infos:
            info.wait_for_publish(120)

    threads = [threading.Thread(target=run, args=(p,)) for p in pubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return first


@contextmanager
def process(args: list[str], env: dict[str, str], ready: Callable[[], bool]) -> Iterator[None]:
    """A child process, waited for until ``ready``; SIGTERM and reaped on exit."""
    child = subprocess.Popen(
        args, env=os.environ | env, stderr=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    try:
        wait_for(lambda: child.poll() is None and ready(), " ".join(args[-3:]), 30)
        yield
    finally:
        child.terminate()
        child.wait(30)


def ingest_env(stack: RunningStack, worker_id: str) -> dict[str, str]:
    env = dict(stack.env)
    env["NABD_INGEST_WORKER_ID"] = worker_id
    return env


def _metrics_ready(port: int) -> Callable[[], bool]:
    import urllib.request  # noqa: PLC0415

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                return b"nabd_ingest_mqtt_connected 1.0" in r.read()
        except OSError:
            return False

    return ready


def forget_session(stack: RunningStack, worker_id: str) -> None:
    """Delete a stopped worker's session: the broker would go on queueing a share of the
    group's messages for it."""
    client = stack_client(stack, stack.service("ingest"), f"nabd-ingest-{worker_id}")
    client.connect(stack.mqtt_host, stack.mqtt_port, clean_start=True)  # session expiry 0
    client.loop_start()
    wait_for(client.is_connected, "a clean session", 10)
    client.disconnect()
    client.loop_stop()


@contextmanager
def ingest_worker(stack: RunningStack, worker_id: str) -> Iterator[None]:
    from nabd.app.stack.ports import free_port  # noqa: PLC0415

    port = free_port()
    cmd = [sys.executable, "-m", "nabd.app.cli", "-q", "ingest", "run", "--metrics-port", str(port)]
    try:
        with process(cmd, ingest_env(stack, worker_id), _metrics_ready(port)):
            yield
    finally:
        forget_session(stack, worker_id)


# -- (b) end to end -------------------------------------------------------------------------


def end_to_end(stack: RunningStack, pubs: list[Publisher], workers: int) -> float:
    owner = stack.database_url
    total_batches = sum(len(p.gw.payloads) for p in pubs)
    rows = sum(sum(p.gw.batch_rows) for p in pubs)
    with contextlib_multi(
        [ingest_worker(stack, f"bench-e2e-{workers}-{i}") for i in range(workers)]
    ):
        first = publish_all(pubs, range(len(pubs[0].gw.payloads)))
        wait_for(lambda: count_batches(owner) == total_batches, "every batch committed", 300)
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(committed_at)) FROM ingested_batch"
        ).fetchone()
    assert row is not None
    return rows / (float(row[0]) - first)


@contextmanager
def contextlib_multi(managers: list[Any]) -> Iterator[None]:
    from contextlib import ExitStack  # noqa: PLC0415

    with ExitStack() as stack:
        for m in managers:
            stack.enter_context(m)
        yield


# -- (c) naive ------------------------------------------------------------------------------

NAIVE_INSERT = """
INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value, quality,
                         received_at, gateway_id)
SELECT %(time)s, a.patient_id, %(device)s, m.id, %(seq)s, %(value)s, %(quality)s,
       %(received)s, %(gateway)s
FROM device_assignment a, metric m
WHERE a.device_id = %(device)s AND a.valid @> %(time)s::timestamptz AND m.key = %(metric)s
ON CONFLICT DO NOTHING
"""


def naive_consumer() -> int:
    """The baseline: per message, validate, INSERT each reading, commit; auto-ack."""
    env = os.environ
    conn = psycopg.connect(env["NABD_INGEST_DATABASE_URL"])

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        batch = parse_batch(bytes(message.payload))
        with conn.transaction():
            for r in batch.readings:
                conn.execute(
                    NAIVE_INSERT,
                    {
                        "time": r.device_time or r.received_at,
                        "device": r.device_id,
                        "seq": r.seq,
                        "value": r.value,
                        "quality": [q.value for q in r.quality],
                        "received": r.received_at,
                        "gateway": batch.gateway_id,
                        "metric": r.metric,
                    },
                )
            conn.execute(
                "INSERT INTO ingested_batch (gateway_id, boot_id, batch_seq, readings,"
                " committed_at) VALUES (%s, %s, %s, %s, clock_timestamp())"
                " ON CONFLICT DO NOTHING",
                (batch.gateway_id, batch.boot_id, batch.batch_seq, len(batch.readings)),
            )

    account = BrokerAccount.from_settings(IngestSettings())  # the stack's ingest account
    client = build_client(account, "bench-naive")
    client.on_message = on_message
    client.on_subscribe = lambda *_: print("ready", flush=True)
    connect(client, account, Session(clean_start=CleanStart.FIRST_ONLY))
    client.subscribe(topics.ALL_OBSERVATIONS, qos=1)
    client.loop_forever()
    return 0


def naive(stack: RunningStack, pubs: list[Publisher], batches: int) -> float:
    owner = stack.database_url
    rows = sum(sum(p.gw.batch_rows[:batches]) for p in pubs)
    cmd = [sys.executable, __file__, "--naive-consumer"]
    child = subprocess.Popen(
        cmd, env=os.environ | dict(stack.env), stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("bench: the naive consumer did not start")
        first = publish_all(pubs, range(batches))
        wait_for(lambda: count_batches(owner) == batches * len(pubs), "the naive consumer", 300)
    finally:
        child.terminate()
        child.wait(30)
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(committed_at)) FROM ingested_batch"
        ).fetchone()
    assert row is not None
    return rows / (float(row[0]) - first)


# -- (d) latency at half load ---------------------------------------------------------------


def latency(
    stack: RunningStack, pubs: list[Publisher], rate_rows_s: float, seconds: float
) -> dict[str, float]:
    owner = stack.database_url
    per_batch = statistics.mean(n for p in pubs for n in p.gw.batch_rows)
    batches_per_s = rate_rows_s / per_batch
    n = min(len(pubs[0].gw.payloads), max(1, int(batches_per_s * seconds / len(pubs))))
    interval = len(pubs) / batches_per_s  # each gateway's period
    for p in pubs:
        p.reset()
    with ingest_worker(stack, "bench-latency"):
        start = time.monotonic() + 0.2

        def run(k: int, pub: Publisher) -> None:
            offset = interval * k / len(pubs)  # gateways spread over the period
            for seq in range(n):
                delay = start + offset + seq * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pub.publish(seq)

        threads = [threading.Thread(target=run, args=(k, p)) for k, p in enumerate(pubs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for(lambda: count_batches(owner) == n * len(pubs), "the paced batches", 120)
        wait_for(lambda: all(len(p.acked) == n for p in pubs), "the IngestAcks", 30)
    with psycopg.connect(owner) as conn:
        committed = {
            (str(g), int(s)): float(t)
            for g, s, t in conn.execute(
                "SELECT gateway_id, batch_seq, extract(epoch FROM committed_at) FROM ingested_batch"
            )
        }
    to_commit = sorted(
        committed[(p.gw.gateway_id, s)] - t for p in pubs for s, t in p.published.items()
    )
    to_ack = sorted(p.acked[s] - t for p in pubs for s, t in p.published.items())
    return {
        "batches": float(len(to_commit)),
        "rate": n * len(pubs) * per_batch / (n * interval),
        "commit_p50": _pct(to_commit, 50),
        "commit_p99": _pct(to_commit, 99),
        "ack_p50": _pct(to_ack, 50),
        "ack_p99": _pct(to_ack, 99),
    }


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


# -- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=8)
    parser.add_argument("--batches", type=int, default=400, help="per gateway")
    parser.add_argument("--readings", type=int, default=100, help="per batch")
    parser.add_argument("--naive-batches", type=int, default=25, help="per gateway, for (c)")
    parser.add_argument("--latency-s", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=2, help="runs of (a) and (b), best kept")
    parser.add_argument("--naive-consumer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_consumer:
        return naive_consumer()

    t0 = time.monotonic()
    gws = build_workload(args.gateways, args.batches, args.readings)
    rows = sum(len(g.rows) for g in gws)
    print(
        f"workload: {len(gws)} gateways x {args.batches} batches x {args.readings} readings = "
        f"{rows} rows, {statistics.mean(len(p) for g in gws for p in g.payloads) / 1024:.1f} KiB "
        f"per batch (built in {time.monotonic() - t0:.1f} s)",
        file=sys.stderr,
    )
    state = Path(tempfile.mkdtemp(prefix="nabd-bench-"))
    try:
        with running_stack(state) as stack:
            owner = stack.database_url
            metric_ids = register(owner, gws)
            ingest_url = stack.env["NABD_INGEST_DATABASE_URL"]
            pubs = [Publisher(stack, g, stack.add_gateway(g.gateway_id)) for g in gws]
            try:
                results = run_phases(stack, pubs, ingest_url, metric_ids, args)
            finally:
                for p in pubs:
                    p.close()
    finally:
        shutil.rmtree(state, ignore_errors=True)
    report(results, args, time.monotonic() - t0)
    return 0


def run_phases(
    stack: RunningStack,
    pubs: list[Publisher],
    ingest_url: str,
    metric_ids: dict[str, int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    owner = stack.database_url
    gws = [p.gw for p in pubs]
    out: dict[str, Any] = {}
    out["load"] = [os.getloadavg()[0]]
    rows = sum(sum(g.batch_rows) for g in gws)
    started = time.time()
    publish_all(pubs, range(len(gws[0].payloads)))  # nobody subscribed: the broker drops them
    out["generator"] = rows / (time.time() - started)
    print(f"(g) generator alone: {out['generator']:,.0f} rows/s", file=sys.stderr)
    copies, e2e = [], []
    for _ in range(args.repeat):  # (a) and (b) alternate: the machine's other load drifts
        empty_tables(owner)
        copies.append(raw_copy(ingest_url, gws, metric_ids))
        empty_tables(owner)
        e2e.append(end_to_end(stack, pubs, workers=1))
    out["copy"], out["e2e"] = max(copies), max(e2e)
    print(f"(a) raw COPY: {', '.join(f'{c:,.0f}' for c in copies)} rows/s", file=sys.stderr)
    print(
        f"(b) end to end, 1 worker: {', '.join(f'{e:,.0f}' for e in e2e)} rows/s", file=sys.stderr
    )
    empty_tables(owner)
    out["naive"] = naive(stack, pubs, args.naive_batches)
    print(f"(c) naive: {out['naive']:,.0f} rows/s", file=sys.stderr)
    empty_tables(owner)
    out["e2e2"] = end_to_end(stack, pubs, workers=2)
    print(f"(b) end to end, 2 workers: {out['e2e2']:,.0f} rows/s", file=sys.stderr)
    empty_tables(owner)
    out["latency"] = latency(stack, pubs, max(out["e2e"], out["e2e2"]) / 2, args.latency_s)
    out["load"].append(os.getloadavg()[0])
    return out


def report(r: dict[str, Any], args: argparse.Namespace, elapsed: float) -> None:
    copy, e2e, e2e2, naive_rate, lat = r["copy"], r["e2e"], r["e2e2"], r["naive"], r["latency"]
    best = max(e2e, e2e2)

    def line(what: str, value: str, ratio: str = "") -> str:
        return f"{what:<44} {value:>16}  {ratio}"

    ms = 1000.0
    lines = [
        line("measure", "value", "ratio / goal"),
        line("(a) raw binary COPY into observation", f"{copy:,.0f} rows/s", "1.00"),
        line(
            "(b) end to end MQTT->commit, 1 worker", f"{e2e:,.0f} rows/s", f"{e2e / copy:.2f} x (a)"
        ),
        line(
            "(b) end to end MQTT->commit, 2 workers",
            f"{e2e2:,.0f} rows/s",
            f"{e2e2 / copy:.2f} x (a)",
        ),
        line("    best (b) / (a)", "", f"{best / copy:.2f}   (goal >= 0.5)"),
        line(
            "(g) the gateways alone, nobody subscribed",
            f"{r['generator']:,.0f} rows/s",
            f"{r['generator'] / best:.1f} x best (b): not the limit",
        ),
        line(
            "(c) naive INSERT per reading, per message",
            f"{naive_rate:,.0f} rows/s",
            f"best (b) = {best / naive_rate:.1f} x (c)   (goal >= 20)",
        ),
        line(
            "(d) offered load, half of best (b)",
            f"{lat['rate']:,.0f} rows/s",
            f"{int(lat['batches'])} batches",
        ),
        line(
            "(d) publish -> commit p50 / p99",
            f"{lat['commit_p50'] * ms:.0f} / {lat['commit_p99'] * ms:.0f} ms",
            "(goal p99 < 500 ms)",
        ),
        line(
            "(d) publish -> IngestAck p50 / p99",
            f"{lat['ack_p50'] * ms:.0f} / {lat['ack_p99'] * ms:.0f} ms",
        ),
    ]
    print("\n".join(lines))
    load = " / ".join(f"{x:.1f}" for x in r["load"])
    print(
        f"({args.gateways} gateways, {args.readings} readings per batch, best of {args.repeat} "
        f"for (a) and (b); {os.cpu_count()} CPUs, load average before / after {load}; "
        f"run took {elapsed:.0f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
