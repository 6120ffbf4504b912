"""The SQL of a built dashboard, panel by panel, with what each panel expects of its result.

A panel's configuration names the columns it styles (``override_by_name``), the field a stat
shows (``reduceOptions.fields``), or the series it colours; if a query renamed a column, the
panel would silently lose its colours or show nothing. Walking the generated JSON (not a list
kept by hand) lets the tests run every query Grafana will run and check those expectations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from nabd.dashboards.registry import BuiltDashboard

__all__ = ["ANNOTATION_COLUMNS", "PanelQuery", "panel_queries"]

ANNOTATION_COLUMNS: Final = frozenset({"time", "timeend", "text", "tags"})
"""What Grafana's SQL annotations read (docs: PostgreSQL annotations)."""

_FIELD: Final = re.compile(r"^/\^(\w+)\$/$")


@dataclass(frozen=True)
class PanelQuery:
    """One query of one dashboard, and the names its panel relies on."""

    dashboard: str
    title: str
    kind: str
    """``stat``, ``table``, ``timeseries``, ``annotation`` or ``variable``."""
    sql: str
    columns: frozenset[str]
    """Columns the result must have."""
    styled: frozenset[str]
    """Names a time-series panel styles by name: columns, or series named by a ``metric``
    column (Grafana names each series after that column's value)."""

    @property
    def id(self) -> str:
        return f"{self.dashboard}/{self.kind}/{self.title}"


def _by_name(panel: Mapping[str, Any]) -> frozenset[str]:
    overrides = panel.get("fieldConfig", {}).get("overrides", [])
    return frozenset(o["matcher"]["options"] for o in overrides if o["matcher"]["id"] == "byName")


def _stat_fields(panel: Mapping[str, Any]) -> frozenset[str]:
    fields = (panel.get("options") or {}).get("reduceOptions", {}).get("fields", "")
    match = _FIELD.match(fields)
    if match is None:
        raise ValueError(f"stat {panel.get('title')!r} must name its field as /^name$/")
    return frozenset({match[1]})


def _from_panel(uid: str, panel: Mapping[str, Any]) -> Iterator[PanelQuery]:
    kind = str(panel["type"])
    for target in panel.get("targets", []):
        sql = str(target["rawSql"])
        if kind == "timeseries":
            yield PanelQuery(uid, panel["title"], kind, sql, frozenset({"time"}), _by_name(panel))
        elif kind == "stat":
            columns = _stat_fields(panel) | _by_name(panel)
            yield PanelQuery(uid, panel["title"], kind, sql, columns, frozenset())
        else:
            yield PanelQuery(uid, panel["title"], kind, sql, _by_name(panel), frozenset())


def panel_queries(board: BuiltDashboard) -> list[PanelQuery]:
    """Every query of ``board``: panels, annotations, template variables."""
    model = board.model
    found = [q for panel in model.get("panels", []) for q in _from_panel(board.uid, panel)]
    for annotation in model.get("annotations", {}).get("list", []):
        target = annotation.get("target", {})
        if "rawSql" in target:
            found.append(
                PanelQuery(
                    board.uid,
                    annotation["name"],
                    "annotation",
                    target["rawSql"],
                    ANNOTATION_COLUMNS,
                    frozenset(),
                )
            )
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            found.append(
                PanelQuery(
                    board.uid,
                    variable["name"],
                    "variable",
                    str(variable["query"]),
                    frozenset(),
                    frozenset(),
                )
            )
    return found
