"""``nabd stack up --ha``: the PostgreSQL primary's node is lost (kill -9) while gateways
publish; Patroni promotes the replica and nothing acknowledged is lost or stored twice.

The numbers (RTO to promotion and to the first commit, the standby's state at the kill, the
rejoin) are printed (``-s``) and stated in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.faults.failover import (
    AnalyticsProcess,
    Failover,
    HaControl,
    first_commit_after,
    first_tick_after,
    primary_loss,
)
from tests.faults.scenarios import SHORT, FaultContext, check_clean, fault_context, run_scenario
from tests.faults.stack_control import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

RECONNECT_MAX_S = "1"
"""Ingest's longest wait between database reconnections: with the default (30 s) the first
commit after a promotion may wait that long (docs/reliability.md)."""
TICK_AFTER_PROMOTION_S = 30.0
PROMOTION_BOUND_S = 25.0
"""Patroni's ttl (10 s) + loop_wait (1 s) + its retry_timeout (3 s), with room for a busy
2-core machine: a promotion slower than this is a regression."""


@pytest.fixture(scope="module")
def ha_faults() -> Iterator[FaultContext]:
    """A private --ha stack (two Patroni nodes, one etcd), one ingest worker, one analytics."""
    ingest_env = {"NABD_INGEST_BACKOFF_MAX_S": RECONNECT_MAX_S}
    with fault_context(SHORT, ha=True, ingest_env=ingest_env) as context:
        analytics = AnalyticsProcess(
            context.stack, context.folder / "analytics.log", RECONNECT_MAX_S
        )
        analytics.start()
        try:
            yield context
        finally:
            analytics.stop()


def test_primary_lost_replica_promoted_nothing_lost_or_doubled(ha_faults: FaultContext) -> None:
    measured = Failover()
    result = asyncio.run(run_scenario(ha_faults, "postgres_failover", primary_loss(measured)))
    assert measured.killed_at is not None
    owner_url = ha_faults.stack.database_url
    first = first_commit_after(owner_url, list(measured.devices), measured.killed_at)
    assert first is not None, "nothing was committed after the primary was lost"
    measured.to_first_commit_s = (first - measured.killed_at).total_seconds()
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
