"""The demo's shell: stack, registration, processes, the live view, the orderly stop, the summary.

Order of the stop (Ctrl-C, SIGTERM or the end of ``--duration``): the device processes first
(nothing new is produced), then the gateways' outboxes drain until the database holds every
reading the devices delivered (bounded by ``drain_s``), then the edge agents, then ingest and
analytics. Alerts are counted up to the moment the devices stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time
import tty
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO

import psycopg
from rich.console import Console
from rich.live import Live

from nabd.analytics.service import actions
from nabd.analytics.service.errors import MonitorError
from nabd.app.demo.fleet import REFUSED
from nabd.app.demo.gateways import edge_config, gateway_row, pending
from nabd.app.demo.plan import WardPlan, plan_ward, simulated_ward, wall_labels
from nabd.app.demo.registry import admit, discharge
from nabd.app.demo.rounds import NurseRounds, admission_round
from nabd.app.demo.settings import DemoOptions
from nabd.app.demo.snapshot import (
    UNCOUNTED,
    News2Counts,
    PatientRow,
    WardReader,
    WardSnapshot,
)
from nabd.app.demo.station import DemoStation, close_station, open_station
from nabd.app.demo.summary import Played, Summary, render_summary, summarise
from nabd.app.demo.supervise import Supervisor, nabd_command, service_environment, wait_for
from nabd.app.demo.view import ack_keys, progress_line, render
from nabd.app.stack import lifecycle
from nabd.app.stack.env import (
    DATABASE_URL,
    service_database_url_var,
)
from nabd.app.stack.ports import free_port
from nabd.app.stack.settings import StackSettings
from nabd.contract.alert_text import NAMES

__all__ = ["run_demo"]

CLINICAL_DATABASE_URL: Final = "NABD_CLINICAL_DATABASE_URL"

log = logging.getLogger(__name__)

STARTUP_S: Final = 8.0
INGEST_WORKER: Final = "demo"
"""The demo's ingest worker id: its broker session is ``nabd-ingest-demo``, ended at the end."""
"""Wall seconds between planning the ward and its first played instant (device processes
simulate their beds and start advertising meanwhile)."""
READY_TIMEOUT_S: Final = 90.0
STOP_TIMEOUT_S: Final = 20.0
HEADLESS_EVERY_S: Final = 5.0


@dataclass
class _Run:
    options: DemoOptions
    plan: WardPlan
    work: Path
    nurse_url: str
    """Who acknowledges: the clinical login if the stack has one, else the owner (as
    ``nabd alerts`` does)."""
    reader: WardReader
    supervisor: Supervisor
    rounds: NurseRounds
    message: str = ""
    station: str = ""
    """The station's line, kept in the view's footer (the printed one scrolls away)."""


def _fleet_record(run: _Run, gateway: str) -> Path:
    return run.work / "devices" / f"{gateway}.json"


def _records(run: _Run) -> list[dict[str, object]]:
    out = []
    for gateway in run.plan.gateways:
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(_fleet_record(run, gateway).read_text(encoding="utf-8")))
    return out


def _counted(run: _Run, wanted: Callable[[str], bool]) -> int:
    total = 0
    for record in _records(run):
        devices = record.get("devices", {})
        assert isinstance(devices, dict)
        for counts in devices.values():
            total += sum(n for key, n in counts.items() if wanted(key))
    return total


def generated(run: _Run) -> int:
    """Readings the devices delivered, from the device processes' records."""
    return _counted(run, lambda key: key not in UNCOUNTED and key != REFUSED)


def refused(run: _Run) -> int:
    """Samples the devices delivered that no reading can hold (impossible artefact values)."""
    return _counted(run, lambda key: key == REFUSED)


def _start_ingest(run: _Run, env: Mapping[str, str]) -> None:
    run.supervisor.start(
        "ingest",
        nabd_command("ingest", "run", "--worker-id", INGEST_WORKER),
        service_environment(env, "ingest"),
    )


def _retire_ingest(run: _Run, env: Mapping[str, str], out: TextIO) -> None:
    """End the demo's ingest worker's broker session (``nabd ingest retire``) once it stopped.

    The worker does not come back, and a persistent session left in the shared subscription's
    group would keep taking its share of the stack's observations after the demo, to be
    delivered only when gateways send them again: late readings for whoever uses the stack next.
    """
    child = run.supervisor.start(
        "ingest-retire",
        nabd_command("ingest", "retire", "--worker-id", INGEST_WORKER),
        service_environment(env, "ingest"),
    )
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.process.wait(STOP_TIMEOUT_S)
    code = run.supervisor.stop([child.name], STOP_TIMEOUT_S)[child.name]
    if code != 0:
        print(f"demo: ingest retire exited with {code}; see {child.log}", file=out, flush=True)


def _start_analytics(run: _Run, env: Mapping[str, str]) -> None:
    """Last, once the gateways are connected: a gateway's retained ``offline`` from an earlier
    run would otherwise page every bed for the seconds before its agent says ``online``."""
    run.supervisor.start(
        "analytics", nabd_command("analytics", "run"), service_environment(env, "analytics")
    )


def _start_gateways(run: _Run, settings: StackSettings) -> None:
    """One device process per gateway, then its edge agent once the devices advertise."""
    (run.work / "devices").mkdir(parents=True, exist_ok=True)
    ports: dict[str, int] = {}
    for gateway in run.plan.gateways:
        ports[gateway] = free_port(exclude=ports.values())
        run.supervisor.start(
            f"devices-{gateway}",
            [
                sys.executable,
                "-m",
                "nabd.app.demo.fleet",
                "--plan",
                str(run.work / "plan.json"),
                "--gateway",
                gateway,
                "--port",
                str(ports[gateway]),
                "--record",
                str(_fleet_record(run, gateway)),
            ],
            {},
        )

    def ready() -> bool:
        dead = run.supervisor.dead()
        if dead:
            raise RuntimeError(f"{dead[0].name} exited:\n{dead[0].tail()}")
        return sum(bool(r.get("ready")) for r in _records(run)) == len(run.plan.gateways)

    wait_for(ready, READY_TIMEOUT_S, "the virtual devices")
    environments = lifecycle.gateway_environments(settings, run.plan.gateways)
    for gateway in run.plan.gateways:
        config = edge_config(run.plan, gateway, run.work / "gateways" / gateway, ports[gateway])
        run.supervisor.start(
            f"edge-{gateway}",
            nabd_command("edge", "run", "--config", str(config)),
            environments[gateway],
        )


def snapshot(run: _Run, elapsed_s: float) -> WardSnapshot:
    """Everything the view shows, read now."""
    latest, news2, alerts = run.reader.latest(), run.reader.news2(), run.reader.alerts()
    by_patient: dict[str, list[object]] = {}
    for alert in alerts:
        by_patient.setdefault(alert.patient_id, []).append(alert)
    patients = []
    for bed in run.plan.beds:
        score = news2.get(bed.patient_id)
        patients.append(
            PatientRow(
                bed=bed.bed,
                patient_id=bed.patient_id,
                scenario=bed.scenario,
                gateway_id=bed.gateway_id,
                vitals=latest.get(bed.patient_id, {}),
                news2_total=None if score is None else score[0],
                news2_risk=None if score is None else score[1],
                news2_complete=False if score is None else score[2],
                alerts=tuple(a for a in alerts if a.patient_id == bed.patient_id),
            )
        )
    running = {c.name for c in run.supervisor.children.values() if c.running}
    gateways = tuple(
        gateway_row(
            g,
            run.work / "gateways" / g,
            f"edge-{g}" in running,
            sum(len(b.devices) for b in run.plan.beds_of(g)),
        )
        for g in run.plan.gateways
    )
    rows = tuple(patients)
    return WardSnapshot(
        ward_id=run.plan.ward_id,
        elapsed_s=max(0.0, min(elapsed_s, run.plan.play_s)),
        play_s=run.plan.play_s,
        speed=run.plan.speed,
        patients=rows,
        gateways=gateways,
        generated=generated(run),
        ingested=run.reader.ingested(),
        alerts_raised=len(alerts),
        keys=ack_keys(rows),
        message=run.message,
        station=run.station,
    )


class _Keyboard:
    """Single key presses from a terminal (cbreak mode), restored on exit; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stdin.isatty()
        self._saved: list[Any] | None = None

    def __enter__(self) -> _Keyboard:
        if self.enabled:
            self._saved = termios.tcgetattr(sys.stdin.fileno())
            tty.setcbreak(sys.stdin.fileno())
        return self

    def __exit__(self, *_: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)

    def keys(self, timeout_s: float) -> str:
        """Keys pressed within ``timeout_s`` (waits that long when none is)."""
        if not self.enabled:
            time.sleep(timeout_s)
            return ""
        ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
        return os.read(sys.stdin.fileno(), 32).decode(errors="ignore") if ready else ""


def acknowledge(run: _Run, current: WardSnapshot, key: str) -> str:
    """Acknowledge the alert shown with ``key``, as ``nabd alerts ack`` does (audited)."""
    chosen = [a for a, k in current.keys.items() if k == key]
    if not chosen:
        return ""
    try:
        with psycopg.connect(run.nurse_url, autocommit=True) as conn:
            row = actions.acknowledge(conn, uuid.UUID(chosen[0]), run.options.nurse)
    except (MonitorError, psycopg.Error) as error:
        return f"could not acknowledge: {error}"
    bed = next(b.bed for b in run.plan.beds if b.patient_id == row.patient_id)
    said = NAMES["en"].get(row.condition, row.condition)
    return f"bed {bed}: {said} acknowledged by {run.options.nurse}"


def _finished(run: _Run) -> bool:
    """Whether every device process has finished playing (its devices are silent)."""
    records = _records(run)
    return len(records) == len(run.plan.gateways) and all(r.get("finished") for r in records)


def _ended(run: _Run) -> bool:
    """Whether the ward has played to its end; RuntimeError if a process died."""
    dead = run.supervisor.dead()
    if dead:
        child = dead[0]
        raise RuntimeError(f"{child.name} exited ({child.process.returncode}):\n{child.tail()}")
    return _finished(run)


def _watch(run: _Run, live: bool, out: TextIO) -> None:
    """Show the ward until the end of play, Ctrl-C/SIGTERM, or a process dying."""
    console = Console(file=out)
    start = run.plan.wall_start
    last_line = 0.0
    with contextlib.ExitStack() as stack:
        keyboard = stack.enter_context(_Keyboard(live))
        screen = stack.enter_context(Live(console=console, auto_refresh=False)) if live else None
        while time.time() < run.plan.wall_end:
            if _ended(run):
                return
            current = snapshot(run, time.time() - start)
            if screen is not None:
                screen.update(render(current), refresh=True)
            elif time.monotonic() - last_line >= HEADLESS_EVERY_S:
                print(progress_line(current), file=out, flush=True)
                last_line = time.monotonic()
            run.message = run.rounds.step(run.nurse_url, time.time()) or run.message
            for key in keyboard.keys(1.0):
                run.message = acknowledge(run, current, key) or run.message


def _drain(run: _Run, out: TextIO) -> None:
    """Wait until the database holds every delivered reading (or ``drain_s`` passes)."""
    end = time.monotonic() + run.options.drain_s
    while time.monotonic() < end:
        outboxes = [pending(run.work / "gateways" / g) for g in run.plan.gateways]
        if all(p == 0 for p in outboxes) and run.reader.ingested() >= generated(run):
            return
        time.sleep(0.5)
    print(f"demo: outboxes not drained within {run.options.drain_s:g} s", file=out)


def _export(options: DemoOptions) -> int:
    from nabd.dashboards.i18n import Lang  # noqa: PLC0415 (heavy, only at the end)
    from nabd.dashboards.provisioning import export  # noqa: PLC0415
    from nabd.dashboards.registry import build_all  # noqa: PLC0415

    return len(export(options.export_dir, build_all(tuple(Lang))))


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while the ward plays."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(run: _Run, out: TextIO) -> float:
    """Stop in order; return when the devices stopped (alerts after it are not counted)."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop is bounded; let it finish
    try:
        print("demo: stopping the devices, draining the gateways...", file=out, flush=True)
        devices = [n for n in run.supervisor.children if n.startswith("devices-")]
        run.supervisor.signal(devices)  # silent now; their radios stay up for the gateways
        stopped = time.time()
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: _finished(run), STOP_TIMEOUT_S, "the devices")
        if any(n.startswith("edge-") for n in run.supervisor.children):
            _drain(run, out)
        edges = [n for n in run.supervisor.children if n.startswith("edge-")]
        codes = run.supervisor.stop(edges, STOP_TIMEOUT_S)
        codes |= run.supervisor.stop(devices, STOP_TIMEOUT_S)
        codes |= run.supervisor.stop_all(STOP_TIMEOUT_S)
        for name, code in codes.items():
            # -SIGTERM is the stop we asked for (uvicorn and ingest re-raise it after a clean
            # shutdown); anything else, a forced kill included, is worth a line.
            if code not in (0, -signal.SIGTERM):
                print(f"demo: {name} exited with status {code}", file=out, flush=True)
        return stopped
    finally:
        signal.signal(signal.SIGINT, old)


def _prepare(options: DemoOptions) -> tuple[StackSettings, dict[str, str], WardPlan, Path]:
    settings = (
        StackSettings() if options.state_dir is None else StackSettings(state_dir=options.state_dir)
    )
    lifecycle.up(settings)
    env = lifecycle.environment(settings)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="nabd-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    plan = plan_ward(options, run_id, time.time() + STARTUP_S)
    (work / "plan.json").write_text(plan.model_dump_json(indent=1), encoding="utf-8")
    lifecycle.add_gateways(settings, plan.gateways)
    admit(env[DATABASE_URL], plan)
    admission_round(env.get(CLINICAL_DATABASE_URL) or env[DATABASE_URL], plan, options.nurse)
    return settings, env, plan, work


def _news2_counts(reader: WardReader) -> News2Counts | None:
    """None when the database cannot be read any more (the summary then says nothing of it)."""
    try:
        return reader.news2_counts()
    except psycopg.Error:
        return None


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> tuple[int, Summary]:
    """Run the demo; return the exit status (1 if a reading was lost) and the summary."""
    settings, env, plan, work = _prepare(options)
    ward = simulated_ward(plan)
    labels = wall_labels(plan, ward.labels)
    reader = WardReader(
        env[service_database_url_var("dashboards")],
        [b.patient_id for b in plan.beds],
        plan.device_ids(),
    )
    (work / "logs").mkdir(exist_ok=True)
    nurse_url = env.get(CLINICAL_DATABASE_URL) or env[DATABASE_URL]
    rounds = NurseRounds.of(plan, ward, options.round_hours)
    run = _Run(options, plan, work, nurse_url, reader, Supervisor(work / "logs"), rounds)
    print(
        f"demo: {len(plan.beds)} beds, {len(plan.gateways)} gateways, x{plan.speed:g}, "
        f"{plan.play_s:.0f} s; logs in {work / 'logs'}",
        file=out,
        flush=True,
    )
    failure = ""
    stopped = time.time()
    station: DemoStation | None = None
    try:
        with _interruptible():
            station = open_station(
                run.supervisor, env, env[DATABASE_URL], plan.ward_id, free_port()
            )
            run.station = station.line().removeprefix("demo: ")
            print(station.line(), file=out, flush=True)
            _start_ingest(run, env)
            _start_gateways(run, settings)
            _start_analytics(run, env)
            _watch(run, live=not options.headless and out.isatty(), out=out)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as error:
        failure = str(error)
    finally:
        stopped = _stop(run, out)
        _retire_ingest(run, env, out)
        with contextlib.suppress(psycopg.Error):
            discharge(env[DATABASE_URL], plan)
            if station is not None:
                close_station(env[DATABASE_URL], station)
    files = _export(options)
    summary = summarise(
        generated=generated(run),
        ingested=reader.ingested(),
        refused=refused(run),
        labels=labels,
        alerts=reader.alerts(),
        played=Played(
            wall_start=plan.wall_start, planned_s=plan.play_s, speed=plan.speed, until=stopped
        ),
        export_dir=options.export_dir,
        exported_files=files,
        news2=_news2_counts(reader),
    )
    print(render_summary(summary), file=out, flush=True)
    print(rounds.line(), file=out, flush=True)
    if failure:
        print(f"\ndemo: stopped early: {failure}", file=out, flush=True)
    return (0 if summary.lossless and not failure else 1), summary
