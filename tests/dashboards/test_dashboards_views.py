"""What nurses and operators actually see: the ward sorted by acuity, stale values marked stale
and grey, cells coloured by their NEWS2 band, scores marked incomplete, alerts unacknowledged
first, completeness counted right, and a patient's 24 hours read through the index.

Colours are checked end to end: the SQL result of a panel is passed through the value mappings
of the *generated* panel, evaluated as Grafana evaluates them (first match wins; a range
mapping reads the text with JavaScript's ``parseFloat``; regex mappings are ``/pattern/``), and
the colour must be the one NEWS2 (``nabd.analytics.news2``) gives the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from nabd.analytics.service.conditions import BY_NAME
from nabd.contract.catalogue import METRICS
from nabd.dashboards import sql
from nabd.dashboards.bands import METRIC_BANDS, SCORE_COLOURS
from nabd.dashboards.i18n import Lang, metric_name, strings
from nabd.dashboards.macros import expand
from nabd.dashboards.panels import panel_queries
from nabd.dashboards.registry import BuiltDashboard, build_all
from nabd.dashboards.style import RISK_COLOURS, STALE_COLOUR, TECHNICAL_COLOUR

if TYPE_CHECKING:
    from tests.dashboards.conftest import Result, Runner

pytestmark = pytest.mark.integration

BOARDS = {b.uid: b for b in build_all()}
COLUMN_METRIC = {
    "pulse": "heart_rate",
    "spo2": "spo2",
    "respiration": "respiration_rate",
    "temperature": "body_temperature",
    "systolic": "systolic_bp",
}
RISK_RANK = {"low": 1, "low-medium": 2, "medium": 3, "high": 4}


# ---- Grafana's value mappings, as the browser applies them ----------------------------------

_JS_FLOAT = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


def _parse_float(text: str) -> float:
    """JavaScript's ``parseFloat``: the longest leading number, NaN if there is none."""
    match = _JS_FLOAT.match(text)
    return float(match[1]) if match else math.nan


def mapped_colour(mappings: Sequence[Mapping[str, Any]], value: object) -> str | None:
    """``getValueMappingResult(...).color`` for a cell value."""
    if value is None:
        return None
    text = str(value)
    for mapping in mappings:
        options = mapping["options"]
        if mapping["type"] == "value" and text in options:
            return str(options[text]["color"])
        if mapping["type"] == "range":
            number = _parse_float(text)
            if not math.isnan(number) and options["from"] <= number <= options["to"]:
                return str(options["result"]["color"])
        if mapping["type"] == "regex":
            pattern = options["pattern"]
            assert pattern.startswith("/")
            assert pattern.endswith("/")
            if re.search(pattern[1:-1], text):
                return str(options["result"]["color"])
    return None


def column_mappings(board: BuiltDashboard, panel_title: str, column: str) -> list[Any]:
    panel = next(p for p in board.model["panels"] if p["title"] == panel_title)
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"]["options"] == column:
            for prop in override["properties"]:
                if prop["id"] == "mappings":
                    return list(prop["value"])
    raise AssertionError(f"{column} has no mappings")


# ---- helpers ----------------------------------------------------------------------------------


def panel_result(runner: Runner, uid: str, title: str, elapsed: timedelta = timedelta(0)) -> Result:
    """The panel's result as if the fill had just finished (or ``elapsed`` ago)."""
    query = next(q for q in panel_queries(BOARDS[uid]) if q.title == title)
    return runner.query(expand(query.sql, runner.context()), elapsed=elapsed)


@pytest.fixture(params=list(Lang), ids=[str(lang) for lang in Lang])
def lang(request: pytest.FixtureRequest) -> Lang:
    chosen: Lang = request.param
    return chosen


def ward_table(runner: Runner, lang: Lang) -> list[dict[str, Any]]:
    title = strings(lang).table_patients
    return panel_result(runner, f"nabd-ward-{lang}", title).records()


# ---- ward overview ----------------------------------------------------------------------------


def test_the_most_acute_patient_comes_first(dashboards_sql: Runner, lang: Lang) -> None:
    ward = dashboards_sql.ward
    rows = ward_table(dashboards_sql, lang)
    assert rows[0]["patient"] == ward.septic
    keys = [
        (RISK_RANK[ward.latest_score[r["patient"]][2]], ward.latest_score[r["patient"]][1])
        for r in rows
    ]
    assert keys == sorted(keys, reverse=True)
    assert {r["patient"] for r in rows} == set(ward.patients)


def test_a_stale_value_is_shown_stale_and_grey_never_current(
    dashboards_sql: Runner, lang: Lang
) -> None:
    s = strings(lang)
    ward = dashboards_sql.ward
    rows = {r["patient"]: r for r in ward_table(dashboards_sql, lang)}
    board = BOARDS[f"nabd-ward-{lang}"]
    stale = rows[ward.stale_spo2]["spo2"]
    assert re.fullmatch(rf"\d+ · {s.stale} 2 {s.unit_hour}", stale), stale
    assert mapped_colour(column_mappings(board, s.table_patients, "spo2"), stale) == STALE_COLOUR
    fresh = rows[ward.septic]["spo2"]
    assert re.fullmatch(r"\d+", fresh), fresh
    off = rows[ward.sensor_off]["spo2"]
    assert off == s.sensor_off
    assert mapped_colour(column_mappings(board, s.table_patients, "spo2"), off) == TECHNICAL_COLOUR


def test_a_minute_without_data_makes_every_1_hz_vital_stale(dashboards_sql: Runner) -> None:
    s = strings(Lang.EN)
    rows = panel_result(
        dashboards_sql, "nabd-ward-en", s.table_patients, elapsed=timedelta(minutes=1)
    ).records()
    assert all(r["pulse"].endswith(" · stale 1 min") for r in rows)
    assert not any(" · stale " in r["respiration"] for r in rows)  # stale after 3 minutes


def test_vital_cells_take_the_colour_of_their_news2_band(
    dashboards_sql: Runner, lang: Lang
) -> None:
    s = strings(lang)
    board = BOARDS[f"nabd-ward-{lang}"]
    coloured = 0
    for row in ward_table(dashboards_sql, lang):
        for column, key in COLUMN_METRIC.items():
            text = row[column]
            colour = mapped_colour(column_mappings(board, s.table_patients, column), text)
            if f" · {s.stale} " in text:
                assert colour == STALE_COLOUR
            elif text in (s.sensor_off, s.no_value):
                assert colour == TECHNICAL_COLOUR
            else:
                score = int(METRIC_BANDS[key].score(np.array([float(text)]))[0])
                assert colour == ("transparent" if score == 0 else SCORE_COLOURS[score]), text
                coloured += score > 0
    assert coloured >= 4, "the septic patient has several abnormal vitals"


def test_the_news2_cell_says_score_risk_completeness_and_staleness(
    dashboards_sql: Runner, lang: Lang
) -> None:
    s = strings(lang)
    ward = dashboards_sql.ward
    board = BOARDS[f"nabd-ward-{lang}"]
    mappings = column_mappings(board, s.table_patients, "news2")
    for row in ward_table(dashboards_sql, lang):
        _, total, risk, complete = ward.latest_score[row["patient"]]
        text = row["news2"]
        prefix = "" if complete else "≥ "
        assert text.startswith(f"{prefix}{total} · {s.risks()[risk]}")
        assert (f"({s.incomplete})" in text) is (not complete)
        stale = row["patient"] == ward.stale_score
        assert (f" · {s.stale} 20 {s.unit_min}" in text) is stale
        expected = STALE_COLOUR if stale else RISK_COLOURS[risk]
        assert mapped_colour(mappings, text) == expected, text
    scale2 = [r for r in ward_table(dashboards_sql, lang) if s.scale2 in r["news2"]]
    assert len(scale2) == 1


def test_a_score_with_no_parameter_is_shown_as_no_score_never_0_or_low(
    dashboards_sql: Runner, lang: Lang
) -> None:
    # Issue 20 / migration 0011: a row with no parameter has a NULL total and risk.
    s = strings(lang)
    text = sql.news2_text("sc", "false", s)
    rows = dashboards_sql.query(
        f"SELECT {text} FROM (VALUES (now(), NULL::int2, NULL::text, false))"  # noqa: S608 - our SQL
        " sc (time, total, risk, complete)"
    ).rows
    assert rows == [(s.no_score,)]
    assert "0" not in s.no_score
    assert all(label not in s.no_score for label in s.risks().values())


@pytest.mark.parametrize("lang", list(Lang))
def test_remote_monitoring_lists_the_patients_at_home_only(
    dashboards_sql: Runner, lang: Lang
) -> None:
    ward, s = dashboards_sql.ward, strings(lang)
    home = ward.patients[-4:]  # the conftest's patients with a care plan
    context = dashboards_sql.context()
    counts = {
        name: dashboards_sql.query(expand(text, context), elapsed=timedelta(0)).rows[0][0]
        for name, text in sql.remote_counts().items()
    }
    assert counts == {"patients": 4, "adherence": 1, "clinical": 0, "technical": 0, "silent": 0}
    result = dashboards_sql.query(expand(sql.remote_patients(s), context), elapsed=timedelta(0))
    rows = {r[0]: dict(zip(result.columns, r, strict=True)) for r in result.rows}
    assert set(rows) == set(home)
    first = result.rows[0]
    assert first[0] == home[0]  # the open alert first
    assert rows[home[0]]["alerts"] == f"1 · {s.priority_low}"
    assert {r["programmes"] for r in rows.values()} == {"heart_failure"}
    assert all(r["days_with_data"] in {"2/7", "3/7"} for r in rows.values())  # 26 h of data
    assert all(r["weight"] is not None for r in rows.values())


def test_remote_monitoring_counts_a_silent_home_gateway_as_technical_not_clinical(
    dashboards_sql: Runner,
) -> None:
    """A nurse reading "clinical alerts" sees alerts about the patient only: an open
    ``home_gateway_offline`` (technical, low: the home box is silent) is counted among the
    technical alerts, a weight gain among the clinical ones; each kind as analytics writes it
    (``conditions.BY_NAME``)."""
    home = dashboards_sql.ward.patients[-4:]
    opened = [(home[1], "home_gateway_offline", "low"), (home[2], "weight_gain", "medium")]
    context = dashboards_sql.context()
    counts = {}
    for name, text in sql.remote_counts().items():
        with dashboards_sql.conn.cursor() as cur:  # rolled back by the query below
            cur.executemany(
                """INSERT INTO alert (patient_id, condition, kind, priority, message, raised_at)
                   VALUES (%s, %s, %s, %s, %s, now())""",
                [(p, c, BY_NAME[c].kind.value, prio, c) for p, c, prio in opened],
            )
        counts[name] = dashboards_sql.query(expand(text, context), elapsed=timedelta(0)).rows[0][0]
    assert counts == {"patients": 4, "adherence": 1, "clinical": 1, "technical": 1, "silent": 0}


def test_ward_counts(dashboards_sql: Runner) -> None:
    ward = dashboards_sql.ward
    counts = {}
    for name, text in sql.ward_counts().items():
        counts[name] = dashboards_sql.query(
            expand(text, dashboards_sql.context()), elapsed=timedelta(0)
        ).rows[0][0]
    high = sum(1 for _, _, risk, _ in ward.latest_score.values() if risk == "high")
    assert counts == {
        "patients": len(ward.patients),
        "high_risk": high,
        "unacknowledged": 2,
        "stale_patients": 2,  # the silent oximeter, and the patient analytics stopped scoring
    }


# ---- alerts, devices, patient -----------------------------------------------------------------


def test_open_alerts_unacknowledged_first_then_by_priority(dashboards_sql: Runner) -> None:
    rows = panel_result(
        dashboards_sql, "nabd-alerts-en", strings(Lang.EN).table_open_alerts
    ).records()
    order = [(r["state"] != "raised", -sql.ALERT_PRIORITY_RANK[r["priority"]]) for r in rows]
    assert order == sorted(order)
    assert "resolved" not in {r["state"] for r in rows}
    assert rows[0]["priority"] == "critical"
    assert rows[0]["escalation"] == 1


def test_alerts_are_annotations_on_the_patient_charts(dashboards_sql: Runner, lang: Lang) -> None:
    s = strings(lang)
    rows = panel_result(dashboards_sql, f"nabd-patient-{lang}", s.annotation_alerts).records()
    assert len(rows) == 2  # the septic patient's two alerts
    assert {r["text"].split(":")[0] for r in rows} == {s.priority_critical, s.priority_high}
    acknowledged = next(r for r in rows if r["tags"].startswith("high,"))
    assert acknowledged["timeend"] is None  # still open: a region up to now


def test_completeness_is_received_over_expected_samples(dashboards_sql: Runner, lang: Lang) -> None:
    ward = dashboards_sql.ward
    rows = panel_result(
        dashboards_sql, f"nabd-devices-{lang}", strings(lang).table_completeness
    ).records()
    heart_rate = {
        Lang.EN: "Heart rate",
        Lang.FR: "Fréquence cardiaque",
        Lang.AR: "معدل ضربات القلب",
    }
    assert {r["metric"] for r in rows} <= {metric_name(key, lang) for key in METRICS}
    row = next(r for r in rows if r["patient"] == ward.septic and r["metric"] == heart_rate[lang])
    start = (ward.now - timedelta(hours=24)).timestamp()
    times = ward.heart_rate_times[ward.septic]
    received = int(((times >= start) & (times <= ward.now.timestamp())).sum())
    expected = 24 * 3600  # one per second (nabd.analytics.technical), assigned all day
    assert (row["received"], row["expected"]) == (received, expected)
    assert float(row["completeness"]) == pytest.approx(received / expected)
    worst = [float(r["completeness"]) for r in rows]
    assert worst == sorted(worst)


def test_devices_of_an_offline_gateway_read_gateway_offline(dashboards_sql: Runner) -> None:
    rows = panel_result(dashboards_sql, "nabd-devices-en", strings(Lang.EN).table_devices).records()
    by_device = {r["device"]: r for r in rows}
    assert {r["connection"] for r in rows if r["gateway"] == "gw-surgery-1"} == {"gateway_offline"}
    assert by_device["plx-01"]["connection"] == "silent"  # the oximeter whose battery died
    assert by_device["plx-spare"]["connection"] == "no_data"
    assert by_device["hrs-00"]["connection"] == "connected"


# ---- one patient's 24 hours through the index -------------------------------------------------


def _nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_patient_panels_read_one_patient_through_the_index(dashboards_sql: Runner) -> None:
    chunks = {
        row[0]
        for row in dashboards_sql.conn.execute(
            "SELECT chunk_name FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'observation'"
        ).fetchall()
    }
    dashboards_sql.conn.rollback()
    panels = [
        q
        for q in panel_queries(BOARDS["nabd-patient-en"])
        if q.kind == "timeseries" and "FROM observation" in q.sql
    ]
    assert len(panels) >= 9
    for query in panels:
        result = dashboards_sql.query(expand(query.sql, dashboards_sql.context()), explain=True)
        plan = result.rows[0][0][0]["Plan"]
        on_chunks = [n for n in _nodes(plan) if n.get("Relation Name") in chunks]
        assert on_chunks, query.title
        assert not [n for n in on_chunks if n["Node Type"] == "Seq Scan"], query.title
        indexes = {n.get("Index Name", "") for n in _nodes(plan)}
        assert any(i.endswith("observation_patient_metric_time_idx") for i in indexes), (
            query.title,
            indexes,
        )
