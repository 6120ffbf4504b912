"""Stored records (glucose meters, GHS sensors): the request after a reconnection, each record's
reading identity, and the marks the agent keeps (nabd.edge.records)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.racp import encode_racp
from nabd.contract.payloads import MAX_SEQ
from nabd.edge.outbox import Outbox, OutboxLimits
from nabd.edge.records import GHS, GLUCOSE, RecordMarks, record_seq

_TIMES = st.datetimes(min_value=datetime(1582, 10, 15), max_value=datetime(9999, 12, 31, 23, 59))
_RECORDS = st.integers(0, 0xFFFF)


def test_the_request_asks_for_the_records_after_the_last_one() -> None:
    assert encode_racp(GLUCOSE.request_after(None)).hex(" ") == "01 01"  # all records
    assert encode_racp(GLUCOSE.request_after(41)).hex(" ") == "01 03 01 2a 00"  # >= 42
    assert encode_racp(GLUCOSE.request_after(0xFFFF)).hex(" ") == "01 01"  # end of the range


def test_a_ghs_sensor_is_asked_by_uint32_record_number() -> None:
    assert encode_racp(GHS.request_after(None)).hex(" ") == "01 01"
    assert encode_racp(GHS.request_after(41)).hex(" ") == "01 03 01 2a 00 00 00"
    assert encode_racp(GHS.request_after(0xFFFF)).hex(" ") == "01 03 01 00 00 01 00"
    assert encode_racp(GHS.request_after(0xFFFFFFFF)).hex(" ") == "01 01"


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), _TIMES)
def test_ghs_records_of_one_second_differ_unless_65536_apart(a: int, b: int, at: datetime) -> None:
    assert (record_seq(a, at) == record_seq(b, at)) == ((a - b) % 0x10000 == 0) or at.year < 1970


@given(st.integers(0, 0xFFFFFFFF), _TIMES)
def test_an_untimed_record_is_numbered_apart(record: int, at: datetime) -> None:
    untimed = record_seq(record, None)
    assert record_seq(record, at) < 2**62 <= untimed <= MAX_SEQ


@given(_RECORDS, _TIMES, _RECORDS, _TIMES)
def test_two_records_share_an_identity_only_if_number_and_second_agree(
    a: int, at_a: datetime, b: int, at_b: datetime
) -> None:
    same = a == b and at_a.replace(microsecond=0) == at_b.replace(microsecond=0)
    assert (record_seq(a, at_a) == record_seq(b, at_b)) == same or at_a.year < 1970


@given(_RECORDS, st.one_of(st.none(), _TIMES))
def test_an_identity_fits_the_contract_and_stays_below_a_moved_devices_numbers(
    record: int, at: datetime | None
) -> None:
    seq = record_seq(record, at)
    assert 0 <= seq <= MAX_SEQ
    if at is not None and at < datetime(2100, 1, 1):
        # a gateway newly told to read a device numbers it from now in microseconds
        assert seq < int((datetime(2020, 1, 1) - datetime(1970, 1, 1)).total_seconds() * 1e6)


def test_the_same_record_sent_twice_is_the_same_reading() -> None:
    at = datetime(2026, 3, 1, 8, 0, 0)
    assert record_seq(7, at) == record_seq(7, at + timedelta(microseconds=5))
    assert record_seq(7, at) != record_seq(8, at) != record_seq(7, at + timedelta(seconds=1))


def test_marks_are_the_last_record_received_and_handed_over_once() -> None:
    marks = RecordMarks({"gls-1": 5})
    marks.note("gls-1", 6)
    marks.note("gls-1", 2)  # a meter whose numbering started again
    assert marks.last("gls-1") == 2
    assert marks.take_unwritten() == {"gls-1": 2}
    assert marks.take_unwritten() == {}
    marks.note("gls-1", 3)
    marks.restore({"gls-1": 2, "gls-2": 9})  # a failed write: newer marks win
    assert marks.take_unwritten() == {"gls-1": 3, "gls-2": 9}


def test_an_outbox_from_before_the_marks_opens_and_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE reading (id INTEGER PRIMARY KEY, device_id TEXT, seq INTEGER,"
            " metric TEXT, received_at REAL, body TEXT, UNIQUE (device_id, seq, metric))"
        )
        db.execute("PRAGMA user_version=1")
    outbox = Outbox(path, OutboxLimits(10, timedelta(hours=1)))
    assert outbox.last_records() == {}
    outbox.append([], {"gls-1": 1})
    assert outbox.last_records() == {"gls-1": 1}
