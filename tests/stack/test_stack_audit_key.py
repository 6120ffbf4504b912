"""``nabd stack up`` makes the key that signs audit checkpoints, in the state folder only.

The local stack keeps the key next to the database (one machine, one trust domain): enough to
run ``nabd audit checkpoint`` and ``verify --checkpoint`` with nothing but ``nabd stack env``;
a deployment keeps it on another host (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nabd.app.audit import signing
from nabd.app.cli import main
from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.layout import Layout
from nabd.app.stack.testing import RunningStack, database_name, fresh_database

pytestmark = pytest.mark.integration


def test_up_makes_a_private_signing_key_and_env_names_it(nabd_stack: RunningStack) -> None:
    key = Path(nabd_stack.env["NABD_AUDIT_SIGNING_KEY_FILE"])
    assert key == Layout(nabd_stack.state_dir).audit_key
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.parent.stat().st_mode & 0o777 == 0o700
    public = signing.load_public(Path(nabd_stack.env["NABD_AUDIT_PUBLIC_KEY_FILE"]))
    assert signing.key_id(public) == signing.key_id(signing.load_private(key).public_key())


def test_the_stack_env_alone_checkpoints_and_verifies(
    nabd_stack: RunningStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in nabd_stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NABD_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    with fresh_database(nabd_stack.database_url, prefix="nabd_audit_env") as url:
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO ward (id, name) VALUES ('w1', 'Ward 1')")
            conn.execute(
                "INSERT INTO alarm_limit (ward_id, metric, low, high, set_by)"
                " VALUES ('w1', 'spo2', 90, 'Infinity', 'nurse')"
            )
        monkeypatch.setenv("NABD_DATABASE_URL", url)
        # The stack's read-only audit login (nabd_audit), pointed at this test's database.
        audit = conninfo_to_dict(nabd_stack.env["NABD_AUDIT_DATABASE_URL"])
        monkeypatch.setenv(
            "NABD_AUDIT_DATABASE_URL", make_conninfo("", **{**audit, "dbname": database_name(url)})
        )
        assert main(["-q", "audit", "checkpoint"]) == 0
        capsys.readouterr()
        assert main(["-q", "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "audit chain intact: 1 row(s)" in out
    assert "matches 1 checkpoint(s)" in out
