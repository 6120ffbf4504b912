"""When a value stops being current, and how many samples a metric should deliver.

The dashboards and the analytics service must agree on when a value is stale, or a nurse would
see a value as current that analytics already ignores. So both read
:data:`nabd.analytics.technical.DEFAULT_EXPECTATIONS`; metrics it has no expectation for (a
weight, a glucose spot check) get :data:`FALLBACK_STALE_AFTER_S`, long enough for a daily
measurement not to look stale between two rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from nabd.analytics.technical import DEFAULT_EXPECTATIONS
from nabd.contract.catalogue import METRICS

__all__ = [
    "EXPECTED_INTERVAL_S",
    "FALLBACK_STALE_AFTER_S",
    "NEWS2_STALE_AFTER_S",
    "STALE_AFTER_S",
]

FALLBACK_STALE_AFTER_S: Final = 26 * 3600.0
"""A metric measured once a day (weight, glucose rounds) is stale after a missed round."""

NEWS2_STALE_AFTER_S: Final = 300.0
"""The analytics service writes every patient's score at least once a minute (docs/dashboards.md);
a score older than five minutes means analytics has stopped, and it is shown as stale."""

STALE_AFTER_S: Final[Mapping[str, float]] = MappingProxyType(
    {
        key: float(
            DEFAULT_EXPECTATIONS[key].stale_after_s
            if key in DEFAULT_EXPECTATIONS
            else FALLBACK_STALE_AFTER_S
        )
        for key in METRICS
    }
)
"""Seconds after which each catalogue metric's newest value is stale."""

EXPECTED_INTERVAL_S: Final[Mapping[str, float]] = MappingProxyType(
    {key: float(e.interval_s) for key, e in DEFAULT_EXPECTATIONS.items() if key in METRICS}
)
"""Expected seconds between samples, for the metrics whose rate is known (data completeness)."""
