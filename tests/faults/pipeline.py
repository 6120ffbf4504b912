"""The pipeline under fault, as real processes: virtual straps -> ``nabd edge run`` -> broker ->
``nabd ingest run`` -> TimescaleDB.

**The generator.** Each simulated gateway is a bumble virtual BLE world in the test process (the
edge tests' ``VirtualWorld``: heart-rate straps as GATT servers on a ``LocalLink``, the gateway's
controller served over TCP) and a production edge agent, ``nabd edge run --config``, in its own
process, talking HCI to that controller through its bumble backend, exactly as to a USB dongle.
Every strap notifies a Heart Rate Measurement at a set rate; the value sent is recorded *after*
the notification went out, so the record is what the devices produced. The agent stamps each
reading with its per-device ``seq``, keeps it in its SQLite outbox and publishes it; ingest
stores it. Each gateway reaches the broker through its own TCP relay, which the gateway cut-off
closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import psycopg

from nabd.app.stack.ports import free_port
from nabd.app.stack.testing import RunningStack
from tests.edge.agent_harness import gateway_env, write_config
from tests.edge.tcp_relay import TcpRelay
from tests.edge.virtual_peripherals import VirtualPeripheral, VirtualWorld
from tests.faults.stack_control import wait_for

METRIC: Final = "heart_rate"
START_DEADLINE_S: Final = 60.0
STOP_DEADLINE_S: Final = 30.0


def heart_rate(i: int) -> int:
    """The ``i``-th value a strap sends: physiological, cycling, so order is checkable."""
    return 40 + i % 150


def spawn(env: Mapping[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``nabd ARGS...`` as a process with ``env`` added, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "nabd.app.cli", *args],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


def terminate(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM and wait; the exit code, or ``None`` if it had to be killed (nothing we started
    is ever left behind, even when a scenario fails)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_DEADLINE_S)
        return None


class ServiceProcess:
    """A ``nabd`` service run as a process by a scenario; stopped with SIGTERM."""

    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> int | None:
        """SIGTERM: the service finishes cleanly. Returns the exit code (0 if not running)."""
        if self.process is None:
            return 0
        code = terminate(self.process)
        self.process = None
        return code


class IngestProcess(ServiceProcess):
    """One ``nabd ingest run`` worker (stable worker id, so its broker session survives it)."""

    def __init__(self, stack: RunningStack, worker_id: str, log_dir: Path) -> None:
        self.stack = stack
        self.worker_id = worker_id
        self.log = log_dir / f"ingest-{worker_id}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def connected(self) -> bool:
        """Connected *and* subscribed, as its Prometheus endpoint says."""
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as reply:
                return b"nabd_ingest_mqtt_connected 1.0" in reply.read()
        except OSError:
            return False

    def start(self) -> None:
        args = ["ingest", "run", "--worker-id", self.worker_id, "--metrics-port", str(self.port)]
        # The straps here are registered to their gateway but worn by nobody (their readings go
        # to unattributed_observation): a live device list from the registry would release them
        # (docs/ingest.md, gateway configurations). These faults are about the data path, so the
        # agents read their edge.toml devices, and ingest publishes no lists.
        env = {**self.stack.env, "NABD_INGEST_CONFIG_INTERVAL_S": "0"}
        self.process = spawn(env, self.log, *args)
        wait_for(self._alive_and_connected, "ingest connected and subscribed", START_DEADLINE_S)

    def _alive_and_connected(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"ingest exited with {self.process.returncode}; see {self.log}")
        return self.connected()

    def state(self) -> str:
        if self.process is None:
            return "not running"
        code = self.process.poll()
        return "running" if code is None else f"exited with {code} (see {self.log})"

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_DEADLINE_S)
        self.process = None

    def stop(self) -> int | None:
        """SIGTERM: flush, acknowledge, disconnect keeping the session. Returns the exit code."""
        return super().stop()


def register(owner_url: str, gateway_id: str, device_ids: Sequence[str]) -> None:
    """Registry rows (unassigned devices: their readings land in ``unattributed_observation``)."""
    with psycopg.connect(owner_url) as conn:
        conn.execute("INSERT INTO gateway (id) VALUES (%s) ON CONFLICT DO NOTHING", (gateway_id,))
        for device in device_ids:
            conn.execute(
                "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'heart_rate')"
                " ON CONFLICT DO NOTHING",
                (device, gateway_id),
            )


@dataclass
class Strap:
    """One virtual strap and every value it has notified."""

    device_id: str
    peripheral: VirtualPeripheral
    sent: list[int] = field(default_factory=list)


@dataclass
class SimGateway:
    """A virtual BLE world, its relay to the broker and its ``nabd edge run`` process."""

    gateway_id: str
    world: VirtualWorld
    relay: TcpRelay
    folder: Path
    straps: list[Strap]
    process: subprocess.Popen[bytes] | None = None

    @property
    def outbox(self) -> Path:
        return self.folder / "data" / "outbox.sqlite3"

    def outbox_left(self) -> int:
        """Readings in the outbox, read from disk as another process would (WAL included)."""
        if not self.outbox.exists():
            return 0
        with contextlib.closing(sqlite3.connect(self.outbox, timeout=10)) as db:
            return int(db.execute("SELECT count(*) FROM reading").fetchone()[0])


@dataclass
class Fleet:
    """Simulated gateways feeding the pipeline; the generators run until :meth:`pause`."""

    stack: RunningStack
    gateways: list[SimGateway]
    rate_hz: float
    _feeding: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def straps(self) -> list[Strap]:
        return [s for g in self.gateways for s in g.straps]

    @property
    def sent(self) -> dict[str, list[int]]:
        return {s.device_id: s.sent for s in self.straps}

    def generated(self) -> int:
        return sum(len(s.sent) for s in self.straps)

    def feed(self) -> None:
        self._stop.clear()
        self._feeding = [asyncio.create_task(self._play(s)) for s in self.straps]

    async def _play(self, strap: Strap) -> None:
        period = 1.0 / self.rate_hz
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self._stop.is_set():
            await strap.peripheral.send_heart_rate(heart_rate(len(strap.sent)))
            strap.sent.append(heart_rate(len(strap.sent)))
            due += period
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def pause(self) -> None:
        """Stop the generators between two notifications (never in the middle of one, so the
        record holds exactly what was sent)."""
        self._stop.set()
        async with asyncio.timeout(STOP_DEADLINE_S):
            await asyncio.gather(*self._feeding)
        self._feeding = []

    async def cut(self, gateway: SimGateway) -> None:
        """The gateway loses its network to the broker (connections reset, port closed)."""
        await gateway.relay.close()

    async def reconnect(self, gateway: SimGateway) -> None:
        await gateway.relay.open()

    def outbox_left(self) -> int:
        return sum(g.outbox_left() for g in self.gateways)

    def stored(self) -> int:
        rows = stored_rows(self.stack.database_url, list(self.sent))
        return len({(d, s) for d, s, m, _ in rows if m == METRIC})

    def resends(self) -> int:
        """Batches the agents sent again for want of an ``IngestAck`` (from their logs)."""
        total = 0
        for gateway in self.gateways:
            log = gateway.folder / "edge.log"
            if log.exists():
                total += log.read_text(encoding="utf-8", errors="replace").count("re-sending batch")
        return total

    def progress(self) -> str:
        outboxes = {g.gateway_id: g.outbox_left() for g in self.gateways}
        return f"generated {self.generated()}, stored {self.stored()}, outboxes {outboxes}"

    def drained(self) -> bool:
        """Every outbox empty and every generated heart rate in the database."""
        return self.outbox_left() == 0 and self.stored() >= self.generated()


def stored_rows(owner_url: str, devices: list[str]) -> list[tuple[str, int, str, float | None]]:
    """``(device, seq, metric, value)`` of every stored row of ``devices``, both tables."""
    query = """
        SELECT o.device_id, o.seq, m.key, o.value FROM (
            SELECT device_id, seq, metric_id, value FROM observation
             WHERE device_id = ANY(%(d)s)
            UNION ALL
            SELECT device_id, seq, metric_id, value FROM unattributed_observation
             WHERE device_id = ANY(%(d)s)
        ) o JOIN metric m ON m.id = o.metric_id
    """
    with psycopg.connect(owner_url) as conn:
        return [(str(d), int(s), str(m), v) for d, s, m, v in conn.execute(query, {"d": devices})]


def commit_times(
    owner_url: str, devices: list[str], since: datetime, until: datetime
) -> dict[str, list[datetime]]:
    """Each device's distinct ``ingested_at`` in ``[since, until]``: its readings' commits
    (``ingested_at`` is the transaction's start, on this machine's one clock)."""
    query = """
        SELECT DISTINCT device_id, t FROM (
            SELECT device_id, ingested_at AS t FROM observation
             WHERE device_id = ANY(%(d)s) AND ingested_at BETWEEN %(s)s AND %(u)s
            UNION ALL
            SELECT device_id, ingested_at FROM unattributed_observation
             WHERE device_id = ANY(%(d)s) AND ingested_at BETWEEN %(s)s AND %(u)s
        ) both_tables
    """
    found: dict[str, list[datetime]] = {d: [] for d in devices}
    with psycopg.connect(owner_url) as conn:
        for device, at in conn.execute(query, {"d": devices, "s": since, "u": until}):
            found[str(device)].append(at)
    return found


async def _start_gateway(
    stack: RunningStack,
    gateway_id: str,
    *,
    folder: Path,
    straps: int,
    outbox: Mapping[str, Any],
    index: int,
    exits: contextlib.AsyncExitStack,
) -> SimGateway:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    creds = await asyncio.to_thread(stack.add_gateway, gateway_id)
    devices = [f"{gateway_id}-hr{n}" for n in range(straps)]
    await asyncio.to_thread(register, stack.database_url, gateway_id, devices)
    world = await exits.enter_async_context(VirtualWorld.running())
    gateway = SimGateway(gateway_id, world, TcpRelay(stack.mqtt_host, creds.port), folder, [])
    addresses = {}
    for n, device in enumerate(devices):
        address = f"F1:00:00:00:{index:02X}:{n:02X}"
        peripheral = await world.add("heart_rate", address, device)
        gateway.straps.append(Strap(device, peripheral))
        addresses[device] = address
    await gateway.relay.open()
    config = write_config(folder, transport=world.transport_spec, devices=addresses, outbox=outbox)
    env = gateway_env(stack, gateway_id, creds, port=gateway.relay.port)
    gateway.process = await asyncio.to_thread(
        spawn, env, folder / "edge.log", "edge", "run", "--config", str(config)
    )
    return gateway


async def _stop_gateway(gateway: SimGateway) -> int | None:
    code = None
    if gateway.process is not None:
        code = await asyncio.to_thread(terminate, gateway.process)
        gateway.process = None
    await gateway.relay.close()
    return code


@contextlib.asynccontextmanager
async def fleet(
    stack: RunningStack,
    prefix: str,
    folder: Path,
    *,
    gateways: int,
    straps: int,
    rate_hz: float,
    outbox: Mapping[str, Any],
) -> AsyncIterator[Fleet]:
    """Start ``gateways`` simulated gateways (``straps`` straps each) and wait until every
    agent is subscribed to every strap; stop the agents (SIGTERM) and the worlds on exit."""
    started: list[SimGateway] = []
    async with contextlib.AsyncExitStack() as exits:
        try:
            for i in range(gateways):
                gw = f"{prefix}-{i}"
                started.append(
                    await _start_gateway(
                        stack,
                        gw,
                        folder=folder / gw,
                        straps=straps,
                        outbox=outbox,
                        index=i,
                        exits=exits,
                    )
                )
            async with asyncio.timeout(START_DEADLINE_S):
                for gateway in started:
                    for strap in gateway.straps:
                        await strap.peripheral.subscribed.wait()
            yield Fleet(stack, started, rate_hz)
        finally:
            for gateway in started:
                await _stop_gateway(gateway)


async def stop_agents(fleet_: Fleet) -> list[int | None]:
    """SIGTERM every agent (a clean stop) and return the exit codes."""
    codes: list[int | None] = []
    for gateway in fleet_.gateways:
        if gateway.process is not None:
            codes.append(await asyncio.to_thread(terminate, gateway.process))
            gateway.process = None
    return codes
