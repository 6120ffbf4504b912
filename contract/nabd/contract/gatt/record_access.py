"""Record Access Control Point (0x2A52): a collector's requests and a meter's responses.

A glucose meter (Glucose Service 1.0, GLS; Glucose Profile 1.0, GLP) keeps its records; a
collector writes a request to the RACP, the meter notifies the matching Glucose Measurements and
ends the procedure with an *indication* on the RACP. The values below are those of the RACP
characteristic definition (GATT Specification Supplement, "Record Access Control Point"; GLS 1.0
section 3.9):

=========================  ====  ===================================================================
field                      size  values
=========================  ====  ===================================================================
Op Code                    1     1 report stored records, 2 delete stored records, 3 abort
                                 operation, 4 report number of stored records, 5 number of stored
                                 records response, 6 response code
Operator                   1     0 null, 1 all records, 2 less than or equal to, 3 greater than or
                                 equal to, 4 within range of (inclusive), 5 first record, 6 last
                                 record
Operand                    var.  a request's filter: Filter Type (1 = sequence number; GLS also
                                 defines 2 = user facing time) then one or two uint16 sequence
                                 numbers; a number of stored records response: uint16 (GLS); a
                                 response code: request op code, response code value (1 success,
                                 2 op code not supported, 3 invalid operator, 4 operator not
                                 supported, 5 invalid operand, 6 no records found, 7 abort
                                 unsuccessful, 8 procedure not completed, 9 operand not supported)
=========================  ====  ===================================================================

Pure functions: :func:`encode_racp_request` / :func:`decode_racp_request` (the collector writes,
the meter reads) and :func:`encode_racp_response` / :func:`decode_racp_response` (the meter
indicates, the collector reads). Only the sequence-number filter is modelled; a request with
another filter type decodes with ``filter_type`` set and no numbers, so a meter can answer
"operand not supported". Bytes after the last field are ignored on receipt, as everywhere in
:mod:`nabd.contract.gatt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias

from nabd.contract.gatt.errors import GattValueError, InvalidFieldError
from nabd.contract.gatt.fields import check_range
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "MAX_SEQUENCE_NUMBER",
    "RACP_UUID",
    "FilterType",
    "NumberOfRecords",
    "RacpOpCode",
    "RacpOperator",
    "RacpRequest",
    "RacpResponse",
    "RacpResponseCode",
    "RacpResult",
    "decode_racp_request",
    "decode_racp_response",
    "encode_racp_request",
    "encode_racp_response",
    "records_from",
]

RACP_UUID: Final = 0x2A52
_NAME: Final = "Record Access Control Point (0x2A52)"
MAX_SEQUENCE_NUMBER: Final = 0xFFFF


class RacpOpCode(IntEnum):
    REPORT_STORED_RECORDS = 0x01
    DELETE_STORED_RECORDS = 0x02
    ABORT_OPERATION = 0x03
    REPORT_NUMBER_OF_RECORDS = 0x04
    NUMBER_OF_RECORDS_RESPONSE = 0x05
    RESPONSE_CODE = 0x06


class RacpOperator(IntEnum):
    NULL = 0x00
    ALL = 0x01
    AT_MOST = 0x02
    """Less than or equal to."""
    AT_LEAST = 0x03
    """Greater than or equal to."""
    WITHIN_RANGE = 0x04
    """Within range of (inclusive)."""
    FIRST = 0x05
    LAST = 0x06


class FilterType(IntEnum):
    SEQUENCE_NUMBER = 0x01
    USER_FACING_TIME = 0x02


class RacpResult(IntEnum):
    """Response Code Values."""

    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_OPERATOR = 0x03
    OPERATOR_NOT_SUPPORTED = 0x04
    INVALID_OPERAND = 0x05
    NO_RECORDS_FOUND = 0x06
    ABORT_UNSUCCESSFUL = 0x07
    PROCEDURE_NOT_COMPLETED = 0x08
    OPERAND_NOT_SUPPORTED = 0x09


_BOUNDS: Final[dict[int, int]] = {
    RacpOperator.AT_MOST: 1,
    RacpOperator.AT_LEAST: 1,
    RacpOperator.WITHIN_RANGE: 2,
}
"""Sequence numbers a filtered operator takes; the others take no operand."""


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A request a collector writes: op code, operator, and the sequence-number filter.

    ``filter_type`` is ``None`` for an operator without operand (all, first, last, null).
    ``op_code`` and ``operator`` are plain ints on receipt: a meter must answer an unknown one
    ("op code not supported", "operator not supported"), not fail to decode it.
    """

    op_code: int
    operator: int
    filter_type: int | None = None
    sequence_numbers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_range(_NAME, "op code", self.op_code, 0, 0xFF)
        check_range(_NAME, "operator", self.operator, 0, 0xFF)
        if self.filter_type is not None:
            check_range(_NAME, "filter type", self.filter_type, 0, 0xFF)
        elif self.sequence_numbers:
            raise GattValueError(f"{_NAME}: sequence numbers without a filter type")
        for number in self.sequence_numbers:
            check_range(_NAME, "sequence number", number, 0, MAX_SEQUENCE_NUMBER)


@dataclass(frozen=True, slots=True)
class RacpResponseCode:
    """The indication that ends a procedure: which request, and how it ended."""

    request_op_code: int
    result: int
    """A :class:`RacpResult` value (kept as an int: a meter may send a reserved one)."""

    def __post_init__(self) -> None:
        check_range(_NAME, "request op code", self.request_op_code, 0, 0xFF)
        check_range(_NAME, "response code value", self.result, 0, 0xFF)

    @property
    def succeeded(self) -> bool:
        """The records (if any) were all sent: success, or nothing matched the filter."""
        return self.result in (RacpResult.SUCCESS, RacpResult.NO_RECORDS_FOUND)


@dataclass(frozen=True, slots=True)
class NumberOfRecords:
    """The answer to "report number of stored records"."""

    count: int

    def __post_init__(self) -> None:
        check_range(_NAME, "number of records", self.count, 0, 0xFFFF)


RacpResponse: TypeAlias = RacpResponseCode | NumberOfRecords


def records_from(sequence_number: int | None) -> RacpRequest:
    """ "Report stored records" from ``sequence_number`` on (all records for ``None``): what a
    collector asks after a reconnection for the records it has not received yet."""
    if sequence_number is None:
        return RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL)
    return RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.AT_LEAST,
        FilterType.SEQUENCE_NUMBER,
        (sequence_number,),
    )


def encode_racp_request(request: RacpRequest) -> bytes:
    """The bytes a collector writes for ``request``."""
    out = Writer().u8(request.op_code).u8(request.operator)
    if request.filter_type is not None:
        out.u8(request.filter_type)
        for number in request.sequence_numbers:
            out.u16(number)
    return out.to_bytes()


def _read_request(reader: Reader) -> RacpRequest:
    op_code = reader.u8("Op Code")
    operator = reader.u8("Operator")
    if reader.remaining() == 0:
        return RacpRequest(op_code, operator)
    filter_type = reader.u8("Filter Type")
    count = _BOUNDS.get(operator, 0)
    if filter_type != FilterType.SEQUENCE_NUMBER:
        return RacpRequest(op_code, operator, filter_type)
    numbers = tuple(reader.u16("Sequence Number") for _ in range(count))
    return RacpRequest(op_code, operator, filter_type, numbers)


def decode_racp_request(data: Buffer) -> RacpRequest:
    """A written request (the meter's side); raises :class:`GattDecodeError` if truncated."""
    return parse(_NAME, data, _read_request)


def encode_racp_response(response: RacpResponse) -> bytes:
    """The bytes a meter indicates for ``response``."""
    if isinstance(response, NumberOfRecords):
        out = Writer().u8(RacpOpCode.NUMBER_OF_RECORDS_RESPONSE).u8(RacpOperator.NULL)
        return out.u16(response.count).to_bytes()
    out = Writer().u8(RacpOpCode.RESPONSE_CODE).u8(RacpOperator.NULL)
    return out.u8(response.request_op_code).u8(response.result).to_bytes()


def _read_response(reader: Reader) -> RacpResponse:
    op_code = reader.u8("Op Code")
    reader.u8("Operator")  # null in both responses; a receiver ignores it
    if op_code == RacpOpCode.NUMBER_OF_RECORDS_RESPONSE:
        return NumberOfRecords(reader.u16("Number of Records"))
    if op_code == RacpOpCode.RESPONSE_CODE:
        return RacpResponseCode(reader.u8("Request Op Code"), reader.u8("Response Code Value"))
    raise reader.error(InvalidFieldError, f"op code {op_code} is not a response")


def decode_racp_response(data: Buffer) -> RacpResponse:
    """An indicated response (the collector's side); raises :class:`GattDecodeError`."""
    return parse(_NAME, data, _read_response)
