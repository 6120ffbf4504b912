"""Panels laid out on Grafana's 24-column grid, row by row, with stable panel ids.

The SDK's automatic placement does not wrap a panel that overflows a row, so every dashboard
lists its rows explicitly: each row's widths must add up to 24 (a row that does not is refused,
so a dashboard can never render with panels hanging off the screen). Panel ids are numbered in
reading order, which keeps them stable from one export to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import dashboard

__all__ = ["GRID_WIDTH", "PanelBuilder", "Row", "place"]

GRID_WIDTH: Final = 24


PanelBuilder: TypeAlias = stat.Panel | table.Panel | timeseries.Panel
"""The SDK panel builders the dashboards use."""


@dataclass(frozen=True)
class Row:
    """One row of panels of one height; ``panels`` are (panel, width) from left to right."""

    height: int
    panels: Sequence[tuple[PanelBuilder, int]]

    def __post_init__(self) -> None:
        width = sum(w for _, w in self.panels)
        if width != GRID_WIDTH or any(w <= 0 for _, w in self.panels) or self.height <= 0:
            raise ValueError(f"a row must fill {GRID_WIDTH} columns exactly, got {width}")


def place(board: Dashboard, rows: Sequence[Row]) -> Dashboard:
    """Add ``rows`` to ``board`` top to bottom, numbering panels 1, 2, ... in reading order."""
    y = 0
    panel_id = 1
    for row in rows:
        x = 0
        for panel, width in row.panels:
            board.with_panel(
                panel.id(panel_id).grid_pos(dashboard.GridPos(h=row.height, w=width, x=x, y=y))
            )
            x += width
            panel_id += 1
        y += row.height
    return board
