"""The macro expander gives what Grafana gives: known answers from Grafana's PostgreSQL data
source (its macro tests, ``pkg/tsdb/grafana-postgresql-datasource/macros_test.go``, and the
variable formats of its documentation), and refuses what it cannot expand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.dashboards.errors import MacroError
from nabd.dashboards.macros import (
    QueryContext,
    Variable,
    expand,
    format_interval,
    parse_interval,
    rfc3339,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
TO = FROM + timedelta(minutes=5)


def ctx(
    timescaledb: bool = False, interval: timedelta = timedelta(minutes=10), **variables: Variable
) -> QueryContext:
    return QueryContext(FROM, TO, interval, variables, timescaledb=timescaledb)


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        ("select $__time(time_column)", 'select time_column AS "time"'),
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        (
            "SELECT $__timeGroup(time_column,'5m')",
            "SELECT floor(extract(epoch from time_column)/300)*300",
        ),
        (
            "SELECT $__timeGroupAlias(time_column,'5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        ("$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
        # Grafana < 5.3 compatibility: a comma right after $__timeGroup means "aliased".
        (
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m') as time, value",
            "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
        ),
        ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
        (
            "select $__unixEpochNanoFilter(time)",
            "select time >= 1523556000000000000 AND time <= 1523556300000000000",
        ),
        (
            "SELECT $__unixEpochGroupAlias(time_column+time_adjustment,'5m')",
            'SELECT floor((time_column+time_adjustment)/300)*300 AS "time"',
        ),
        ("SELECT $__interval", "SELECT 10m"),
        ("SELECT $__interval_ms", "SELECT 600000"),
        ("SELECT $__unixEpochFrom(), $__unixEpochTo()", "SELECT 1523556000, 1523556300"),
        ("SELECT $__timeGroup(t, $__interval)", "SELECT floor(extract(epoch from t)/600)*600"),
    ],
)
def test_grafana_known_answers(sql: str, expanded: str) -> None:
    assert expand(sql, ctx()) == expanded


@pytest.mark.parametrize(
    ("interval", "bucket"),
    [("'5m'", "300.000s"), ("'12d'", "1036800.000s"), ("'20ms'", "0.020s")],
)
def test_timescaledb_time_group_is_time_bucket(interval: str, bucket: str) -> None:
    sql = f"GROUP BY $__timeGroup(time_column , {interval})"
    assert expand(sql, ctx(timescaledb=True)) == f"GROUP BY time_bucket('{bucket}',time_column)"


def test_sub_second_times_and_fractional_buckets() -> None:
    assert rfc3339(datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=UTC)) == "1960-02-01T07:00:00.5Z"
    assert expand("$__timeGroup(t, 1500ms)", ctx()) == "floor(extract(epoch from t)/1.5)*1.5"
    assert (
        expand("$__timeGroup(t, 12d)", ctx())
        == "floor(extract(epoch from t)/1.0368e+06)*1.0368e+06"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90, "1m"),
        (60, "1m"),
        (3600, "1h"),
        (86400, "1d"),
        (0.5, "500ms"),
        (20, "20s"),
        (400 * 86400, "1y"),
    ],
)
def test_interval_text_is_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert format_interval(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_interval_parsing_round_trips_through_its_own_unit(count: int, unit: str) -> None:
    size = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_interval(f"{count}{unit}") == timedelta(seconds=count * size)


def test_variables_are_quoted_as_a_sql_data_source_quotes_them() -> None:
    single = Variable("p-1")
    multi = Variable(("a", "o'b"), multi=True)
    context = ctx(patient=single, ward=multi)
    assert expand("id = '$patient'", context) == "id = 'p-1'"  # single value: pasted raw
    assert expand("id = ${patient:sqlstring}", context) == "id = 'p-1'"
    assert expand("w IN ($ward)", context) == "w IN ('a','o''b')"  # multi: quoted by default
    assert expand("w IN (${ward:sqlstring})", context) == "w IN ('a','o''b')"
    assert expand("w = '${ward:csv}' AND [[patient]]", context) == "w = 'a,o'b' AND p-1"
    hostile = ctx(patient=Variable("x' OR '1'='1"))
    assert expand("id = ${patient:sqlstring}", hostile) == "id = 'x'' OR ''1''=''1'"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT $patinet",
        "SELECT ${ward:lucene}",
        "SELECT $__nope(x)",
        "SELECT $__timeGroup(t)",
        "SELECT $__timeGroup(t, 5 minutes)",
        "SELECT $__timeFilter()",
        "SELECT ${ward.text}",
    ],
)
def test_what_cannot_be_expanded_is_refused(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, ctx(ward=Variable(("a",), multi=True)))


def test_context_needs_an_aware_range_and_a_positive_interval() -> None:
    with pytest.raises(MacroError):
        QueryContext(FROM.replace(tzinfo=None), TO, timedelta(minutes=1))
    with pytest.raises(MacroError):
        QueryContext(FROM, TO, timedelta(0))
