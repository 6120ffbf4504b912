"""The ``--ha`` fault: the PostgreSQL primary's node is lost (kill -9) while gateways publish.

"Lost" as a machine is lost: its Patroni's guard, its Patroni, its postmaster and every server
process, SIGKILLed together, so nothing is flushed, no leader key released, no shutdown
checkpoint written. The replica's Patroni must notice the leader key expire and promote its
server; ingest, which acknowledges a batch only after its commit returned, must find the new
primary through its multi-host URL; the gateways' outboxes send again what was not
acknowledged.

What is measured (RTO and RPO, docs/reliability.md):

* **to promotion**: kill -> Patroni reports another node as running leader (polled every 0.1 s);
* **to first commit**: kill -> the earliest ``ingested_at`` of a stored reading after the kill
  (a transaction's start, on the one clock of this machine, so a slight under-estimate);
* **to first tick**: kill -> analytics' first stored tick after it (analytics reconnects too);
* **replication at the kill**: the lost primary's ``pg_stat_replication`` just before: the
  standby's ``sync_state`` (``sync``: a commit returned only once the standby had flushed it)
  and how many WAL bytes it had not flushed yet (written, so not acknowledged to anyone);
* **rejoin**: ``nabd stack up`` afterwards restarts the lost node, which rejoins as a replica
  (rewound if it had diverged) until the cluster has a sync standby again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import psycopg

from nabd.app.stack import daemons, ha, lifecycle
from nabd.app.stack.env import database_url
from nabd.app.stack.layout import Layout
from nabd.app.stack.state import SUPERUSER, HaState, StackState, load_state
from nabd.app.stack.testing import RunningStack
from tests.faults.pipeline import START_DEADLINE_S, Fleet, ServiceProcess, spawn
from tests.faults.scenarios import Fault, FaultContext
from tests.faults.stack_control import wait_for

PROMOTION_DEADLINE_S: Final = 60.0
POLL_S: Final = 0.1


@dataclass
class Failover:
    """What one failover measured (``None``: not reached)."""

    killed: str = ""
    promoted: str = ""
    sync_state: str = ""
    unflushed_bytes: int | None = None
    to_promotion_s: float | None = None
    to_first_commit_s: float | None = None
    to_first_tick_s: float | None = None
    rejoin_s: float | None = None
    killed_at: datetime | None = None
    devices: tuple[str, ...] = ()

    def __str__(self) -> str:
        def s(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} s"

        if self.to_promotion_s is None:  # the standby was lost, the primary stayed
            return (
                f"killed {self.killed}; {self.promoted}: first transaction after the kill began "
                f"{s(self.to_first_commit_s)} after it; rejoin {s(self.rejoin_s)}"
            )
        return (
            f"killed {self.killed} (standby {self.sync_state}, {self.unflushed_bytes} WAL bytes "
            f"not yet flushed by it); {self.promoted} promoted after {s(self.to_promotion_s)}, "
            f"ingest's first commit after {s(self.to_first_commit_s)}, analytics' first tick "
            f"after {s(self.to_first_tick_s)}; rejoin {s(self.rejoin_s)}"
        )


class HaControl:
    """The ``--ha`` stack's nodes: who leads, replication state, losing a node, rejoining."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.layout = Layout(stack.settings.root)
        state = load_state(self.layout)
        if state is None or state.ha is None:
            raise AssertionError(f"{self.layout.root} is not an --ha stack")
        self.state: StackState = state
        self.ha: HaState = state.ha

    def leader(self) -> int | None:
        return ha.leader_index(self.ha)

    def _admin_url(self, index: int) -> str:
        password = self.state.postgres.superuser_password.get_secret_value()
        return database_url(SUPERUSER, password, self.ha.nodes[index].pg_port, "postgres")

    def replication(self, index: int) -> tuple[str, int | None]:
        """The standby's ``sync_state`` and its unflushed WAL bytes, as primary ``index`` sees."""
        query = (
            "SELECT sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint"
            " FROM pg_stat_replication"
        )
        with psycopg.connect(self._admin_url(index), connect_timeout=5) as conn:
            row = conn.execute(query).fetchone()
        if row is None:
            return "none", None
        return str(row[0]), None if row[1] is None else int(row[1])

    def lose_node(self, index: int) -> None:
        """SIGKILL the node's guard, its Patroni, its postmaster and every child of the
        postmaster (the guard first: it would start Patroni again, as on a live machine)."""
        guard = ha.guard_pid(self.layout, index)
        patroni = ha.node_pid(self.layout, index)
        postmaster = ha.postmaster_pid(self.layout, index)
        if patroni is None or postmaster is None:
            raise AssertionError(f"node{index} is not running (patroni {patroni}, pg {postmaster})")
        victims = [*([] if guard is None else [guard]), patroni, postmaster, *_children(postmaster)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not any(daemons.alive(p) for p in victims), f"node{index} gone", 10)

    def rejoin(self) -> float:
        """``nabd stack up`` (restarts the lost node); seconds until a sync standby again."""
        start = time.monotonic()
        lifecycle.up(self.stack.settings)
        return time.monotonic() - start


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


class AnalyticsProcess(ServiceProcess):
    """One ``nabd analytics run``, the other database client that must follow the primary."""

    def __init__(self, stack: RunningStack, log: Path) -> None:
        self.stack = stack
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        since = datetime.now(UTC)
        self.process = spawn(dict(self.stack.env), self.log, "analytics", "run")
        wait_for(lambda: self._ticked(since), "analytics' first tick", START_DEADLINE_S)

    def _ticked(self, since: datetime) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"analytics exited with {self.process.returncode}: {self.log}")
        return first_tick_after(self.stack.database_url, since) is not None


def first_tick_after(owner_url: str, since: datetime) -> datetime | None:
    """The earliest analytics tick stored after ``since``."""
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT min(time) FROM analytics_tick WHERE time > %s", (since,)
        ).fetchone()
    return None if row is None or row[0] is None else row[0]


def first_commit_after(owner_url: str, devices: list[str], since: datetime) -> datetime | None:
    """The earliest ``ingested_at`` after ``since`` among the devices' stored readings."""
    query = """
        SELECT min(t) FROM (
            SELECT min(ingested_at) AS t FROM observation
             WHERE device_id = ANY(%(d)s) AND ingested_at > %(s)s
            UNION ALL
            SELECT min(ingested_at) FROM unattributed_observation
             WHERE device_id = ANY(%(d)s) AND ingested_at > %(s)s
        ) both_tables
    """
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(query, {"d": devices, "s": since}).fetchone()
    return None if row is None or row[0] is None else row[0]


def replica_loss(measured: Failover) -> Fault:
    """The sync standby's node is lost instead: the primary must keep committing (Patroni
    drops the standby from ``synchronous_standby_names``; without that, commits would wait)."""

    async def fault(ctx: FaultContext, f: Fleet) -> str:
        control = HaControl(ctx.stack)
        leader = control.leader()
        if leader is None:
            raise AssertionError("the --ha stack has no primary before the fault")
        standby = next(i for i in range(len(control.ha.nodes)) if i != leader)
        measured.devices = tuple(f.sent)
        measured.killed = f"node{standby}"
        measured.promoted = f"node{leader} (still primary)"
        measured.killed_at = datetime.now(UTC)
        await asyncio.to_thread(control.lose_node, standby)
        return f"sync standby node{standby} lost (kill -9), node{leader} kept writing"

    return fault


def primary_loss(measured: Failover) -> Fault:
    """The fault for :func:`tests.faults.scenarios.run_scenario`, filling ``measured``."""

    async def fault(ctx: FaultContext, f: Fleet) -> str:
        control = HaControl(ctx.stack)
        old = control.leader()
        if old is None:
            raise AssertionError("the --ha stack has no primary before the fault")
        measured.sync_state, measured.unflushed_bytes = await asyncio.to_thread(
            control.replication, old
        )
        measured.devices = tuple(f.sent)
        measured.killed = f"node{old}"
        measured.killed_at = datetime.now(UTC)
        start = time.monotonic()
        await asyncio.to_thread(control.lose_node, old)
        deadline = start + PROMOTION_DEADLINE_S
        new = control.leader()
        while new is None or new == old:
            if time.monotonic() > deadline:
                raise AssertionError(f"no promotion within {PROMOTION_DEADLINE_S:g} s")
            await asyncio.sleep(POLL_S)
            new = await asyncio.to_thread(control.leader)
        measured.to_promotion_s = time.monotonic() - start
        measured.promoted = f"node{new}"
        return f"primary node{old} lost (kill -9), node{new} promoted"

    return fault
