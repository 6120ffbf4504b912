"""Fixtures of the analytics service tests (helpers live in ``monitor_kit``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path: make `tests.monitor.monitor_kit`
# importable from the checkout's root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from nabd.app.stack.testing import RunningStack  # noqa: E402
from tests.monitor.monitor_kit import MonitorDb, monitor_database  # noqa: E402


@pytest.fixture(scope="module")
def monitor_db(nabd_stack: RunningStack, fresh_database: str) -> MonitorDb:
    """The module's migrated database, with the owner's and the analytics login's URLs."""
    return monitor_database(nabd_stack, fresh_database)
