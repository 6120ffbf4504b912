"""Record Access Control Point (0x2A52): byte-exact requests and responses from the RACP
characteristic definition, round trips and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt.errors import GattDecodeError, GattValueError, InvalidFieldError
from nabd.contract.gatt.record_access import (
    FilterType,
    NumberOfRecords,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponseCode,
    RacpResult,
    decode_racp_request,
    decode_racp_response,
    encode_racp_request,
    encode_racp_response,
    records_from,
)


@pytest.mark.parametrize(
    ("request_value", "wire"),
    [
        # Op Code 0x01 report stored records | Operator 0x01 all records
        (records_from(None), "01 01"),
        # ... | Operator 0x03 >= | Filter Type 0x01 sequence number | 0x0007
        (records_from(7), "01 03 01 07 00"),
        (records_from(0x1234), "01 03 01 34 12"),
        # Op Code 0x04 report number of stored records | all records
        (RacpRequest(RacpOpCode.REPORT_NUMBER_OF_RECORDS, RacpOperator.ALL), "04 01"),
        # within range 6..8 (inclusive)
        (
            RacpRequest(
                RacpOpCode.REPORT_STORED_RECORDS,
                RacpOperator.WITHIN_RANGE,
                FilterType.SEQUENCE_NUMBER,
                (6, 8),
            ),
            "01 04 01 06 00 08 00",
        ),
        # Op Code 0x03 abort operation | Operator null
        (RacpRequest(RacpOpCode.ABORT_OPERATION, RacpOperator.NULL), "03 00"),
    ],
)
def test_requests_byte_exact(request_value: RacpRequest, wire: str) -> None:
    assert encode_racp_request(request_value) == bytes.fromhex(wire)
    assert decode_racp_request(bytes.fromhex(wire)) == request_value


@pytest.mark.parametrize(
    ("wire", "response"),
    [
        # Op Code 0x06 response code | null | request op code 0x01 | 0x01 success
        ("06 00 01 01", RacpResponseCode(RacpOpCode.REPORT_STORED_RECORDS, RacpResult.SUCCESS)),
        # ... | 0x06 no records found
        ("06 00 01 06", RacpResponseCode(0x01, RacpResult.NO_RECORDS_FOUND)),
        # ... request op code 0x04 | 0x09 operand not supported
        ("06 00 04 09", RacpResponseCode(0x04, RacpResult.OPERAND_NOT_SUPPORTED)),
        # Op Code 0x05 number of stored records response | null | uint16 42
        ("05 00 2A 00", NumberOfRecords(42)),
    ],
)
def test_responses_byte_exact(wire: str, response: RacpResponseCode | NumberOfRecords) -> None:
    assert decode_racp_response(bytes.fromhex(wire)) == response
    assert encode_racp_response(response) == bytes.fromhex(wire)


def test_success_and_no_records_both_end_a_report_completely() -> None:
    assert RacpResponseCode(1, RacpResult.SUCCESS).succeeded
    assert RacpResponseCode(1, RacpResult.NO_RECORDS_FOUND).succeeded
    assert not RacpResponseCode(1, RacpResult.PROCEDURE_NOT_COMPLETED).succeeded


def test_trailing_bytes_are_ignored_on_receipt() -> None:
    assert decode_racp_response(bytes.fromhex("06 00 01 01 FF")) == RacpResponseCode(1, 1)
    assert decode_racp_request(bytes.fromhex("01 03 01 07 00 99")) == records_from(7)


def test_another_filter_type_decodes_without_numbers() -> None:
    # Filter Type 0x02 user facing time: not modelled; the meter answers "operand not supported"
    request = decode_racp_request(bytes.fromhex("01 03 02 E8 07 01 01 00 00 00"))
    assert request == RacpRequest(1, 3, FilterType.USER_FACING_TIME)


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("", GattDecodeError),
        ("06", GattDecodeError),
        ("06 00 01", GattDecodeError),
        ("05 00 2A", GattDecodeError),
        ("01 01", InvalidFieldError),  # a request is not a response
    ],
)
def test_malformed_responses_are_refused(wire: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_racp_response(bytes.fromhex(wire))


def test_a_filter_missing_its_number_is_refused() -> None:
    with pytest.raises(GattDecodeError):
        decode_racp_request(bytes.fromhex("01 03 01 07"))


def test_values_the_wire_cannot_carry_are_refused() -> None:
    with pytest.raises(GattValueError):
        records_from(0x10000)
    with pytest.raises(GattValueError):
        RacpRequest(1, 3, None, (5,))
    with pytest.raises(GattValueError):
        NumberOfRecords(-1)


_FILTERED = st.sampled_from([RacpOperator.AT_MOST, RacpOperator.AT_LEAST])
_U16 = st.integers(0, 0xFFFF)


@st.composite
def _requests(draw: st.DrawFn) -> RacpRequest:
    op_code = draw(st.integers(0, 0xFF))
    if draw(st.booleans()):
        return RacpRequest(op_code, draw(st.sampled_from([0, 1, 5, 6, 7, 0xFF])))
    if draw(st.booleans()):
        bounds = (draw(_U16), draw(_U16))
        return RacpRequest(op_code, RacpOperator.WITHIN_RANGE, FilterType.SEQUENCE_NUMBER, bounds)
    return RacpRequest(op_code, draw(_FILTERED), FilterType.SEQUENCE_NUMBER, (draw(_U16),))


@given(_requests())
def test_request_round_trip(request_value: RacpRequest) -> None:
    assert decode_racp_request(encode_racp_request(request_value)) == request_value


@given(
    st.one_of(
        st.builds(RacpResponseCode, st.integers(0, 0xFF), st.integers(0, 0xFF)),
        st.builds(NumberOfRecords, _U16),
    )
)
def test_response_round_trip(response: RacpResponseCode | NumberOfRecords) -> None:
    assert decode_racp_response(encode_racp_response(response)) == response


@given(st.binary(max_size=24))
def test_any_bytes_decode_or_raise_a_decode_error(data: bytes) -> None:
    for decoder in (decode_racp_request, decode_racp_response):
        with contextlib.suppress(GattDecodeError):
            decoder(data)
