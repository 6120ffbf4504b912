"""The ``--ha`` stack's control plane fails while both PostgreSQL servers stay up.

Two faults, each while gateways publish (``tests/faults/test_ha_control_plane.py``):

* **etcd lost**: etcd kill -9, down ``ETCD_DOWN_S`` (longer than the ttl plus a retry, so a
  primary without ``failsafe_mode`` would have demoted itself), then ``nabd stack up``
  starts it again;
* **the primary's Patroni lost alone**: its Patroni process kill -9, its PostgreSQL left
  running (Patroni starts it detached); the node's guard (``nabd.app.stack.patroni_guard``)
  starts Patroni again.

What is measured (docs/reliability.md): the **longest pause between two commits** of the
gateways' readings from just before the fault to its end (the write outage: ``ingested_at`` is
a transaction's start, so pauses are measured between transactions), how many transactions
committed during the part of the outage where a demoted primary could not have taken any, who
leads after, and whether Patroni reported failsafe mode active.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import psycopg

from nabd.app.stack import daemons, ha
from tests.faults.failover import HaControl
from tests.faults.pipeline import Fleet
from tests.faults.scenarios import Fault, FaultContext
from tests.faults.stack_control import wait_for

ETCD_DOWN_S: Final = 20.0
DEMOTED_BY_S: Final = float(ha.TTL_S + ha.RETRY_TIMEOUT_S)
"""Without failsafe_mode a primary that lost the DCS has demoted itself by then (it stops
writing once its key could have expired; Patroni 3.0's ``_handle_dcs_error``)."""
PATRONI_BACK_DEADLINE_S: Final = 30.0
POLL_S: Final = 0.25


@dataclass
class ControlPlaneLoss:
    """What one control-plane fault measured."""

    fault: str = ""
    leader_before: str = ""
    leader_after: str = ""
    killed_at: datetime | None = None
    restored_at: datetime | None = None
    devices: tuple[str, ...] = ()
    roles_seen: frozenset[str] = frozenset()
    failsafe_seen: bool = False
    postmaster_survived: bool | None = None
    commits_in_window: int = 0
    window: str = ""
    back_s: float | None = None
    longest_pause_s: float | None = None

    def __str__(self) -> str:
        back = "-" if self.back_s is None else f"{self.back_s:.1f} s"
        pause = "-" if self.longest_pause_s is None else f"{self.longest_pause_s:.1f} s"
        if self.postmaster_survived is not None:
            return (
                f"{self.fault}: its PostgreSQL alive after the kill: {self.postmaster_survived}; "
                f"Patroni back and cluster ready after {back}; leader {self.leader_before} -> "
                f"{self.leader_after}; longest pause between commits {pause}"
            )
        return (
            f"{self.fault}: leader {self.leader_before} -> {self.leader_after}; its roles while "
            f"down {sorted(self.roles_seen)}, failsafe active seen {self.failsafe_seen}; "
            f"{self.commits_in_window} transactions committed {self.window}; back after {back}; "
            f"longest pause between commits {pause}"
        )


def commit_times(
    owner_url: str, devices: list[str], since: datetime, until: datetime
) -> list[datetime]:
    """The distinct ``ingested_at`` (transactions) of the devices' readings in the interval."""
    query = """
        SELECT DISTINCT t FROM (
            SELECT ingested_at AS t FROM observation
             WHERE device_id = ANY(%(d)s) AND ingested_at BETWEEN %(s)s AND %(u)s
            UNION ALL
            SELECT ingested_at FROM unattributed_observation
             WHERE device_id = ANY(%(d)s) AND ingested_at BETWEEN %(s)s AND %(u)s
        ) both_tables ORDER BY t
    """
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(query, {"d": devices, "s": since, "u": until}).fetchall()
    return [row[0] for row in rows]


def longest_pause(times: list[datetime], start: datetime, end: datetime) -> float:
    """The longest interval without a commit in ``[start, end]`` (the ends count as bounds)."""
    marks = [start, *(t for t in times if start <= t <= end), end]
    return max((b - a).total_seconds() for a, b in itertools.pairwise(marks))


def measure_outage(ctx: FaultContext, measured: ControlPlaneLoss, after: datetime) -> None:
    """Fill ``longest_pause_s``: from 1 s before the fault to ``after``."""
    assert measured.killed_at is not None
    start = measured.killed_at - timedelta(seconds=1)
    times = commit_times(ctx.stack.database_url, list(measured.devices), start, after)
    measured.longest_pause_s = longest_pause(times, start, after)


def _kill(pid: int, what: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not daemons.alive(pid), f"{what} gone", 10)


def etcd_loss(measured: ControlPlaneLoss) -> Fault:
    """etcd kill -9, down ``ETCD_DOWN_S`` while the primary's own status is polled, then
    ``nabd stack up`` (which starts etcd again and waits for a leader and a sync standby)."""

    async def fault(ctx: FaultContext, f: Fleet) -> str:
        control = HaControl(ctx.stack)
        leader = control.leader()
        pid = ha.etcd_pid(control.layout)
        if leader is None or pid is None:
            raise AssertionError(f"before the fault: leader {leader}, etcd pid {pid}")
        measured.fault = "etcd kill -9"
        measured.leader_before = f"node{leader}"
        measured.devices = tuple(f.sent)
        measured.killed_at = datetime.now(UTC)
        await asyncio.to_thread(_kill, pid, "etcd")
        roles: set[str] = set()
        deadline = time.monotonic() + ETCD_DOWN_S
        while time.monotonic() < deadline:
            status = await asyncio.to_thread(ha.node_status, control.ha, leader)
            if status is not None:
                roles.add(str(status.get("role")))
                measured.failsafe_seen |= bool(status.get("failsafe_mode_is_active"))
            await asyncio.sleep(POLL_S)
        measured.roles_seen = frozenset(roles)
        window_start = measured.killed_at + timedelta(seconds=DEMOTED_BY_S)
        window_end = datetime.now(UTC)
        measured.window = (
            f"from {DEMOTED_BY_S:g} s after the kill to etcd's restart ({ETCD_DOWN_S:g} s after it)"
        )
        measured.commits_in_window = len(
            await asyncio.to_thread(
                commit_times, ctx.stack.database_url, list(f.sent), window_start, window_end
            )
        )
        start = time.monotonic()
        await asyncio.to_thread(control.rejoin)  # nabd stack up: etcd again, cluster ready
        measured.back_s = time.monotonic() - start
        measured.restored_at = datetime.now(UTC)
        after = control.leader()
        measured.leader_after = "none" if after is None else f"node{after}"
        return f"etcd kill -9, down {ETCD_DOWN_S:g} s, restarted by `nabd stack up`"

    return fault


def patroni_loss(measured: ControlPlaneLoss) -> Fault:
    """The primary's Patroni kill -9 (its PostgreSQL stays); wait until its guard has started
    it again and the cluster has a running leader and a sync standby."""

    async def fault(ctx: FaultContext, f: Fleet) -> str:
        control = HaControl(ctx.stack)
        leader = control.leader()
        if leader is None:
            raise AssertionError("the --ha stack has no primary before the fault")
        pid = ha.node_pid(control.layout, leader)
        postmaster = ha.postmaster_pid(control.layout, leader)
        if pid is None or postmaster is None:
            raise AssertionError(f"node{leader}: patroni {pid}, postmaster {postmaster}")
        measured.fault = "primary's Patroni kill -9"
        measured.leader_before = f"node{leader}"
        measured.devices = tuple(f.sent)
        measured.killed_at = datetime.now(UTC)
        start = time.monotonic()
        await asyncio.to_thread(_kill, pid, f"node{leader}'s Patroni")
        measured.postmaster_survived = daemons.alive(postmaster)
        deadline = start + PATRONI_BACK_DEADLINE_S
        while True:
            again = ha.node_pid(control.layout, leader)
            if again not in (None, pid) and await asyncio.to_thread(ha.ready, control.ha):
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"node{leader}'s Patroni not back within {PATRONI_BACK_DEADLINE_S:g} s "
                    f"(pid {again}); cluster: {ha.describe(control.ha)}"
                )
            await asyncio.sleep(POLL_S)
        measured.back_s = time.monotonic() - start
        measured.restored_at = datetime.now(UTC)
        after = control.leader()
        measured.leader_after = "none" if after is None else f"node{after}"
        return f"node{leader}'s Patroni kill -9 (PostgreSQL left running), restarted by its guard"

    return fault
