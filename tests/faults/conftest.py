"""The fault suite's own stack: it kills the broker and the database, so it never shares the
session's ``nabd_stack``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path: make `tests.faults...` importable.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.faults.failover import AnalyticsProcess  # noqa: E402
from tests.faults.scenarios import SHORT, FaultContext, fault_context  # noqa: E402


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultContext]:
    """A private stack and an ingest worker for this module, in a fresh folder under /tmp."""
    with fault_context(SHORT) as context:
        yield context


@pytest.fixture(scope="module")
def ha_faults() -> Iterator[FaultContext]:
    """A private --ha stack (two Patroni nodes, one etcd), one ingest worker, one analytics."""
    with fault_context(SHORT, ha=True) as context:  # ingest and analytics as `stack env` says
        analytics = AnalyticsProcess(context.stack, context.folder / "analytics.log")
        analytics.start()
        try:
            yield context
        finally:
            analytics.stop()
