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
(h) **delivery alone**: the same publishers, and one process that subscribes as an ingest worker
    does (its client, the shared subscription, TLS, QoS 1) and only receives: no validation, no
    database. Rows per second from the first publish to the last message received: on this
    machine no consumer, ingest included, can go faster, so (h) / (a) bounds what (b) / (a) can
    ever show here.

Tables are emptied between phases. Everything runs on this machine, so publishers, broker,
ingest and PostgreSQL share its cores. The gateways are spread over ``--publisher-procs``
processes (4 by default; one interpreter's GIL was the limit at 10 readings per batch), ingest
runs in its own. Each (b) also says whether the gateways set its pace: when ingest commits as
fast as the broker acknowledged the publishes (>= 0.9 x their rate), the rate measured is the
load generator's, and the report says so instead of calling it ingest's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
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
from nabd.mqtt.client import Broker, BrokerAccount, CleanStart, Session, build_client, connect

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench.copy_rate import copy_rows_per_s  # noqa: E402

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
    return copy_rows_per_s(ingest_url, rows, COPY_CHUNK)


# -- gateways over MQTT ---------------------------------------------------------------------


def stack_client(stack: RunningStack, creds: MqttCredentials, client_id: str) -> mqtt.Client:
    """A paho client for the stack's broker, built as the components build theirs."""
    return _client(stack.mqtt_host, stack.ca_file, creds, client_id)


def _client(host: str, ca_file: Path, creds: MqttCredentials, client_id: str) -> mqtt.Client:
    broker = Broker(host, creds.port, ca_file)
    return build_client(BrokerAccount.of(broker, creds), client_id)


@dataclass(frozen=True)
class PublisherPlan:
    """What one publisher process needs: the broker, and its gateways with their credentials
    (pickled to a file: the child rebuilds nothing)."""

    host: str
    ca_file: Path
    gateways: list[tuple[Gateway, MqttCredentials]]


class Publisher:
    """A gateway's paho client: publishes QoS 1 over TLS, timestamps publishes and acks."""

    def __init__(self, host: str, ca_file: Path, gw: Gateway, creds: MqttCredentials) -> None:
        self.gw = gw
        self.published: dict[int, float] = {}
        self.acked: dict[int, float] = {}
        self._subscribed = threading.Event()
        client = _client(host, ca_file, creds, topics.gateway_client_id(gw.gateway_id))
        client.max_inflight_messages_set(100)
        client.on_message = self._on_ack
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.connect(host, creds.port)
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


def _publish_fast(pubs: list[Publisher], batches: range) -> float:
    """Publish every batch of every gateway as fast as possible; return when the broker has
    acknowledged the last (epoch seconds)."""

    def run(pub: Publisher) -> None:
        infos = [pub.publish(seq) for seq in batches]
        for info in infos:
            info.wait_for_publish(120)

    threads = [threading.Thread(target=run, args=(p,)) for p in pubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.time()


def _publish_paced(
    pubs: list[Publisher], n: int, interval: float, start: float, spread: list[float]
) -> None:
    """Each gateway publishes ``n`` batches, one every ``interval`` s from ``start`` (epoch
    seconds) plus its offset in ``spread``."""

    def run(k: int, pub: Publisher) -> None:
        for seq in range(n):
            delay = start + spread[k] + seq * interval - time.time()
            if delay > 0:
                time.sleep(delay)
            pub.publish(seq)

    threads = [threading.Thread(target=run, args=(k, p)) for k, p in enumerate(pubs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def publisher_child(plan_file: str) -> int:
    """A publisher process: one JSON command per stdin line, one JSON answer per stdout line."""
    plan: PublisherPlan = pickle.loads(Path(plan_file).read_bytes())  # noqa: S301 (our own file)
    pubs = [Publisher(plan.host, plan.ca_file, gw, creds) for gw, creds in plan.gateways]
    print(json.dumps({"ready": len(pubs)}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["do"] == "fast":
            done = _publish_fast(pubs, range(cmd["start"], cmd["stop"]))
            print(json.dumps({"done": done}), flush=True)
        elif cmd["do"] == "paced":
            for p in pubs:
                p.reset()
            _publish_paced(pubs, cmd["n"], cmd["interval"], cmd["start"], cmd["spread"])
            deadline = time.monotonic() + cmd["ack_timeout"]
            while time.monotonic() < deadline and not all(len(p.acked) == cmd["n"] for p in pubs):
                time.sleep(0.05)
            answer = {p.gw.gateway_id: {"published": p.published, "acked": p.acked} for p in pubs}
            print(json.dumps(answer), flush=True)
        else:
            break
    for p in pubs:
        p.close()
    return 0


class PublisherPool:
    """The gateways, spread over ``procs`` processes so that publishing is never limited by one
    interpreter's GIL (issue 22: in one process the publishers were the limit at 10 readings
    per batch while the report said they were not)."""

    def __init__(self, stack: RunningStack, gws: list[Gateway], procs: int, folder: Path) -> None:
        self.gws = gws
        creds = {g.gateway_id: stack.add_gateway(g.gateway_id) for g in gws}
        self.children: list[subprocess.Popen[str]] = []
        self.shares: list[list[Gateway]] = [s for s in (gws[i::procs] for i in range(procs)) if s]
        for i, share in enumerate(self.shares):
            path = folder / f"publishers-{i}.pickle"
            plan = PublisherPlan(
                stack.mqtt_host, stack.ca_file, [(g, creds[g.gateway_id]) for g in share]
            )
            path.write_bytes(pickle.dumps(plan))
            child = subprocess.Popen(
                [sys.executable, __file__, "--publisher-child", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self.children.append(child)
        for child in self.children:
            if "ready" not in self._read(child):
                raise SystemExit("bench: a publisher process did not start")

    @staticmethod
    def _read(child: subprocess.Popen[str]) -> dict[str, Any]:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("bench: a publisher process died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _send(self, cmd: dict[str, Any]) -> list[dict[str, Any]]:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write(json.dumps(cmd) + "\n")
            child.stdin.flush()
        return [self._read(c) for c in self.children]

    def publish_all(self, batches: range) -> tuple[float, float]:
        """Every batch of every gateway, as fast as possible: (first publish, last PUBACK)."""
        first = time.time()
        answers = self._send({"do": "fast", "start": batches.start, "stop": batches.stop})
        return first, max(float(a["done"]) for a in answers)

    def paced(
        self, n: int, interval: float, start: float, ack_timeout: float
    ) -> dict[str, dict[str, dict[int, float]]]:
        """Each gateway ``n`` batches every ``interval`` s, gateways spread over the interval;
        per gateway its publish and ``IngestAck`` times by batch."""
        total = len(self.gws)
        out: dict[str, dict[str, dict[int, float]]] = {}
        for i, child in enumerate(self.children):
            index = [self.gws.index(g) for g in self.shares[i]]
            cmd = {
                "do": "paced", "n": n, "interval": interval, "start": start,
                "spread": [interval * k / total for k in index], "ack_timeout": ack_timeout,
            }  # fmt: skip
            assert child.stdin is not None
            child.stdin.write(json.dumps(cmd) + "\n")
            child.stdin.flush()
        for child in self.children:
            for gw, times in self._read(child).items():
                out[gw] = {k: {int(s): float(t) for s, t in v.items()} for k, v in times.items()}
        return out

    def close(self) -> None:
        for child in self.children:
            assert child.stdin is not None
            with contextlib.suppress(OSError):
                child.stdin.write(json.dumps({"do": "quit"}) + "\n")
                child.stdin.close()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextmanager
def process(
    args: list[str], env: dict[str, str], ready: Callable[[], bool]
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, waited for until ``ready``; SIGTERM and reaped on exit."""
    child = subprocess.Popen(
        args, env=os.environ | env, stderr=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    try:
        wait_for(lambda: child.poll() is None and ready(), " ".join(args[-3:]), 30)
        yield child
    finally:
        child.terminate()
        child.wait(30)


def ingest_env(stack: RunningStack, worker_id: str) -> dict[str, str]:
    """The stack's variables, and any ``NABD_INGEST_*`` setting given to the benchmark (to try
    a flush policy or a receive window without editing code)."""
    env = dict(stack.env)
    env.update({k: v for k, v in os.environ.items() if k.startswith("NABD_INGEST_")})
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
def ingest_worker(stack: RunningStack, worker_id: str) -> Iterator[int]:
    """A running ``nabd ingest run``; yields its pid."""
    from nabd.app.stack.ports import free_port  # noqa: PLC0415

    port = free_port()
    cmd = [sys.executable, "-m", "nabd.app.cli", "-q", "ingest", "run", "--metrics-port", str(port)]
    try:
        with process(cmd, ingest_env(stack, worker_id), _metrics_ready(port)) as child:
            yield child.pid
    finally:
        forget_session(stack, worker_id)


# -- (b) end to end -------------------------------------------------------------------------


@dataclass(frozen=True)
class EndToEnd:
    rate: float
    """Rows per second, first publish -> last commit."""
    published_rate: float
    """Rows per second, first publish -> the broker's last PUBACK to the gateways."""
    cpu_us_per_message: float
    """CPU (user + system) the ingest workers used, per message: far less sensitive than
    wall-clock rates to what else runs on the machine."""

    @property
    def generator_bound(self) -> bool:
        """Ingest committed as fast as the gateways published: they set the pace, so the rate
        measures them (or the broker), not ingest."""
        return self.rate >= GENERATOR_BOUND * self.published_rate


GENERATOR_BOUND = 0.9


def end_to_end(stack: RunningStack, pool: PublisherPool, workers: int) -> EndToEnd:
    owner = stack.database_url
    total_batches = sum(len(g.payloads) for g in pool.gws)
    rows = sum(sum(g.batch_rows) for g in pool.gws)
    with contextlib_multi(
        [ingest_worker(stack, f"bench-e2e-{workers}-{i}") for i in range(workers)]
    ) as pids:
        cpu_before = sum(cpu_seconds(p) for p in pids)
        first, last_puback = pool.publish_all(range(len(pool.gws[0].payloads)))
        wait_for(lambda: count_batches(owner) == total_batches, "every batch committed", 300)
        cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(committed_at)) FROM ingested_batch"
        ).fetchone()
    assert row is not None
    return EndToEnd(
        rows / (float(row[0]) - first), rows / (last_puback - first), cpu / total_batches * 1e6
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def contextlib_multi(managers: list[Any]) -> Iterator[list[Any]]:
    from contextlib import ExitStack  # noqa: PLC0415

    with ExitStack() as stack:
        yield [stack.enter_context(m) for m in managers]


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


def ready_child(stack: RunningStack, args: list[str], what: str) -> subprocess.Popen[str]:
    """This script run again with ``args`` against the stack, once it has printed ``ready``
    (subscribed): the naive consumer of (c), the receiver of (h)."""
    cmd = [sys.executable, __file__, *args]
    child = subprocess.Popen(
        cmd, env=os.environ | dict(stack.env), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.terminate()
        raise SystemExit(f"bench: {what} did not start")
    return child


def naive(stack: RunningStack, pool: PublisherPool, batches: int) -> float:
    owner = stack.database_url
    rows = sum(sum(g.batch_rows[:batches]) for g in pool.gws)
    child = ready_child(stack, ["--naive-consumer"], "the naive consumer")
    try:
        first, _ = pool.publish_all(range(batches))
        wait_for(lambda: count_batches(owner) == batches * len(pool.gws), "the naive consumer", 300)
    finally:
        child.terminate()
        child.wait(30)
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(committed_at)) FROM ingested_batch"
        ).fetchone()
    assert row is not None
    return rows / (float(row[0]) - first)


def receiver_child(expected: int) -> int:
    """(h): receive ``expected`` messages through ingest's shared subscription and client (TLS,
    QoS 1, PUBACK each) and do nothing else; print the wall time of the last and the CPU used."""
    account = BrokerAccount.from_settings(IngestSettings())
    client = build_client(account, "bench-receiver")
    got = [0]
    done = threading.Event()
    started_cpu = time.process_time()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        got[0] += 1
        if got[0] == expected:
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *_: print("ready", flush=True)
    connect(client, account, Session(clean_start=CleanStart.ALWAYS))
    client.subscribe(topics.shared(topics.INGEST_SHARE_GROUP, topics.ALL_OBSERVATIONS), qos=1)
    client.loop_start()
    done.wait(600)
    last = time.time()
    print(json.dumps({"last": last, "cpu": time.process_time() - started_cpu}), flush=True)
    client.disconnect()
    client.loop_stop()
    return 0


def delivery(stack: RunningStack, pool: PublisherPool) -> tuple[float, float]:
    """(h) rows/s from the first publish to the last message received by a consumer that only
    receives, and that consumer's CPU per message (us): what MQTT delivery alone allows."""
    batches = len(pool.gws[0].payloads)
    expected = batches * len(pool.gws)
    rows = sum(sum(g.batch_rows) for g in pool.gws)
    child = ready_child(stack, ["--receiver-child", str(expected)], "the receiver")
    try:
        first, _ = pool.publish_all(range(batches))
        assert child.stdout is not None
        done = json.loads(child.stdout.readline())
    finally:
        child.wait(60)
    return rows / (float(done["last"]) - first), float(done["cpu"]) / expected * 1e6


# -- (d) latency at half load ---------------------------------------------------------------


def latency(
    stack: RunningStack, pool: PublisherPool, rate_rows_s: float, seconds: float
) -> dict[str, float]:
    owner = stack.database_url
    gws = pool.gws
    per_batch = statistics.mean(n for g in gws for n in g.batch_rows)
    batches_per_s = rate_rows_s / per_batch
    n = min(len(gws[0].payloads), max(1, int(batches_per_s * seconds / len(gws))))
    interval = len(gws) / batches_per_s  # each gateway's period
    with ingest_worker(stack, "bench-latency"):
        times = pool.paced(n, interval, time.time() + 0.5, ack_timeout=60)
        wait_for(lambda: count_batches(owner) == n * len(gws), "the paced batches", 120)
    with psycopg.connect(owner) as conn:
        committed = {
            (str(g), int(s)): float(t)
            for g, s, t in conn.execute(
                "SELECT gateway_id, batch_seq, extract(epoch FROM committed_at) FROM ingested_batch"
            )
        }
    published = [(g, s, t) for g, v in times.items() for s, t in v["published"].items()]
    if any(len(v["acked"]) < n for v in times.values()):
        raise SystemExit("bench: some IngestAcks never came")
    to_commit = sorted(committed[(g, s)] - t for g, s, t in published)
    to_ack = sorted(times[g]["acked"][s] - t for g, s, t in published)
    return {
        "batches": float(len(to_commit)),
        "rate": n * len(gws) * per_batch / (n * interval),
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
    parser.add_argument(
        "--publisher-procs", type=int, default=4, help="processes the gateways are spread over"
    )
    parser.add_argument("--naive-consumer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--publisher-child", help=argparse.SUPPRESS)
    parser.add_argument("--receiver-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver_child:
        return receiver_child(args.receiver_child)
    if args.naive_consumer:
        return naive_consumer()
    if args.publisher_child:
        return publisher_child(args.publisher_child)

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
            pool = PublisherPool(stack, gws, args.publisher_procs, state)
            try:
                results = run_phases(stack, pool, ingest_url, metric_ids, args)
            finally:
                pool.close()
    finally:
        shutil.rmtree(state, ignore_errors=True)
    report(results, args, time.monotonic() - t0)
    return 0


def run_phases(
    stack: RunningStack,
    pool: PublisherPool,
    ingest_url: str,
    metric_ids: dict[str, int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    owner = stack.database_url
    gws = pool.gws
    out: dict[str, Any] = {}
    out["load"] = [os.getloadavg()[0]]
    rows = sum(sum(g.batch_rows) for g in gws)
    first, last = pool.publish_all(range(len(gws[0].payloads)))  # nobody subscribed
    out["generator"] = rows / (last - first)
    print(f"(g) generator alone: {out['generator']:,.0f} rows/s", file=sys.stderr)
    out["delivery"] = delivery(stack, pool)
    print(f"(h) delivery alone: {out['delivery'][0]:,.0f} rows/s", file=sys.stderr)
    copies, e2e = [], []
    for _ in range(args.repeat):  # (a) and (b) alternate: the machine's other load drifts
        empty_tables(owner)
        copies.append(raw_copy(ingest_url, gws, metric_ids))
        empty_tables(owner)
        e2e.append(end_to_end(stack, pool, workers=1))
    out["copy"], out["e2e"] = max(copies), max(e2e, key=lambda e: e.rate)
    print(f"(a) raw COPY: {', '.join(f'{c:,.0f}' for c in copies)} rows/s", file=sys.stderr)
    print(
        f"(b) end to end, 1 worker: {', '.join(f'{e.rate:,.0f}' for e in e2e)} rows/s",
        file=sys.stderr,
    )
    empty_tables(owner)
    out["naive"] = naive(stack, pool, args.naive_batches)
    print(f"(c) naive: {out['naive']:,.0f} rows/s", file=sys.stderr)
    empty_tables(owner)
    out["e2e2"] = end_to_end(stack, pool, workers=2)
    print(f"(b) end to end, 2 workers: {out['e2e2'].rate:,.0f} rows/s", file=sys.stderr)
    out["load"].append(os.getloadavg()[0])
    empty_tables(owner)
    best = max(out["e2e"].rate, out["e2e2"].rate)
    out["latency"] = latency(stack, pool, best / 2, args.latency_s)
    out["load"].append(os.getloadavg()[0])
    return out


def report(r: dict[str, Any], args: argparse.Namespace, elapsed: float) -> None:
    copy, naive_rate, lat = r["copy"], r["naive"], r["latency"]
    one, two = r["e2e"], r["e2e2"]
    e2e, e2e2 = one.rate, two.rate
    best = max(e2e, e2e2)

    def bound(run: EndToEnd) -> str:
        if run.generator_bound:
            return "  THE GATEWAYS WERE THE LIMIT (ingest kept up with them)"
        return f"  (gateways published at {run.published_rate / run.rate:.1f} x this)"

    def line(what: str, value: str, ratio: str = "") -> str:
        return f"{what:<44} {value:>16}  {ratio}"

    ms = 1000.0
    lines = [
        line("measure", "value", "ratio / goal"),
        line("(a) raw binary COPY into observation", f"{copy:,.0f} rows/s", "1.00"),
        line(
            "(b) end to end MQTT->commit, 1 worker",
            f"{e2e:,.0f} rows/s",
            f"{e2e / copy:.2f} x (a){bound(one)}",
        ),
        line(
            "(b) end to end MQTT->commit, 2 workers",
            f"{e2e2:,.0f} rows/s",
            f"{e2e2 / copy:.2f} x (a){bound(two)}",
        ),
        line("    best (b) / (a)", "", f"{best / copy:.2f}   (goal >= 0.5)"),
        line(
            "(b) ingest CPU per message, 1 / 2 workers",
            f"{one.cpu_us_per_message:,.0f} / {two.cpu_us_per_message:,.0f} us",
            f"{one.cpu_us_per_message / args.readings:.1f} us per reading with 1 worker",
        ),
        line(
            "(g) the gateways alone, nobody subscribed",
            f"{r['generator']:,.0f} rows/s",
            f"{r['generator'] / best:.1f} x best (b)"
            + (": the limit" if r["generator"] < best / GENERATOR_BOUND else ""),
        ),
        line(
            "(h) delivery alone: receive + PUBACK, no work",
            f"{r['delivery'][0]:,.0f} rows/s",
            f"{r['delivery'][0] / copy:.2f} x (a), {r['delivery'][1]:,.0f} us CPU per message:"
            " no consumer on this machine exceeds it",
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
    procs = args.publisher_procs
    print(
        f"({args.gateways} gateways, {args.readings} readings per batch, best of {args.repeat} "
        f"for (a) and (b); gateways in {procs} publisher processes; {os.cpu_count()} CPUs, "
        f"load average before / before (d) / after {load}; "
        f"run took {elapsed:.0f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
