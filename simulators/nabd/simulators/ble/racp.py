"""The glucose meter's Record Access Control Point (0x2A52), minimal but by the book.

A glucose meter keeps its records; a collector asks for them by writing a request to the RACP and
receives the matching Glucose Measurement notifications, then a RACP indication that ends the
procedure. Pure: :func:`respond` maps a request and the stored records to what the meter sends.

Implemented (GLS 1.0, section 3.9, and the RACP characteristic definition):

============================  =========================================================
op code                       operators (filter type 0x01 = sequence number)
============================  =========================================================
1 Report stored records       1 all, 2 <=, 3 >=, 4 within range (inclusive), 5 first, 6 last
2 Delete stored records       the same operators
3 Abort operation             0 (null) only: every procedure here completes at once
4 Report number of records    the same operators; answered by op code 5 with a uint16
============================  =========================================================

Anything else gets a Response Code (op code 6) indication: 2 op code not supported, 3 invalid
operator, 5 invalid operand, 6 no records found, 9 operand (filter type) not supported. A real
meter requires an encrypted, bonded link for the RACP; the virtual one does not. One procedure
runs at a time; each completes before the next request is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from nabd.contract.gatt.racp import RacpOpCode, RacpOperator, RacpResponse

__all__ = ["RACP", "OpCode", "Outcome", "RecordStore", "ResponseCode", "respond"]

RACP: Final = 0x2A52
_SEQUENCE_NUMBER_FILTER: Final = 0x01


OpCode = RacpOpCode
Operator = RacpOperator
ResponseCode = RacpResponse


@dataclass
class RecordStore:
    """The meter's records by sequence number, in the order taken."""

    records: dict[int, bytes] = field(default_factory=dict)

    def add(self, sequence_number: int, data: bytes) -> None:
        self.records[sequence_number] = data


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the meter sends for one request: records (notified), then the RACP indication."""

    records: tuple[bytes, ...]
    response: bytes


class _Refused(Exception):
    def __init__(self, code: ResponseCode) -> None:
        super().__init__(code.name)
        self.code = code


def _response(request: int, code: ResponseCode) -> bytes:
    return bytes([OpCode.RESPONSE_CODE, Operator.NULL, request & 0xFF, code])


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _bounded(operand: bytes, count: int) -> tuple[int, ...]:
    """``count`` uint16 sequence numbers after a filter-type byte."""
    if len(operand) != 1 + 2 * count:
        raise _Refused(ResponseCode.INVALID_OPERAND)
    if operand[0] != _SEQUENCE_NUMBER_FILTER:
        raise _Refused(ResponseCode.OPERAND_NOT_SUPPORTED)
    return tuple(_u16(operand, 1 + 2 * i) for i in range(count))


def _selected(operator: int, operand: bytes, store: RecordStore) -> list[int]:
    """Sequence numbers the operator and operand pick, in record order."""
    keys = list(store.records)
    predicates: Mapping[int, Callable[[], list[int]]] = {
        Operator.ALL: lambda: keys,
        Operator.FIRST: lambda: keys[:1],
        Operator.LAST: lambda: keys[-1:],
    }
    if operator in predicates:
        if operand:
            raise _Refused(ResponseCode.INVALID_OPERAND)
        return predicates[operator]()
    if operator == Operator.AT_MOST:
        (high,) = _bounded(operand, 1)
        return [k for k in keys if k <= high]
    if operator == Operator.AT_LEAST:
        (low,) = _bounded(operand, 1)
        return [k for k in keys if k >= low]
    if operator == Operator.WITHIN_RANGE:
        low, high = _bounded(operand, 2)
        if low > high:
            raise _Refused(ResponseCode.INVALID_OPERAND)
        return [k for k in keys if low <= k <= high]
    raise _Refused(ResponseCode.INVALID_OPERATOR)  # null, or not an operator at all


def _handle(opcode: int, operator: int, operand: bytes, store: RecordStore) -> Outcome:
    if opcode == OpCode.ABORT_OPERATION:
        if operator != Operator.NULL or operand:
            raise _Refused(ResponseCode.INVALID_OPERATOR)
        return Outcome((), _response(opcode, ResponseCode.SUCCESS))
    if opcode not in (
        OpCode.REPORT_STORED_RECORDS,
        OpCode.DELETE_STORED_RECORDS,
        OpCode.REPORT_NUMBER_OF_RECORDS,
    ):
        raise _Refused(ResponseCode.OP_CODE_NOT_SUPPORTED)
    chosen = _selected(operator, operand, store)
    if opcode == OpCode.REPORT_NUMBER_OF_RECORDS:
        count = min(len(chosen), 0xFFFF).to_bytes(2, "little")
        return Outcome((), bytes([OpCode.NUMBER_OF_RECORDS_RESPONSE, Operator.NULL]) + count)
    if not chosen:
        return Outcome((), _response(opcode, ResponseCode.NO_RECORDS_FOUND))
    if opcode == OpCode.DELETE_STORED_RECORDS:
        for key in chosen:
            del store.records[key]
        return Outcome((), _response(opcode, ResponseCode.SUCCESS))
    records = tuple(store.records[key] for key in chosen)
    return Outcome(records, _response(opcode, ResponseCode.SUCCESS))


def respond(request: bytes, store: RecordStore) -> Outcome:
    """The meter's answer to one RACP write (deleting records changes ``store``)."""
    if len(request) < 2:
        return Outcome((), _response(request[0] if request else 0, ResponseCode.INVALID_OPERAND))
    opcode, operator, operand = request[0], request[1], bytes(request[2:])
    try:
        return _handle(opcode, operator, operand, store)
    except _Refused as refused:
        return Outcome((), _response(opcode, refused.code))
