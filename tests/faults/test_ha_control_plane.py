"""``nabd stack up --ha``: the control plane fails, both PostgreSQL servers stay up.

etcd (the only member) is killed: with ``failsafe_mode`` the primary goes on taking writes
while etcd is down, well past the point where Patroni would otherwise have demoted it. The
primary's Patroni alone is killed: its PostgreSQL keeps running and its guard starts Patroni
again within the ttl, so no failover happens. Both: 0 missing, 0 duplicated. The figures
(longest pause between commits, time until back) are printed (``-s``) and stated in
docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.faults.control_plane import (
    ControlPlaneLoss,
    etcd_loss,
    measure_outage,
    patroni_loss,
)
from tests.faults.scenarios import FaultContext, check_clean, run_scenario

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_etcd_lost_the_primary_keeps_writing_nothing_lost_or_doubled(
    ha_faults: FaultContext,
) -> None:
    measured = ControlPlaneLoss()
    result = asyncio.run(run_scenario(ha_faults, "etcd_loss", etcd_loss(measured)))
    measure_outage(ha_faults, measured, datetime.now(UTC))
    print(f"\n{result}\n{measured}")
    check_clean(result)
    assert measured.failsafe_seen, measured  # the primary said it ran on failsafe
    assert measured.roles_seen <= {"master", "primary"}, measured  # never demoted
    assert measured.commits_in_window > 0, measured  # writes went on without etcd
    assert measured.leader_after == measured.leader_before, measured


def test_primary_patroni_killed_alone_restarted_no_failover_nothing_lost_or_doubled(
    ha_faults: FaultContext,
) -> None:
    measured = ControlPlaneLoss()
    result = asyncio.run(run_scenario(ha_faults, "patroni_kill9", patroni_loss(measured)))
    measure_outage(ha_faults, measured, datetime.now(UTC))
    print(f"\n{result}\n{measured}")
    check_clean(result)
    assert measured.postmaster_survived, measured  # Patroni's death leaves PostgreSQL running
    assert measured.leader_after == measured.leader_before, measured  # back within the ttl
