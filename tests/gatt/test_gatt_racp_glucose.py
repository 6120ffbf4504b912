"""The Record Access Control Point frames a glucose collector writes and reads (GLS 1.0 with the
RACP characteristic definition): byte-exact, and for every sequence number."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.errors import GattDecodeError, GattValueError
from nabd.contract.gatt.racp import (
    RacpFrame,
    RacpOpCode,
    RacpOperator,
    RacpResponse,
    decode_racp,
    encode_racp,
    glucose_records_from,
    response_of,
)


@pytest.mark.parametrize(
    ("first", "wire"),
    [
        (None, "01 01"),  # report stored records | all records
        (0, "01 03 01 00 00"),  # report | >= | filter type 0x01 sequence number | uint16 0
        (4, "01 03 01 04 00"),
        (0x1234, "01 03 01 34 12"),
        (0xFFFF, "01 03 01 FF FF"),
    ],
)
def test_glucose_requests_byte_exact(first: int | None, wire: str) -> None:
    assert encode_racp(glucose_records_from(first)) == bytes.fromhex(wire)


@pytest.mark.parametrize(
    ("wire", "answer"),
    [
        ("06 00 01 01", (RacpOpCode.REPORT_STORED_RECORDS, RacpResponse.SUCCESS)),
        ("06 00 01 06", (RacpOpCode.REPORT_STORED_RECORDS, RacpResponse.NO_RECORDS_FOUND)),
        ("06 00 01 08", (RacpOpCode.REPORT_STORED_RECORDS, RacpResponse.PROCEDURE_NOT_COMPLETED)),
        ("05 00 2A 00", None),  # number of stored records response: not a response code
        ("06 00 01", None),  # response code without its value
    ],
)
def test_the_meters_answers(wire: str, answer: tuple[RacpOpCode, RacpResponse] | None) -> None:
    assert response_of(decode_racp(bytes.fromhex(wire))) == answer


def test_a_sequence_number_outside_uint16_is_refused() -> None:
    with pytest.raises(GattValueError):
        glucose_records_from(0x10000)
    with pytest.raises(GattValueError):
        glucose_records_from(-1)


@given(st.integers(0, 0xFFFF))
def test_every_request_reads_back_as_sent(first: int) -> None:
    frame = glucose_records_from(first)
    assert (
        decode_racp(encode_racp(frame))
        == frame
        == RacpFrame(
            RacpOpCode.REPORT_STORED_RECORDS,
            RacpOperator.AT_LEAST,
            b"\x01" + first.to_bytes(2, "little"),
        )
    )


@given(st.binary(max_size=24))
def test_any_answer_decodes_or_raises_a_decode_error(data: bytes) -> None:
    try:
        frame = decode_racp(data)
    except GattDecodeError:
        return
    response_of(frame)  # never raises on a decoded frame
