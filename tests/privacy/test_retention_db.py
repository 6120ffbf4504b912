"""``nabd privacy retention`` against a real PostgreSQL + TimescaleDB: setting a period is audited
and nonsense refused; the dry run changes nothing; apply drops old chunks and old rows of every
class and keeps recent ones; the audit log loses its oldest rows and still verifies, checkpoints
included. Every database here is migrated by the real migrations and written as the owner."""

# ruff: noqa: S608  (table names are the test's own constants)

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from nabd.app.audit import signing
from nabd.app.audit.chain import Break, Intact
from nabd.app.audit.checkpoint import read_log
from nabd.app.audit.checkpointer import write_checkpoint
from nabd.app.audit.store import verify_database
from nabd.app.cli import main
from nabd.app.db.migrations import apply_migrations
from nabd.app.privacy import store
from nabd.app.privacy.retention import CLASSES, NOT_RETAINED, data_class
from nabd.app.stack.testing import RunningStack
from nabd.app.stack.testing import fresh_database as new_database
from tests.security.audit_kit import as_owner_without_triggers, audited_database, record_actions
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
_DAY0 = (NOW - timedelta(days=100)).replace(hour=0, minute=0, second=0, microsecond=0)
OLD = _DAY0 + timedelta(hours=1)
"""A hundred days ago, an hour into a day: both old readings fall in one 1-day chunk."""
RECENT = NOW - timedelta(days=1)
FLOORS = {c.key: c.floor_days for c in CLASSES if c.key != "audit_log"}
"""Each class at its floor (30 days at most): OLD is past every cutoff, RECENT within."""

TABLES = (
    "observation",
    "unattributed_observation",
    "reading_identity",
    "observation_latest",
    "news2_score",
    "alert",
    "alert_action",
    "nurse_entry",
    "dead_letter",
    "ingested_batch",
    "observation_commit",
    "analytics_tick",
    "identity.patient_identity",
    "audit_log",
)


def _cli(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["-q", "privacy", "retention", *args, "--database-url", url])
    out = capsys.readouterr()
    return code, out.out, out.err


def _seed(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """A patient still admitted (p1) and one discharged a hundred days ago (p2), each with
    data from then and from yesterday, in every table a class covers."""
    run = conn.execute
    run("INSERT INTO ward (id, name) VALUES ('w1', 'Ward 1')")
    run(
        "INSERT INTO patient (id, ward_id, admitted_at) VALUES ('p1', 'w1', %s), ('p2', 'w1', %s)",
        (OLD, OLD),
    )
    run(
        "INSERT INTO identity.patient_identity (patient_id, mrn, given_name, family_name)"
        " VALUES ('p1', 'MRN1', 'Amina', 'Alaoui'), ('p2', 'MRN2', 'Youssef', 'Bennani')"
    )
    run("INSERT INTO gateway (id, ward_id) VALUES ('gw1', 'w1')")
    run("INSERT INTO device (id, gateway_id, kind) VALUES ('d1', 'gw1', 'heart_rate')")
    metric = "(SELECT id FROM metric WHERE key = 'heart_rate')"
    for seq, (patient, at) in enumerate(
        [("p1", OLD), ("p1", OLD + timedelta(hours=1)), ("p1", RECENT), ("p2", OLD)]
    ):
        run(
            "INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,"
            f" received_at, gateway_id) VALUES (%s, %s, 'd1', {metric}, %s, 70, %s, 'gw1')",
            (at, patient, seq, at),
        )
        run(f"INSERT INTO reading_identity VALUES ('d1', %s, {metric}, %s)", (seq, at))
    for seq, at in ((100, OLD), (101, RECENT)):
        run(
            "INSERT INTO unattributed_observation (time, device_id, metric_id, seq, value,"
            f" received_at, gateway_id) VALUES (%s, 'd1', {metric}, %s, 70, %s, 'gw1')",
            (at, seq, at),
        )
    run(
        f"INSERT INTO observation_latest (patient_id, metric_id, time, value, device_id)"
        f" VALUES ('p1', {metric}, %s, 70, 'd1'), ('p2', {metric}, %s, 70, 'd1')",
        (RECENT, OLD),
    )
    for at in (OLD, RECENT):
        run(
            "INSERT INTO news2_score VALUES (%s, 'p1', 0, 'low', true, false, 0, 0, 0, 0, 0, 0, 0)",
            (at,),
        )
        run("INSERT INTO analytics_tick (time, duration_ms, patients) VALUES (%s, 1, 2)", (at,))
        run(
            "INSERT INTO dead_letter (received_at, topic, payload, reason)"
            " VALUES (%s, 'nabd/v1/gw/gw1/batch', 'x', 'payload')",
            (at,),
        )
        run(
            "INSERT INTO ingested_batch (gateway_id, boot_id, batch_seq, readings, committed_at)"
            " VALUES ('gw1', 'b', %s, 1, %s)",
            (int(at.timestamp()), at),
        )
        run(
            "INSERT INTO observation_commit VALUES (%s, 'w', %s, %s, 1, '{p1}', %s, %s)",
            (int(at.timestamp()), at, at, at, at),
        )
    # An alert resolved long ago (gone, with its action), one open since long ago (kept: an open
    # alert is never deleted), one resolved yesterday (kept).
    for condition, raised, resolved in (
        ("spo2_low", OLD, OLD),
        ("heart_rate_high", OLD, None),
        ("news2_high", RECENT, RECENT),
    ):
        run(
            "INSERT INTO alert (patient_id, condition, priority, message, raised_at, state,"
            " resolved_at) VALUES ('p1', %s, 'high', 'm', %s, %s, %s)",
            (condition, raised, "resolved" if resolved else "raised", resolved),
        )
        run(
            "INSERT INTO alert_action (alert_id, action, actor, at) SELECT id, 'acknowledge',"
            " 'nurse-a', %s FROM alert WHERE condition = %s",
            (raised, condition),
        )
    for observed in (OLD, RECENT):
        run(
            "INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,"
            " entered_by) VALUES ('p1', 'consciousness', 'A', %s, %s, 'nurse-a')",
            (observed, observed + timedelta(hours=12)),
        )
    run("UPDATE patient SET discharged_at = %s WHERE id = 'p2'", (OLD + timedelta(hours=2),))


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]


def _chunks(conn: psycopg.Connection[tuple[Any, ...]], table: str) -> int:
    return len(conn.execute("SELECT show_chunks(%s::regclass)", (table,)).fetchall())


@pytest.fixture
def seeded(nabd_stack: RunningStack) -> Iterator[str]:
    """A migrated database of its own, seeded with old and recent data of every class."""
    with new_database(nabd_stack.database_url, prefix="nabd_retention") as url:
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            _seed(conn)
        yield url


def test_setting_a_period_is_audited_and_shown(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, seeded, "set", "observations", "400", "--by", "dpo-amina")
    assert (code, err) == (0, ""), err
    assert out.startswith("observations: 400 days (audited as dpo-amina)")
    assert _cli(capsys, seeded, "set", "OBSERVATIONS", "forever", "--by", "dr-idrissi")[0] == 0
    with psycopg.connect(seeded) as conn:
        rows = conn.execute(
            "SELECT actor, subject, details->>'days', details->>'days_before' FROM audit_log"
            " WHERE action = 'retention_set' ORDER BY seq"
        ).fetchall()
    assert rows == [
        ("dpo-amina", "retention:observations", "400", None),
        ("dr-idrissi", "retention:observations", None, "400"),
    ]
    code, out, _ = _cli(capsys, seeded, "show")
    assert code == 0
    assert "observations\tkept for ever\t30 d\tdr-idrissi " in out
    assert "audit_log\tnot set: kept for ever\t365 d\t-\taudit_log" in out
    assert "identity\tnot set: kept for ever\t30 d\t-\tidentity.patient_identity" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("audit_log", "30"), "nabd: error: audit_log cannot be kept less than 365 days ("),
        (("observations", "a month"), "nabd: error: 'a month' is not a number of days"),
        (("observations", "0"), "nabd: error: observations cannot be kept less than 30 days"),
        (("vitals", "30"), "nabd: error: no data class 'vitals': one of observations,"),
    ],
)
def test_nonsense_is_refused_in_a_line_and_nothing_is_recorded(
    seeded: str, capsys: pytest.CaptureFixture[str], args: tuple[str, str], says: str
) -> None:
    code, out, err = _cli(capsys, seeded, "set", *args, "--by", "dpo-amina")
    assert code == 2
    assert out == ""
    assert err.startswith(says), err
    assert len(err.strip().splitlines()) == 1, err
    with psycopg.connect(seeded) as conn:
        assert conn.execute("SELECT count(*) FROM retention_policy").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'retention_set'"
        ).fetchone() == (0,)


def _set_floors(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for key, days in FLOORS.items():
            store.set_policy(conn, data_class(key), days, "dpo-amina")


def test_nothing_set_means_nothing_goes(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = _counts(seeded)
    code, out, _ = _cli(capsys, seeded, "apply")
    assert code == 0
    assert "no class has a period: everything is kept" in out
    assert _counts(seeded) == before


def test_the_dry_run_reports_per_class_and_changes_nothing(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_floors(seeded)
    before = _counts(seeded)
    with psycopg.connect(seeded, autocommit=True) as conn:
        chunks = _chunks(conn, "observation")
        reports = {(r.key, t.table): t for r in store.plan(conn, NOW) for t in r.tables}
    assert (
        reports["observations", "observation"].rows,
        reports["observations", "observation"].chunks,
    ) == (3, 1)
    assert reports["observations", "observation"].oldest_kept == RECENT
    assert reports["observations", "reading_identity"].rows == 3
    assert reports["alerts", "alert"].rows == 1
    assert reports["alerts", "alert"].oldest_kept == OLD  # the open alert raised long ago
    assert reports["alerts", "alert_action"].rows == 1
    assert reports["identity", "identity.patient_identity"].rows == 1
    assert reports["dead_letters", "dead_letter"].rows == 1
    assert reports["news2_scores", "news2_score"].chunks == 1
    code, out, _ = _cli(capsys, seeded, "apply", "--dry-run")
    assert code == 0
    assert "rows would go\tchunks would go\toldest kept" in out
    assert "\tobservation\t3\t1\t" in out
    assert _counts(seeded) == before
    with psycopg.connect(seeded) as conn:
        assert _chunks(conn, "observation") == chunks


def test_apply_removes_what_is_past_every_period_and_keeps_the_rest(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_floors(seeded)
    before = _counts(seeded)
    code, out, err = _cli(capsys, seeded, "apply")
    assert (code, err) == (0, ""), err
    assert "\tobservation\t-\t1\t" in out  # chunks dropped, rows not counted
    after = _counts(seeded)
    gone = {t: before[t] - after[t] for t in TABLES}
    assert gone == {
        "observation": 3,
        "unattributed_observation": 1,
        "reading_identity": 3,
        "observation_latest": 1,
        "news2_score": 1,
        "alert": 1,
        "alert_action": 1,
        "nurse_entry": 1,
        "dead_letter": 1,
        "ingested_batch": 1,
        "observation_commit": 1,
        "analytics_tick": 1,
        "identity.patient_identity": 1,
        "audit_log": -1,  # nothing of today goes (a year at least); p2's erasure is added
    }
    with psycopg.connect(seeded) as conn:
        assert conn.execute("SELECT time FROM observation").fetchall() == [(RECENT,)]
        assert conn.execute("SELECT patient_id FROM identity.patient_identity").fetchall() == [
            ("p1",)
        ]
        assert sorted(r[0] for r in conn.execute("SELECT condition FROM alert").fetchall()) == [
            "heart_rate_high",
            "news2_high",
        ]
        for table in ("observation", "unattributed_observation", "news2_score", "analytics_tick"):
            old = conn.execute(
                "SELECT count(*) FROM show_chunks(%s::regclass, older_than => %s::timestamptz)",
                (table, NOW - timedelta(days=30)),
            ).fetchone()
            assert old == (0,), table
    # A second run finds nothing more.
    again = _counts(seeded)
    assert _cli(capsys, seeded, "apply")[0] == 0
    assert _counts(seeded) == again


def test_an_identity_retention_deletes_is_audited_as_that_patients_erasure(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """As `nabd patient erase` does: one `identity_erased` entry per patient, naming the
    pseudonym and the fields, none of their values; the chain still verifies; a second run,
    erasing nothing, writes nothing."""
    _set_floors(seeded)
    assert _cli(capsys, seeded, "apply")[0] == 0
    with psycopg.connect(seeded) as conn:
        rows = conn.execute(
            "SELECT subject, details FROM audit_log WHERE action = 'identity_erased'"
        ).fetchall()
        logged = " ".join(str(r) for r in conn.execute("SELECT details FROM audit_log"))
    assert [s for s, _ in rows] == ["patient:p2"]
    details = rows[0][1]
    assert details["by"] == "retention"
    assert details["fields"] == ["mrn", "given_name", "family_name", "birth_date"]
    assert "Bennani" not in logged
    assert "MRN2" not in logged
    assert _cli(capsys, seeded, "apply")[0] == 0
    with psycopg.connect(seeded) as conn:
        again = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'identity_erased'"
        ).fetchone()
    assert again == (1,)
    code, said = _audit_verify(capsys, seeded)
    assert code == 0, said


# -- the audit log ------------------------------------------------------------------------------


@pytest.fixture
def audited(nabd_stack: RunningStack) -> Iterator[str]:
    """A migrated database with a ward and an empty audit log: each test writes its own."""
    with audited_database(nabd_stack.database_url, actions=0) as url:
        yield url


def _audit_verify(capsys: pytest.CaptureFixture[str], url: str, *args: object) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-q", "audit", "verify", "--database-url", url, *map(str, args)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_audit_log_loses_its_oldest_rows_and_still_verifies(
    audited: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "signing.key"
    public = signing.generate(key_file)
    key = signing.load_private(key_file)
    log = tmp_path / "checkpoints.log"
    record_actions(audited, 7)
    assert write_checkpoint(audited, log, key, NOW) is not None  # a checkpoint of removed rows
    with psycopg.connect(audited) as conn:
        (split,) = conn.execute("SELECT clock_timestamp()").fetchone()  # type: ignore[misc]
    record_actions(audited, 5, first=7)
    assert write_checkpoint(audited, log, key, NOW) is not None  # a checkpoint of kept rows
    with psycopg.connect(audited, autocommit=True) as conn:
        store.set_policy(conn, data_class("audit_log"), 365, "dpo-amina")
        # A year after the split: the first seven actions are past the period, the rest not.
        reports = store.apply(conn, split + timedelta(days=365), "retention-policy", batch=3)
        pruned = conn.execute(
            "SELECT details->>'removed', details->>'rows' FROM audit_log"
            " WHERE action = 'audit_log_pruned' ORDER BY seq"
        ).fetchall()
        actors = conn.execute("SELECT DISTINCT actor FROM audit_log").fetchall()
    assert [t.rows for r in reports for t in r.tables] == [7]
    assert pruned == [("3", "3"), ("3", "6"), ("1", "7")]  # batches of three, each recorded
    assert ("nurse-0",) not in actors
    assert ("nurse-7",) in actors
    anchors = [c.anchor(log) for c in read_log(log, public)]
    result = verify_database(audited, anchors)
    assert isinstance(result, Intact), result
    assert (result.retired, result.start is not None, result.rows - result.kept) == (1, True, 7)
    code, said = _audit_verify(
        capsys, audited, "--checkpoint", log, "--public-key", signing.public_path(key_file)
    )
    assert code == 0, said
    assert "7 older row(s), through seq=" in said
    assert "1 checkpoint(s) of removed rows retired" in said
    # The checkpoint writer goes on from the cut, and signs the new head.
    record_actions(audited, 1, first=12)
    assert write_checkpoint(audited, log, key, NOW) is not None
    anchors = [c.anchor(log) for c in read_log(log, public)]
    assert isinstance(verify_database(audited, anchors), Intact)
    # A row deleted after the cut is still caught, as before retention existed.
    with as_owner_without_triggers(audited) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = (SELECT min(seq) FROM audit_log)")
    broken = verify_database(audited, anchors)
    assert isinstance(broken, Break)
    assert "prev_hash does not link" in broken.what


def test_the_audit_log_still_refuses_any_other_delete(audited: str) -> None:
    record_actions(audited, 2)
    with psycopg.connect(audited) as conn:
        conn.execute("SELECT set_config('nabd.audit_prune_through', '0', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit_log")


def test_every_table_is_in_a_class_or_said_to_be_outside_retention(audited: str) -> None:
    with psycopg.connect(audited) as conn:
        tables = {
            str(r[0])
            for r in conn.execute(
                "SELECT CASE WHEN table_schema = 'public' THEN table_name"
                " ELSE table_schema || '.' || table_name END FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE' AND table_schema IN ('public', 'identity')"
            ).fetchall()
        }
    covered = {t.name for c in CLASSES for t in c.tables}
    assert tables - covered - set(NOT_RETAINED) == set(), "classify each new table"
    assert covered | set(NOT_RETAINED) <= tables


def test_the_scheduled_job_applies_at_once_then_every_interval(seeded: str) -> None:
    _set_floors(seeded)
    env = {**os.environ, "NABD_DATABASE_URL": seeded}
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nabd.app.cli",
            "-q",
            "privacy",
            "retention",
            "apply",
            "--every",
            "60",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: _counts(seeded)["identity.patient_identity"] == 1,
            "the job's first apply",
        )
        assert job.poll() is None, "the job keeps running between applies"
    finally:
        job.send_signal(signal.SIGINT)
        out, err = job.communicate(timeout=30)
    assert job.returncode == 0, err
    assert "\tobservation\t-\t1\t" in out
    assert _counts(seeded)["observation"] == 1


def test_a_second_apply_while_one_runs_is_refused_and_bad_intervals_too(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_floors(seeded)
    with psycopg.connect(seeded, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (0x6E726574,))
        code, out, err = _cli(capsys, seeded, "apply")
    assert (code, out) == (1, "")
    assert err.startswith("nabd: error: another `nabd privacy retention apply` is running"), err
    for every in ("10", "0"):
        code, _, err = _cli(capsys, seeded, "apply", "--every", every)
        assert code == 2
        assert "at least 60 seconds" in err
    assert _cli(capsys, seeded, "apply", "--dry-run", "--every", "3600")[0] == 2


def test_the_checkpoint_writer_goes_on_when_its_last_checkpoint_was_removed(
    audited: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "signing.key"
    public = signing.generate(key_file)
    key = signing.load_private(key_file)
    log = tmp_path / "checkpoints.log"
    record_actions(audited, 3)
    assert write_checkpoint(audited, log, key, NOW) is not None
    with psycopg.connect(audited) as conn:
        (split,) = conn.execute("SELECT clock_timestamp()").fetchone()  # type: ignore[misc]
    record_actions(audited, 2, first=3)
    with psycopg.connect(audited, autocommit=True) as conn:
        store.set_policy(conn, data_class("audit_log"), 365, "dpo-amina")
        store.apply(conn, split + timedelta(days=365), "retention-policy")
    written = write_checkpoint(audited, log, key, NOW)  # its last row is gone: from the cut
    assert written is not None
    assert written.head.rows == 3 + 2 + 2  # removed, kept, the policy and the cut's own rows
    result = verify_database(audited, [c.anchor(log) for c in read_log(log, public)])
    assert isinstance(result, Intact), result
    assert (result.retired, result.kept) == (1, 4)
