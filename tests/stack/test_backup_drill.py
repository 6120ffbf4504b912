"""The restore drill: back up, lose the cluster, restore to a point in time, count every reading.

A private stack (its cluster is destroyed), with ``archive_timeout`` = 3 s so the drill does not
wait a minute for the last segment. Readings and audit rows are written in three batches: before
the base backup (restored from the backup), after it and before the recovery point T (restored by
replaying archived WAL), and after T (must not come back). The cluster is then crashed
(``pg_ctl -m immediate``) and its data folder deleted; ``nabd backup restore --to T`` rebuilds it.
The measured RPO and RTO are printed (``-s``) and recorded in docs/backup.md.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from nabd.app.audit.chain import Intact
from nabd.app.audit.store import verify_database
from nabd.app.cli import main
from nabd.app.stack import backup, lifecycle, pgbackrest
from nabd.app.stack.env import DATABASE_URL
from nabd.app.stack.layout import Layout
from nabd.app.stack.state import load_state, new_state
from nabd.app.stack.testing import RunningStack, running_stack
from tests.faults.stack_control import StackControl
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration

ARCHIVE_TIMEOUT_S = 3
READINGS_PER_BATCH = 2000
AUDIT_PER_BATCH = 20
BATCHES = ("before-backup", "before-target", "after-target")


@pytest.fixture(scope="module")
def drill() -> Iterator[RunningStack]:
    """This module's own stack (the drill destroys its cluster), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="nabd-backup-"))
    try:
        with running_stack(path, archive_timeout=ARCHIVE_TIMEOUT_S) as stack:
            yield stack
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_batch(url: str, batch: int) -> datetime:
    """Readings seq ``batch*N .. batch*N+N-1`` and audit rows in one transaction; its commit
    time as the server's clock reads it just after the commit."""
    first = batch * READINGS_PER_BATCH
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,"
            " received_at, gateway_id)"
            " SELECT now() - make_interval(secs => s), 'drill-patient', 'drill-device',"
            " (SELECT id FROM metric WHERE key = 'heart_rate'), s, 60 + s %% 100, now(),"
            " 'drill-gw' FROM generate_series(%s::bigint, %s::bigint) AS s",
            (first, first + READINGS_PER_BATCH - 1),
        )
        for n in range(AUDIT_PER_BATCH):
            conn.execute(
                "INSERT INTO audit_log (actor, action, subject, details)"
                " VALUES ('drill', 'backup_drill', %s, %s::jsonb)",
                (BATCHES[batch], f'{{"n": {n}}}'),
            )
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    stamp: datetime = row[0]
    return stamp


def _archived_past(url: str, wal_file: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
    return row is not None and row[0] is not None and str(row[0])[:24] >= wal_file


def _current_wal_file(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_insert_lsn())").fetchone()
    assert row is not None
    return str(row[0])


def _stored(url: str) -> tuple[list[int], dict[str, int]]:
    with psycopg.connect(url) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM observation ORDER BY seq")]
        audit: dict[str, int] = dict(
            conn.execute(
                "SELECT subject, count(*) FROM audit_log WHERE actor = 'drill' GROUP BY subject"
            ).fetchall()
        )
    return seqs, audit


def _admin_url(stack: RunningStack) -> str:
    state = load_state(Layout(stack.state_dir))
    assert state is not None
    password = state.postgres.superuser_password.get_secret_value()
    return f"postgresql://postgres:{password}@127.0.0.1:{state.postgres.port}/postgres"


def test_restore_to_a_point_in_time_loses_no_reading_before_it(
    drill: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    url = drill.env[DATABASE_URL]
    admin = _admin_url(drill)
    _write_batch(url, 0)
    began = time.monotonic()
    made = backup.run(drill.settings, "full")
    backup_s = time.monotonic() - began
    assert made.kind == "full"
    _write_batch(url, 1)  # only in the archived WAL, not in the base backup
    target = _target_after_batch_one(url)
    last_commit = _write_batch(url, 2)
    segment = _current_wal_file(admin)
    committed = time.monotonic()
    wait_until(lambda: _archived_past(admin, segment), "the last segment archived", 120)
    archived_s = time.monotonic() - committed

    StackControl(drill).stop_postgres_immediate()
    shutil.rmtree(Layout(drill.state_dir).pg_data)

    restored = backup.restore(drill.settings, target)
    seqs, audit = _stored(url)
    assert seqs == list(range(2 * READINGS_PER_BATCH)), "every reading before T, none after"
    assert audit == {"before-backup": AUDIT_PER_BATCH, "before-target": AUDIT_PER_BATCH}
    chain = verify_database(url)
    assert isinstance(chain, Intact), chain
    capsys.readouterr()
    assert main(["audit", "verify", "--database-url", url]) == 0
    assert "audit chain intact" in capsys.readouterr().out
    with psycopg.connect(url) as conn:  # promoted: writable again
        conn.execute("INSERT INTO audit_log (actor, action, subject) VALUES ('drill', 'x', 'y')")
    after = backup.run(drill.settings, "incr")  # the new timeline is archived and backed up
    assert after.kind == "incr"
    with capsys.disabled():
        print(
            f"\nbackup drill: full backup {made.database_bytes / 1e6:.1f} MB"
            f" (stored {made.repository_bytes / 1e6:.1f} MB) in {backup_s:.1f} s;"
            f" last commit archived {archived_s:.1f} s after it (archive_timeout"
            f" {ARCHIVE_TIMEOUT_S} s); restore to T and start: {restored.seconds:.1f} s;"
            f" last commit {last_commit.isoformat()} not restored (after T)"
        )


def _target_after_batch_one(url: str) -> datetime:
    """T: the server's clock after batch 1 committed and before batch 2 begins."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    stamp: datetime = row[0]
    return stamp


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_the_repository_is_encrypted_and_holds_no_passphrase(drill: RunningStack) -> None:
    layout = Layout(drill.state_dir)
    state = load_state(layout)
    assert state is not None
    assert state.backup is not None
    passphrase = state.backup.cipher_pass.get_secret_value().encode()
    stored = _files(layout.backup_repo)
    data = [p for p in stored if p.parent.name != layout.backup_repo.name]
    assert any("archive" in p.parts for p in data)
    assert any("backup" in p.parts for p in data)
    for path in stored:
        content = path.read_bytes()
        assert content.startswith(b"Salted__"), f"{path} is not OpenSSL-encrypted"
        assert passphrase not in content
    logs = [*_files(layout.pgbackrest_dir / "log"), layout.pg_log]
    assert logs
    for path in logs:
        assert passphrase not in path.read_bytes(), f"{path} shows the passphrase"
    conf = layout.pgbackrest_conf.stat()
    assert conf.st_mode & 0o077 == 0, "the passphrase's file is readable by others"


def test_backup_commands_refuse_in_peoples_words(
    drill: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = str(drill.state_dir)
    capsys.readouterr()
    assert main(["backup", "list", "--state-dir", state_dir]) == 0
    listed = capsys.readouterr().out
    assert "full" in listed
    assert "aes-256-cbc" in listed
    for bad in ("yesterday", "2026-12-06T13:45:00"):
        assert main(["backup", "restore", "--to", bad, "--state-dir", state_dir]) == 2
        out, err = capsys.readouterr()
        assert not out
        assert "UTC offset" in err
    assert main(["backup", "restore", "--to", "latest", "--state-dir", state_dir]) == 1
    out, err = capsys.readouterr()
    assert not out
    assert "stop it first" in err
    lifecycle.down(drill.settings)
    try:
        early = ["backup", "restore", "--to", "2000-01-01T00:00:00Z", "--state-dir", state_dir]
        assert main(early) == 1
        out, err = capsys.readouterr()
        assert not out
        assert "before the oldest backup finished" in err
        _restore_past_the_archive_is_refused_and_undone(drill, capsys)
        assert main(["-q", "backup", "restore", "--to", "latest", "--state-dir", state_dir]) == 0
        assert "restored to the end of the archived WAL" in capsys.readouterr().out
        seqs, _ = _stored(drill.env[DATABASE_URL])
        assert seqs == list(range(2 * READINGS_PER_BATCH))
    finally:
        lifecycle.up(drill.settings)


def _restore_past_the_archive_is_refused_and_undone(
    drill: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time later than the archived WAL reaches: refused after trying, and the stopped cluster
    that was there is put back untouched."""
    data = Layout(drill.state_dir).pg_data
    before = (data / "global" / "pg_control").read_bytes()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    argv = ["backup", "restore", "--to", future, "--state-dir", str(drill.state_dir)]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert not out
    assert "the archived WAL ends before" in err
    assert (data / "global" / "pg_control").read_bytes() == before
    assert not list(data.parent.glob("data.before-restore-*"))


def test_a_stack_without_backups_archives_nothing(tmp_path: Path) -> None:
    """The suite's stacks never set backups up: their archive_command recycles WAL."""
    archiving = pgbackrest.archiving(Layout(tmp_path), new_state(5432, 8883, 8884), 60)
    assert archiving.command == "true"
    assert archiving.timeout_s == 0
    with_backup = new_state(5432, 8883, 8884).with_backup()
    assert with_backup.with_backup() is with_backup
    pushed = pgbackrest.archiving(Layout(tmp_path), with_backup, 60)
    assert "archive-push" in pushed.command
    assert pushed.timeout_s == 60


def test_a_cluster_started_without_archive_mode_is_told_to_restart(
    drill: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stack started by a nabd older than `nabd backup` runs with archive_mode off: the
    backup says how to fix that instead of pgBackRest's error."""
    conf = Layout(drill.state_dir).pg_data / "nabd.conf"
    lifecycle.down(drill.settings)
    try:
        conf.write_text(conf.read_text().replace("archive_mode = on", "archive_mode = off"))
        StackControl(drill).start_postgres()
        capsys.readouterr()
        assert main(["backup", "run", "--state-dir", str(drill.state_dir)]) == 1
        out, err = capsys.readouterr()
        assert not out
        assert "restart it once" in err
    finally:
        lifecycle.down(drill.settings)
        lifecycle.up(drill.settings)  # rewrites nabd.conf: archive_mode on again
    assert "archive_mode = on" in conf.read_text()
