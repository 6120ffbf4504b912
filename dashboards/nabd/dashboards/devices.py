"""Devices and gateways: is the equipment delivering, for the operators and the ward's nurses.

Counts on top (gateways offline, assigned devices not delivering, low batteries), the gateways
with their state and last message, every device with its battery, last reading and connection
state, and the data completeness of each patient's metrics over the time range: usable samples
received divided by the samples the metric's expected rate promises while its device was
assigned to the patient.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import common

from nabd.dashboards import sql
from nabd.dashboards.board import new_board, ward_variable
from nabd.dashboards.i18n import Lang, Strings, strings
from nabd.dashboards.layout import Row, place
from nabd.dashboards.style import (
    STALE_COLOUR,
    TECHNICAL_COLOUR,
    age_column,
    battery_column,
    cell_background,
    column,
    count_stat,
    prop,
    steps,
    value_map,
)
from nabd.dashboards.target import Sql, datasource_ref

__all__ = ["SLUG", "build"]

SLUG = "devices"

_GATEWAY_COLOURS = {"online": "green", "offline": TECHNICAL_COLOUR, "unknown": STALE_COLOUR}
_CONNECTION_COLOURS = {
    "connected": "green",
    "silent": "orange",
    "gateway_offline": TECHNICAL_COLOUR,
    "no_data": STALE_COLOUR,
}


def _gateways(s: Strings) -> table.Panel:
    return (
        table.Panel()
        .title(s.table_gateways)
        .datasource(datasource_ref())
        .with_target(Sql(sql.DEVICES_GATEWAYS))
        .cell_height(common.TableCellHeight.MD)
        .no_value("—")
        .override_by_name("gateway", column(s.col_gateway))
        .override_by_name("ward", column(s.col_ward))
        .override_by_name(
            "state",
            column(
                s.col_state,
                prop("mappings", [value_map(s.gateway_states(), _GATEWAY_COLOURS)]),
                cell_background(),
            ),
        )
        .override_by_name(
            "last_seen",
            age_column(s.col_last_seen, 60, sql.GATEWAY_SILENT_AFTER_S),
        )
        .override_by_name("devices", column(s.col_devices))
    )


def _devices(s: Strings) -> table.Panel:
    return (
        table.Panel()
        .title(s.table_devices)
        .datasource(datasource_ref())
        .with_target(Sql(sql.DEVICES_TABLE))
        .cell_height(common.TableCellHeight.MD)
        .no_value("—")
        .override_by_name("device", column(s.col_device))
        .override_by_name("kind", column(s.col_kind))
        .override_by_name("gateway", column(s.col_gateway))
        .override_by_name("patient", column(s.col_patient))
        .override_by_name(
            "battery",
            battery_column(s.col_battery),
        )
        .override_by_name(
            "last_seen",
            age_column(s.col_last_seen, 300, 3600),
        )
        .override_by_name(
            "connection",
            column(
                s.col_connection,
                prop("mappings", [value_map(s.connections(), _CONNECTION_COLOURS)]),
                cell_background(),
            ),
        )
    )


def _completeness(s: Strings, lang: Lang) -> table.Panel:
    return (
        table.Panel()
        .title(s.table_completeness)
        .datasource(datasource_ref())
        .with_target(Sql(sql.devices_completeness(lang)))
        .cell_height(common.TableCellHeight.MD)
        .override_by_name("patient", column(s.col_patient))
        .override_by_name("metric", column(s.col_metric))
        .override_by_name("received", column(s.col_received))
        .override_by_name("expected", column(s.col_expected))
        .override_by_name(
            "completeness",
            column(
                s.col_completeness,
                prop("unit", "percentunit"),
                prop("decimals", 0),
                prop("min", 0),
                prop("max", 1),
                prop("thresholds", steps((None, "red"), (0.8, "orange"), (0.95, "green")).build()),
                prop("color", {"mode": "thresholds"}),
                prop("custom.cellOptions", {"type": "gauge", "mode": "basic"}),
            ),
        )
    )


def build(lang: Lang) -> Dashboard:
    """The devices and gateways dashboard in ``lang``."""
    s = strings(lang)
    counts = sql.devices_counts()
    board = new_board(SLUG, lang, s.devices_title).with_variable(ward_variable(s))
    return place(
        board,
        [
            Row(
                6,
                [
                    (
                        count_stat(
                            s.stat_gateways_offline,
                            counts["gateways_offline"],
                            "gateways_offline",
                            TECHNICAL_COLOUR,
                        ),
                        8,
                    ),
                    (
                        count_stat(
                            s.stat_devices_silent,
                            counts["devices_silent"],
                            "devices_silent",
                            "orange",
                        ),
                        8,
                    ),
                    (
                        count_stat(s.stat_low_battery, counts["low_battery"], "low_battery", "red"),
                        8,
                    ),
                ],
            ),
            Row(8, [(_gateways(s), 24)]),
            Row(12, [(_devices(s), 24)]),
            Row(12, [(_completeness(s, lang), 24)]),
        ],
    )
