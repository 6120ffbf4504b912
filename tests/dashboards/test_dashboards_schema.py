"""Migration 0010, the dashboards' contract with the analytics service: ``news2_score`` and
``analytics_tick`` are hypertables, analytics may write them and the dashboards only read them,
and a score whose arithmetic is wrong cannot be stored. Every change is rolled back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import errors, sql

if TYPE_CHECKING:
    from tests.dashboards.conftest import Runner

pytestmark = pytest.mark.integration

INSERT = """INSERT INTO news2_score (time, patient_id, total, risk, complete, scale2,
    respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate, consciousness, temperature)
    VALUES ('2026-01-01T00:00:00Z', 'p-x', %s, 'medium', %s, false, %s, %s, %s, %s, %s, %s, %s)"""


def _as(conn: psycopg.Connection[tuple[Any, ...]], role: str) -> None:
    conn.execute(f"GRANT {role} TO current_user")
    conn.execute(f"SET ROLE {role}")


def test_both_tables_are_hypertables(dashboards_sql: Runner) -> None:
    rows = dashboards_sql.conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables"
    ).fetchall()
    dashboards_sql.conn.rollback()
    assert {("news2_score",), ("analytics_tick",)} <= set(rows)


def test_analytics_writes_a_score_once(dashboards_sql: Runner) -> None:
    conn = dashboards_sql.conn
    try:
        _as(conn, "nabd_analytics")
        row = (5, True, 3, 0, 0, 1, 1, 0, 0)
        conn.execute(INSERT, row)
        conn.execute(INSERT + " ON CONFLICT DO NOTHING", row)
        count = conn.execute("SELECT count(*) FROM news2_score WHERE patient_id = 'p-x'").fetchone()
        assert count == (1,)
        conn.execute(
            "INSERT INTO analytics_tick (time, duration_ms, patients) VALUES (now(), 3, 1)"
        )
    finally:
        conn.rollback()


@pytest.mark.parametrize(
    "row",
    [
        (6, True, 3, 0, 0, 1, 1, 0, 0),  # total is not the sum of the sub-scores
        (5, True, 3, 0, -1, 1, 1, 0, 0),  # a missing parameter, yet "complete"
        (4, False, 3, 0, -1, 1, 1, 0, 0),  # total counts the missing one as -1
        (5, True, 3, 0, 1, 1, 0, 0, 0),  # air_or_oxygen is 0 or 2 in Chart 1
    ],
)
def test_a_score_that_does_not_add_up_is_refused(
    dashboards_sql: Runner, row: tuple[object, ...]
) -> None:
    conn = dashboards_sql.conn
    try:
        _as(conn, "nabd_analytics")
        with pytest.raises(errors.CheckViolation):
            conn.execute(INSERT, row)
    finally:
        conn.rollback()


@pytest.mark.parametrize("table", ["news2_score", "analytics_tick"])
def test_the_dashboards_only_read(dashboards_sql: Runner, table: str) -> None:
    conn = dashboards_sql.conn
    try:
        _as(conn, "nabd_dashboards")
        conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table)))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    finally:
        conn.rollback()


NO_SCORE_INSERT = """INSERT INTO news2_score (time, patient_id, total, risk, complete, scale2,
    respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate, consciousness, temperature)
    VALUES ('2026-01-01T00:00:00Z', 'p-x', %s, %s, false, false, %s, -1, -1, -1, -1, -1, -1)"""


def test_a_row_with_no_parameter_stores_no_total_and_no_risk(dashboards_sql: Runner) -> None:
    """Migration 0011: nothing measured is stored as NULL total and risk, never 0 / 'low'."""
    conn = dashboards_sql.conn
    try:
        _as(conn, "nabd_analytics")
        conn.execute(NO_SCORE_INSERT, (None, None, -1))
    finally:
        conn.rollback()


@pytest.mark.parametrize(
    "row",
    [
        (0, "low", -1),  # nothing measured, yet a score of 0 and a risk band
        (None, None, 0),  # a parameter present, yet no score
        (None, "low", -1),  # a risk without a total
        (0, None, 0),  # a total without a risk
    ],
)
def test_no_score_exactly_when_no_parameter(
    dashboards_sql: Runner, row: tuple[object, ...]
) -> None:
    conn = dashboards_sql.conn
    try:
        _as(conn, "nabd_analytics")
        with pytest.raises((errors.CheckViolation, errors.NotNullViolation)):
            conn.execute(NO_SCORE_INSERT, row)
    finally:
        conn.rollback()


def test_0011_corrects_rows_written_before_it(dashboards_sql: Runner) -> None:
    """A database upgraded past 0011 keeps no 'total 0, low' row with nothing measured."""
    from nabd.app.db.migrations import shipped  # noqa: PLC0415

    (migration,) = [m for m in shipped() if m.version == "0011"]
    conn = dashboards_sql.conn
    try:
        conn.execute(  # the table as 0010 left it
            """ALTER TABLE news2_score DROP CONSTRAINT news2_score_no_parameter_no_score,
                                       DROP CONSTRAINT news2_score_no_total_no_risk"""
        )
        conn.execute(NO_SCORE_INSERT, (0, "low", -1))  # what the service wrote before 0011
        conn.execute(migration.sql.encode())
        row = conn.execute("SELECT total, risk FROM news2_score WHERE patient_id = 'p-x'")
        assert row.fetchall() == [(None, None)]
    finally:
        conn.rollback()
