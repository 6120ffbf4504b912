"""The glucose meter's Record Access Control Point: each request's records and response bytes."""

from __future__ import annotations

import pytest

from nabd.simulators.ble.racp import RecordStore, respond


def _store(numbers: range = range(5, 10)) -> RecordStore:
    store = RecordStore()
    for number in numbers:
        store.add(number, bytes([0x02]) + number.to_bytes(2, "little") + b"rest")
    return store


def _numbers(records: tuple[bytes, ...]) -> list[int]:
    return [int.from_bytes(r[1:3], "little") for r in records]


def _success(opcode: int) -> bytes:
    return bytes([0x06, 0x00, opcode, 0x01])


@pytest.mark.parametrize(
    ("request_bytes", "numbers"),
    [
        (b"\x01\x01", [5, 6, 7, 8, 9]),  # all
        (b"\x01\x02\x01\x07\x00", [5, 6, 7]),  # <= 7
        (b"\x01\x03\x01\x07\x00", [7, 8, 9]),  # >= 7
        (b"\x01\x04\x01\x06\x00\x08\x00", [6, 7, 8]),  # within 6..8
        (b"\x01\x05", [5]),  # first
        (b"\x01\x06", [9]),  # last
    ],
)
def test_report_stored_records_by_sequence_number(request_bytes: bytes, numbers: list[int]) -> None:
    outcome = respond(request_bytes, _store())
    assert _numbers(outcome.records) == numbers
    assert outcome.response == _success(0x01)


def test_report_number_of_records() -> None:
    assert respond(b"\x04\x01", _store()).response == bytes([0x05, 0x00, 5, 0])
    assert respond(b"\x04\x03\x01\x08\x00", _store()).response == bytes([0x05, 0x00, 2, 0])
    assert respond(b"\x04\x01", RecordStore()).response == bytes([0x05, 0x00, 0, 0])


def test_delete_then_nothing_left_to_report() -> None:
    store = _store()
    assert respond(b"\x02\x02\x01\x07\x00", store).response == _success(0x02)
    assert list(store.records) == [8, 9]
    assert respond(b"\x01\x02\x01\x07\x00", store).response == bytes([0x06, 0x00, 0x01, 0x06])


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"\x07\x01", 0x02),  # unknown op code
        (b"\x01\x00", 0x03),  # null operator with a report
        (b"\x01\x09", 0x03),  # no such operator
        (b"\x01\x03\x01\x07", 0x05),  # operand too short
        (b"\x01\x01\x01", 0x05),  # "all" takes no operand
        (b"\x01\x04\x01\x09\x00\x02\x00", 0x05),  # range upside down
        (b"\x01\x03\x02\x07\x00", 0x09),  # filter by user facing time: not supported
        (b"\x03\x01", 0x03),  # abort takes the null operator
        (b"\x01", 0x05),  # no operator at all
    ],
)
def test_bad_requests_get_the_response_code(request_bytes: bytes, code: int) -> None:
    store = _store()
    outcome = respond(request_bytes, store)
    assert outcome.records == ()
    assert outcome.response == bytes([0x06, 0x00, request_bytes[0], code])
    assert list(store.records) == [5, 6, 7, 8, 9]


def test_abort_succeeds_at_once() -> None:
    assert respond(b"\x03\x00", _store()).response == _success(0x03)
