"""The fault scenarios, shared by the CI suite (``SHORT``) and ``bench/faults.py`` (``LONG``).

Each scenario starts its own simulated gateways (fresh gateway and device ids, fresh outboxes),
lets them publish, injects its fault while they keep publishing, stops the generators, waits
until every outbox is empty and every generated reading is in the database, stops the agents
cleanly and counts (see ``tally``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from nabd.app.stack.testing import RunningStack, running_stack
from tests.faults.pipeline import (
    METRIC,
    Fleet,
    IngestProcess,
    commit_times,
    fleet,
    stop_agents,
    stored_rows,
)
from tests.faults.stack_control import DROP_NOTICE, StackControl, wait_for
from tests.faults.tally import ScenarioResult, longest_pause, tally


@dataclass(frozen=True)
class Profile:
    """How hard each scenario pushes."""

    gateways: int = 2
    straps: int = 2
    rate_hz: float = 10.0  # heart rates per strap per second
    warmup_s: float = 3.0
    after_s: float = 2.0
    broker_kills: int = 5
    broker_gap_s: float = 1.5
    pg_restarts: int = 1
    pg_down_s: float = 2.0
    ingest_kills: int = 1
    ingest_down_s: float = 2.0
    cutoff_s: float = 20.0
    overflow_limit: int = 10
    overflow_s: float = 5.0
    ack_timeout_s: float = 3.0
    drain_timeout_s: float = 90.0


SHORT: Final = Profile()
LONG: Final = Profile(
    gateways=4,
    rate_hz=20.0,
    warmup_s=10.0,
    after_s=10.0,
    broker_kills=20,
    broker_gap_s=10.0,
    pg_restarts=5,
    pg_down_s=10.0,
    ingest_kills=5,
    ingest_down_s=10.0,
    cutoff_s=600.0,
    overflow_limit=100,
    overflow_s=60.0,
    drain_timeout_s=900.0,
)


@dataclass
class FaultContext:
    """The fault stack, its control, the ingest worker and a folder for gateways and logs."""

    stack: RunningStack
    control: StackControl
    ingest: IngestProcess
    folder: Path
    profile: Profile


Fault = Callable[[FaultContext, Fleet], Awaitable[str]]


def check_clean(result: ScenarioResult) -> None:
    """Every generated reading stored exactly once, nothing unexpected, every outbox empty."""
    assert result.generated > 0
    assert (result.missing, result.duplicates, result.unexpected) == (0, 0, 0), result
    assert result.stored == result.generated, result
    assert result.outbox_left == 0, result


def _outbox_options(profile: Profile, **more: Any) -> dict[str, Any]:
    return {"ack_timeout_s": profile.ack_timeout_s, "batch_max_readings": 20, **more}


async def run_scenario(
    ctx: FaultContext, name: str, fault: Fault, outbox: dict[str, Any] | None = None
) -> ScenarioResult:
    p = ctx.profile
    async with fleet(
        ctx.stack,
        f"f-{name.replace('_', '-')}",
        ctx.folder / name,
        gateways=p.gateways,
        straps=p.straps,
        rate_hz=p.rate_hz,
        outbox=outbox or _outbox_options(p),
    ) as f:
        f.feed()
        await asyncio.sleep(p.warmup_s)
        fault_start = datetime.now(UTC)
        note = await fault(ctx, f)
        await asyncio.sleep(p.after_s)
        publishing_end = datetime.now(UTC)
        await f.pause()
        start = time.monotonic()
        try:
            await asyncio.to_thread(wait_for, f.drained, name, p.drain_timeout_s, 0.25)
        except AssertionError as exc:
            state = f"{f.progress()}; ingest {ctx.ingest.state()}"
            raise AssertionError(f"{exc}: not drained: {state}") from None
        drain_s = time.monotonic() - start
        codes = await stop_agents(f)
        if any(code != 0 for code in codes):
            raise AssertionError(f"{name}: an agent did not stop cleanly: {codes}")
        left = f.outbox_left()
        note = f"{note}; {f.resends()} batch re-sends"
        rows = await asyncio.to_thread(stored_rows, ctx.stack.database_url, list(f.sent))
        counts = tally(f.sent, rows, METRIC)
        commits = await asyncio.to_thread(
            commit_times, ctx.stack.database_url, list(f.sent), fault_start, publishing_end
        )
    return ScenarioResult(
        name,
        counts.generated,
        counts.stored,
        counts.missing,
        counts.duplicates,
        counts.unexpected,
        left,
        drain_s,
        note,
        longest_pause(commits, fault_start, publishing_end),
    )


async def _broker_kills(ctx: FaultContext, f: Fleet) -> str:
    for _ in range(ctx.profile.broker_kills):
        await asyncio.to_thread(ctx.control.kill_broker)
        await asyncio.to_thread(ctx.control.start_broker)
        await asyncio.sleep(ctx.profile.broker_gap_s)
    return f"broker kill -9 + restart x{ctx.profile.broker_kills}"


async def _postgres_immediate(ctx: FaultContext, f: Fleet) -> str:
    for _ in range(ctx.profile.pg_restarts):
        await asyncio.to_thread(ctx.control.stop_postgres_immediate)
        await asyncio.sleep(ctx.profile.pg_down_s)
        await asyncio.to_thread(ctx.control.start_postgres)
        await asyncio.sleep(ctx.profile.warmup_s)
    return f"pg_ctl stop -m immediate x{ctx.profile.pg_restarts}, down {ctx.profile.pg_down_s:g} s"


async def _ingest_kill(ctx: FaultContext, f: Fleet) -> str:
    for _ in range(ctx.profile.ingest_kills):
        await asyncio.to_thread(ctx.ingest.kill9)
        await asyncio.sleep(ctx.profile.ingest_down_s)
        await asyncio.to_thread(ctx.ingest.start)
        await asyncio.sleep(ctx.profile.warmup_s)
    return f"ingest kill -9 x{ctx.profile.ingest_kills}, down {ctx.profile.ingest_down_s:g} s"


async def _gateway_cutoff(ctx: FaultContext, f: Fleet) -> str:
    gateway = f.gateways[0]
    await f.cut(gateway)
    await asyncio.sleep(ctx.profile.cutoff_s)
    backlog = gateway.outbox_left()
    await f.reconnect(gateway)
    return f"{gateway.gateway_id} cut off {ctx.profile.cutoff_s:g} s, outbox {backlog} at reconnect"


async def _queue_overflow(ctx: FaultContext, f: Fleet) -> str:
    client = f"nabd-ingest-{ctx.ingest.worker_id}"
    offset = await asyncio.to_thread(ctx.control.broker_log_size)
    await asyncio.to_thread(ctx.ingest.stop)  # offline, session kept: the broker queues for it
    await asyncio.sleep(ctx.profile.overflow_s)
    log = await asyncio.to_thread(ctx.control.broker_log_since, offset)
    dropped = f"{DROP_NOTICE} {client}" in log
    await asyncio.to_thread(ctx.ingest.start)
    if not dropped:
        raise AssertionError(f"the broker did not drop for {client}: the queue never overflowed")
    return (
        f"max_queued_messages {ctx.profile.overflow_limit}, ingest offline "
        f"{ctx.profile.overflow_s:g} s; broker logged '{DROP_NOTICE} {client}'"
    )


def broker_kills(ctx: FaultContext) -> ScenarioResult:
    return asyncio.run(run_scenario(ctx, "broker_kill9", _broker_kills))


def postgres_immediate(ctx: FaultContext) -> ScenarioResult:
    return asyncio.run(run_scenario(ctx, "postgres_immediate", _postgres_immediate))


def ingest_kill(ctx: FaultContext) -> ScenarioResult:
    return asyncio.run(run_scenario(ctx, "ingest_kill9", _ingest_kill))


def gateway_cutoff(ctx: FaultContext) -> ScenarioResult:
    return asyncio.run(run_scenario(ctx, "gateway_cutoff", _gateway_cutoff))


def queue_overflow(ctx: FaultContext) -> ScenarioResult:
    """The broker's queue for the offline ingest session overflows and drops; the gateways,
    never acknowledged for those batches, send them again after ``ack_timeout_s``.

    Many small batches in flight per gateway, so that more are queued than the limit allows.
    """
    p = ctx.profile
    ctx.control.restart_broker_with_queue_limit(p.overflow_limit)
    try:
        wait_for(ctx.ingest.connected, "ingest back on the limited broker", 60)
        outbox = _outbox_options(p, batch_max_readings=2, max_batches_in_flight=1000)
        return asyncio.run(run_scenario(ctx, "queue_overflow", _queue_overflow, outbox))
    finally:
        ctx.control.restore_broker()
        wait_for(ctx.ingest.connected, "ingest back on the restored broker", 60)


SCENARIOS: Final[dict[str, Callable[[FaultContext], ScenarioResult]]] = {
    "broker_kill9": broker_kills,
    "postgres_immediate": postgres_immediate,
    "ingest_kill9": ingest_kill,
    "gateway_cutoff": gateway_cutoff,
    "queue_overflow": queue_overflow,
}


def with_overrides(profile: Profile, **changes: Any) -> Profile:
    return replace(profile, **{k: v for k, v in changes.items() if v is not None})


@contextlib.contextmanager
def fault_context(profile: Profile, *, ha: bool = False) -> Iterator[FaultContext]:
    """A private stack in a fresh folder under /tmp (started with the suite's own code), one
    ingest worker on it; both stopped and the folder removed on exit. ``ha``: the stack is a
    Patroni cluster (``nabd stack up --ha``)."""
    # mkdtemp, not pytest's tmp_path: as root the servers run as other users (see conftest).
    folder = Path(tempfile.mkdtemp(prefix="nabd-faults-"))
    folder.chmod(0o711)  # the servers' users must be able to enter it (logs and gateways: ours)
    try:
        with running_stack(folder / "stack", timeout=60.0, ha=ha) as stack:
            ingest = IngestProcess(stack, "faults-1", folder)
            ingest.start()
            try:
                yield FaultContext(stack, StackControl(stack), ingest, folder, profile)
            finally:
                ingest.stop()
    finally:
        if not os.environ.get("NABD_FAULTS_KEEP"):
            shutil.rmtree(folder, ignore_errors=True)
