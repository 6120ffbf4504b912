"""``nabd audit verify``: the pure chain check, then tampering in a real database.

Tampering needs someone who can go around the append-only trigger: here the owner disables it
in this module's throwaway database (``fresh_database``), as a superuser or a restored backup
could. Every clinical action of the issue (acknowledge, silence, threshold change, device
assignment) must leave an entry: acknowledge and silence are proven by
``tests/monitor/test_monitor_cli.py``; threshold changes and assignments here (migration 0041).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from nabd.app.audit.chain import Break, Intact, digest, verify
from nabd.app.audit.store import verify_database
from nabd.app.cli import main
from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.testing import RunningStack
from nabd.app.stack.testing import fresh_database as new_database
from tests.security.audit_kit import chain_of, tamper


def test_an_intact_chain_reports_its_head() -> None:
    rows = chain_of(5)
    assert verify(rows) == Intact(5, 5, rows[-1].hash)
    assert verify([]) == Intact(0, None, b"")


def test_a_modified_row_is_named_with_both_hashes() -> None:
    rows = chain_of(5)
    rows[2] = replace(rows[2], actor="mallory")
    result = verify(rows)
    assert isinstance(result, Break)
    assert (result.seq, result.found) == (3, rows[2].hash)
    assert result.expected == digest(rows[1].hash, rows[2])


def test_a_deleted_row_breaks_the_next_link() -> None:
    rows = chain_of(5)
    del rows[2]
    result = verify(rows)
    assert isinstance(result, Break)
    assert (result.seq, result.expected, result.found) == (4, rows[1].hash, rows[2].prev_hash)


def test_swapped_rows_are_out_of_order_or_unlinked() -> None:
    rows = chain_of(5)
    rows[1], rows[2] = rows[2], rows[1]
    result = verify(rows)
    assert isinstance(result, Break)
    assert result.seq == 3


# -- the real database ---------------------------------------------------------------------


@pytest.fixture
def audited(nabd_stack: RunningStack) -> Iterator[str]:
    """A migrated database of its own per test with a few clinical actions in its log."""
    with new_database(nabd_stack.database_url, prefix="nabd_audit") as url:
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO ward (id, name) VALUES ('w1', 'Ward 1')")
            conn.execute("INSERT INTO patient (id, ward_id) VALUES ('p1', 'w1'), ('p2', 'w1')")
            conn.execute("INSERT INTO gateway (id, ward_id) VALUES ('gw1', 'w1')")
            conn.execute("INSERT INTO device (id, gateway_id, kind) VALUES ('d1', 'gw1', 'x')")
            conn.execute(
                "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                " VALUES ('d1', 'p1', tstzrange('2026-01-01', '2026-01-02'), 'nurse-a')"
            )
            conn.execute(
                "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                " VALUES ('d1', 'p2', tstzrange('2026-01-02', NULL), 'nurse-b')"
            )
            # A rolled-back writer leaves a gap in seq (3): gaps are normal, not tampering.
            conn.execute("SELECT nextval('audit_log_seq')")
            conn.execute(
                "INSERT INTO alarm_limit (ward_id, metric, low, high, set_by)"
                " VALUES ('w1', 'spo2', 90, 'Infinity', 'nurse-c')"
            )
            conn.execute("UPDATE alarm_limit SET low = 88, set_by = 'dr-d'")
            conn.execute("DELETE FROM alarm_limit")
        yield url


def _verify_cli(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-q", "audit", "verify", "--database-url", url])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.integration
def test_threshold_changes_and_assignments_are_audited(audited: str) -> None:
    with psycopg.connect(audited) as conn:
        rows = conn.execute(
            "SELECT actor, action, subject, details->>'op', details->>'low', details->>'high'"
            " FROM audit_log ORDER BY seq"
        ).fetchall()
    assert rows[:2] == [
        ("nurse-a", "device_assignment", "device:d1", "insert", None, None),
        ("nurse-b", "device_assignment", "device:d1", "insert", None, None),
    ]
    assert rows[2:] == [
        ("nurse-c", "threshold_change", "ward:w1:spo2", "insert", "90", "Infinity"),
        ("dr-d", "threshold_change", "ward:w1:spo2", "update", "88", "Infinity"),
        ("nabd", "threshold_change", "ward:w1:spo2", "delete", None, None),
    ]


@pytest.mark.integration
def test_an_untouched_log_verifies(audited: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _verify_cli(audited, capsys)
    assert code == 0
    assert "intact: 5 row(s)" in text


@pytest.mark.integration
@pytest.mark.parametrize(
    ("statements", "seq", "what"),
    [
        (["UPDATE audit_log SET actor = 'mallory' WHERE seq = 4"], 4, "hash does not match"),
        (["UPDATE audit_log SET details = '{}' WHERE seq = 6"], 6, "hash does not match"),
        (["DELETE FROM audit_log WHERE seq = 2"], 4, "prev_hash does not link"),
        # Two rows' numbers swapped, each keeping its hashes: the chain's order changes.
        (
            [
                "UPDATE audit_log SET seq = -seq WHERE seq IN (5, 6)",
                "UPDATE audit_log SET seq = 11 + seq WHERE seq IN (-5, -6)",
            ],
            5,
            "prev_hash does not link",
        ),
        # A forged row in the gap at seq 3, hashed correctly by a forger who knows the rule: the
        # chain still breaks at the next real row, which links to row 2.
        (
            [
                "INSERT INTO audit_log SELECT 3, at, 'mallory', 'acknowledge', subject, details,"
                " hash, audit_log_row_digest(hash, 3, at, 'mallory', 'acknowledge', subject,"
                " details) FROM audit_log WHERE seq = 2"
            ],
            4,
            "prev_hash does not link",
        ),
    ],
    ids=["modified-actor", "modified-details", "deleted", "reordered", "inserted"],
)
def test_tampering_is_found_at_the_first_broken_row(
    audited: str, capsys: pytest.CaptureFixture[str], statements: list[str], seq: int, what: str
) -> None:
    tamper(audited, *statements)
    result = verify_database(audited)
    assert isinstance(result, Break), result
    code, text = _verify_cli(audited, capsys)
    assert code == 1
    assert f"seq={result.seq}" in text
    assert result.expected.hex() in text
    assert result.found.hex() in text
    assert (result.seq, what) == (seq, result.what[: len(what)])
