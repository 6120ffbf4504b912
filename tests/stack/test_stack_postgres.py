"""The stack's PostgreSQL: TimescaleDB works, authentication is scram only, loopback only."""

from __future__ import annotations

import shlex
from pathlib import Path

import psycopg
import pytest

from nabd.app.cli import main
from nabd.app.stack.layout import Layout
from nabd.app.stack.postgres import MAX_WAL_SIZE, shared_buffers_mb
from nabd.app.stack.provision import admin_url
from nabd.app.stack.state import SUPERUSER, load_state
from nabd.app.stack.testing import RunningStack, database_name
from nabd.app.stack.timescale import timescaledb_features

pytestmark = pytest.mark.integration


def _printed_env(stack: RunningStack, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["-q", "stack", "env", "--state-dir", str(stack.state_dir)]) == 0
    env: dict[str, str] = {}
    for line in capsys.readouterr().out.splitlines():
        export, assignment = shlex.split(line)
        assert export == "export"
        name, value = assignment.split("=", 1)
        env[name] = value
    return env


def test_the_printed_url_reaches_nabd_with_timescaledb(
    nabd_stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _printed_env(nabd_stack, capsys)["NABD_DATABASE_URL"]
    assert url.startswith("postgresql://nabd:")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_database(), current_user,"
            " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
        ).fetchone()
    assert row is not None
    assert row[:2] == ("nabd", "nabd")
    assert row[2] is not None


def test_hypertable_and_time_bucket_work_in_a_fresh_database(fresh_database: str) -> None:
    assert database_name(fresh_database).startswith("nabd_test_")
    with psycopg.connect(fresh_database) as conn:
        conn.execute("CREATE TABLE reading (time timestamptz NOT NULL, value double precision)")
        conn.execute("SELECT create_hypertable('reading', 'time')")
        conn.execute(
            "INSERT INTO reading SELECT t, extract(minute FROM t)"
            " FROM generate_series(timestamptz '2026-01-01 00:00+00',"
            " timestamptz '2026-01-01 01:59+00', interval '1 minute') AS t"
        )
        rows = conn.execute(
            "SELECT time_bucket('1 hour', time) AS hour, count(*), avg(value)"
            " FROM reading GROUP BY 1 ORDER BY 1"
        ).fetchall()
        chunks = conn.execute("SELECT count(*) FROM show_chunks('reading')").fetchone()
    assert [(count, avg) for _, count, avg in rows] == [(60, 29.5), (60, 29.5)]
    assert rows[1][0].hour == 1
    assert chunks is not None
    assert chunks[0] >= 1


def test_features_match_the_servers_license_also_when_tried(nabd_stack: RunningStack) -> None:
    reported = timescaledb_features(nabd_stack.database_url)
    tried = timescaledb_features(nabd_stack.database_url, always_try=True)
    assert tried == reported
    expected = reported.license != "apache"
    assert (tried.compression, tried.continuous_aggregates, tried.background_jobs) == (
        expected,
        expected,
        expected,
    )
    with psycopg.connect(nabd_stack.database_url) as conn:  # the probes left nothing behind
        leftovers = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'nabd_probe_%'"
        ).fetchone()
    assert leftovers == (0,)


def test_a_wrong_password_is_refused_over_tcp(nabd_stack: RunningStack) -> None:
    url = nabd_stack.database_url
    wrong = url.replace("postgresql://nabd:", "postgresql://nabd:x", 1)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5).close()


def _admin_url(stack: RunningStack) -> str:
    state = load_state(Layout(stack.state_dir))
    assert state is not None
    password = state.postgres.superuser_password.get_secret_value()
    return admin_url(state.postgres.port, SUPERUSER, password)


def test_no_trust_auth_and_only_loopback(nabd_stack: RunningStack) -> None:
    with psycopg.connect(_admin_url(nabd_stack)) as conn:  # pg_hba_file_rules: superuser only
        methods = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
        addresses = conn.execute("SHOW listen_addresses").fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        telemetry = conn.execute("SHOW timescaledb.telemetry_level").fetchone()
        owner = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'nabd'"
        ).fetchone()
    assert methods == [("scram-sha-256",)]
    assert addresses == ("127.0.0.1",)
    assert preload == ("timescaledb",)
    assert telemetry == ("off",)
    assert owner == (False, True, True)


def test_socket_lives_in_the_state_folder(nabd_stack: RunningStack) -> None:
    layout = Layout(nabd_stack.state_dir)
    port = psycopg.conninfo.conninfo_to_dict(nabd_stack.database_url)["port"]
    assert (layout.pg_socket_dir / f".s.PGSQL.{port}").is_socket()
    assert layout.pg_socket_dir.is_relative_to(nabd_stack.state_dir)


@pytest.mark.parametrize("service", ["ingest", "analytics", "dashboards"])
def test_service_logins_belong_to_their_group_role(
    nabd_stack: RunningStack, capsys: pytest.CaptureFixture[str], service: str
) -> None:
    url = _printed_env(nabd_stack, capsys)[f"NABD_{service.upper()}_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_user, pg_has_role(current_user, %s, 'member'),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
            (f"nabd_{service}",),
        ).fetchone()
    assert row == (service, True, False)


def test_the_state_file_is_private(nabd_stack: RunningStack) -> None:
    state_file: Path = Layout(nabd_stack.state_dir).state_file
    assert state_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("memory_gib", "expected_mb"),
    [(0.25, 128), (2, 512), (8, 2048), (24, 4096), (256, 4096)],
)
def test_shared_buffers_are_a_quarter_of_memory_within_bounds(
    memory_gib: float, expected_mb: int
) -> None:
    assert shared_buffers_mb(int(memory_gib * 1024**3)) == expected_mb


_SHOWN = ("max_wal_size", "wal_compression")


def test_the_server_runs_with_the_memory_and_checkpoint_settings_of_the_stack(
    nabd_stack: RunningStack,
) -> None:
    state = load_state(Layout(nabd_stack.state_dir))
    assert state is not None
    url = admin_url(state.pg_ports, SUPERUSER, state.postgres.superuser_password.get_secret_value())
    with psycopg.connect(url) as conn:
        shown = {name: conn.execute(f"SHOW {name}").fetchone() for name in _SHOWN}
        buffers = conn.execute(
            "SELECT setting::int8 * 8192 / 1048576 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()
    assert buffers == (shared_buffers_mb(),)
    assert shown["max_wal_size"] == (MAX_WAL_SIZE,)
    assert shown["wal_compression"] == ("lz4",)
