"""Fixtures of the nurse station's tests: one seeded database and one HTTPS server per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from nabd.app.stack.testing import RunningStack  # noqa: E402
from tests.station.lease_kit import Owner, no_leases  # noqa: E402
from tests.station.station_kit import Seeded, Station, seed, serve  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def seeded(fresh_database: str) -> Seeded:
    return seed(fresh_database)


@pytest.fixture(scope="module")
def station(nabd_stack: RunningStack, seeded: Seeded) -> Iterator[Station]:
    with serve(nabd_stack, seeded) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per module (``tests/station/browser_kit.py``)."""
    from tests.station.browser_kit import chromium  # noqa: PLC0415 - only the browser tests

    with chromium() as launched:
        yield launched


@pytest.fixture
def owner(station: Station) -> Iterator[Owner]:
    """The owner's connection to the station's database, no analytics lease before or after
    (the late-readings and stopped-analysis tests write them: ``lease_kit.lease``)."""
    yield from no_leases(station)
