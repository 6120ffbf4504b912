"""``nabd stack up --ha``: the PostgreSQL primary's node is lost (kill -9) while gateways
publish; Patroni promotes the replica and nothing acknowledged is lost or stored twice. Then
the sync standby's node is lost: the primary keeps committing alone.

The numbers (RTO to promotion and to the first commit, the standby's state at the kill, the
rejoin) are printed (``-s``) and stated in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from nabd.app.stack.ha import RECONNECT_MAX_S
from tests.faults.failover import (
    Failover,
    HaControl,
    first_commit_after,
    first_tick_after,
    primary_loss,
    replica_loss,
)
from tests.faults.scenarios import (
    Fault,
    FaultContext,
    check_clean,
    run_scenario,
)
from tests.faults.stack_control import wait_for
from tests.faults.tally import ScenarioResult

pytestmark = [pytest.mark.integration, pytest.mark.faults]

TICK_AFTER_PROMOTION_S = 30.0
STANDBY_LOSS_BOUND_S = 10.0
"""Commits may wait for Patroni to drop the lost sync standby (one loop, 1 s, plus its
retry_timeout 3 s when the standby's API does not answer): longer is a regression."""
PROMOTION_BOUND_S = 25.0
FIRST_COMMIT_AFTER_PROMOTION_S = 2.0 * RECONNECT_MAX_S
"""Ingest retries at least every RECONNECT_MAX_S (what `nabd stack env` sets on an --ha stack):
its first commit after the promotion must follow within that, with room for a loaded machine."""
"""Patroni's ttl (10 s) + loop_wait (1 s) + its retry_timeout (3 s), with room for a busy
2-core machine: a promotion slower than this is a regression."""


def _lose_a_node(
    ctx: FaultContext, name: str, fault: Callable[[Failover], Fault]
) -> tuple[ScenarioResult, Failover]:
    """Run the scenario with ``fault``; its measurements, with the first commit after it."""
    measured = Failover()
    result = asyncio.run(run_scenario(ctx, name, fault(measured)))
    assert measured.killed_at is not None
    devices = list(measured.devices)
    first = first_commit_after(ctx.stack.database_url, devices, measured.killed_at)
    assert first is not None, f"{name}: nothing was committed after the node was lost"
    measured.to_first_commit_s = (first - measured.killed_at).total_seconds()
    return result, measured


def test_primary_lost_replica_promoted_nothing_lost_or_doubled(ha_faults: FaultContext) -> None:
    result, measured = _lose_a_node(ha_faults, "postgres_failover", primary_loss)
    assert measured.killed_at is not None
    owner_url = ha_faults.stack.database_url
    promoted_at = measured.killed_at + timedelta(seconds=measured.to_promotion_s or 0.0)
    wait_for(
        lambda: first_tick_after(owner_url, promoted_at) is not None,
        "analytics ticking on the new primary",
        TICK_AFTER_PROMOTION_S,
    )
    tick = first_tick_after(owner_url, measured.killed_at)
    assert tick is not None
    measured.to_first_tick_s = (tick - measured.killed_at).total_seconds()
    measured.rejoin_s = HaControl(ha_faults.stack).rejoin()
    print(f"\n{result}\n{measured}")
    check_clean(result)
    assert measured.sync_state == "sync", measured
    assert measured.to_promotion_s is not None
    assert measured.to_promotion_s < PROMOTION_BOUND_S, measured
    assert measured.promoted != measured.killed
    assert measured.to_first_commit_s is not None
    after_promotion = measured.to_first_commit_s - measured.to_promotion_s
    assert after_promotion < FIRST_COMMIT_AFTER_PROMOTION_S, measured


def test_standby_lost_primary_keeps_committing_nothing_lost_or_doubled(
    ha_faults: FaultContext,
) -> None:
    result, measured = _lose_a_node(ha_faults, "standby_loss", replica_loss)
    measured.rejoin_s = HaControl(ha_faults.stack).rejoin()
    print(f"\n{result}\n{measured}")
    check_clean(result)
    assert measured.to_first_commit_s is not None
    assert measured.to_first_commit_s < STANDBY_LOSS_BOUND_S, measured
