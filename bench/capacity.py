"""Capacity of one whole server: how many beds broker, ingest, analytics and PostgreSQL carry
together on this machine, at one batch per second per gateway.

Usage (from the repository root)::

    .venv/bin/python bench/capacity.py                              # ramp, 5-minute holds
    .venv/bin/python bench/capacity.py --beds 500,1000,2000 --hold 60
    .venv/bin/python bench/capacity.py --beds 8 --hold 6 --settle 2 # smoke run (tests/bench)

It starts its own stack in a temporary folder (``running_stack``), creates the gateway accounts
of the largest step, and runs one ``nabd ingest run`` and one ``nabd analytics run`` as
processes. Every *virtual gateway* carries 4 beds, and each bed wears a heart-rate strap (heart
rate and an RR interval every second), an oximeter (SpO2 and pulse rate every second), a
blood-pressure cuff (systolic, diastolic, mean, every ``--periodic-s`` seconds) and a thermometer
(same period, another phase): about 16 readings in one batch per second per gateway, published
over TLS at QoS 1 with the gateway's own certificate, as a real gateway does (no BLE: the cost
of the radio is the gateway's, not the server's).

**Ramp.** For each step of ``--beds`` (ascending) the step's beds are registered (wards of 32
beds, patients, devices, assignments), analytics is given ``--settle`` seconds to read the
registry, then ``--generators`` processes publish for ``--hold`` seconds, each gateway once a
second (spread over the second). The step *holds* when

- **p99 reading -> commit <= 1 s**: a batch's send time to its ``ingested_batch.committed_at``
  (the readings' ``received_at`` is the send time; same clock);
- **reading -> alert <= 2 s** for every injected bed: ``--alert-beds`` beds of the step (new
  beds, so no alert was open) get one deterministic abnormal blood pressure (systolic 230 mmHg,
  above the 220 limit, which has no persistence: spot measurements raise at once) half-way
  through the hold; the time is from the send of that batch to the moment the benchmark sees the
  ``systolic_bp_high`` alert in the database (polled every 0.1 s);
- **nothing lost**: every batch published is in ``ingested_batch`` and the readings stored for
  the step (``observation`` by ``received_at``) are exactly those sent;
- **the generators kept pace** (published >= 98 % of the batches due): otherwise the step measured
  the load generator, not the server, and the ramp stops saying so.

The ramp stops at the first step that does not hold. For each step it prints the CPU each
process used during the hold (``/proc``: ingest, analytics, mosquitto, the PostgreSQL tree,
the generators), in % of one core, so the bottleneck is named, and the machine's load average
(other work on a shared machine takes cores from all of them). The last line is::

    capacity: N beds (p99 reading->commit X ms, reading->alert Y ms, 0 lost)

with N the largest step that held (0 if none did; the figures are then those of the first step).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nabd.app.stack.testing import RunningStack

BEDS_PER_GATEWAY = 4
BEDS_PER_WARD = 32
SYSTOLIC_ALERT = 230.0
"""Above the default systolic limit (220 mmHg, no persistence: ``nabd.analytics.limits``)."""
PACE_FRACTION = 0.98
COMMIT_P99_S = 1.0
ALERT_S = 2.0
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench.soak import child_process, children_of, cli, ingest_ready, wait_until  # noqa: E402

# -- the workload (pure) ---------------------------------------------------------------------


def gateway_ids(beds: int) -> list[str]:
    return [f"cap-{i:05d}" for i in range(math.ceil(beds / BEDS_PER_GATEWAY))]


KINDS = {"hr": "heart_rate_strap", "ox": "pulse_oximeter", "bp": "bp_cuff", "tp": "thermometer"}
"""Device id suffix -> registered kind (``nabd.contract.device_kinds``)."""


def bed_devices(gateway_id: str, bed: int) -> dict[str, str]:
    """Device id -> kind for one bed."""
    return {f"{gateway_id}-b{bed}-{k}": kind for k, kind in KINDS.items()}


def device_address(gateway_id: str, bed: int, index: int) -> str:
    """A unique Bluetooth address for a device, as the registry stores it: registered devices
    have one (ingest publishes each gateway's list; a device without an address holds the
    list and is logged at every pass, which is not a server's normal load)."""
    n = (int(gateway_id.rsplit("-", 1)[1]) * BEDS_PER_GATEWAY + bed) * len(KINDS) + index
    return "C0:" + ":".join(f"{(n >> shift) & 0xFF:02X}" for shift in (32, 24, 16, 8, 0))


def patient_id(gateway_id: str, bed: int) -> str:
    return f"p-{gateway_id}-b{bed}"


def _phase(device_id: str, period: int) -> int:
    return zlib.crc32(device_id.encode()) % period


def bed_readings(  # noqa: PLR0917 (one bed's second: each argument is a coordinate of it)
    gateway_id: str, bed: int, seq: int, batch_seq: int, at: str, periodic_s: int, abnormal: bool
) -> list[dict[str, Any]]:
    """One second of one bed: deterministic, physiological values (NEWS2 0), plus the cuff and
    the thermometer when their period comes (or a cuff reading of 230 mmHg when ``abnormal``)."""
    base = f"{gateway_id}-b{bed}-"
    wobble = (seq * 7 + bed * 13) % 20
    # Sinus rhythm: the rate drifts slowly (about 5 /min over 40 s), so successive RR intervals
    # differ by a few ms. A rate jumping by 7 /min every second had every bed in "atrial
    # fibrillation", thousands of alerts at once: not a ward's normal load.
    beat = 70.0 + 5.0 * math.sin(2 * math.pi * (seq + bed * 7) / 40)
    hr = float(round(beat))
    out: list[dict[str, Any]] = [
        _reading(base + "hr", seq, "heart_rate", hr, "/min", at),
        _reading(base + "hr", seq, "rr_interval", round(60.0 / beat, 3), "s", at),
        _reading(base + "ox", seq, "spo2", 96.0 + wobble % 4, "%", at),
        _reading(base + "ox", seq, "pulse_rate", hr + 1.0, "/min", at),
    ]
    if abnormal or batch_seq % periodic_s == _phase(base + "bp", periodic_s):
        systolic = SYSTOLIC_ALERT if abnormal else 118.0 + wobble % 10
        diastolic = 76.0 + wobble % 6
        out += [
            _reading(base + "bp", seq, "systolic_bp", systolic, "mm[Hg]", at),
            _reading(base + "bp", seq, "diastolic_bp", diastolic, "mm[Hg]", at),
            _reading(
                base + "bp",
                seq,
                "mean_arterial_pressure",
                round((systolic + 2 * diastolic) / 3, 1),
                "mm[Hg]",
                at,
            ),
        ]
    if batch_seq % periodic_s == _phase(base + "tp", periodic_s):
        out.append(
            _reading(base + "tp", seq, "body_temperature", 36.6 + wobble % 5 / 10, "Cel", at)
        )
    return out


def _reading(  # noqa: PLR0917 (the fields of one reading, in the contract's order)
    device: str, seq: int, metric: str, value: float, unit: str, at: str
) -> dict[str, Any]:
    return {
        "device_id": device,
        "seq": seq,
        "metric": metric,
        "value": value,
        "unit": unit,
        "received_at": at,
    }


def batch_payload(  # noqa: PLR0917 (the coordinates of one batch)
    gateway_id: str,
    boot_id: str,
    batch_seq: int,
    seq_base: int,
    now: datetime,
    periodic_s: int,
    abnormal_bed: int | None,
) -> tuple[bytes, int]:
    """A gateway's batch for second ``batch_seq`` and how many readings it holds. Every device
    numbers its messages ``seq_base + batch_seq``: at most one per batch, never reused."""
    at = now.isoformat()
    readings = [
        r
        for bed in range(BEDS_PER_GATEWAY)
        for r in bed_readings(
            gateway_id, bed, seq_base + batch_seq, batch_seq, at, periodic_s, bed == abnormal_bed
        )
    ]
    batch = {
        "schema": "nabd.obs/1",
        "gateway_id": gateway_id,
        "boot_id": boot_id,
        "batch_seq": batch_seq,
        "sent_at": at,
        "readings": readings,
    }
    return json.dumps(batch, separators=(",", ":")).encode(), len(readings)


class GatewayPayloads:
    """:func:`batch_payload` for one gateway, byte for byte, at a fraction of its cost.

    Why: the generators share the machine with the server they measure. Building 16 dicts and
    ``json.dumps`` per batch was ~25 % of a generator's CPU (py-spy at 7 000 beds), CPU taken
    from the server: 50 µs a batch, now 14. The seconds with only the continuous devices (at
    the default 900-s period, all but about one second in 110) are written by f-strings from
    per-bed prefixes; a second with a cuff or thermometer reading, or an injected bed, goes to
    :func:`batch_payload` itself. ``tests/bench/test_capacity.py`` checks the bytes are the same."""

    def __init__(self, gateway_id: str, boot_id: str, seq_base: int, periodic_s: int) -> None:
        self.gateway_id, self.boot_id = gateway_id, boot_id
        self.seq_base, self.periodic_s = seq_base, periodic_s
        self._periodic = {
            _phase(f"{gateway_id}-b{bed}-{k}", periodic_s)
            for bed in range(BEDS_PER_GATEWAY)
            for k in ("bp", "tp")
        }
        self._head = (
            f'{{"schema":"nabd.obs/1","gateway_id":"{gateway_id}","boot_id":"{boot_id}",'
            '"batch_seq":'
        )
        self._beds = [f'{{"device_id":"{gateway_id}-b{bed}-' for bed in range(BEDS_PER_GATEWAY)]

    def payload(self, batch_seq: int, now: datetime, abnormal_bed: int | None) -> tuple[bytes, int]:
        """The gateway's batch for second ``batch_seq`` and how many readings it holds."""
        if abnormal_bed is not None or batch_seq % self.periodic_s in self._periodic:
            return batch_payload(
                self.gateway_id, self.boot_id, batch_seq, self.seq_base, now, self.periodic_s,
                abnormal_bed,
            )  # fmt: skip
        at = now.isoformat()
        seq = self.seq_base + batch_seq
        tail = f',"received_at":"{at}"}}'
        parts = []
        for bed, dev in enumerate(self._beds):
            wobble = (seq * 7 + bed * 13) % 20
            beat = 70.0 + 5.0 * math.sin(2 * math.pi * (seq + bed * 7) / 40)
            hr = float(round(beat))
            parts.append(
                f'{dev}hr","seq":{seq},"metric":"heart_rate","value":{hr!r},"unit":"/min"{tail},'
                f'{dev}hr","seq":{seq},"metric":"rr_interval","value":{round(60.0 / beat, 3)!r},'
                f'"unit":"s"{tail},'
                f'{dev}ox","seq":{seq},"metric":"spo2","value":{96.0 + wobble % 4!r},'
                f'"unit":"%"{tail},'
                f'{dev}ox","seq":{seq},"metric":"pulse_rate","value":{hr + 1.0!r},'
                f'"unit":"/min"{tail}'
            )
        body = f'{self._head}{batch_seq},"sent_at":"{at}","readings":[{",".join(parts)}]}}'
        return body.encode(), 4 * BEDS_PER_GATEWAY


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``inf`` for no values: nothing measured is not a pass)."""
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Statement:
    """One line of ``pg_stat_statements``: what PostgreSQL spent on one statement."""

    seconds: float
    calls: int
    text: str
    wal_mb: float = 0.0
    """WAL written, MB: with ``full_pages``, what a checkpoint cycle makes it log again."""
    full_pages: int = 0
    """Whole pages logged (the first change to a page after a checkpoint)."""
    pages_read: int = 0
    """Pages not in shared buffers (read from the operating system)."""

    def __str__(self) -> str:
        each = 1000 * self.seconds / max(self.calls, 1)
        return (
            f"{self.seconds:6.1f} s in {self.calls:>6} calls ({each:.1f} ms each; WAL "
            f"{self.wal_mb:,.0f} MB, {self.full_pages:,} full pages; {self.pages_read:,} pages "
            f"read): {self.text}"
        )


_STATEMENTS_SQL = """
SELECT total_exec_time / 1000, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 80),
       wal_bytes / 1e6, wal_fpi, shared_blks_read
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)
ORDER BY total_exec_time DESC LIMIT %s
"""


@dataclass(frozen=True)
class StepResult:
    beds: int
    published: int
    due: int
    committed: int
    readings_sent: int
    readings_stored: int
    commit_p50_s: float
    commit_p99_s: float
    alert_s: float
    """The slowest injected bed's reading -> alert (``inf``: an alert never came)."""
    cpu: Mapping[str, float] = field(default_factory=dict)
    idle_cpu: Mapping[str, float] = field(default_factory=dict)
    """The same with the step's beds registered and no traffic (the settle before the hold):
    what the services cost whatever the load (analytics ticks every patient every second)."""
    load: tuple[float, float] = (0.0, 0.0)
    slow_seconds: tuple[int, int, float] = (0, 0, 0.0)
    """(seconds of the hold whose batches' worst reading -> commit exceeded 1 s, seconds, the
    worst): a few slow seconds is a stall, most of them is saturation."""
    statements: tuple[Statement, ...] = ()
    """With ``--statements``: PostgreSQL's costliest statements during the hold."""
    copy_rows_s: float = 0.0
    """This machine's binary COPY rate (:class:`Machine`), to say the step's rate against it."""
    raised: Mapping[str, int] = field(default_factory=dict)
    """Alerts raised from the start of the hold to the end of the drain, by condition."""
    delayed: tuple[int, float] = (0, 0.0)
    """(analytics ticks that found readings arriving late, the worst delay in s) over the same
    span: what the nurse station's "readings arrive late" notice would have said."""

    @property
    def lost(self) -> int:
        return (self.published - self.committed) + max(0, self.readings_sent - self.readings_stored)

    @property
    def paced(self) -> bool:
        return self.published >= PACE_FRACTION * self.due

    @property
    def held(self) -> bool:
        return (
            self.paced
            and self.lost == 0
            and self.readings_stored == self.readings_sent
            and self.commit_p99_s <= COMMIT_P99_S
            and self.alert_s <= ALERT_S
        )


def slow_seconds(points: Sequence[tuple[float, float]], start: float) -> tuple[int, int, float]:
    """From (send time, latency) pairs: how many of the hold's seconds had a batch slower than
    the goal, out of how many, and the worst latency."""
    worst: dict[int, float] = {}
    for at, lat in points:
        second = int(at - start)
        worst[second] = max(worst.get(second, 0.0), lat)
    slow = sum(1 for v in worst.values() if v > COMMIT_P99_S)
    return slow, len(worst), max(worst.values(), default=0.0)


def final_line(results: Sequence[StepResult]) -> str:
    """``capacity: N beds (...)``: the largest step held, else the first step's figures."""
    held = [r for r in results if r.held]
    r = max(held, key=lambda x: x.beds) if held else results[0]
    beds = r.beds if held else 0
    return (
        f"capacity: {beds} beds (p99 reading->commit {_ms(r.commit_p99_s)} ms, "
        f"reading->alert {_ms(r.alert_s)} ms, {r.lost} lost)"
    )


def _ms(seconds: float) -> str:
    return "inf" if math.isinf(seconds) else f"{seconds * 1000:.0f}"


# -- a generator process -----------------------------------------------------------------------


def _accounts(state_dir: str, ids: Sequence[str]) -> tuple[Any, list[Any]]:
    """The broker's gateway listener and the gateways' accounts, from the stack's state."""
    from nabd.app.stack import lifecycle  # noqa: PLC0415
    from nabd.app.stack.env import EDGE, MQTT_CA_FILE, MQTT_HOST, MQTT_PORT, mqtt_vars  # noqa: PLC0415
    from nabd.app.stack.settings import StackSettings  # noqa: PLC0415
    from nabd.simulators.load_mqtt import Broker, GatewayAccount  # noqa: PLC0415

    envs = lifecycle.gateway_environments(StackSettings(state_dir=Path(state_dir)), ids)
    names = mqtt_vars(EDGE)
    first = envs[ids[0]]
    broker = Broker(first[MQTT_HOST], int(first[MQTT_PORT]), Path(first[MQTT_CA_FILE]))
    return broker, [
        GatewayAccount(
            g, e.get(names["password"]), Path(e[names["cert_file"]]), Path(e[names["key_file"]])
        )
        for g, e in envs.items()
    ]


def generator(args: argparse.Namespace) -> int:
    """Child: publish for its gateways once a second for ``--hold`` seconds; write what it sent.

    Protocol on stdio: prints ``connected N`` once every session is up, waits for a line on
    stdin (the start), publishes, drains PUBACKs and writes its result file.
    """
    from bench.lean_publisher import Account, LeanFleet  # noqa: PLC0415
    from nabd.contract import topics  # noqa: PLC0415
    from nabd.contract.payloads import parse_batch  # noqa: PLC0415

    ids: list[str] = args.ids.split(",")
    inject: dict[str, int] = {
        g: int(b) for g, b in (x.split(":") for x in args.inject.split(",") if x)
    }
    broker, accounts = _accounts(args.state_dir, ids)
    pubacked: set[tuple[int, int]] = set()
    fleet = LeanFleet(
        broker.host, broker.port, broker.ca_file, lambda i, s, _at, _rc: pubacked.add((i, s))
    )
    connected = fleet.connect_all(
        [
            Account(
                a.gateway_id,
                topics.gateway_client_id(a.gateway_id),
                topics.observations(a.gateway_id),
                a.password,
                a.cert_file,
                a.key_file,
            )
            for a in accounts
        ],
        120,
    )
    print(f"connected {connected}", flush=True)
    sys.stdin.readline()
    boots = [str(uuid.uuid4()) for _ in ids]
    seq_base = time.time_ns() // 1000
    makers = [
        GatewayPayloads(g, b, seq_base, args.periodic_s) for g, b in zip(ids, boots, strict=True)
    ]
    inject_at = args.hold // 2
    spread = max(1, min(5, args.hold // 4))  # injections a few seconds apart, inside the hold
    sent: list[tuple[int, int, float, int]] = []
    injected: dict[str, float] = {}
    n = len(ids)
    start = time.monotonic()
    due_total = n * args.hold
    index = 0
    while index < due_total:
        now = time.monotonic()
        due = min(due_total, int((now - start) * n) + 1)
        while index < due:
            g, batch_seq = index % n, index // n
            abnormal = inject.get(ids[g]) if batch_seq == inject_at + g % spread else None
            payload, count = makers[g].payload(batch_seq, datetime.now(UTC), abnormal)
            if index < n:
                parse_batch(payload)  # the workload is valid by the contract
            at = time.time()
            if fleet.publish(g, payload, batch_seq):
                sent.append((g, batch_seq, at, count))
                if abnormal is not None:
                    injected[patient_id(ids[g], abnormal)] = at
            index += 1
        fleet.poll(min(0.01, max(0.0, start + index / n - time.monotonic())))
    drain_until = time.monotonic() + 15
    while fleet.awaiting_puback and time.monotonic() < drain_until:
        fleet.poll(0.05)
    fleet.close()
    Path(args.out).write_text(
        json.dumps(
            {
                "ids": ids,
                "boots": boots,
                "due": due_total,
                "sent": [s for s in sent if (s[0], s[1]) in pubacked],
                "unacked": len(sent) - len(pubacked),
                "disconnects": fleet.disconnects,
                "injected": injected,
            }
        )
    )
    return 0


# -- the server's processes --------------------------------------------------------------------


def register(owner_url: str, gateways: Sequence[str]) -> None:
    """Wards, patients, devices and open assignments for the beds of ``gateways``."""
    import psycopg  # noqa: PLC0415

    wards: set[str] = set()
    patients: list[tuple[str, str]] = []
    devices: list[tuple[str, str, str, str]] = []
    assignments: list[tuple[str, str]] = []
    for gw in gateways:
        number = int(gw.rsplit("-", 1)[1])
        ward = f"cap-w{number * BEDS_PER_GATEWAY // BEDS_PER_WARD:04d}"
        wards.add(ward)
        for bed in range(BEDS_PER_GATEWAY):
            patient = patient_id(gw, bed)
            patients.append((patient, ward))
            for index, (device, kind) in enumerate(bed_devices(gw, bed).items()):
                devices.append((device, gw, kind, device_address(gw, bed, index)))
                assignments.append((device, patient))
    with psycopg.connect(owner_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ward (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(w, w) for w in sorted(wards)],
        )
        cur.executemany(
            "INSERT INTO gateway (id, ward_id) SELECT %s, %s ON CONFLICT DO NOTHING",
            [(gw, p[1]) for gw, p in zip(gateways, patients[::BEDS_PER_GATEWAY], strict=True)],
        )
        cur.executemany(
            "INSERT INTO patient (id, ward_id) VALUES (%s, %s) ON CONFLICT DO NOTHING", patients
        )
        cur.executemany(
            "INSERT INTO device (id, gateway_id, kind, address) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            devices,
        )
        cur.executemany(
            "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
            " VALUES (%s, %s, tstzrange('2020-01-01', NULL), 'capacity')",
            assignments,
        )
        conn.commit()
        # A bulk registration leaves the planner with the statistics of empty tables until
        # autovacuum analyses them (up to a minute later): in that window the services' registry
        # queries took seconds instead of milliseconds (analytics' patient list: 6 s, then 64 ms,
        # at 3 000 beds). An operator importing a ward runs ANALYZE; so does the benchmark.
        for table in ("ward", "gateway", "patient", "device", "device_assignment"):
            cur.execute(f"ANALYZE {table}")


# -- CPU per process (/proc) -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


Snapshot = dict[str, dict[int, float]]
"""CPU seconds of each process, per named group."""


def cpu_snapshot(groups: Mapping[str, Sequence[int]], tree: Sequence[str]) -> Snapshot:
    """CPU seconds per process of each named group; groups named in ``tree`` include their
    children (PostgreSQL's backends), also as ``<group>:<login>``."""
    out: Snapshot = {}
    for name, pids in groups.items():
        every = [q for p in pids for q in ([p, *children_of(p)] if name in tree else [p])]
        out[name] = {p: _cpu_s(p) for p in every}
        if name in tree:
            for who, members in _by_title([q for q in every if q not in pids]).items():
                out[f"{name}:{who}"] = {p: _cpu_s(p) for p in members}
    return out


def cpu_percent(before: Snapshot, after: Snapshot, seconds: float) -> dict[str, float]:
    """% of one core each group used between two snapshots. A process that exited in between
    took its seconds with it and counts nothing (subtracting its earlier total made the sum
    negative); one that started counts all its seconds."""
    out: dict[str, float] = {}
    for name, now in after.items():
        then = before.get(name, {})
        used = sum(s - then.get(p, 0.0) for p, s in now.items())
        out[name] = 100 * max(used, 0.0) / seconds
    return out


def _by_title(pids: Sequence[int]) -> dict[str, list[int]]:
    """PostgreSQL's processes by whom they serve: a backend's title is ``postgres: <login>
    <database> <client> <state>`` (the login: ingest, analytics, the benchmark's own ``nabd``);
    anything else (checkpointer, WAL writer, autovacuum, TimescaleDB's workers) is
    ``background``."""
    out: dict[str, list[int]] = {}
    for pid in pids:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        words = title.split()
        client = len(words) >= 5 and words[0] == "postgres:" and "(" in words[3]
        out.setdefault(words[1] if client else "background", []).append(pid)
    return out


# -- one step ----------------------------------------------------------------------------------


@dataclass
class Server:
    args: argparse.Namespace
    folder: Path
    state_dir: Path
    env: Mapping[str, str]
    owner_url: str
    pids: dict[str, list[int]]
    registered: int = 0
    statements_url: str | None = None
    """The superuser's URL to the database, when ``--statements`` loaded pg_stat_statements."""
    copy_rows_s: float = 0.0
    """:attr:`Machine.copy_rows_s`, measured before the first step."""


class AlertPoller(threading.Thread):
    """Polls the database every 0.1 s for the injected beds' ``systolic_bp_high`` and notes when
    each was first seen (the time a nurse's screen could first show it)."""

    def __init__(self, owner_url: str, patients: Sequence[str]) -> None:
        super().__init__(daemon=True)
        self.owner_url, self.patients = owner_url, list(patients)
        self.seen: dict[str, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            while not self._stop_event.is_set() and len(self.seen) < len(self.patients):
                rows = conn.execute(
                    "SELECT DISTINCT patient_id FROM alert WHERE condition = 'systolic_bp_high'"
                    " AND patient_id = ANY(%s)",
                    (self.patients,),
                ).fetchall()
                now = time.time()
                for (p,) in rows:
                    self.seen.setdefault(str(p), now)
                self._stop_event.wait(0.1)

    def finish(self, wait_s: float) -> dict[str, float]:
        """Wait up to ``wait_s`` for the alerts not seen yet (the times are those of first
        sight, so waiting longer changes no figure, only whether a late alert is noticed)."""
        self.join(wait_s)
        self._stop_event.set()
        self.join(10)
        return self.seen


def _start_generators(
    server: Server, gws: Sequence[str], targets: Mapping[str, int], step_no: int
) -> tuple[list[subprocess.Popen[str]], list[Path]]:
    """The generator processes of a step, each with every ``generators``-th gateway, connected
    and waiting for the start."""
    args = server.args
    shares = [s for s in (gws[i :: args.generators] for i in range(args.generators)) if s]
    outs = [server.folder / f"gen-{step_no}-{i}.json" for i in range(len(shares))]
    children = []
    for share, out in zip(shares, outs, strict=True):
        inject = ",".join(f"{g}:{b}" for g, b in targets.items() if g in share)
        cmd = [
            sys.executable, __file__, "--generator", "--state-dir", str(server.state_dir),
            "--ids", ",".join(share), "--inject", inject, "--hold", str(args.hold),
            "--periodic-s", str(args.periodic_s), "--out", str(out),
        ]  # fmt: skip
        children.append(
            subprocess.Popen(
                cmd,
                env={**os.environ, **server.env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        if not line or line[0] != "connected":
            raise SystemExit("capacity: a generator could not connect its gateways")
    return children, outs


@dataclass
class Hold:
    """What the benchmark itself observed during a step's hold."""

    started_wall: float
    cpu: dict[str, float]
    load: tuple[float, float]
    alerts: AlertPoller


def _hold(server: Server, children: Sequence[subprocess.Popen[str]], patients: list[str]) -> Hold:
    """Start the generators, sample CPU over the hold, poll for the injected alerts until the
    generators are done."""
    args = server.args
    groups = {**server.pids, "generators": [c.pid for c in children]}
    load_before = os.getloadavg()[0]
    cpu_before = cpu_snapshot(groups, ("postgres",))
    started_wall = time.time()
    t0 = time.monotonic()
    poller = AlertPoller(server.owner_url, patients)
    poller.start()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    time.sleep(max(0.0, args.hold - 0.5))
    cpu_after = cpu_snapshot(groups, ("postgres",))
    elapsed = time.monotonic() - t0
    load_after = os.getloadavg()[0]
    for child in children:
        child.wait(args.hold + 120)
        if child.returncode != 0:
            raise SystemExit("capacity: a generator failed")
    return Hold(
        started_wall,
        cpu_percent(cpu_before, cpu_after, elapsed),
        (load_before, load_after),
        poller,
    )


def _committed(owner_url: str, boots: Sequence[str]) -> dict[tuple[str, str, int], float]:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        return {
            (str(g), str(b), int(s)): float(t)
            for g, b, s, t in conn.execute(
                "SELECT gateway_id, boot_id::text, batch_seq, extract(epoch FROM committed_at)"
                " FROM ingested_batch WHERE boot_id::text = ANY(%s)",
                (list(boots),),
            )
        }


@dataclass(frozen=True)
class Machine:
    """This machine's speed, measured at the start of the run: the same code held 7 000 beds
    on one 2-vCPU machine and not 6 000 on another whose binary COPY was half as fast (issue 22,
    eighth session), so a capacity is only comparable with the baseline beside it."""

    copy_rows_s: float
    """Binary COPY of reading rows into ``observation``, 20 000 rows a transaction, as ingest
    writes them: PostgreSQL's and the disk's pace, with psycopg's per-row Python."""
    python_us: float
    """Building one gateway batch with ``json.dumps`` (:func:`batch_payload`), best of 3: the
    pace of the Python processes (ingest, analytics, the generators)."""

    def __str__(self) -> str:
        return (
            f"machine: binary COPY {self.copy_rows_s:,.0f} rows/s into observation; Python "
            f"reference {self.python_us:.1f} µs a batch (json.dumps of 16 readings, best of 3)"
        )


_BASELINE_ROWS = 200_000
_BASELINE_CHUNK = 20_000
_BASELINE_DAY = datetime(2001, 1, 1, tzinfo=UTC)
"""Rows of the baseline are dated in 2001, in a chunk of their own, dropped afterwards."""


def measure_machine(owner_url: str) -> Machine:
    """:class:`Machine`, measured on the stack just started (before any step)."""
    import psycopg  # noqa: PLC0415

    from bench.copy_rate import copy_rows_per_s  # noqa: PLC0415

    rows: list[tuple[Any, ...]] = [
        (
            f"p-base-{i % 4000}", _BASELINE_DAY + timedelta(microseconds=i), f"base-{i % 16000}",
            1 + i % 4, i, 60.0 + i % 40, [], _BASELINE_DAY, "base-gw",
        )
        for i in range(_BASELINE_ROWS)
    ]  # fmt: skip
    copy_rows_s = copy_rows_per_s(owner_url, rows, _BASELINE_CHUNK)
    with psycopg.connect(owner_url) as conn:
        conn.execute(
            "SELECT drop_chunks('observation', older_than => %s)",
            (_BASELINE_DAY.replace(year=2002),),
        )
        conn.commit()
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for k in range(2000):
            batch_payload(
                "cap-00001", "0c5b1f36-7d0e-4a7e-9a41-3b1f2f6c9e10", k, 10, _BASELINE_DAY, 900, None
            )
        best = min(best, (time.perf_counter() - t0) / 2000)
    return Machine(copy_rows_s, best * 1e6)


def _raised(owner_url: str, since: float, until: float) -> dict[str, int]:
    """Alerts raised in ``[since, until)`` (epoch seconds), by condition: what the nurses would
    have seen. A ward's normal load raises a few; an overloaded server raised ``stale_data``
    for every patient at once (docs/reliability.md), which a step should show."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "SELECT condition, count(*) FROM alert WHERE raised_at >= to_timestamp(%s)"
            " AND raised_at < to_timestamp(%s) GROUP BY 1 ORDER BY 2 DESC, 1",
            (since, until),
        ).fetchall()
    return {str(c): int(n) for c, n in rows}


def _delayed(owner_url: str, since: float, until: float) -> tuple[int, float]:
    """Analytics' ticks in ``[since, until)`` that recorded readings arriving late (migration
    0153), and the worst delay (s)."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT count(readings_delay_ms), coalesce(max(readings_delay_ms), 0) / 1000"
            " FROM analytics_tick WHERE time >= to_timestamp(%s) AND time < to_timestamp(%s)",
            (since, until),
        ).fetchone()
    return (int(row[0]), float(row[1])) if row else (0, 0.0)


def _stored(owner_url: str, since: float, until: float) -> int:
    """Readings stored with a receipt time in ``[since, until)`` (epoch seconds)."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM observation WHERE received_at >= to_timestamp(%(a)s)"
            " AND received_at < to_timestamp(%(b)s))"
            " + (SELECT count(*) FROM unattributed_observation"
            " WHERE received_at >= to_timestamp(%(a)s) AND received_at < to_timestamp(%(b)s))",
            {"a": since, "b": until},
        ).fetchone()
    return int(row[0]) if row else 0


def enable_statements(stack: RunningStack) -> str:
    """Load ``pg_stat_statements`` into the stack's server (a restart, before ingest and
    analytics connect) and return the superuser's URL to the database: the statements' costs
    name what PostgreSQL's share of the CPU is spent on (how the registry read, the
    ``reading_identity`` cache misses and the alert storm were found)."""
    import psycopg  # noqa: PLC0415

    from nabd.app.stack import lifecycle  # noqa: PLC0415
    from nabd.app.stack.layout import Layout  # noqa: PLC0415
    from nabd.app.stack.provision import admin_url  # noqa: PLC0415
    from nabd.app.stack.state import DATABASE, SUPERUSER, load_state  # noqa: PLC0415

    state = load_state(Layout(stack.state_dir))
    assert state is not None
    url = admin_url(state.pg_ports, SUPERUSER, state.postgres.superuser_password.get_secret_value())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = timescaledb, pg_stat_statements")
    lifecycle.down(stack.settings)
    lifecycle.up(stack.settings, want_ha=False)
    url = url.rsplit("/", 1)[0] + "/" + DATABASE
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return url


def statements_reset(url: str | None) -> None:
    import psycopg  # noqa: PLC0415

    if url is not None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")


def statements_read(url: str | None, top: int = 8) -> tuple[Statement, ...]:
    import psycopg  # noqa: PLC0415

    if url is None:
        return ()
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(_STATEMENTS_SQL, (url.rsplit("/", 1)[1], top)).fetchall()
    return tuple(
        Statement(float(t), int(n), str(q), float(w), int(f), int(r)) for t, n, q, w, f, r in rows
    )


def run_step(server: Server, beds: int, step_no: int) -> StepResult:
    """Register the step's new beds, hold the load, and judge it."""
    args = server.args
    gws = gateway_ids(beds)
    new = gws[server.registered :]
    register(server.owner_url, new)
    server.registered = len(gws)
    before, t0 = cpu_snapshot(server.pids, ("postgres",)), time.monotonic()
    time.sleep(args.settle)  # analytics re-reads the registry every NABD_ANALYTICS_REGISTRY_S
    after, idle_s = cpu_snapshot(server.pids, ("postgres",)), time.monotonic() - t0
    idle = cpu_percent(before, after, idle_s)
    k = min(args.alert_beds, len(new))  # injected beds: spread over the step's new gateways
    targets = {new[i * len(new) // k]: i % BEDS_PER_GATEWAY for i in range(k)} if k else {}
    patients = [patient_id(g, b) for g, b in targets.items()]
    statements_reset(server.statements_url)
    children, outs = _start_generators(server, gws, targets, step_no)
    hold = _hold(server, children, patients)
    costliest = statements_read(server.statements_url)
    results = [json.loads(out.read_text()) for out in outs]
    sent = {(r["ids"][g], r["boots"][g], s): (at, n) for r in results for g, s, at, n in r["sent"]}
    injected = {p: at for r in results for p, at in r["injected"].items()}
    boots = [b for r in results for b in r["boots"]]
    deadline = time.monotonic() + args.drain
    done = _committed(server.owner_url, boots)
    while len(done) < len(sent) and time.monotonic() < deadline:
        time.sleep(1.0)
        done = _committed(server.owner_url, boots)
    seen = hold.alerts.finish(wait_s=5 * ALERT_S)
    points = [(at, done[key] - at) for key, (at, _) in sent.items() if key in done]
    lat = [p[1] for p in points]
    alert = max((seen.get(p, math.inf) - at for p, at in injected.items()), default=math.inf)
    if len(injected) < len(patients):
        alert = math.inf  # an injection was not published
    return StepResult(
        beds=beds,
        published=len(sent),
        due=sum(int(r["due"]) for r in results),
        committed=sum(1 for key in sent if key in done),
        readings_sent=sum(n for _, n in sent.values()),
        copy_rows_s=server.copy_rows_s,
        readings_stored=_stored(server.owner_url, hold.started_wall - 1, time.time() + 1),
        commit_p50_s=percentile(lat, 50),
        commit_p99_s=percentile(lat, 99),
        alert_s=alert,
        cpu=hold.cpu,
        idle_cpu=idle,
        load=hold.load,
        slow_seconds=slow_seconds(points, hold.started_wall),
        statements=costliest,
        raised=_raised(server.owner_url, hold.started_wall, time.time()),
        delayed=_delayed(server.owner_url, hold.started_wall, time.time()),
    )


def _counts(raised: Mapping[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in raised.items()) or "none"


def _late(delayed: tuple[int, float]) -> str:
    ticks, worst = delayed
    if not ticks:
        return "readings reached analytics on time"
    return f"readings late at {ticks} analytics ticks (worst {worst:.0f} s)"


def _shares(cpu: Mapping[str, float], parts: bool) -> str:
    """``name N%`` by decreasing share: the processes, or (``parts``) PostgreSQL's by login."""
    chosen = {k.split(":", 1)[1] if parts else k: v for k, v in cpu.items() if (":" in k) == parts}
    return ", ".join(f"{k} {v:.0f}%" for k, v in sorted(chosen.items(), key=lambda kv: -kv[1]))


def describe(r: StepResult) -> str:
    cpu, idle = _shares(r.cpu, parts=False), _shares(r.idle_cpu, parts=False)
    by_login = _shares(r.cpu, parts=True)
    verdict = "held" if r.held else "NOT held"
    if not r.paced:
        verdict += ": the generators are the limit (published below the due rate)"
    rate = r.readings_sent / max(1, r.due) * r.beds / BEDS_PER_GATEWAY
    against = f", {rate / r.copy_rows_s:.2f} x binary COPY" if r.copy_rows_s else ""
    return (
        f"{r.beds:>6} beds ({rate:,.0f} readings/s{against}): "
        f"{r.published}/{r.due} batches published, {r.committed} committed, "
        f"readings {r.readings_stored}/{r.readings_sent} stored; reading->commit p50 "
        f"{_ms(r.commit_p50_s)} / p99 {_ms(r.commit_p99_s)} ms; reading->alert "
        f"{_ms(r.alert_s)} ms; {verdict}\n"
        f"        seconds with a batch over 1 s: {r.slow_seconds[0]}/{r.slow_seconds[1]} "
        f"(worst {_ms(r.slow_seconds[2])} ms)\n"
        f"        CPU (% of one core): {cpu}; load average {r.load[0]:.1f} -> {r.load[1]:.1f}\n"
        f"        PostgreSQL by login: {by_login}\n"
        f"        without traffic (the settle): {idle}\n"
        f"        alerts raised (hold and drain): {_counts(r.raised)}; "
        f"{_late(r.delayed)}"
        + "".join(f"\n        PostgreSQL statement: {st}" for st in r.statements)
    )


def _arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--beds", default="500,1000,2000,3000,4000,6000,8000,10000")
    p.add_argument("--hold", type=int, default=300, help="seconds per step (default 300)")
    p.add_argument("--generators", type=int, default=2, help="publisher processes")
    p.add_argument("--alert-beds", type=int, default=4)
    p.add_argument("--periodic-s", type=int, default=900, help="cuff and thermometer period")
    p.add_argument("--settle", type=float, default=7.0, help="seconds for analytics' registry")
    p.add_argument("--drain", type=float, default=60.0, help="seconds to wait for last commits")
    p.add_argument(
        "--statements",
        action="store_true",
        help="load pg_stat_statements and print each hold's costliest statements",
    )
    p.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--state-dir", help=argparse.SUPPRESS)
    p.add_argument("--ids", help=argparse.SUPPRESS)
    p.add_argument("--inject", default="", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.hold < 4:
        p.error("--hold must be at least 4 seconds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    sys.path.insert(0, str(_ROOT))
    if args.generator:
        return generator(args)
    from nabd.app.stack import mosquitto, postgres  # noqa: PLC0415
    from nabd.app.stack.layout import Layout  # noqa: PLC0415
    from nabd.app.stack.ports import free_port  # noqa: PLC0415
    from nabd.app.stack.testing import running_stack  # noqa: PLC0415

    steps = sorted({int(b) for b in args.beds.split(",")})
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="nabd-capacity-"))
    folder.chmod(0o711)
    results: list[StepResult] = []
    print(
        f"capacity: steps {steps} beds, hold {args.hold} s, {args.generators} generator "
        f"processes; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        with running_stack(folder / "stack", timeout=60.0) as stack:
            statements_url = enable_statements(stack) if args.statements else None
            machine = measure_machine(stack.database_url)
            print(machine, flush=True)
            stack.add_gateways(gateway_ids(steps[-1]))
            port = free_port()
            env = {**stack.env, "NABD_ANALYTICS_REGISTRY_S": str(min(5.0, args.settle / 2))}
            ingest = cli("ingest", "run", "--worker-id", "capacity", "--metrics-port", str(port))
            with (
                child_process(ingest, env, folder / "ingest.log") as ing,
                child_process(cli("analytics", "run"), env, folder / "analytics.log") as ana,
            ):
                wait_until(lambda: ingest_ready(port), "ingest connected", 60)
                layout = Layout(stack.state_dir)
                pids = {
                    "ingest": [ing.pid],
                    "analytics": [ana.pid],
                    "mosquitto": [mosquitto.running_pid(layout) or 0],
                    "postgres": [postgres.postmaster_pid(layout) or 0],
                }
                server = Server(
                    args, folder, folder / "stack", env, stack.database_url, pids,
                    statements_url=statements_url, copy_rows_s=machine.copy_rows_s,
                )  # fmt: skip
                for i, beds in enumerate(steps):
                    result = run_step(server, beds, i)
                    results.append(result)
                    print(describe(result), flush=True)
                    if not result.held:
                        break
                if ana.poll() is not None or ing.poll() is not None:
                    raise SystemExit("capacity: ingest or analytics exited during the run")
    finally:
        if os.environ.get("NABD_BENCH_KEEP"):
            print(f"kept {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"(run took {time.monotonic() - started:.0f} s)")
    print(final_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
