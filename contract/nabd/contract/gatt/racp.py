"""Record Access Control Point (0x2A52): the request and response frames, as GLS and GHS use them.

Frame (GATT Specification Supplement, Record Access Control Point): Op Code (uint8), Operator
(uint8), Operand (the rest). Op codes: 1 report stored records, 2 delete stored records, 3 abort
operation, 4 report number of stored records, 5 number of stored records response, 6 response
code, and the two GHS added, 7 combined report and 8 combined report response; operators:
0 null, 1 all records, 2 less than or equal to, 3 greater than or equal to, 4 within range of
(inclusive), 5 first record, 6 last record. A filtering operand starts with the filter type:
GHS 1.0 filters stored observations by Record Number (filter type 0x01, uint32 values), the
Glucose Profile by sequence number (filter type 0x01, uint16). A response code operand is the
request op code and a response code (1 success, 2 op code not supported, 3 invalid operator,
4 operator not supported, 5 invalid operand, 6 no records found, 7 abort unsuccessful,
8 procedure not completed, 9 operand not supported, 10 server busy: a GHS sensor busy sending
live observations).

Provenance of the GHS parts (the adopted GHS 1.0 text is not public in full): STMicroelectronics'
open GHS sensor (STM32CubeWBA, ``ghs_racp.h`` / ``ghs_racp.c``) defines filter type 0x01 Record
Number with uint32 bounds, op codes 7/8, response code 0x0A and answers "server busy" to a RACP
request while it sends live observations.

The frame codec keeps the operand as bytes; :func:`records_from` (GHS), :func:`glucose_records_from`
(GLS) and :func:`response_of` build and read the frames a collector needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from nabd.contract.gatt.errors import InvalidFieldError
from nabd.contract.gatt.fields import check_range
from nabd.contract.gatt.wire import Buffer, Reader, parse

__all__ = [
    "MAX_GLUCOSE_SEQUENCE_NUMBER",
    "MAX_RECORD_NUMBER",
    "RACP_UUID",
    "RacpFrame",
    "RacpOpCode",
    "RacpOperator",
    "RacpResponse",
    "decode_racp",
    "encode_racp",
    "glucose_records_from",
    "records_from",
    "response_of",
]

RACP_UUID: Final = 0x2A52
_NAME: Final = "Record Access Control Point (0x2A52)"
RECORD_NUMBER_FILTER: Final = 0x01
MAX_GLUCOSE_SEQUENCE_NUMBER: Final = 0xFFFF
"""A glucose record's Sequence Number is a uint16 (GLS 1.0, Glucose Measurement)."""
MAX_RECORD_NUMBER: Final = 0xFFFFFFFF
"""A GHS stored observation's Record Number is a uint32 (Stored Health Observations)."""


class RacpOpCode(IntEnum):
    REPORT_STORED_RECORDS = 1
    DELETE_STORED_RECORDS = 2
    ABORT_OPERATION = 3
    REPORT_NUMBER_OF_RECORDS = 4
    NUMBER_OF_RECORDS_RESPONSE = 5
    RESPONSE_CODE = 6
    COMBINED_REPORT = 7
    COMBINED_REPORT_RESPONSE = 8


class RacpOperator(IntEnum):
    NULL = 0
    ALL = 1
    AT_MOST = 2
    AT_LEAST = 3
    WITHIN_RANGE = 4
    FIRST = 5
    LAST = 6


class RacpResponse(IntEnum):
    SUCCESS = 1
    OP_CODE_NOT_SUPPORTED = 2
    INVALID_OPERATOR = 3
    OPERATOR_NOT_SUPPORTED = 4
    INVALID_OPERAND = 5
    NO_RECORDS_FOUND = 6
    ABORT_UNSUCCESSFUL = 7
    PROCEDURE_NOT_COMPLETED = 8
    OPERAND_NOT_SUPPORTED = 9
    SERVER_BUSY = 10


@dataclass(frozen=True, slots=True)
class RacpFrame:
    op_code: RacpOpCode
    operator: RacpOperator = RacpOperator.NULL
    operand: bytes = b""


def decode_racp(data: Buffer) -> RacpFrame:
    """A RACP request or response; a reserved op code or operator is an InvalidFieldError."""

    def read(reader: Reader) -> RacpFrame:
        raw_op, raw_operator = reader.u8("Op Code"), reader.u8("Operator")
        op = reader.enum_or_none(RacpOpCode, raw_op)
        operator = reader.enum_or_none(RacpOperator, raw_operator)
        if op is None or operator is None:
            raise reader.error(InvalidFieldError, f"op code {raw_op} / operator {raw_operator}")
        size = reader.remaining()
        operand = reader.unsigned(size, "Operand").to_bytes(size, "little") if size else b""
        return RacpFrame(op, operator, operand)

    return parse(_NAME, data, read)


def encode_racp(frame: RacpFrame) -> bytes:
    return bytes([frame.op_code, frame.operator]) + frame.operand


def records_from(record_number: int | None) -> RacpFrame:
    """GHS: report the stored observations whose Record Number is at least ``record_number``
    (filter type 0x01, uint32), or all of them for ``None``."""
    if record_number is None:
        return RacpFrame(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL)
    check_range(_NAME, "record number", record_number, 0, MAX_RECORD_NUMBER)
    operand = bytes([RECORD_NUMBER_FILTER]) + record_number.to_bytes(4, "little")
    return RacpFrame(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.AT_LEAST, operand)


def glucose_records_from(sequence_number: int | None) -> RacpFrame:
    """GLS: report the stored glucose records whose Sequence Number is at least
    ``sequence_number`` (filter type 0x01, uint16), or all of them for ``None``."""
    if sequence_number is None:
        return RacpFrame(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL)
    check_range(_NAME, "sequence number", sequence_number, 0, MAX_GLUCOSE_SEQUENCE_NUMBER)
    operand = bytes([RECORD_NUMBER_FILTER]) + sequence_number.to_bytes(2, "little")
    return RacpFrame(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.AT_LEAST, operand)


def response_of(frame: RacpFrame) -> tuple[RacpOpCode, RacpResponse] | None:
    """(request op code, response code) of a Response Code frame; ``None`` for any other."""
    if frame.op_code is not RacpOpCode.RESPONSE_CODE or len(frame.operand) < 2:
        return None
    try:
        return RacpOpCode(frame.operand[0]), RacpResponse(frame.operand[1])
    except ValueError:
        return None
