"""The SQLite outbox: durable appends, removal by id only, stated limits, persisted numbering."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nabd.contract.payloads import Reading
from nabd.edge.errors import OutboxError
from nabd.edge.outbox import Outbox, OutboxLimits

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ROOMY = OutboxLimits(max_readings=1000, max_age=timedelta(days=7))


def _reading(seq: int, device: str = "hr-01", at: datetime = T0) -> Reading:
    return Reading(
        device_id=device,
        seq=seq,
        metric="heart_rate",
        value=60.0 + seq % 100,
        unit="/min",
        received_at=at,
    )


def test_readings_come_back_in_insertion_order_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, ROOMY)
    readings = [_reading(i) for i in range(5)]
    assert outbox.append(readings) == 0
    outbox.close()
    reopened = Outbox(path, ROOMY)
    stored = reopened.after(0, 100)
    assert [s.reading for s in stored] == readings
    assert [s.id for s in stored] == sorted(s.id for s in stored)
    assert len(reopened) == 5
    assert reopened.next_seqs() == {"hr-01": 5}


def test_the_database_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path, ROOMY).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # synchronous is per connection: check the outbox's own connection setting.
    outbox = Outbox(path, ROOMY)
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    outbox.close()


def test_remove_deletes_exactly_the_given_ids(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", ROOMY)
    outbox.append([_reading(i) for i in range(6)])
    ids = [s.id for s in outbox.after(0, 100)]
    assert outbox.remove(ids[1:3]) == 2
    assert outbox.remove(ids[1:3]) == 0  # a second ack of the same batch is harmless
    assert [s.reading.seq for s in outbox.after(0, 100)] == [0, 3, 4, 5]
    assert [s.reading.seq for s in outbox.get(ids)] == [0, 3, 4, 5]
    assert len(outbox) == 4


def test_ids_are_never_reused_even_after_the_newest_row_is_removed(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", ROOMY)
    outbox.append([_reading(0), _reading(1)])
    newest = outbox.after(0, 10)[-1].id
    outbox.remove([newest])
    outbox.append([_reading(2)])
    assert outbox.after(0, 10)[-1].id > newest  # a sender's cursor never skips a new reading


def test_a_full_outbox_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", OutboxLimits(100, timedelta(days=1)))
    outbox.append([_reading(i) for i in range(90)])
    assert outbox.append([_reading(i) for i in range(90, 130)]) == 30
    assert [s.reading.seq for s in outbox.after(0, 1)] == [30]
    stats = outbox.stats()
    assert (stats.pending, stats.dropped_full, stats.dropped_expired) == (100, 30, 0)
    assert outbox.next_seqs() == {"hr-01": 130}  # numbering does not go back


def test_old_readings_expire_and_are_counted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", OutboxLimits(1000, timedelta(hours=1)))
    outbox.append([_reading(0, at=T0), _reading(1, at=T0 + timedelta(minutes=50))])
    assert outbox.expire(T0 + timedelta(minutes=70)) == 1
    stats = outbox.stats()
    assert (stats.pending, stats.dropped_expired) == (1, 1)
    assert stats.oldest_received_at == T0 + timedelta(minutes=50)


def test_peek_counts_without_parsing(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", ROOMY)
    assert outbox.peek(0, 10) == (0, None)
    outbox.append([_reading(i, at=T0 + timedelta(seconds=i)) for i in range(5)])
    first = outbox.after(0, 1)[0].id
    assert outbox.peek(first, 3) == (3, T0 + timedelta(seconds=1))


def test_a_repeated_identity_is_kept_once(tmp_path: Path) -> None:
    # A glucose record the meter sends twice has one identity (nabd.edge.records): the first
    # copy stays, as ingest keeps the first (docs/contract.md), and the rest of the write stands.
    outbox = Outbox(tmp_path / "o.sqlite3", ROOMY)
    first = _reading(0)
    outbox.append([first])
    again = first.model_copy(update={"received_at": first.received_at + timedelta(seconds=5)})
    outbox.append([_reading(1), again])
    assert [s.reading for s in outbox.after(0, 10)] == [first, _reading(1)]
    assert len(outbox) == 2


def test_a_meters_last_record_is_written_with_its_readings(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path, ROOMY)
    outbox.append([_reading(0)], {"gls-1": 41})
    outbox.append([], {"gls-1": 42, "gls-2": 0})  # a record that gave no reading (test strip)
    outbox.close()
    assert Outbox(path, ROOMY).last_records() == {"gls-1": 42, "gls-2": 0}


def test_something_that_is_not_an_outbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"not a database at all, just bytes" * 100)
    with pytest.raises(OutboxError, match="cannot open"):
        Outbox(path, ROOMY)


def test_a_committed_append_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    program = textwrap.dedent(
        f"""
        import os, signal
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        from nabd.contract.payloads import Reading
        from nabd.edge.outbox import Outbox, OutboxLimits
        outbox = Outbox(Path({str(path)!r}), OutboxLimits(1000, timedelta(days=1)))
        at = datetime(2025, 3, 1, tzinfo=UTC)
        for seq in range(50):
            outbox.append([Reading(device_id="hr-01", seq=seq, metric="heart_rate",
                                   value=70.0, unit="/min", received_at=at)])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", program], check=False, timeout=60)
    assert done.returncode == -signal.SIGKILL
    outbox = Outbox(path, ROOMY)
    assert [s.reading.seq for s in outbox.after(0, 100)] == list(range(50))
    assert outbox.next_seqs() == {"hr-01": 50}
