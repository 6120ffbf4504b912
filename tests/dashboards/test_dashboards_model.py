"""The generated dashboards themselves: stable identities, one data source, a sane layout that
reads from across a room, every vital drawn, no untranslated label, and colour bands that agree
with NEWS2 scoring."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.analytics import news2
from nabd.contract.alert_text import NAMES
from nabd.contract.catalogue import METRICS, MetricKind
from nabd.dashboards.bands import METRIC_BANDS, SCORE_COLOURS, cell_ranges, chart_steps
from nabd.dashboards.i18n import STRINGS, Lang, Strings, metric_name
from nabd.dashboards.layout import Row
from nabd.dashboards.registry import BUILDERS, BuiltDashboard, build_all
from nabd.dashboards.style import label_pattern
from nabd.dashboards.target import DATASOURCE_UID

BOARDS = build_all()


def panels(board: BuiltDashboard) -> list[Mapping[str, Any]]:
    return list(board.model["panels"])


def test_every_dashboard_exists_in_every_language_with_a_stable_uid() -> None:
    assert {b.uid for b in BOARDS} == {f"nabd-{slug}-{lang}" for slug in BUILDERS for lang in Lang}
    for board in BOARDS:
        assert board.model["uid"] == board.uid
        assert re.fullmatch(r"[a-z0-9-]{1,40}", board.uid)
        assert "nabd" in board.model["tags"]
        assert board.model["editable"] is False
    assert [b.to_json() for b in BOARDS] == [b.to_json() for b in build_all()]


def test_titles_are_unique_in_the_folder() -> None:
    titles = [b.title for b in BOARDS]
    assert len(set(titles)) == len(titles)


def _targets(board: BuiltDashboard) -> Iterator[Mapping[str, Any]]:
    for panel in panels(board):
        yield from panel.get("targets", [])
    for annotation in board.model["annotations"]["list"]:
        yield annotation["target"]


@pytest.mark.parametrize("board", BOARDS, ids=[b.uid for b in BOARDS])
def test_every_query_goes_to_the_nabd_data_source(board: BuiltDashboard) -> None:
    for panel in panels(board):
        assert panel["datasource"]["uid"] == DATASOURCE_UID
        assert panel["targets"], panel["title"]
    for target in _targets(board):
        assert target["datasource"] == {"type": "postgres", "uid": DATASOURCE_UID}
        assert target["rawSql"].strip()
        assert target["rawQuery"] is True
    for variable in board.model["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID


@pytest.mark.parametrize("board", BOARDS, ids=[b.uid for b in BOARDS])
def test_layout_fits_the_grid_without_overlap_and_few_panels_per_row(board: BuiltDashboard) -> None:
    cells: set[tuple[int, int]] = set()
    ids = [p["id"] for p in panels(board)]
    assert ids == list(range(1, len(ids) + 1))
    per_row: dict[int, int] = {}
    for panel in panels(board):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, panel["title"]
        cells |= mine
        per_row[pos["y"]] = per_row.get(pos["y"], 0) + 1
    assert max(per_row.values()) <= 4


@pytest.mark.parametrize("board", BOARDS, ids=[b.uid for b in BOARDS])
def test_stats_are_big_and_coloured(board: BuiltDashboard) -> None:
    stats = [p for p in panels(board) if p["type"] == "stat"]
    assert stats
    for stat in stats:
        assert stat["options"]["colorMode"] == "background"
        assert stat["options"]["text"]["valueSize"] >= 48
        assert stat["gridPos"]["w"] >= 6
        assert stat["gridPos"]["h"] >= 5


def test_the_patient_dashboard_draws_every_vital_of_the_catalogue() -> None:
    for board in (b for b in BOARDS if b.slug == "patient"):
        sql = " ".join(t["rawSql"] for t in _targets(board))
        drawn = {
            k
            for group in re.findall(r"key IN \(([^)]*)\)", sql)
            for k in re.findall(r"'(\w+)'", group)
        }
        vitals = {key for key, m in METRICS.items() if m.kind is MetricKind.VITAL}
        assert vitals <= drawn, vitals - drawn


def _labels(model: Any) -> Iterator[str]:
    """Every text a user reads: titles, headers, labels, mapped texts."""
    if isinstance(model, dict):
        for key, value in model.items():
            if key in ("title", "label", "text", "name") and isinstance(value, str):
                yield value
            elif key == "id" and value == "displayName":
                yield model["value"]
            else:
                yield from _labels(value)
    elif isinstance(model, list):
        for item in model:
            yield from _labels(item)


def _words(lang: Lang) -> set[str]:
    """Every label, metric name and alert condition name of ``lang``."""
    s = STRINGS[lang]
    return (
        {getattr(s, f.name) for f in dataclasses.fields(Strings)}
        | {metric_name(key, lang) for key in METRICS}
        | set(NAMES[str(lang)].values())
    )


def test_no_label_leaks_from_one_language_into_another() -> None:
    for board in BOARDS:
        own = _words(board.lang)
        foreign = set().union(*(_words(lang) for lang in Lang if lang is not board.lang)) - own
        shown = set(_labels(board.model)) | set(
            re.findall(r"'([^']+)'", " ".join(t["rawSql"] for t in _targets(board)))
        )
        leaked = shown & foreign
        assert not leaked, (board.uid, leaked)


_ARABIC = re.compile(r"[\u0600-\u06ff]")


def test_every_arabic_label_is_translated_where_french_is() -> None:
    """Arabic keeps a label as in English only where French does too (NEWS2, MQTT, SpO2 %);
    everything else is written in Arabic letters."""
    en, fr, ar = (STRINGS[lang] for lang in (Lang.EN, Lang.FR, Lang.AR))
    for f in dataclasses.fields(Strings):
        english, french, arabic = (getattr(s, f.name) for s in (en, fr, ar))
        if arabic == english:
            assert french == english, f"{f.name}: French translates {english!r}, Arabic does not"
        else:
            assert _ARABIC.search(arabic), (f.name, arabic)
    for key in METRICS:
        assert _ARABIC.search(metric_name(key, Lang.AR)), key


def test_arabic_dashboards_show_arabic_titles_and_western_digits() -> None:
    for board in (b for b in BOARDS if b.lang is Lang.AR):
        assert _ARABIC.search(board.title)
        for panel in panels(board):
            assert _ARABIC.search(panel["title"]) or panel["title"] in ("NEWS2",), panel["title"]
        shown = " ".join(_labels(board.model))
        assert not re.search(r"[\u0660-\u0669\u06f0-\u06f9]", shown), "no Arabic-Indic digits"


def test_labels_are_checked_on_construction() -> None:
    en = STRINGS[Lang.EN]
    with pytest.raises(ValueError, match="distinct"):
        dataclasses.replace(en, risk_medium=en.risk_high)
    with pytest.raises(ValueError, match="without"):
        dataclasses.replace(en, stale="$stale")


@pytest.mark.parametrize("lang", list(Lang))
def test_a_risk_pattern_matches_its_own_label_only(lang: Lang) -> None:
    labels = STRINGS[lang].risks().values()
    for label in labels:
        pattern = label_pattern(label)[1:-1]
        cells = [f"3 · {other}" for other in labels] + [f"≥ 3 · {other} (x)" for other in labels]
        matching = {c.split(" · ")[1].split(" (")[0] for c in cells if re.search(pattern, c)}
        assert matching == {label}


def test_a_row_must_fill_the_grid() -> None:
    with pytest.raises(ValueError, match="24"):
        Row(6, [])


def _colour_of(steps: list[tuple[float | None, str]], value: float) -> str:
    colour = steps[0][1]
    for threshold, step_colour in steps[1:]:
        assert threshold is not None
        if value >= threshold:
            colour = step_colour
    return colour


@given(st.sampled_from(sorted(METRIC_BANDS)), st.floats(0, 1, allow_nan=False))
def test_chart_bands_colour_a_value_as_news2_scores_it(key: str, fraction: float) -> None:
    low, high = METRICS[key].min_value, min(METRICS[key].max_value, 250.0)
    value = low + fraction * (high - low)
    if key == "body_temperature":
        value = min(value, 50.0)
    score = int(METRIC_BANDS[key].score(np.array([value]))[0])
    steps = [(s.value, s.colour) for s in chart_steps(key)]
    assert _colour_of(steps, value) == SCORE_COLOURS[score]
    shown = round(value, METRIC_BANDS[key].decimals)
    ranges = [r for r in cell_ranges(key) if r.low <= shown <= r.high]
    expected = "transparent" if score == 0 else SCORE_COLOURS[score]
    if abs(shown - value) < 10 ** -METRIC_BANDS[key].decimals / 2 - 1e-9:  # not on a half
        assert [r.colour for r in ranges] == [expected]


def test_bands_tile_the_possible_range() -> None:
    for key in METRIC_BANDS:
        ranges = cell_ranges(key)
        assert ranges[0].low == METRICS[key].min_value
        assert ranges[-1].high == METRICS[key].max_value
        step = 10.0 ** -METRIC_BANDS[key].decimals
        for a, b in pairwise(ranges):
            assert b.low == pytest.approx(a.high + step)
    assert news2.HEART_RATE is METRIC_BANDS["pulse_rate"]
