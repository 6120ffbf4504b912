"""Row-level security per ward (migration 0040), against real logins on the real server.

A ward viewer is created by ``nabd db ward-viewer add`` and logs in with the password it
printed; nothing the client sends can widen what it sees.
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from psycopg import errors

from nabd.app.cli import main
from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.testing import RunningStack

pytestmark = pytest.mark.integration

SUFFIX = secrets.token_hex(3)
WARDS = (f"wa{SUFFIX}", f"wb{SUFFIX}")
PATIENT_TABLES = {
    "observation": "patient_id",
    "observation_latest": "patient_id",
    "alert": "patient_id",
    "news2_score": "patient_id",
    "device_assignment": "patient_id",
    "nurse_entry": "patient_id",
    "patient": "id",
}


def _fill(url: str) -> None:
    """Two wards, each with a patient, gateway, device and a row in every patient table."""
    with psycopg.connect(url, autocommit=True) as c:
        for w in WARDS:
            p, g, d = f"p-{w}", f"g-{w}", f"d-{w}"
            c.execute("INSERT INTO ward (id, name) VALUES (%s, 'W')", (w,))
            c.execute("INSERT INTO patient (id, ward_id) VALUES (%s, %s)", (p, w))
            c.execute("INSERT INTO gateway (id, ward_id) VALUES (%s, %s)", (g, w))
            c.execute("INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'x')", (d, g))
            c.execute(
                "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                " VALUES (%s, %s, tstzrange(now() - interval '1 day', NULL), 'n')",
                (d, p),
            )
            c.execute(
                "INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,"
                " received_at, gateway_id) VALUES (now(), %s, %s, 1, 1, 70, now(), %s)",
                (p, d, g),
            )
            c.execute(
                "INSERT INTO unattributed_observation (time, device_id, metric_id, seq, value,"
                " received_at, gateway_id) VALUES (now(), %s, 1, 2, 70, now(), %s)",
                (d, g),
            )
            c.execute(
                "INSERT INTO observation_latest (patient_id, metric_id, time, value, device_id)"
                " VALUES (%s, 1, now(), 70, %s)",
                (p, d),
            )
            c.execute(
                "INSERT INTO alert (patient_id, condition, priority, message, raised_at)"
                " VALUES (%s, 'spo2_low', 'high', 'm', now())",
                (p,),
            )
            alert = c.execute("SELECT id FROM alert WHERE patient_id = %s", (p,)).fetchone()
            assert alert is not None
            c.execute(
                "INSERT INTO alert_action (alert_id, action, actor)"
                " VALUES (%s, 'acknowledge', 'n')",
                (alert[0],),
            )
            c.execute(
                "INSERT INTO news2_score VALUES (now(), %s, 0, 'low', true, false,"
                " 0, 0, 0, 0, 0, 0, 0)",
                (p,),
            )
            c.execute(
                "INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,"
                " entered_by) VALUES (%s, 'consciousness', 'A', now(), now() + interval '1h', 'n')",
                (p,),
            )
            c.execute(
                "INSERT INTO alarm_limit (patient_id, metric, low, set_by)"
                " VALUES (%s, 'spo2', 90, 'n')",
                (p,),
            )


@pytest.fixture(scope="module")
def db(nabd_stack: RunningStack, fresh_database: str) -> str:
    apply_migrations(fresh_database)
    _fill(fresh_database)
    return fresh_database


def _add_viewer(db: str, ward: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run ``nabd db ward-viewer add``; the viewer's URL from the exports it printed."""
    capsys.readouterr()
    assert main(["-q", "db", "ward-viewer", "add", ward, "--database-url", db, *extra]) == 0
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in capsys.readouterr().out.splitlines()
    )
    user, password = exports["NABD_DASHBOARDS_DB_USER"], exports["NABD_DASHBOARDS_DB_PASSWORD"]
    url = urlsplit(db)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{url.hostname}:{url.port}"
    return url._replace(netloc=netloc).geturl()


@pytest.fixture(scope="module")
def viewer(db: str) -> Iterator[str]:
    """A login of ward A only (the CLI prints its credentials once)."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["-q", "db", "ward-viewer", "add", WARDS[0], "--database-url", db]) == 0
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in out.getvalue().splitlines()
    )
    url = urlsplit(db)
    user, password = exports["NABD_DASHBOARDS_DB_USER"], exports["NABD_DASHBOARDS_DB_PASSWORD"]
    yield url._replace(
        netloc=f"{user}:{quote(password, safe='')}@{url.hostname}:{url.port}"
    ).geturl()
    with contextlib.suppress(Exception):
        main(["-q", "db", "ward-viewer", "remove", user, "--database-url", db])


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


@pytest.mark.parametrize(("table", "column"), sorted(PATIENT_TABLES.items()))
def test_a_ward_viewer_sees_only_its_wards_patients(
    db: str, viewer: str, table: str, column: str
) -> None:
    everyone = {r[0] for r in _rows(db, f"SELECT {column} FROM {table}")}  # noqa: S608
    assert everyone == {f"p-{w}" for w in WARDS}  # the owner sees both: the data is there
    assert _rows(viewer, f"SELECT DISTINCT {column} FROM {table}") == [(f"p-{WARDS[0]}",)]  # noqa: S608


@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM ward",
        "SELECT ward_id FROM gateway",
        "SELECT gateway_id FROM device",
        "SELECT gateway_id FROM unattributed_observation",
        "SELECT coalesce(ward_id, patient_id) FROM alarm_limit",
        "SELECT a.patient_id FROM alert_action x JOIN alert a ON a.id = x.alert_id",
    ],
)
def test_every_other_ward_bound_table_is_filtered_too(db: str, viewer: str, query: str) -> None:
    assert len(_rows(db, query)) == 2
    (only,) = _rows(viewer, query)
    assert WARDS[0] in str(only[0])


def test_the_hypertables_chunks_cannot_be_read_directly(db: str, viewer: str) -> None:
    chunks = _rows(
        db,
        "SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks"
        " WHERE hypertable_name IN ('observation', 'news2_score', 'unattributed_observation')",
    )
    assert len(chunks) == 3
    for (chunk,) in chunks:
        with pytest.raises(errors.InsufficientPrivilege):
            _rows(viewer, f"SELECT * FROM {chunk}")  # noqa: S608
    with pytest.raises(errors.InsufficientPrivilege):
        _rows(viewer, "SELECT * FROM public.observation")


@pytest.mark.parametrize(
    "statement",
    [
        "SET ROLE nabd_dashboards",
        "SET ROLE nabd_ingest",
        "INSERT INTO ward_viewer (role_name, ward_id) VALUES (current_user, '{b}')",
        "UPDATE ward_viewer SET ward_id = '{b}'",
        "UPDATE patient SET ward_id = '{a}'",
        "SELECT * FROM nabd_ward.observation, identity.patient_identity",
        "SELECT payload FROM dead_letter",
    ],
)
def test_the_client_cannot_widen_its_view(db: str, viewer: str, statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        _rows(viewer, statement.format(a=WARDS[0], b=WARDS[1]))


def test_session_settings_do_not_matter(db: str, viewer: str) -> None:
    with psycopg.connect(viewer) as conn:
        conn.execute("SET search_path = public, nabd_ward")
        conn.execute("SELECT set_config('nabd.ward', %s, false)", (WARDS[1],))
        assert conn.execute("SELECT DISTINCT patient_id FROM alert").fetchall() == [
            (f"p-{WARDS[0]}",)
        ]


def test_removing_a_ward_takes_effect_in_an_open_session(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    login = f"ward_t{SUFFIX}"
    url = _add_viewer(db, WARDS[1], capsys, "--login", login)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM observation").fetchone() == (1,)
        assert (
            main(
                [
                    "-q",
                    "db",
                    "ward-viewer",
                    "remove",
                    login,
                    "--ward",
                    WARDS[1],
                    "--database-url",
                    db,
                ]
            )
            == 0
        )
        assert conn.execute("SELECT count(*) FROM observation").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM patient").fetchone() == (0,)
    assert main(["-q", "db", "ward-viewer", "remove", login, "--database-url", db]) == 1
    with psycopg.connect(db) as owner:
        owner.execute(f"DROP ROLE {login}")
        owner.commit()


def test_other_roles_still_see_every_ward(db: str) -> None:
    with psycopg.connect(db) as conn:
        for role in (
            "nabd_ingest",
            "nabd_analytics",
            "nabd_dashboards",
            "nabd_clinical",
            "nabd_fhir",
        ):
            conn.execute(f"GRANT {role} TO current_user")
            conn.execute(f"SET ROLE {role}")
            assert conn.execute("SELECT count(*) FROM patient").fetchone() == (2,)
            conn.execute("RESET ROLE")
        conn.rollback()


def test_every_role_with_access_to_a_protected_table_has_a_policy(db: str) -> None:
    """A role granted a table under RLS but named by no policy would silently see nothing."""
    missing = _rows(
        db,
        """SELECT c.relname, r.rolname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
           CROSS JOIN pg_roles r
           WHERE c.relrowsecurity AND r.rolname LIKE 'nabd_%'
             AND has_table_privilege(r.oid, c.oid, 'SELECT')
             AND r.oid <> c.relowner
             AND NOT EXISTS (SELECT 1 FROM pg_policy p, unnest(p.polroles) AS pr(oid)
                             WHERE p.polrelid = c.oid
                               AND (pr.oid = 0 OR pg_has_role(r.oid, pr.oid, 'USAGE')))""",
    )
    assert missing == []


@pytest.mark.parametrize("role", ["nabd_dashboards", "nabd_ward_dashboards"])
def test_the_dashboards_roles_can_write_nothing(db: str, role: str) -> None:
    writable = _rows(
        db,
        """SELECT n.nspname || '.' || c.relname, p.priv FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv)
           WHERE c.relkind IN ('r', 'p', 'v', 'm')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND has_table_privilege(%s, c.oid, p.priv)""".replace("%s", f"'{role}'"),
    )
    assert writable == []
    sequences = _rows(
        db,
        f"SELECT relname FROM pg_class WHERE CASE WHEN relkind = 'S'"  # noqa: S608
        f" THEN has_sequence_privilege('{role}', oid, 'USAGE,UPDATE') END",
    )
    assert sequences == []
