"""The schema: migrations apply once, the hypertable works, roles get exactly what they need,
and the audit log is append-only and hash-chained. All against the real TimescaleDB."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors

from nabd.app.db.migrations import MigrationError, apply_migrations, shipped
from nabd.app.stack.testing import fresh_database as new_database
from nabd.contract.catalogue import METRICS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def migrated(fresh_database: str) -> str:
    apply_migrations(fresh_database)
    return fresh_database


@pytest.fixture
def conn(migrated: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An owner connection whose work is rolled back after each test."""
    with psycopg.connect(migrated) as connection:
        yield connection
        connection.rollback()


def _register_patient(conn: psycopg.Connection[tuple[object, ...]], suffix: str) -> None:
    conn.execute("INSERT INTO ward (id, name) VALUES (%s, 'Ward') ON CONFLICT DO NOTHING", ("w1",))
    conn.execute("INSERT INTO patient (id, ward_id) VALUES (%s, 'w1')", (f"p-{suffix}",))
    conn.execute("INSERT INTO gateway (id, ward_id) VALUES (%s, 'w1')", (f"gw-{suffix}",))
    conn.execute(
        "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'pulse_oximeter')",
        (f"dev-{suffix}", f"gw-{suffix}"),
    )


def test_second_run_is_a_no_op(migrated: str) -> None:
    assert apply_migrations(migrated) == []
    with psycopg.connect(migrated) as c:
        versions = [r[0] for r in c.execute("SELECT version FROM schema_migration ORDER BY 1")]
    assert versions == [m.version for m in shipped()]


def test_fresh_database_gets_every_migration_and_the_catalogue(fresh_database: str) -> None:
    # `migrated` may not have run yet in this module: order-independent by checking both paths.
    applied = apply_migrations(fresh_database)
    assert applied in ([], [m.version for m in shipped()])
    with psycopg.connect(fresh_database) as c:
        rows: dict[object, object] = dict(c.execute("SELECT key, ucum FROM metric").fetchall())
    assert rows == {key: m.unit for key, m in METRICS.items()}


def test_concurrent_migrators_apply_once(nabd_stack: object, fresh_database: str) -> None:
    with new_database(fresh_database, prefix="nabd_race") as url:
        results: list[list[str]] = []
        threads = [
            threading.Thread(target=lambda: results.append(apply_migrations(url))) for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(len(r) for r in results) == [0, 0, len(shipped())]


def test_edited_migration_is_refused(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    # Simulate a migration file edited after it was applied: the recorded checksum differs.
    conn.execute("UPDATE schema_migration SET checksum = 'edited' WHERE version = '0002'")
    conn.commit()
    try:
        with pytest.raises(MigrationError, match="0002_registry was edited"):
            apply_migrations(conn.info.dsn + " password=" + (conn.info.password or ""))
    finally:
        checksum = next(m.checksum for m in shipped() if m.version == "0002")
        conn.execute(
            "UPDATE schema_migration SET checksum = %s WHERE version = '0002'", (checksum,)
        )
        conn.commit()


def test_observation_is_a_hypertable_and_time_bucket_works(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    hypertables = conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables"
    ).fetchall()
    assert ("observation",) in hypertables
    _register_patient(conn, "tb")
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    rows = [(start + timedelta(seconds=20 * i), float(90 + i)) for i in range(9)]  # 3 minutes
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,
                                        received_at, gateway_id)
               VALUES (%s, 'p-tb', 'dev-tb', (SELECT id FROM metric WHERE key = 'spo2'), %s, %s,
                       %s, 'gw-tb')""",
            [(t, i, v, t) for i, (t, v) in enumerate(rows)],
        )
    buckets = conn.execute(
        """SELECT time_bucket('1 minute', time) AS b, avg(value), count(*)
           FROM observation WHERE patient_id = 'p-tb' GROUP BY b ORDER BY b"""
    ).fetchall()
    assert buckets == [
        (start, 91.0, 3),
        (start + timedelta(minutes=1), 94.0, 3),
        (start + timedelta(minutes=2), 97.0, 3),
    ]


def test_a_reading_identity_is_held_once_whatever_its_time(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    """The identity lives in reading_identity (0042), not in observation's indexes: since 0046
    observation has no unique index on it (TimescaleDB would need ``time`` in it, so it never
    caught a copy with another time), and ingest stores a reading only once it registered here."""
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    insert = """INSERT INTO reading_identity (device_id, seq, metric_id, time)
                VALUES ('dev-dup', 7, 1, %s) ON CONFLICT DO NOTHING"""
    assert conn.execute(insert, (t,)).rowcount == 1
    assert conn.execute(insert, (t,)).rowcount == 0
    assert conn.execute(insert, (t + timedelta(hours=1),)).rowcount == 0
    with pytest.raises(errors.UniqueViolation):
        conn.execute(insert.split(" ON CONFLICT", maxsplit=1)[0], (t + timedelta(hours=1),))


def test_observation_keeps_no_redundant_identity_index(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    indexes = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'observation' ORDER BY indexname"
    ).fetchall()
    assert ("observation_identity_idx",) not in indexes
    assert ("observation_patient_metric_time_idx",) in indexes


def test_0046_removes_only_the_unattributed_copy_of_a_reading_stored_twice(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    """Before 0042 a reading could be in both tables (stored for nobody, then re-sent once an
    assignment existed); re-attribution relied on the dropped index to store it once."""
    _register_patient(conn, "twice")
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    values = "VALUES (%s, {}'dev-twice', 1, {}, 72, %s, 'gw-twice')"
    for seq in (1, 2):
        conn.execute(
            "INSERT INTO unattributed_observation (time, device_id, metric_id, seq, value,"
            " received_at, gateway_id) " + values.format("", seq),
            (t, t),
        )
    conn.execute(
        "INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,"
        " received_at, gateway_id) " + values.format("'p-twice', ", 1),
        (t, t),
    )
    migration = next(m for m in shipped() if m.version == "0046")
    delete = migration.sql[migration.sql.index("DELETE FROM") :].split(";", maxsplit=1)[0]
    assert conn.execute(delete).rowcount == 1
    left = conn.execute(
        "SELECT seq FROM unattributed_observation WHERE device_id = 'dev-twice'"
    ).fetchall()
    assert left == [(2,)]
    assert conn.execute(
        "SELECT count(*) FROM observation WHERE device_id = 'dev-twice'"
    ).fetchone() == (1,)


def test_a_null_value_needs_the_unavailable_flag(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    _register_patient(conn, "nul")
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with pytest.raises(errors.CheckViolation):
        conn.execute(
            """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,
                                        received_at, gateway_id)
               VALUES (%s, 'p-nul', 'dev-nul', 1, 1, NULL, %s, 'gw-nul')""",
            (t, t),
        )


def test_a_device_cannot_be_assigned_to_two_patients_at_once(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    _register_patient(conn, "as")
    conn.execute("INSERT INTO patient (id, ward_id) VALUES ('p-as2', 'w1')")
    conn.execute(
        """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
           VALUES ('dev-as', 'p-as', tstzrange('2026-11-01', '2026-11-10'), 'nurse-1')"""
    )
    # Back-to-back is fine (the device moved to another patient) ...
    conn.execute(
        """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
           VALUES ('dev-as', 'p-as2', tstzrange('2026-11-10', NULL), 'nurse-1')"""
    )
    # ... an overlap is not.
    with pytest.raises(errors.ExclusionViolation):
        conn.execute(
            """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
               VALUES ('dev-as', 'p-as', tstzrange('2026-11-09', '2026-11-12'), 'nurse-1')"""
        )


@pytest.mark.parametrize(
    ("role", "statement", "allowed"),
    [
        ("nabd_dashboards", "SELECT count(*) FROM observation", True),
        ("nabd_dashboards", "SELECT count(*) FROM observation_latest", True),
        ("nabd_dashboards", "SELECT reason, field FROM dead_letter", True),
        ("nabd_dashboards", "SELECT payload FROM dead_letter", False),
        ("nabd_dashboards", "SELECT * FROM identity.patient_identity", False),
        ("nabd_dashboards", "UPDATE alert SET state = 'resolved'", False),
        ("nabd_dashboards", "DELETE FROM observation", False),
        ("nabd_ingest", "SELECT count(*) FROM device_assignment", True),
        ("nabd_ingest", "UPDATE patient SET ward_id = ward_id", False),
        ("nabd_ingest", "DELETE FROM observation", False),
        # Ingest reads and writes only its watchdog's alerts (0045, row policy tested in
        # tests/monitor/test_watchdog_db.py): their state and what they say (0142), never their
        # priority, nor the audit log.
        ("nabd_ingest", "UPDATE alert SET message = message", True),
        ("nabd_ingest", "UPDATE alert SET priority = priority", False),
        ("nabd_ingest", "SELECT count(*) FROM audit_log", False),
        ("nabd_ingest", "SELECT * FROM identity.patient_identity", False),
        ("nabd_analytics", "UPDATE alert SET state = state", True),
        ("nabd_analytics", "DELETE FROM observation", False),
        ("nabd_analytics", "SELECT * FROM identity.patient_identity", False),
        # Identity is read only through the function that records the access (0085).
        ("nabd_clinical", "SELECT * FROM identity.patient_identity", False),
        ("nabd_clinical", "SELECT * FROM identity.read_identities('{}', 'cli', 'x', 'y')", True),
        ("nabd_care", "SELECT given_name FROM identity.patient_identity", False),
        ("nabd_dashboards", "SELECT * FROM identity.read_identities('{}', 'cli', 'x', 'y')", False),
        ("nabd_clinical", "DELETE FROM alert", False),
    ],
)
def test_roles_have_least_privilege(
    conn: psycopg.Connection[tuple[object, ...]], role: str, statement: str, allowed: bool
) -> None:
    # The owner (CREATEROLE, not superuser) joins the role inside this test's transaction only:
    # the rollback after the test takes the membership back.
    conn.execute(f"GRANT {role} TO current_user")
    conn.execute(f"SET ROLE {role}")
    if allowed:
        conn.execute(statement)
    else:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def _digest(prev: bytes, row: tuple[object, ...]) -> bytes:
    """The chain rule, written independently of the SQL: sha256(prev || fields joined by US)."""
    seq, at, actor, action, subject, details = row
    assert isinstance(at, datetime)
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = "\x1f".join(str(v) for v in (seq, stamp, actor, action, subject, details))
    return hashlib.sha256(prev + text.encode()).digest()


def test_audit_log_is_hash_chained(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    for i in range(3):
        conn.execute(
            "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s)",
            ("nurse-7", "acknowledge", f"alert-{i}", '{"note": "seen", "bed": 4}'),
        )
    rows = conn.execute(
        "SELECT seq, at, actor, action, subject, details::text, prev_hash, hash"
        " FROM audit_log ORDER BY seq"
    ).fetchall()
    assert len(rows) >= 3
    prev = b""
    for row in rows:
        prev_hash, digest = row[6], row[7]
        assert isinstance(prev_hash, bytes)
        assert isinstance(digest, bytes)
        assert prev_hash == prev
        assert digest == _digest(prev, row[:6])
        prev = digest


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
def test_audit_log_is_append_only_even_for_the_owner(
    conn: psycopg.Connection[tuple[object, ...]], statement: str
) -> None:
    conn.execute("INSERT INTO audit_log (actor, action, subject) VALUES ('n', 'silence', 'a')")
    with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement)
