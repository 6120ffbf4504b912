"""Fixtures of the ingest tests (helpers live in ``ingest_kit``, importable from the tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path: make `tests.ingest.ingest_kit`
# importable from the checkout's root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from nabd.app.stack.testing import RunningStack  # noqa: E402
from nabd.ingest.settings import IngestSettings  # noqa: E402
from tests.ingest.ingest_kit import (  # noqa: E402
    FakeGateway,
    IngestDb,
    RunningWorker,
    forget_session,
    ingest_database,
    start_worker,
)


@pytest.fixture(scope="module")
def ingest_db(nabd_stack: RunningStack, fresh_database: str) -> IngestDb:
    """The module's migrated database, with the owner's and the ingest login's URLs."""
    return ingest_database(nabd_stack, fresh_database)


@pytest.fixture
def gateways(nabd_stack: RunningStack) -> Iterator[Callable[[str], FakeGateway]]:
    """Make gateways (broker account + paho client); disconnected after the test."""
    made: list[FakeGateway] = []

    def make(gateway_id: str) -> FakeGateway:
        made.append(FakeGateway(nabd_stack, gateway_id))
        return made[-1]

    yield make
    for gw in made:
        gw.close()


@pytest.fixture
def workers(nabd_stack: RunningStack) -> Iterator[Callable[[IngestSettings], RunningWorker]]:
    """Start in-process workers; each is stopped and its broker session deleted afterwards."""
    started: list[RunningWorker] = []

    def start(settings: IngestSettings) -> RunningWorker:
        started.append(start_worker(settings))
        return started[-1]

    yield start
    for worker in started:
        worker.service.stop()
    for worker in started:
        worker.stop()
        forget_session(nabd_stack, worker.service.settings.worker_id)
