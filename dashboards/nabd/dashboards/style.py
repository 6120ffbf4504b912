"""How the dashboards look: readable from across a room, coloured like the NEWS2 chart.

Big stat values on solid colour backgrounds, few panels per row, table cells coloured by what the
value means. The colour rules are value mappings evaluated by Grafana *in order, first match
wins*, so the order below is part of the meaning:

1. a cell that says "stale" is grey, whatever the value (never the colour of a current value);
2. a cell with no value (sensor off, device sent a special value) is purple (technical);
3. then the value's NEWS2 band, or the risk or priority label, sets the colour.

Grafana's range mappings read a cell's text as a number (``parseFloat``), which is why the stale
rule must come first: ``"97 · stale 25 min"`` would otherwise be painted as a normal 97.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
from grafana_foundation_sdk.models import common, dashboard

from nabd.dashboards.bands import cell_ranges
from nabd.dashboards.i18n import Strings
from nabd.dashboards.target import Sql, datasource_ref

__all__ = [
    "NEWS2_TOTAL_STEPS",
    "PRIORITY_COLOURS",
    "RISK_COLOURS",
    "STALE_COLOUR",
    "TECHNICAL_COLOUR",
    "Props",
    "age_thresholds",
    "alert_count_mappings",
    "big_stat",
    "cell_background",
    "column",
    "count_stat",
    "label_pattern",
    "news2_mappings",
    "prop",
    "stale_mapping",
    "steps",
    "value_map",
    "vital_mappings",
]

STALE_COLOUR: Final = "#6e6e6e"
"""Grey: not current. Deliberately no NEWS2 colour, so a stale value never reads as a finding."""
TECHNICAL_COLOUR: Final = "purple"
"""The equipment needs attention (sensor off, gateway down), not the patient's values."""

RISK_COLOURS: Final[Mapping[str, str]] = {
    "low": "green",
    "low-medium": "yellow",
    "medium": "orange",
    "high": "red",
}
PRIORITY_COLOURS: Final[Mapping[str, str]] = {
    "low": "blue",
    "medium": "yellow",
    "high": "orange",
    "critical": "red",
}
NEWS2_TOTAL_STEPS: Final = ((None, "green"), (5.0, "orange"), (7.0, "red"))
"""Chart 3 by aggregate alone (0-4, 5-6, >= 7), for trend lines; cells use the full risk."""

STAT_VALUE_SIZE: Final = 64
STAT_TITLE_SIZE: Final = 22


def _escape(text: str) -> str:
    """Escape a label for a JavaScript regular expression."""
    return "".join("\\" + c if c in r"\^$.|?*+()[]{}/" else c for c in text)


def label_pattern(label: str) -> str:
    """A Grafana regex (``/.../``) matching a cell whose text has ``· label`` as a whole word.

    "· Low" must not match "· Low-medium": the label must end the text or be followed by a space.
    """
    return f"/· {_escape(label)}(?:$| )/"


def _result(colour: str, index: int, text: str | None = None) -> dashboard.ValueMappingResult:
    return dashboard.ValueMappingResult(text=text, color=colour, index=index)


def _regex(pattern: str, colour: str, index: int) -> dashboard.RegexMap:
    return dashboard.RegexMap(
        options=dashboard.DashboardRegexMapOptions(pattern=pattern, result=_result(colour, index))
    )


def stale_mapping(s: Strings) -> dashboard.RegexMap:
    """Grey for any cell saying ``· stale <age>``; always the first mapping."""
    return _regex(f"/· {_escape(s.stale)} /", STALE_COLOUR, 0)


def _technical_mappings(s: Strings, start: int) -> list[dashboard.ValueMapping]:
    return [
        _regex(f"/^{_escape(label)}/", TECHNICAL_COLOUR, start + i)
        for i, label in enumerate((s.sensor_off, s.no_value))
    ]


def vital_mappings(key: str, s: Strings) -> list[dashboard.ValueMapping]:
    """Stale grey, then sensor-off purple, then the metric's NEWS2 band colours."""
    mappings: list[dashboard.ValueMapping] = [stale_mapping(s), *_technical_mappings(s, 1)]
    for i, band in enumerate(cell_ranges(key), start=len(mappings)):
        mappings.append(
            dashboard.RangeMap(
                options=dashboard.DashboardRangeMapOptions(
                    from_val=band.low, to=band.high, result=_result(band.colour, i)
                )
            )
        )
    return mappings


def news2_mappings(s: Strings) -> list[dashboard.ValueMapping]:
    """Stale grey, then the colour of the risk label in the NEWS2 text."""
    mappings: list[dashboard.ValueMapping] = [stale_mapping(s)]
    for i, (risk, label) in enumerate(s.risks().items(), start=1):
        mappings.append(_regex(label_pattern(label), RISK_COLOURS[risk], i))
    return mappings


def alert_count_mappings(s: Strings) -> list[dashboard.ValueMapping]:
    """``2 · Critical``: the colour of the highest open priority."""
    return [
        _regex(label_pattern(label), PRIORITY_COLOURS[key], i)
        for i, (key, label) in enumerate(s.priorities().items())
    ]


def value_map(labels: Mapping[str, str], colours: Mapping[str, str]) -> dashboard.ValueMap:
    """Show a stored key (``critical``) as its label (``Critique``) on its colour."""
    return dashboard.ValueMap(
        options={
            key: _result(colours[key], i, text=label)
            for i, (key, label) in enumerate(labels.items())
        }
    )


def steps(*pairs: tuple[float | None, str]) -> ThresholdsConfig:
    """Absolute thresholds from (value, colour) pairs, the first from minus infinity."""
    return (
        ThresholdsConfig()
        .mode(dashboard.ThresholdsMode.ABSOLUTE)
        .steps([dashboard.Threshold(value=v, color=c) for v, c in pairs])
    )


def age_thresholds(warn_s: float, alarm_s: float) -> ThresholdsConfig:
    """Green while fresh, orange from ``warn_s``, red from ``alarm_s`` seconds old."""
    return steps((None, "green"), (warn_s, "orange"), (alarm_s, "red"))


def cell_background() -> dashboard.DynamicConfigValue:
    """Colour the whole cell, not just the text: visible from the other end of the ward."""
    return dashboard.DynamicConfigValue(
        id_val="custom.cellOptions", value={"type": "color-background", "mode": "basic"}
    )


Props = list[dashboard.DynamicConfigValue]


def column(display: str, *extra: dashboard.DynamicConfigValue) -> Props:
    """A table column's override properties: its header in the dashboard's language, and more."""
    return [dashboard.DynamicConfigValue(id_val="displayName", value=display), *extra]


def prop(name: str, value: object) -> dashboard.DynamicConfigValue:
    """One field-config property for an override (``unit``, ``mappings``, ``thresholds``...)."""
    return dashboard.DynamicConfigValue(id_val=name, value=value)


BATTERY_THRESHOLDS: Final = steps((None, "red"), (20.5, "orange"), (30.0, "green"))
"""Red at or below 20 % (the low-battery alarm of nabd.analytics.technical), orange below 30 %."""


def age_column(display: str, warn_s: float, alarm_s: float) -> Props:
    """A column of ages in seconds, coloured by :func:`age_thresholds` over the whole cell."""
    return column(
        display,
        prop("unit", "s"),
        prop("decimals", 0),
        prop("thresholds", age_thresholds(warn_s, alarm_s).build()),
        prop("color", {"mode": "thresholds"}),
        cell_background(),
    )


def battery_column(display: str) -> Props:
    """A column of battery levels in percent, coloured by :data:`BATTERY_THRESHOLDS`."""
    return column(
        display,
        prop("unit", "percent"),
        prop("thresholds", BATTERY_THRESHOLDS.build()),
        prop("color", {"mode": "thresholds"}),
        cell_background(),
    )


def big_stat(title: str, sql: str, field: str, colours: ThresholdsConfig) -> stat.Panel:
    """A stat showing column ``field`` of ``sql`` large, on a background of its colour."""
    return (
        stat.Panel()
        .title(title)
        .datasource(datasource_ref())
        .with_target(Sql(sql))
        .reduce_options(
            common_builders.ReduceDataOptions()
            .values(False)
            .calcs(["lastNotNull"])
            .fields(f"/^{field}$/")
        )
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE)
        .justify_mode(common.BigValueJustifyMode.CENTER)
        .orientation(common.VizOrientation.AUTO)
        .text(
            common_builders.VizTextDisplayOptions()
            .title_size(STAT_TITLE_SIZE)
            .value_size(STAT_VALUE_SIZE)
        )
        .thresholds(colours)
    )


def count_stat(title: str, sql: str, field: str, alarm_colour: str) -> stat.Panel:
    """A count that is green at 0 and ``alarm_colour`` from 1."""
    return big_stat(title, sql, field, steps((None, "green"), (1.0, alarm_colour))).decimals(0)
