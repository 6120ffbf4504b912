"""Fixtures shared by the whole suite: the real local stack, started once per session.

``nabd_stack`` runs ``nabd stack up`` in a throwaway state folder on its own free ports (never
the developer's ``.state/stack``, whatever ``NABD_STATE_DIR`` says) and ``nabd stack down`` at
the end of the session, also when tests or the start itself failed. ``fresh_database`` gives
each test module its own empty TimescaleDB database in that cluster, dropped afterwards.
Both are lazy: a run that selects no integration test starts nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nabd.app.stack.testing import RunningStack
    from tests.mqtt.broker_kit import BrokerUnderTest

CONFORMANCE_GATEWAY = "gw-conformance"
"""The gateway account the broker-facing tests make on the suite's own Mosquitto."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker-url",
        default=None,
        metavar="mqtts://HOST:PORT",
        help=(
            "run the broker-facing tests (marker `broker`) against this broker instead of the "
            "suite's own Mosquitto; accounts from NABD_MQTT_CA_FILE, NABD_INGEST_MQTT_*, "
            "NABD_GATEWAY_ID, NABD_EDGE_MQTT_* (docs/broker-cluster.md)"
        ),
    )


@pytest.fixture(scope="session")
def nabd_stack() -> Iterator[RunningStack]:
    """The local stack (PostgreSQL + TimescaleDB, Mosquitto over TLS) for this test session."""
    from nabd.app.stack.testing import running_stack  # noqa: PLC0415  (only when requested)

    # mkdtemp, not tmp_path_factory: as root the servers run as `postgres` and `mosquitto`,
    # which cannot enter pytest's private /tmp/pytest-of-root (mode 0700).
    state_dir = Path(tempfile.mkdtemp(prefix="nabd-stack-"))
    try:
        with running_stack(state_dir) as stack:
            yield stack
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_database(nabd_stack: RunningStack) -> Iterator[str]:
    """URL (owner's credentials) of a new database with TimescaleDB, one per test module."""
    from nabd.app.stack.testing import fresh_database as new_database  # noqa: PLC0415

    with new_database(nabd_stack.database_url) as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    """A ``--broker-url`` that cannot be used stops the run at once, in one line."""
    url = config.getoption("--broker-url")
    if url:
        from tests.mqtt.broker_kit import BrokerUnderTest, BrokerUrlError  # noqa: PLC0415

        try:
            BrokerUnderTest.from_url(str(url))
        except BrokerUrlError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def broker_under_test(request: pytest.FixtureRequest) -> BrokerUnderTest:
    """The broker the ``broker`` tests speak to: ``--broker-url`` when given, else the session's
    own Mosquitto (started only then), with an ingest-like service account and one gateway."""
    from tests.mqtt.broker_kit import BrokerUnderTest  # noqa: PLC0415

    url = request.config.getoption("--broker-url")
    if url:
        return BrokerUnderTest.from_url(str(url))  # checked by pytest_configure
    stack: RunningStack = request.getfixturevalue("nabd_stack")
    return BrokerUnderTest.of_stack(stack, CONFORMANCE_GATEWAY)
