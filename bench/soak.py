"""Soak: the whole pipeline at half its maximum rate for a while; memory must stay flat.

Usage (from the repository root)::

    .venv/bin/python bench/soak.py                      # 10 minutes, rate measured first
    .venv/bin/python bench/soak.py --duration 60        # smoke run
    .venv/bin/python bench/soak.py --rate 800 --duration 3600 --sample-s 30

It starts its own stack in a temporary folder, registers ``--gateways`` gateways of one patient
each (a chest strap and an oximeter per gateway, assigned, so analytics scores every patient),
and runs ``nabd ingest run`` and ``nabd analytics run`` as processes. The generator is the MQTT
load generator, ``nabd simulate load`` (virtual gateways publishing contract batches over TLS,
QoS 1, recording every batch it sent), also a process. Without ``--rate`` it first measures the
pipeline's maximum: the generator offers far more than ingest can take for ``--measure-s``
seconds and the rate is what ingest committed per second (``ingested_batch``); the soak then
runs at half of that. Every ``--sample-s`` seconds it reads each process's resident memory from
``/proc`` (PostgreSQL: the sum over the postmaster and its backends of their *private* memory,
``RssAnon``, since shared buffers fill up by design). At the end it prints the memory table, the
loss and duplicate counts of the soak's record against the database (``nabd simulate loss``'s
``count_loss``), and a verdict per process: flat when the least-squares trend over the second
half of the run grows by less than ``--flat-mib`` MiB (or ``--flat-frac`` of its mean).
Exit status 1 if anything was lost or duplicated or a process's memory was not flat.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# -- pure parts (tested in tests/faults/test_soak_parts.py) ----------------------------------


@dataclass(frozen=True)
class Verdict:
    """A process's memory trend over the second half of the run."""

    process: str
    mean_mib: float
    growth_mib: float
    """Least-squares slope times the second half's duration."""
    flat: bool


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0 with fewer than two distinct ``xs``)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def verdict(
    process: str,
    times_s: Sequence[float],
    mib: Sequence[float],
    *,
    flat_mib: float = 8.0,
    flat_frac: float = 0.05,
) -> Verdict:
    """Flat when the trend over the second half of the samples grows less than ``flat_mib`` MiB
    or less than ``flat_frac`` of the mean (the first half is warm-up: caches, pools, imports)."""
    half = len(times_s) // 2
    xs, ys = list(times_s[half:]), list(mib[half:])
    mean = sum(ys) / len(ys) if ys else 0.0
    growth = slope(xs, ys) * (xs[-1] - xs[0]) if len(xs) >= 2 else 0.0
    return Verdict(process, mean, growth, growth < max(flat_mib, flat_frac * mean))


def memory_table(times_s: Sequence[float], series: Mapping[str, Sequence[float]]) -> str:
    """One line per sample: elapsed seconds, then each process's memory in MiB."""
    names = list(series)
    widths = [max(9, len(n)) for n in names]
    head = "  ".join(["t (s)".rjust(6), *(n.rjust(w) for n, w in zip(names, widths, strict=True))])
    lines = [head]
    for i, t in enumerate(times_s):
        cells = [f"{series[n][i]:.1f}".rjust(w) for n, w in zip(names, widths, strict=True)]
        lines.append("  ".join([f"{t:6.0f}", *cells]))
    return "\n".join(lines)


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    lines = [f"{'process':<12} {'mean MiB':>9} {'growth MiB (2nd half)':>22}  verdict"]
    for v in verdicts:
        word = "flat" if v.flat else "GROWING"
        lines.append(f"{v.process:<12} {v.mean_mib:9.1f} {v.growth_mib:22.2f}  {word}")
    return "\n".join(lines)


# -- /proc -----------------------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def rss_mib(pid: int | None) -> float:
    return 0.0 if pid is None else _status_kib(pid, "VmRSS") / 1024


def private_tree_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    return sum(_status_kib(p, "RssAnon") for p in [pid, *children_of(pid)]) / 1024


# -- the run ---------------------------------------------------------------------------------

_ROOT = str(Path(__file__).resolve().parents[1])


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nabd.app.cli", *args]


@contextlib.contextmanager
def child_process(
    args: list[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        child = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            child.wait(60)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {what}")
        time.sleep(0.2)


def ingest_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return b"nabd_ingest_mqtt_connected 1.0" in r.read()
    except OSError:
        return False


def _register(owner_url: str, gateways: Sequence[str]) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('soak', 'Soak') ON CONFLICT DO NOTHING")
        for gw in gateways:
            patient = f"p-{gw}"
            conn.execute("INSERT INTO gateway (id, ward_id) VALUES (%s, 'soak')", (gw,))
            conn.execute("INSERT INTO patient (id, ward_id) VALUES (%s, 'soak')", (patient,))
            for device, kind in ((f"{gw}-hr0", "heart_rate"), (f"{gw}-ox1", "pulse_oximeter")):
                conn.execute(
                    "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, %s)",
                    (device, gw, kind),
                )
                conn.execute(
                    "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                    " VALUES (%s, %s, tstzrange('2020-01-01', NULL), 'soak')",
                    (device, patient),
                )


def _committed(owner_url: str) -> tuple[int, float]:
    """Batches in ``ingested_batch`` and the span of their commits (s)."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(committed_at) - min(committed_at))"
            " FROM ingested_batch"
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1] or 0.0)


def _analytics_work(owner_url: str) -> str:
    """What analytics did: ticks, patients per tick, NEWS2 scores written."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(owner_url) as conn:
        ticks = conn.execute(
            "SELECT count(*), coalesce(max(patients), 0), coalesce(avg(duration_ms), 0)"
            " FROM analytics_tick"
        ).fetchone()
        scores = conn.execute("SELECT count(*) FROM news2_score").fetchone()
    assert ticks is not None
    assert scores is not None
    return (
        f"analytics: {ticks[0]} ticks, up to {ticks[1]} patients, mean tick {ticks[2]:.1f} ms, "
        f"{scores[0]} NEWS2 scores"
    )


@dataclass
class Run:
    args: argparse.Namespace
    folder: Path
    stack_dir: Path
    env: Mapping[str, str]
    owner_url: str

    def load(self, rate: float, duration: float, record: Path) -> list[str]:
        return cli(
            "simulate", "load", "--state-dir", str(self.stack_dir), "--prefix", "soak",
            "--gateways", str(self.args.gateways), "--rate", f"{rate:g}",
            "--duration", f"{duration:g}", "--acks", "--record", str(record),
        )  # fmt: skip

    def measure_max(self) -> float:
        """Offer far more than ingest takes; ingest's commit rate is the pipeline's maximum."""
        before, _ = _committed(self.owner_url)
        record = self.folder / "measure.sqlite"
        cmd = self.load(self.args.offer, self.args.measure_s, record)
        subprocess.run(cmd, env={**os.environ, **self.env}, check=True, capture_output=True)
        time.sleep(self.args.measure_s)  # let ingest drain what the broker queued
        count, span = _committed(self.owner_url)
        return (count - before) / span if span > 0 else 0.0


def _sample(pids: Mapping[str, int | None], pg_pid: int | None) -> dict[str, float]:
    out = {name: rss_mib(pid) for name, pid in pids.items()}
    out["postgres"] = private_tree_mib(pg_pid)
    return out


def soak(run: Run, rate: float, pids: dict[str, int | None], pg_pid: int | None) -> int:
    args = run.args
    record = run.folder / "soak.sqlite"
    times: list[float] = []
    series: dict[str, list[float]] = {}
    started = time.monotonic()
    with child_process(
        run.load(rate, args.duration, record), run.env, run.folder / "load.log"
    ) as gen:
        pids["generator"] = gen.pid
        while gen.poll() is None:
            for name, value in _sample(pids, pg_pid).items():
                series.setdefault(name, []).append(value)
            times.append(time.monotonic() - started)
            time.sleep(args.sample_s)
        if gen.returncode != 0:
            raise SystemExit(f"the load generator failed; see {run.folder / 'load.log'}")
    del series["generator"]  # it exits with the run: its last samples are not comparable
    return _report(run, record, times, series)


def _report(run: Run, record: Path, times: list[float], series: dict[str, list[float]]) -> int:
    sys.path.insert(0, _ROOT)
    from nabd.simulators.load_record import SentRecord  # noqa: PLC0415
    from nabd.simulators.loss import count_loss  # noqa: PLC0415

    time.sleep(10)  # let ingest commit the last batches
    with SentRecord.open(record) as sent:
        loss = count_loss(sent, run.owner_url)
    verdicts = [
        verdict(n, times, s, flat_mib=run.args.flat_mib, flat_frac=run.args.flat_frac)
        for n, s in series.items()
    ]
    print(memory_table(times, series))
    print()
    print(verdict_table(verdicts))
    print(
        f"\nreadings sent {loss.sent}, stored {loss.found}, missing {loss.missing}, "
        f"duplicates {loss.duplicates}, unexpected {loss.unexpected}"
    )
    print(_analytics_work(run.owner_url))
    ok = loss.missing == 0 and loss.duplicates == 0 and all(v.flat for v in verdicts)
    return 0 if ok else 1


def _arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=600.0, help="soak seconds (default 600)")
    p.add_argument("--rate", type=float, help="batches/s; default: half the measured maximum")
    p.add_argument("--gateways", type=int, default=100)
    p.add_argument("--sample-s", type=float, default=10.0)
    p.add_argument("--measure-s", type=float, default=15.0)
    p.add_argument("--offer", type=float, default=4000.0, help="batches/s offered to measure")
    p.add_argument("--flat-mib", type=float, default=8.0)
    p.add_argument("--flat-frac", type=float, default=0.05)
    return p.parse_args()


def main() -> int:
    args = _arguments()
    sys.path.insert(0, _ROOT)
    from nabd.app.stack import mosquitto, postgres  # noqa: PLC0415
    from nabd.app.stack.layout import Layout  # noqa: PLC0415
    from nabd.app.stack.ports import free_port  # noqa: PLC0415
    from nabd.app.stack.testing import running_stack  # noqa: PLC0415

    folder = Path(tempfile.mkdtemp(prefix="nabd-soak-"))
    folder.chmod(0o711)
    try:
        with running_stack(folder / "stack", timeout=60.0) as stack:
            gateways = [f"soak-{i:05d}" for i in range(args.gateways)]
            stack.add_gateways(gateways)
            _register(stack.database_url, gateways)
            run = Run(args, folder, folder / "stack", stack.env, stack.database_url)
            port = free_port()
            ingest = cli("ingest", "run", "--worker-id", "soak", "--metrics-port", str(port))
            with (
                child_process(ingest, stack.env, folder / "ingest.log") as ing,
                child_process(cli("analytics", "run"), stack.env, folder / "analytics.log") as ana,
            ):
                wait_until(lambda: ingest_ready(port), "ingest connected", 60)
                rate = args.rate
                if rate is None:
                    top = run.measure_max()
                    rate = top / 2
                    print(f"measured maximum {top:.0f} batches/s; soaking at {rate:.0f}")
                layout = Layout(stack.state_dir)
                pids: dict[str, int | None] = {
                    "ingest": ing.pid,
                    "analytics": ana.pid,
                    "mosquitto": mosquitto.running_pid(layout),
                }
                code = soak(run, rate, pids, postgres.postmaster_pid(layout))
                print(f"rate {rate:.0f} batches/s ({4 * rate:.0f} readings/s), "
                      f"{args.gateways} gateways, {args.duration:g} s")  # fmt: skip
                return code
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
