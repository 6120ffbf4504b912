"""Pipeline health, for operators: is data flowing from the gateways to the nurses' screens?

Counts on top (readings per second over the last five minutes, time since the last committed
batch, dead letters in the range, time since the last analytics tick), then the ingest rate
(readings and batches per second, from ``ingested_batch``), the lag from a reading to its commit
(``observation_commit``), how long analytics ticks take and how late their readings arrive
(``analytics_tick``), dead letters over time and the latest ones with their reasons (never their
payloads, which the dashboards role cannot read), and each ingest worker's own report
(``ingest_health``).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import common

from nabd.dashboards import sql
from nabd.dashboards.board import new_board
from nabd.dashboards.i18n import Lang, Strings, strings
from nabd.dashboards.layout import Row, place
from nabd.dashboards.style import (
    Props,
    age_thresholds,
    big_stat,
    cell_background,
    column,
    count_stat,
    prop,
    steps,
    value_map,
)
from nabd.dashboards.target import Sql, datasource_ref

__all__ = ["SLUG", "build"]

SLUG = "pipeline"


def _series(title: str, query: str, unit: str, names: dict[str, str]) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(datasource_ref())
        .with_target(Sql(query).time_series())
        .unit(unit)
        .line_width(2)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
    )
    for name, display in names.items():
        panel = panel.override_by_name(name, column(display))
    return panel


def _workers(s: Strings) -> table.Panel:
    def seconds(header: str, warn: float, alarm: float) -> Props:
        return column(
            header,
            prop("unit", "s"),
            prop("thresholds", age_thresholds(warn, alarm).build()),
            prop("color", {"mode": "thresholds"}),
            cell_background(),
        )

    mqtt = {"true": s.mqtt_connected, "false": s.mqtt_disconnected}
    return (
        table.Panel()
        .title(s.table_ingest_workers)
        .datasource(datasource_ref())
        .with_target(Sql(sql.PIPELINE_WORKERS))
        .cell_height(common.TableCellHeight.MD)
        .override_by_name("worker", column(s.col_worker))
        .override_by_name(
            "mqtt",
            column(
                s.col_mqtt,
                prop("mappings", [value_map(mqtt, {"true": "green", "false": "red"})]),
                cell_background(),
            ),
        )
        .override_by_name("pending", column(s.col_pending))
        .override_by_name("last_update", seconds(s.col_last_seen, 30, 120))
        .override_by_name("flush", column(s.col_flush, prop("unit", "s")))
        .override_by_name("lag", seconds(s.col_lag, 5, 60))
        .override_by_name("dead_letters", column(s.stat_dead_letters))
        .override_by_name("db_errors", column(s.col_db_errors))
    )


def _dead_letters(s: Strings) -> table.Panel:
    return (
        table.Panel()
        .title(s.table_dead_letters)
        .datasource(datasource_ref())
        .with_target(Sql(sql.PIPELINE_DEAD_LETTER_TABLE))
        .override_by_name("time", column(s.col_time))
        .override_by_name("topic", column(s.col_topic))
        .override_by_name("gateway", column(s.col_gateway))
        .override_by_name("field", column(s.col_field))
        .override_by_name("reason", column(s.col_reason))
    )


def _header(s: Strings) -> Row:
    rate = big_stat(
        s.stat_ingest_rate, sql.PIPELINE_READINGS_PER_S, "readings_per_s", steps((None, "blue"))
    ).decimals(1)
    batch = big_stat(
        s.stat_last_batch, sql.PIPELINE_LAST_BATCH, "since_last_batch", age_thresholds(30, 120)
    ).unit("s")
    dead = count_stat(s.stat_dead_letters, sql.PIPELINE_DEAD_LETTERS, "dead_letters", "orange")
    tick = big_stat(
        s.stat_last_tick, sql.PIPELINE_LAST_TICK, "since_last_tick", age_thresholds(30, 120)
    ).unit("s")
    return Row(6, [(rate, 6), (batch, 6), (dead, 6), (tick, 6)])


def build(lang: Lang) -> Dashboard:
    """The pipeline health dashboard in ``lang``."""
    s = strings(lang)
    board = new_board(SLUG, lang, s.pipeline_title, time_from="now-1h")
    ingest = _series(
        s.panel_ingest_rate,
        sql.PIPELINE_INGEST_RATE,
        "short",
        {"readings": s.series_readings, "batches": s.series_batches},
    )
    lag = _series(
        s.panel_lag,
        sql.PIPELINE_LAG,
        "s",
        {"lag_p50": s.series_lag_p50, "lag_p95": s.series_lag_p95},
    )
    tick = _series(
        s.panel_tick,
        sql.PIPELINE_TICK_TIME,
        "ms",
        {
            "tick_max": s.series_tick_max,
            "tick_mean": s.series_tick_mean,
            "readings_delay": s.series_readings_late,
        },
    )
    dead = _series(
        s.panel_dead_letters,
        sql.PIPELINE_DEAD_LETTER_SERIES,
        "short",
        {"dead_letters": s.series_dead_letters},
    ).draw_style(common.GraphDrawStyle.BARS)
    return place(
        board,
        [
            _header(s),
            Row(9, [(ingest, 12), (lag, 12)]),
            Row(9, [(tick, 12), (dead, 12)]),
            Row(7, [(_workers(s), 24)]),
            Row(10, [(_dead_letters(s), 24)]),
        ],
    )
