"""Faults injected into real processes while simulated gateways publish (short version).

Each scenario: every heart rate the virtual straps sent is stored exactly once, under its
``(device, seq)``, no reading appears that was not sent, and every gateway's outbox is empty.
The long version is ``bench/faults.py`` (docs/reliability.md).
"""

from __future__ import annotations

import pytest

from tests.faults.scenarios import SCENARIOS, FaultContext, check_clean
from tests.faults.tally import ScenarioResult

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _check(result: ScenarioResult) -> None:
    print(f"\n{result}")  # the counts, visible with -s / -rP
    check_clean(result)


def test_broker_kill9_five_times(faults: FaultContext) -> None:
    _check(SCENARIOS["broker_kill9"](faults))


def test_postgres_immediate_restart(faults: FaultContext) -> None:
    _check(SCENARIOS["postgres_immediate"](faults))


def test_ingest_kill9(faults: FaultContext) -> None:
    _check(SCENARIOS["ingest_kill9"](faults))


def test_gateway_cut_off_then_reconnected(faults: FaultContext) -> None:
    _check(SCENARIOS["gateway_cutoff"](faults))


def test_broker_queue_overflow_is_recovered_by_resends(faults: FaultContext) -> None:
    # The scenario itself fails unless the broker logged that it dropped for ingest's client.
    _check(SCENARIOS["queue_overflow"](faults))
