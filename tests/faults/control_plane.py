"""The ``--ha`` stack's control plane fails while both PostgreSQL servers stay up.

Two faults, each while gateways publish (``tests/faults/test_ha_control_plane.py``):

* **etcd lost**: etcd kill -9, down ``ETCD_DOWN_S`` (longer than the ttl plus a retry, so a
  primary without ``failsafe_mode`` would have demoted itself), then ``nabd stack up``
  starts it again;
* **the primary's Patroni lost alone**: its Patroni process kill -9, its PostgreSQL left
  running (Patroni starts it detached); the node's guard (``nabd.app.stack.patroni_guard``)
  starts Patroni again;
* **the same, with no guard to restart it** (the guard kill -9 first): the replica is promoted
  after the ttl while the old server still runs; ``nabd stack up`` a little later finds that
  server without its Patroni and stops it before starting Patroni (the fence), so the commits
  that waited there for the lost standby fail instead of being released.

What is measured (docs/reliability.md), besides the scenario's own longest pause between two
commits of a device's readings (``ScenarioResult.pause_s``, the write outage): how many
transactions committed during the part of the etcd outage where a demoted primary could not
have taken any, who leads before and after, whether Patroni reported failsafe mode active,
whether the killed Patroni's PostgreSQL kept running, and how long until the cluster was whole
again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from nabd.app.stack import daemons, ha
from tests.faults.failover import HaControl
from tests.faults.pipeline import Fleet, commit_times
from tests.faults.scenarios import Fault, FaultContext
from tests.faults.stack_control import wait_for

ETCD_DOWN_S: Final = 20.0
DEMOTED_BY_S: Final = float(ha.TTL_S + ha.RETRY_TIMEOUT_S)
"""Without failsafe_mode a primary that lost the DCS has demoted itself by then (it stops
writing once its key could have expired; Patroni 3.0's ``_handle_dcs_error``)."""
PATRONI_BACK_DEADLINE_S: Final = 30.0
PROMOTION_DEADLINE_S: Final = 60.0
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
    promoted_s: float | None = None
    sync_s: float | None = None
    """Until the leader's ``pg_stat_replication`` shows its standby ``sync`` again (PostgreSQL's
    own view, not Patroni's ``/sync`` key, which a restarted Patroni leaves stale)."""

    def __str__(self) -> str:
        back = "-" if self.back_s is None else f"{self.back_s:.1f} s"
        if self.promoted_s is not None:
            return (
                f"{self.fault}: leader {self.leader_before} -> {self.leader_after}, promoted "
                f"{self.promoted_s:.1f} s after the kill, the old server still running then: "
                f"{self.postmaster_survived}; cluster whole {back} after the kill, standby sync "
                f"{self.sync_s:.1f} s after it"
            )
        if self.postmaster_survived is not None:
            return (
                f"{self.fault}: its PostgreSQL alive after the kill: {self.postmaster_survived}; "
                f"Patroni back and cluster ready after {back}, standby sync again after "
                f"{self.sync_s:.1f} s; leader {self.leader_before} -> {self.leader_after}"
            )
        return (
            f"{self.fault}: leader {self.leader_before} -> {self.leader_after}; its roles while "
            f"down {sorted(self.roles_seen)}, failsafe active seen {self.failsafe_seen}; "
            f"{self.commits_in_window} transactions committed {self.window}; cluster whole "
            f"{back} after `nabd stack up`, standby sync {self.sync_s:.1f} s after it"
        )


SYNC_DEADLINE_S: Final = 20.0


async def _until_sync(control: HaControl, start: float) -> float:
    """Seconds from ``start`` until the leader replicates synchronously again."""
    deadline = time.monotonic() + SYNC_DEADLINE_S
    while True:
        leader = await asyncio.to_thread(control.leader)
        state = "no leader"
        if leader is not None:
            state, _ = await asyncio.to_thread(control.replication, leader)
            if state == "sync":
                return time.monotonic() - start
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the leader's standby is '{state}', not 'sync', {SYNC_DEADLINE_S:g} s after "
                "the cluster was back: commits are acknowledged on one server only"
            )
        await asyncio.sleep(POLL_S)


def patch_cluster_config(control: HaControl, changes: dict[str, object]) -> None:
    """``PATCH /config`` on node0's REST API (authenticated), as ``patronictl edit-config``."""
    node = control.ha.nodes[0]
    secret = f"{ha.API_USER}:{control.ha.api_password.get_secret_value()}".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{node.api_port}/config",
        data=json.dumps(changes).encode(),
        method="PATCH",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(secret).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 (http:// above)
        pass


def cluster_config(control: HaControl) -> dict[str, object]:
    """The cluster's settings in etcd, as Patroni's ``GET /config`` shows them."""
    with urllib.request.urlopen(
        f"http://127.0.0.1:{control.ha.nodes[0].api_port}/config", timeout=5
    ) as reply:
        answer = json.loads(reply.read())
    assert isinstance(answer, dict)
    return answer


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
        commits = await asyncio.to_thread(
            commit_times, ctx.stack.database_url, list(f.sent), window_start, window_end
        )
        measured.commits_in_window = len({t for times in commits.values() for t in times})
        start = time.monotonic()
        await asyncio.to_thread(control.rejoin)  # nabd stack up: etcd again, cluster ready
        measured.back_s = time.monotonic() - start
        measured.sync_s = await _until_sync(control, start)
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
        measured.sync_s = await _until_sync(control, start)
        measured.restored_at = datetime.now(UTC)
        after = control.leader()
        measured.leader_after = "none" if after is None else f"node{after}"
        return f"node{leader}'s Patroni kill -9 (PostgreSQL left running), restarted by its guard"

    return fault


LATE_AFTER_PROMOTION_S: Final = 3.0


def unguarded_patroni_loss(measured: ControlPlaneLoss) -> Fault:
    """The primary's guard, then its Patroni, kill -9; once the replica is promoted (the old
    server still running, read-write, its commits waiting), ``LATE_AFTER_PROMOTION_S`` later,
    ``nabd stack up``: it must fence the old server before its Patroni starts."""

    async def fault(ctx: FaultContext, f: Fleet) -> str:
        control = HaControl(ctx.stack)
        leader = control.leader()
        if leader is None:
            raise AssertionError("the --ha stack has no primary before the fault")
        guard = ha.guard_pid(control.layout, leader)
        pid = ha.node_pid(control.layout, leader)
        postmaster = ha.postmaster_pid(control.layout, leader)
        if guard is None or pid is None or postmaster is None:
            raise AssertionError(f"node{leader}: guard {guard}, patroni {pid}, pg {postmaster}")
        measured.fault = "primary's guard and Patroni kill -9, `nabd stack up` after the failover"
        measured.leader_before = f"node{leader}"
        measured.devices = tuple(f.sent)
        await asyncio.to_thread(_kill, guard, f"node{leader}'s guard")
        measured.killed_at = datetime.now(UTC)
        start = time.monotonic()
        await asyncio.to_thread(_kill, pid, f"node{leader}'s Patroni")
        deadline = start + PROMOTION_DEADLINE_S
        new = await asyncio.to_thread(control.leader)
        while new is None or new == leader:
            if time.monotonic() > deadline:
                raise AssertionError(f"no promotion within {PROMOTION_DEADLINE_S:g} s")
            await asyncio.sleep(POLL_S)
            new = await asyncio.to_thread(control.leader)
        measured.promoted_s = time.monotonic() - start
        measured.postmaster_survived = daemons.alive(postmaster)  # two read-write servers now
        await asyncio.sleep(LATE_AFTER_PROMOTION_S)
        await asyncio.to_thread(control.rejoin)  # nabd stack up: fence, Patroni, rewind, ready
        measured.back_s = time.monotonic() - start
        measured.sync_s = await _until_sync(control, start)
        measured.restored_at = datetime.now(UTC)
        after = control.leader()
        measured.leader_after = "none" if after is None else f"node{after}"
        return (
            f"node{leader}'s guard and Patroni kill -9, node{new} promoted, `nabd stack up` "
            f"{LATE_AFTER_PROMOTION_S:g} s later"
        )

    return fault
