"""NEWS2 bands per metric, as colours: what a value scores is how it is painted.

The bands come from :mod:`nabd.analytics.news2` (RCP NEWS2 Chart 1), never copied, so a chart
the dashboards draw and a score analytics computes cannot disagree. The band scoring 0 is the
"normal range" drawn on the patient's charts.

Values are charted at the chart's resolution, rounded half-up (docs/analytics.md), so a value of
40.5 /min scores as 41 (1 point, not 3). Chart thresholds therefore sit half a resolution step
below each band's lowest value, and table cells, which show the value already rounded in SQL,
use the band's own inclusive edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from nabd.analytics import news2
from nabd.contract.catalogue import METRICS

__all__ = [
    "DECIMALS",
    "METRIC_BANDS",
    "SCORE_COLOURS",
    "CellRange",
    "ChartStep",
    "cell_ranges",
    "chart_steps",
]

SCORE_COLOURS: Final[Mapping[int, str]] = MappingProxyType(
    {0: "green", 1: "yellow", 2: "orange", 3: "red"}
)
"""A sub-score's colour: the colours of the NEWS2 observation chart."""

METRIC_BANDS: Final[Mapping[str, news2.Bands]] = MappingProxyType(
    {
        "heart_rate": news2.HEART_RATE,
        "pulse_rate": news2.HEART_RATE,  # NEWS2 scores "pulse", from either device
        "spo2": news2.SPO2_SCALE_1,
        "respiration_rate": news2.RESPIRATION_RATE,
        "body_temperature": news2.TEMPERATURE,
        "systolic_bp": news2.SYSTOLIC_BP,
    }
)
"""The chart row that scores each metric (SpO2 on Scale 1, the default; see docs/dashboards.md)."""

DECIMALS: Final[Mapping[str, int]] = MappingProxyType(
    {key: (METRIC_BANDS[key].decimals if key in METRIC_BANDS else 1) for key in METRICS}
)
"""Decimals a metric is displayed with: the chart's resolution where NEWS2 charts it."""


@dataclass(frozen=True, slots=True)
class ChartStep:
    """A Grafana threshold step: from ``value`` upwards (None: from minus infinity)."""

    value: float | None
    colour: str


@dataclass(frozen=True, slots=True)
class CellRange:
    """An inclusive range of displayed values and the colour of its band."""

    low: float
    high: float
    colour: str


def chart_steps(key: str) -> tuple[ChartStep, ...]:
    """Threshold steps for a chart of ``key``: each band from half a resolution step below it."""
    bands = METRIC_BANDS[key]
    half = 0.5 * 10.0**-bands.decimals
    steps = [ChartStep(None, SCORE_COLOURS[bands.bands[0][2]])]
    for low, _, score in bands.bands[1:]:
        assert low is not None  # Bands checks that only the first band is open below
        steps.append(ChartStep(round(low - half, bands.decimals + 1), SCORE_COLOURS[score]))
    return tuple(steps)


def cell_ranges(key: str, normal: str = "transparent") -> tuple[CellRange, ...]:
    """Colour ranges for a value shown at chart resolution; open ends stop at the catalogue's
    possible range. The band scoring 0 gets ``normal`` (a table stays quiet where all is well)."""
    bands = METRIC_BANDS[key]
    possible = METRICS[key]
    return tuple(
        CellRange(
            possible.min_value if low is None else low,
            possible.max_value if high is None else high,
            normal if score == 0 else SCORE_COLOURS[score],
        )
        for low, high, score in bands.bands
    )
