"""Patient detail: one patient (template variable ``patient``), every vital over time.

Each NEWS2 vital is drawn over its NEWS2 bands (green where it scores 0, the "normal range";
yellow, orange, red where it scores 1, 2, 3); the alerts of the patient are annotations (a shaded
region while open); the NEWS2 trend, the devices with their batteries, and the rarely measured
body measurements complete the page. A gap in continuous data is drawn as a gap, never bridged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, FieldColor, ThresholdsConfig
from grafana_foundation_sdk.models import common, dashboard

from nabd.dashboards import sql
from nabd.dashboards.bands import chart_steps
from nabd.dashboards.board import new_board, patient_variable, ward_variable
from nabd.dashboards.i18n import Lang, Strings, metric_name, strings
from nabd.dashboards.layout import Row, place
from nabd.dashboards.style import (
    NEWS2_TOTAL_STEPS,
    PRIORITY_COLOURS,
    age_column,
    age_thresholds,
    battery_column,
    big_stat,
    cell_background,
    column,
    count_stat,
    news2_mappings,
    prop,
    steps,
    value_map,
)
from nabd.dashboards.target import Sql, SqlAnnotation, datasource_ref

__all__ = ["BODY_METRICS", "PER_MINUTE", "SERIES", "SLUG", "Series", "build"]

SLUG = "patient"

GAP_MS: Final = 5 * 60 * 1000
"""A continuous series with no sample for five minutes is drawn broken: no line across a gap."""


@dataclass(frozen=True)
class Series:
    """One time-series panel: the metrics it draws, their unit, and how.

    ``bands`` names the metric whose NEWS2 bands are drawn behind it (on every series of the
    panel, or only on ``bands``'s own series when the panel mixes metrics); ``spot`` marks
    metrics measured now and then (a cuff, a thermometer), drawn as points.
    """

    keys: tuple[str, ...]
    unit: str
    """A Grafana unit id, or :data:`PER_MINUTE`."""
    bands: str | None = None
    spot: bool = False
    title: str | None = None
    """Panel title; default: the first metric's catalogue name."""


PER_MINUTE: Final = "per_minute"
"""A rate per minute: Grafana has no such unit, so the panel gets the suffix ``/min`` in the
dashboard's language (``/دقيقة`` in Arabic)."""

SERIES: Final[Mapping[str, Series]] = {
    "pulse": Series(("heart_rate", "pulse_rate"), PER_MINUTE, bands="heart_rate"),
    "spo2": Series(("spo2",), "percent", bands="spo2"),
    "respiration": Series(("respiration_rate",), PER_MINUTE, bands="respiration_rate"),
    "temperature": Series(("body_temperature",), "celsius", bands="body_temperature", spot=True),
    "blood_pressure": Series(
        ("systolic_bp", "diastolic_bp", "mean_arterial_pressure"),
        "pressurehg",
        bands="systolic_bp",
        spot=True,
    ),
    "glucose": Series(("glucose",), "suffix: mmol/L", spot=True),
    "weight": Series(("body_weight",), "masskg", spot=True),
    "rr_interval": Series(("rr_interval",), "s"),
    "energy": Series(("energy_expended",), "suffix: kJ"),
}
"""The vital-sign panels, by name."""

BODY_METRICS: Final = ("body_weight", "bmi", "body_height")
"""Shown as their latest values in a table: they change over days, not minutes."""


def _thresholds(key: str) -> ThresholdsConfig:
    return steps(*((step.value, step.colour) for step in chart_steps(key)))


def _title(name: str, spec: Series, s: Strings, lang: Lang) -> str:
    titles = {"pulse": s.panel_pulse, "blood_pressure": s.panel_blood_pressure}
    return titles.get(name) or metric_name(spec.keys[0], lang)


def series_panel(title: str, query: str, unit: str, *, spot: bool) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(datasource_ref())
        .with_target(Sql(query).time_series())
        .unit(unit)
        .line_width(2)
        .fill_opacity(0)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
    )
    if spot:
        return panel.show_points(common.VisibilityMode.ALWAYS).point_size(7)
    return panel.show_points(common.VisibilityMode.NEVER).insert_nulls(GAP_MS)


def _band_style(key: str) -> list[dashboard.DynamicConfigValue]:
    return [
        prop("thresholds", _thresholds(key).build()),
        prop("custom.thresholdsStyle", {"mode": str(common.GraphTresholdsStyleMode.AREA)}),
    ]


def _vital_panel(name: str, spec: Series, s: Strings, lang: Lang) -> timeseries.Panel:
    panel = series_panel(
        _title(name, spec, s, lang),
        sql.patient_vitals(spec.keys, lang),
        f"suffix: {s.unit_per_min}" if spec.unit == PER_MINUTE else spec.unit,
        spot=spec.spot,
    )
    if spec.bands is None:
        return panel
    if all(k == spec.bands or _same_bands(k, spec.bands) for k in spec.keys):
        return panel.thresholds(_thresholds(spec.bands)).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.AREA)
        )
    return panel.override_by_name(metric_name(spec.bands, lang), _band_style(spec.bands))


def _same_bands(key: str, other: str) -> bool:
    return {key, other} == {"heart_rate", "pulse_rate"}


def _news2_trend(s: Strings) -> timeseries.Panel:
    return (
        series_panel(s.panel_news2_trend, sql.PATIENT_NEWS2_TREND, "none", spot=False)
        .decimals(0)
        .min(0)
        .thresholds(steps(*NEWS2_TOTAL_STEPS))
        .color_scheme(FieldColor().mode(dashboard.FieldColorModeId.THRESHOLDS))
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphTresholdsStyleMode.DASHED_AND_AREA
            )
        )
        .override_by_name("news2", column(s.stat_news2))
    )


def _battery(s: Strings) -> timeseries.Panel:
    return (
        series_panel(s.panel_battery, sql.PATIENT_BATTERY, "percent", spot=False)
        .min(0)
        .max(100)
        .thresholds(steps((None, "red"), (20.5, "orange"), (30.0, "green")))
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED)
        )
    )


def _devices(s: Strings) -> table.Panel:
    return (
        table.Panel()
        .title(s.panel_devices)
        .datasource(datasource_ref())
        .with_target(Sql(sql.PATIENT_DEVICES))
        .cell_height(common.TableCellHeight.MD)
        .no_value("—")
        .override_by_name("device", column(s.col_device))
        .override_by_name("kind", column(s.col_kind))
        .override_by_name(
            "battery",
            battery_column(s.col_battery),
        )
        .override_by_name(
            "last_seen",
            age_column(s.col_last_seen, 300, 3600),
        )
        .override_by_name(
            "gateway_state",
            column(
                s.col_gateway_state,
                prop(
                    "mappings",
                    [
                        value_map(
                            s.gateway_states(),
                            {"online": "green", "offline": "purple", "unknown": "#6e6e6e"},
                        )
                    ],
                ),
                cell_background(),
            ),
        )
    )


def _body(s: Strings, lang: Lang) -> table.Panel:
    return (
        table.Panel()
        .title(s.panel_body)
        .datasource(datasource_ref())
        .with_target(Sql(sql.patient_body(BODY_METRICS, lang)))
        .override_by_name("metric", column(s.col_metric))
        .override_by_name("value", column(s.col_value, prop("decimals", 2)))
        .override_by_name("unit", column(s.col_unit))
        .override_by_name("time", column(s.col_time, prop("unit", "dateTimeFromNow")))
    )


def _alerts_annotation(s: Strings, lang: Lang) -> SqlAnnotation:
    return SqlAnnotation(
        s.annotation_alerts, sql.alert_annotations(s, lang), icon_color=PRIORITY_COLOURS["high"]
    )


def _header(s: Strings) -> Row:
    news2 = big_stat(s.stat_news2, sql.patient_news2(s), "news2", steps((None, "text"))).mappings(
        news2_mappings(s)
    )
    last = big_stat(
        s.stat_last_data, sql.PATIENT_LAST_DATA, "last_data", age_thresholds(60, 300)
    ).unit("s")
    alerts = count_stat(s.stat_open_alerts, sql.PATIENT_OPEN_ALERTS, "open_alerts", "red")
    return Row(6, [(news2, 12), (alerts, 6), (last, 6)])


def _vitals(names: Sequence[str], s: Strings, lang: Lang) -> list[timeseries.Panel]:
    return [_vital_panel(name, SERIES[name], s, lang) for name in names]


def build(lang: Lang) -> Dashboard:
    """The patient detail dashboard in ``lang``."""
    s = strings(lang)
    board = (
        new_board(SLUG, lang, s.patient_title)
        .with_variable(ward_variable(s))
        .with_variable(patient_variable(s))
        .annotation(_alerts_annotation(s, lang))
    )
    pulse, spo2, respiration, temperature, pressure, glucose, weight, rr, energy = _vitals(
        list(SERIES), s, lang
    )
    return place(
        board,
        [
            _header(s),
            Row(9, [(_news2_trend(s), 12), (pulse, 12)]),
            Row(9, [(spo2, 12), (respiration, 12)]),
            Row(9, [(temperature, 12), (pressure, 12)]),
            Row(9, [(glucose, 8), (weight, 8), (rr, 8)]),
            Row(8, [(_body(s, lang), 8), (energy, 8), (_battery(s), 8)]),
            Row(7, [(_devices(s), 24)]),
        ],
    )
