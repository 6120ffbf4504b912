"""Every query of every dashboard, expanded as Grafana expands it, run as the read-only
dashboards role against a real TimescaleDB holding a simulated ward.

The queries are found by walking the generated dashboards (``nabd.dashboards.panels``), never
listed by hand, so a panel added tomorrow is tested tomorrow. Each must run, return rows (the
ward has data for every panel), and return the columns its panel's configuration names; time
series must be sorted by time, as Grafana requires. Both ``$__timeGroup`` expansions are run:
``time_bucket`` (the data source's TimescaleDB switch, on in Nabd's provisioning) and Grafana's
plain-PostgreSQL ``floor(extract(epoch ...))``, in case an operator switches it off.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from psycopg import errors

from nabd.dashboards.macros import expand
from nabd.dashboards.panels import PanelQuery, panel_queries
from nabd.dashboards.registry import build_all

if TYPE_CHECKING:
    from tests.dashboards.conftest import Result, Runner

pytestmark = pytest.mark.integration

QUERIES = [q for board in build_all() for q in panel_queries(board)]


@pytest.mark.parametrize("timescaledb", [True, False], ids=["time_bucket", "floor_epoch"])
@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_every_panel_query_runs_read_only_and_returns_what_its_panel_expects(
    dashboards_sql: Runner, query: PanelQuery, timescaledb: bool
) -> None:
    sql = expand(query.sql, dashboards_sql.context(timescaledb=timescaledb))
    result = dashboards_sql.query(sql)
    assert result.rows, "the ward has data for every panel"
    assert query.columns <= set(result.columns), f"{result.columns} lacks {query.columns}"
    if query.kind == "timeseries":
        _check_time_series(query, result)
    if query.kind == "variable":
        assert None not in result.column(result.columns[0])


def _check_time_series(query: PanelQuery, result: Result) -> None:
    assert result.columns[0] == "time"
    stamps = [t.timestamp() if isinstance(t, datetime) else float(t) for t in result.column("time")]
    assert stamps == sorted(stamps), "Grafana needs time series sorted by time"
    values = [c for c in result.columns if c not in ("time", "metric")]
    assert values
    for name in values:
        assert all(v is None or isinstance(v, int | float | Decimal) for v in result.column(name))
    if "metric" in result.columns:
        series = set(result.column("metric"))
        assert not query.styled or query.styled & series, f"{query.styled} styles none of {series}"
    else:
        assert query.styled <= set(result.columns)


def test_queries_were_found_in_every_dashboard_and_language() -> None:
    boards = {q.dashboard for q in QUERIES}
    assert boards == {b.uid for b in build_all()}
    kinds = {q.kind for q in QUERIES}
    assert kinds == {"stat", "table", "timeseries", "annotation", "variable"}


def test_the_dashboards_role_writes_nothing(dashboards_sql: Runner) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        dashboards_sql.query("INSERT INTO analytics_tick VALUES (now(), 1, 1)")
    with pytest.raises(errors.InsufficientPrivilege):
        dashboards_sql.query("SELECT payload FROM dead_letter")
