"""Alerts: every open alert of the selected wards, unacknowledged first, then by priority and age.

Counts on top (critical, high, unacknowledged, escalated), the open-alert table (priority and
state on their colours, the condition and what the alert says in the dashboard's language, the
station's words (:func:`nabd.dashboards.sql.alert_text`), how long each has been open, its
escalation level), and the alerts raised over the time range, one series per priority.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.builders.common import StackingConfig
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import common

from nabd.dashboards import sql
from nabd.dashboards.board import new_board, ward_variable
from nabd.dashboards.i18n import Lang, Strings, strings
from nabd.dashboards.layout import Row, place
from nabd.dashboards.style import (
    PRIORITY_COLOURS,
    age_column,
    cell_background,
    column,
    count_stat,
    prop,
    steps,
    value_map,
)
from nabd.dashboards.target import Sql, datasource_ref

__all__ = ["SLUG", "STATE_COLOURS", "build"]

SLUG = "alerts"

STATE_COLOURS = {
    "raised": "red",
    "acknowledged": "blue",
    "silenced": "#6e6e6e",
    "resolved": "green",
}


def _open_alerts(s: Strings, lang: Lang) -> table.Panel:
    return (
        table.Panel()
        .title(s.table_open_alerts)
        .datasource(datasource_ref())
        .with_target(Sql(sql.alerts_open(lang)))
        .cell_height(common.TableCellHeight.LG)
        .no_value("—")
        .override_by_name(
            "priority",
            column(
                s.col_priority,
                prop("mappings", [value_map(s.priorities(), PRIORITY_COLOURS)]),
                cell_background(),
            ),
        )
        .override_by_name(
            "state",
            column(
                s.col_state,
                prop("mappings", [value_map(s.states(), STATE_COLOURS)]),
                cell_background(),
            ),
        )
        .override_by_name("patient", column(s.col_patient))
        .override_by_name("ward", column(s.col_ward))
        .override_by_name("condition", column(s.col_condition))
        .override_by_name("message", column(s.col_message))
        .override_by_name(
            "age",
            age_column(s.col_age, 300, 900),
        )
        .override_by_name(
            "escalation",
            column(
                s.col_escalation,
                prop(
                    "thresholds",
                    steps((None, "transparent"), (1.0, "orange"), (2.0, "red")).build(),
                ),
                prop("color", {"mode": "thresholds"}),
                cell_background(),
            ),
        )
        .override_by_name("acknowledged_by", column(s.col_acknowledged_by))
    )


def _raised(s: Strings) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(s.panel_alerts_raised)
        .datasource(datasource_ref())
        .with_target(Sql(sql.alerts_raised(s)).time_series())
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .decimals(0)
        .stacking(StackingConfig().mode(common.StackingMode.NORMAL))
    )
    for key, label in s.priorities().items():
        panel = panel.override_by_name(
            label, [prop("color", {"mode": "fixed", "fixedColor": PRIORITY_COLOURS[key]})]
        )
    return panel


def build(lang: Lang) -> Dashboard:
    """The alerts dashboard in ``lang``."""
    s = strings(lang)
    counts = sql.alerts_counts()
    board = new_board(SLUG, lang, s.alerts_title, refresh="10s").with_variable(ward_variable(s))
    return place(
        board,
        [
            Row(
                6,
                [
                    (count_stat(s.stat_critical, counts["critical"], "critical", "red"), 6),
                    (count_stat(s.stat_high, counts["high"], "high", "orange"), 6),
                    (
                        count_stat(
                            s.stat_unacknowledged, counts["unacknowledged"], "unacknowledged", "red"
                        ),
                        6,
                    ),
                    (count_stat(s.stat_escalated, counts["escalated"], "escalated", "orange"), 6),
                ],
            ),
            Row(14, [(_open_alerts(s, lang), 24)]),
            Row(8, [(_raised(s), 24)]),
        ],
    )
