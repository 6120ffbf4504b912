"""Signed checkpoints against the schema owner's rewrites of the audit log (issue 17, item 7).

The attacker is the real schema owner of a real database: it disables the append-only trigger
(``ALTER TABLE … DISABLE TRIGGER USER``), edits, deletes, inserts, reorders or cuts rows, then
re-hashes the whole chain so that ``nabd audit verify`` without checkpoints finds nothing. It
does not hold the signing key. Every such rewrite of a row at or before the last checkpoint must
fail ``nabd audit verify --checkpoint``, naming the checkpointed row; so must every alteration of
the checkpoint log except cutting its last lines, which only shipping the log elsewhere defends.
"""

# ruff: noqa: S608  (the attacker's SQL is built from the tests' own integers)

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nabd.app.audit import signing
from nabd.app.audit.chain import Anchor, Break, Head, Intact, verify
from nabd.app.audit.checkpoint import read_log, sign
from nabd.app.audit.checkpointer import write_checkpoint
from nabd.app.audit.errors import CheckpointLogError
from nabd.app.audit.store import verify_database
from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from tests.security.audit_kit import (
    AUDITED_ACTIONS,
    REHASH,
    as_owner_without_triggers,
    audited_database,
    chain_of,
    record_actions,
    rehashed,
    seqs,
    tamper,
)
from tests.security.fuzz_budget import examples

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["-q", "audit", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


# -- the pure chain with anchors ------------------------------------------------------------


@settings(max_examples=examples(200), deadline=None)
@given(
    n=st.integers(2, 30),
    data=st.data(),
)
def test_a_rehashed_rewrite_is_caught_by_every_anchor_at_or_after_it(
    n: int, data: st.DataObject
) -> None:
    rows = chain_of(n)
    marks = data.draw(st.sets(st.integers(0, n - 1), min_size=1), label="anchored rows")
    anchors = [Anchor(Head(rows[i].seq, rows[i].hash, i + 1), f"anchor {i}") for i in marks]
    victim = data.draw(st.integers(0, n - 1), label="rewritten row")
    forged = list(rows)
    forged[victim] = replace(forged[victim], actor="mallory")
    forged = rehashed(forged)
    assert isinstance(verify(forged), Intact)  # the chain alone cannot see it
    result = verify(forged, anchors)
    later = [i for i in sorted(marks) if i >= victim]
    if not later:
        assert isinstance(result, Intact)  # after the last anchor: the documented limit
    else:
        assert isinstance(result, Break)
        assert result.seq == rows[later[0]].seq
        assert result.what.startswith("rewritten")


@settings(max_examples=examples(200), deadline=None)
@given(n=st.integers(1, 30), data=st.data())
def test_a_cut_tail_is_caught_if_an_anchor_saw_a_cut_row(n: int, data: st.DataObject) -> None:
    rows = chain_of(n)
    marks = data.draw(st.sets(st.integers(0, n - 1), min_size=1), label="anchored rows")
    anchors = [Anchor(Head(rows[i].seq, rows[i].hash, i + 1), f"anchor {i}") for i in marks]
    keep = data.draw(st.integers(0, n), label="rows kept")
    result = verify(rows[:keep], anchors)
    if max(marks) < keep:
        assert isinstance(result, Intact)
    else:
        assert isinstance(result, Break)
        assert "cut from the end" in result.what


# -- the checkpoint log ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-key") / "signing.key"
    signing.generate(path)
    return path


def _log_of(path: Path, key_file: Path, heads: int) -> list[bytes]:
    key = signing.load_private(key_file)
    lines: list[bytes] = []
    rows = chain_of(heads)
    for i, row in enumerate(rows):
        lines.append(sign(Head(row.seq, row.hash, i + 1), NOW, lines[-1] if lines else None, key))
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return lines


def _public(key_file: Path) -> Any:
    return signing.load_public(signing.public_path(key_file))


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_changed_byte_of_the_log_is_named_by_its_line(
    key_file: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("log") / "checkpoints.jsonl"
    lines = _log_of(path, key_file, 4)
    number = data.draw(st.integers(0, len(lines) - 1), label="line")
    line = bytearray(lines[number])
    where = data.draw(st.integers(0, len(line) - 1), label="byte")
    line[where] = data.draw(st.integers(0, 255).filter(lambda b: b != line[where]), label="to")
    path.write_bytes(
        b"".join(bytes(x) + b"\n" for x in [*lines[:number], line, *lines[number + 1 :]])
    )
    with pytest.raises(CheckpointLogError, match=rf"^line {number + 1}\b"):
        read_log(path, _public(key_file))


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (lambda lines: lines[1:], 1),  # the first line removed
        (lambda lines: [lines[0], *lines[2:]], 2),  # a middle line removed
        (lambda lines: [lines[1], lines[0], *lines[2:]], 1),  # two lines swapped
        (lambda lines: [*lines[:2], lines[1], *lines[2:]], 3),  # a line repeated
    ],
    ids=["first-removed", "middle-removed", "swapped", "repeated"],
)
def test_removing_or_reordering_lines_breaks_the_next_link(
    key_file: Path, tmp_path: Path, edit: Callable[[list[bytes]], list[bytes]], line: int
) -> None:
    path = tmp_path / "checkpoints.jsonl"
    lines = _log_of(path, key_file, 5)
    path.write_bytes(b"".join(x + b"\n" for x in edit(lines)))
    with pytest.raises(CheckpointLogError, match=rf"^line {line} does not follow"):
        read_log(path, _public(key_file))


def test_cutting_the_last_lines_of_the_log_is_not_seen_by_the_log_itself(
    key_file: Path, tmp_path: Path
) -> None:
    """The documented limit: ship every line off the host as it is written."""
    path = tmp_path / "checkpoints.jsonl"
    lines = _log_of(path, key_file, 5)
    path.write_bytes(b"".join(x + b"\n" for x in lines[:3]))
    assert [c.line for c in read_log(path, _public(key_file))] == [1, 2, 3]


def test_a_line_signed_by_another_key_is_refused(key_file: Path, tmp_path: Path) -> None:
    mallory = tmp_path / "mallory.key"
    signing.generate(mallory)
    path = tmp_path / "checkpoints.jsonl"
    _log_of(path, mallory, 2)
    with pytest.raises(CheckpointLogError, match=r"^line 1 is signed by key [0-9a-f]{16}, not"):
        read_log(path, _public(key_file))


# -- the schema owner against the real database ---------------------------------------------


@dataclass(frozen=True)
class Anchored:
    """A database whose log was checkpointed twice, then written to again (not yet anchored)."""

    url: str
    log: Path
    key: Path
    checkpointed: list[int]
    """Seq of the rows up to the last checkpoint; the first checkpoint is at index 3."""
    newer: list[int]
    """Seq of the rows written after the last checkpoint."""
    originals: list[tuple[Any, ...]]


def _checkpoint_now(url: str, log: Path, key: Path) -> None:
    assert write_checkpoint(url, log, signing.load_private(key), datetime.now(UTC)) is not None


@pytest.fixture(scope="module")
def anchored(
    nabd_stack: RunningStack, key_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Anchored]:
    log = tmp_path_factory.mktemp("anchored") / "checkpoints.jsonl"
    with audited_database(nabd_stack.database_url, actions=4) as url:
        _checkpoint_now(url, log, key_file)
        record_actions(url, AUDITED_ACTIONS - 4, first=4)
        _checkpoint_now(url, log, key_file)
        checkpointed = seqs(url)
        record_actions(url, 2, first=50)
        with psycopg.connect(url) as conn:
            originals = conn.execute(
                "SELECT seq, at, actor, action, subject, details::text, prev_hash, hash"
                " FROM audit_log ORDER BY seq"
            ).fetchall()
        yield Anchored(url, log, key_file, checkpointed, seqs(url)[len(checkpointed) :], originals)


@pytest.fixture
def restored(anchored: Anchored) -> Iterator[Anchored]:
    """The anchored database, put back as it was after the test rewrote it."""
    yield anchored
    _restore(anchored)


def _restore(anchored: Anchored) -> None:
    with as_owner_without_triggers(anchored.url) as conn:
        conn.execute("DELETE FROM audit_log")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO audit_log VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s)",
                anchored.originals,
            )
    assert isinstance(verify_database(anchored.url), Intact)


def _verify(a: Anchored, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return _cli(
        capsys,
        "verify",
        "--database-url",
        a.url,
        "--checkpoint",
        a.log,
        "--public-key",
        signing.public_path(a.key),
    )


@pytest.mark.integration
def test_an_honest_log_with_checkpoints_verifies(
    anchored: Anchored, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _verify(anchored, capsys)
    assert (code, err) == (0, "")
    assert f"intact: {AUDITED_ACTIONS + 2} row(s)" in out
    assert f"matches 2 checkpoint(s) of {anchored.log}" in out
    assert f"at seq={anchored.checkpointed[-1]}; 2 newer row(s) not yet checkpointed" in out


def _modify(field: str) -> Callable[[list[int]], list[str]]:
    values = {
        "actor": "'mallory'",
        "action": "'acknowledge'",
        "subject": "'alert:forged'",
        "details": """'{"low": 70}'""",
        "at": "at - interval '1 hour'",
    }
    return lambda s: [f"UPDATE audit_log SET {field} = {values[field]} WHERE seq = {s[0]}"]


# Each attack takes the seq of the rows it aims at (the first one, in the checkpointed range)
# and returns the owner's statements; REHASH then re-chains the whole log.
ATTACKS: dict[str, Callable[[list[int]], list[str]]] = {
    **{f"modify-{field}": _modify(field) for field in ("actor", "action", "subject", "details")},
    "backdate": _modify("at"),
    "delete": lambda s: [f"DELETE FROM audit_log WHERE seq = {s[0]}"],
    "swap": lambda s: [
        f"UPDATE audit_log SET seq = -seq WHERE seq IN ({s[0]}, {s[1]})",
        f"UPDATE audit_log SET seq = {s[0]} + {s[1]} + seq WHERE seq IN (-{s[0]}, -{s[1]})",
    ],
    # A forged row in the gap just before the target (the kit leaves one before every row).
    "insert": lambda s: [
        "INSERT INTO audit_log SELECT seq - 1, at, 'mallory', action, subject, details,"
        f" prev_hash, sha256(hash) FROM audit_log WHERE seq = {s[0]}"
    ],
    "cut-tail": lambda s: [f"DELETE FROM audit_log WHERE seq >= {s[0]}"],
}


def _first_checkpoint_at_or_after(a: Anchored, seq: int) -> int:
    marks = (a.checkpointed[3], a.checkpointed[-1])
    return next(m for m in marks if m >= seq)


@pytest.mark.integration
@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(attack=st.sampled_from(sorted(ATTACKS)), data=st.data())
def test_every_rehashed_rewrite_before_a_checkpoint_fails_verify(
    anchored: Anchored, capsys: pytest.CaptureFixture[str], attack: str, data: st.DataObject
) -> None:
    targets = data.draw(
        st.lists(st.sampled_from(anchored.checkpointed), min_size=2, max_size=2, unique=True),
        label="rows",
    )
    try:
        tamper(anchored.url, *ATTACKS[attack](targets), REHASH)
        assert isinstance(verify_database(anchored.url), Intact)  # the chain alone is fooled
        code, out, err = _verify(anchored, capsys)
    finally:
        _restore(anchored)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) <= 2
    if attack == "cut-tail":
        expected = anchored.checkpointed[-1]
        assert "rows were cut from the end" in err
    else:
        first = min(targets[:2]) if attack == "swap" else targets[0]
        expected = _first_checkpoint_at_or_after(anchored, first)
    assert f"audit chain broken: audit_log row seq={expected}: " in err
    assert "checkpoint line" in err


@pytest.mark.integration
def test_a_cut_tail_refilled_through_the_trigger_fails_verify(
    restored: Anchored, capsys: pytest.CaptureFixture[str]
) -> None:
    """The owner cuts back to the first checkpoint and writes new rows the normal way, so the
    log is as long as before and chained by the database itself: the checkpointed row is gone."""
    first = restored.checkpointed[3]
    tamper(restored.url, f"DELETE FROM audit_log WHERE seq > {first}")
    record_actions(restored.url, AUDITED_ACTIONS, first=200)
    assert isinstance(verify_database(restored.url), Intact)
    code, _, err = _verify(restored, capsys)
    assert code == 1
    assert f"row seq={restored.checkpointed[-1]}: missing: checkpoint line 2 of" in err


@pytest.mark.integration
def test_without_checkpoints_a_rehashed_rewrite_passes_but_with_them_it_fails(
    restored: Anchored, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hole of f39a32a: `nabd audit verify` alone accepts a re-hashed rewrite."""
    victim = restored.checkpointed[0]
    tamper(restored.url, f"UPDATE audit_log SET actor = 'mallory' WHERE seq = {victim}", REHASH)
    code, out, _ = _cli(capsys, "verify", "--database-url", restored.url)
    assert code == 0
    assert "a re-hashed rewrite or a cut tail cannot be seen" in out
    code, out, err = _verify(restored, capsys)
    assert (code, out) == (1, "")
    assert (
        f"audit_log row seq={restored.checkpointed[3]}: rewritten: differs from checkpoint line 1"
        in err
    )
    assert "contents or order changed (still 4 rows up to here)" in err
    assert "the change is at or before this row (no earlier checkpoint)" in err


@pytest.mark.integration
def test_a_rewrite_after_the_last_checkpoint_is_not_seen(
    restored: Anchored, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented limit: rows newer than the last checkpoint have only the chain."""
    victim = restored.newer[0]
    tamper(restored.url, f"UPDATE audit_log SET actor = 'mallory' WHERE seq = {victim}", REHASH)
    code, _, _ = _verify(restored, capsys)
    assert code == 0


@pytest.mark.integration
def test_a_log_resigned_by_the_owner_with_its_own_key_fails_verify(
    restored: Anchored, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Rewriting the database and re-signing the checkpoints needs the key: another one fails."""
    tamper(restored.url, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", REHASH)
    mallory = tmp_path / "mallory.key"
    signing.generate(mallory)
    forged = replace(restored, log=tmp_path / "forged.jsonl")
    _checkpoint_now(forged.url, forged.log, mallory)
    code, out, err = _verify(forged, capsys)
    assert (code, out) == (1, "")
    assert f"checkpoint log {forged.log} altered: line 1 is signed by key" in err


# -- the writer ------------------------------------------------------------------------------


@pytest.fixture
def fresh(nabd_stack: RunningStack) -> Iterator[str]:
    with audited_database(nabd_stack.database_url, actions=3) as url:
        yield url


def _checkpoint(
    capsys: pytest.CaptureFixture[str], url: str, log: Path, key: Path
) -> tuple[int, str, str]:
    return _cli(capsys, "checkpoint", "--database-url", url, "--out", log, "--key", key)


@pytest.mark.integration
def test_the_writer_signs_only_new_heads_and_refuses_a_rewritten_chain(
    fresh: str, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "checkpoints.jsonl"
    assert _checkpoint(capsys, fresh, log, key_file)[0] == 0
    assert _checkpoint(capsys, fresh, log, key_file)[0] == 0  # nothing new: no line
    record_actions(fresh, 2, first=10)
    assert _checkpoint(capsys, fresh, log, key_file)[0] == 0
    checkpoints = read_log(log, _public(key_file))
    assert [c.head.rows for c in checkpoints] == [3, 5]

    honest = log.read_bytes()
    log.write_bytes(honest.replace(b'"rows":5', b'"rows":6'))
    record_actions(fresh, 1, first=15)
    code, out, err = _checkpoint(capsys, fresh, log, key_file)
    assert (code, out) == (1, "")
    assert f"not signing, {log} was altered: the last line: the signature does not match" in err
    log.write_bytes(honest)

    tamper(fresh, "DELETE FROM audit_log WHERE seq = (SELECT min(seq) FROM audit_log)", REHASH)
    before = log.read_bytes()
    code, out, err = _checkpoint(capsys, fresh, log, key_file)
    assert (code, out) == (1, "")
    assert f"not signing, the chain no longer extends {log}: audit_log row seq=" in err
    assert (
        "rewritten: differs from the last checkpoint, rows deleted (5 up to here then, 4 now)"
        in err
    )
    assert log.read_bytes() == before


@pytest.mark.integration
def test_the_periodic_writer_follows_the_log_and_stops_at_the_first_rewrite(
    fresh: str, key_file: Path, tmp_path: Path
) -> None:
    log = tmp_path / "checkpoints.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NABD_")}
    command = [sys.executable, "-m", "nabd.app.cli", "audit", "checkpoint", "--every", "1"]
    command += ["--database-url", fresh, "--out", str(log), "--key", str(key_file)]
    writer = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lines(log, 1)
        record_actions(fresh, 2, first=10)
        _wait_for_lines(log, 2)
        assert [c.head.rows for c in read_log(log, _public(key_file))] == [3, 5]
        tamper(fresh, "UPDATE audit_log SET subject = 'x' WHERE seq = 2", REHASH)
        _, err = writer.communicate(timeout=60)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == 1
    assert "not signing, the chain no longer extends" in err
    assert "Traceback" not in err


def _wait_for_lines(log: Path, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_bytes().splitlines()) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{log}: fewer than {count} line(s) after {timeout:g}s")


# -- usage -----------------------------------------------------------------------------------


@pytest.fixture
def no_audit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NABD_AUDIT_") or name == "NABD_DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_audit_env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify"], "no database: set NABD_DATABASE_URL or pass --database-url"),
        (["verify", "--database-url", "x", "--checkpoint", "{tmp}/none.jsonl",
          "--public-key", "{pub}"], "no checkpoint log at"),
        (["verify", "--database-url", "x", "--checkpoint", "{tmp}/log.jsonl"],
         "checking checkpoints needs the signer's public key"),
        (["verify", "--database-url", "x", "--checkpoint", "{tmp}/log.jsonl",
          "--public-key", "{tmp}/log.jsonl"], "is not a PEM public key"),
        (["verify", "--database-url", "x", "--checkpoint", "{tmp}/log.jsonl",
          "--public-key", "{tmp}/absent.pub"], "cannot read the public key"),
        (["checkpoint", "--database-url", "x", "--key", "{key}"], "no checkpoint log: pass --out"),
        (["checkpoint", "--database-url", "x", "--out", "{tmp}/log.jsonl"], "no signing key"),
        (["checkpoint", "--database-url", "x", "--out", "{tmp}/l", "--key", "{pub}"],
         "is not an unencrypted PEM private key"),
        (["checkpoint", "--database-url", "x", "--out", "{tmp}/l", "--key", "{key}",
          "--every", "0"], "--every 0.0: at least 1 second"),
    ],
)  # fmt: skip
def test_bad_usage_exits_2_with_one_line(
    key_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "log.jsonl").write_bytes(b"")
    pub = signing.public_path(key_file)
    filled = [a.format(tmp=tmp_path, key=key_file, pub=pub) for a in args]
    code, out, err = _cli(capsys, *filled)
    assert (code, out) == (2, "")
    assert err.startswith("nabd: error: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "signing.key"
    code, out, _ = _cli(capsys, "keygen", path)
    assert code == 0
    assert f"public key {tmp_path / 'signing.pub'} (id " in out
    assert path.stat().st_mode & 0o777 == 0o600
    signing.load_private(path)
    first = path.read_bytes()
    code, out, err = _cli(capsys, "keygen", path)
    assert (code, out) == (1, "")
    assert "exists: a key is never overwritten" in err
    assert path.read_bytes() == first
