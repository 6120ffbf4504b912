"""The Record Access Control Point (0x2A52) of the glucose meter and the GHS sensor, minimal but
by the book.

A glucose meter or a GHS sensor keeps its records; a collector asks for them by writing a request
to the RACP and receives the matching records (Glucose Measurement, or Stored Health Observations
segments), then a RACP indication that ends the procedure. Pure: :func:`respond` maps a request
and the stored records to what the device sends.

Implemented (GLS 1.0, section 3.9, the RACP characteristic definition, and GHS 1.0 as
STMicroelectronics' open GHS sensor implements it: filter type 0x01 is the Record Number, uint32,
and a sensor busy sending live observations answers 0x0A "server busy"):

============================  =========================================================
op code                       operators (filter type 0x01 = sequence / record number,
                              uint16 for a glucose meter, uint32 for a GHS sensor)
============================  =========================================================
1 Report stored records       1 all, 2 <=, 3 >=, 4 within range (inclusive), 5 first, 6 last
2 Delete stored records       the same operators
3 Abort operation             0 (null) only: every procedure here completes at once
4 Report number of records    the same operators; answered by op code 5 with the count
                              (uint16 for a glucose meter, uint32 for a GHS sensor)
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
    """The device's records by number, in the order taken."""

    records: dict[int, bytes] = field(default_factory=dict)
    number_octets: int = 2
    """Size of a record number in a filter and of the count: 2 (GLS), 4 (GHS)."""

    def add(self, sequence_number: int, data: bytes) -> None:
        self.records[sequence_number] = data


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the meter sends for one request: records (notified), then the RACP indication."""

    records: tuple[bytes, ...]
    response: bytes
    numbers: tuple[int, ...] = ()
    """The number of each of ``records``."""


class _Refused(Exception):
    def __init__(self, code: ResponseCode) -> None:
        super().__init__(code.name)
        self.code = code


def _response(request: int, code: ResponseCode) -> bytes:
    return bytes([OpCode.RESPONSE_CODE, Operator.NULL, request & 0xFF, code])


def _bounded(operand: bytes, count: int, size: int) -> tuple[int, ...]:
    """``count`` record numbers of ``size`` octets after a filter-type byte."""
    if len(operand) != 1 + size * count:
        raise _Refused(ResponseCode.INVALID_OPERAND)
    if operand[0] != _SEQUENCE_NUMBER_FILTER:
        raise _Refused(ResponseCode.OPERAND_NOT_SUPPORTED)
    return tuple(
        int.from_bytes(operand[1 + size * i : 1 + size * (i + 1)], "little") for i in range(count)
    )


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
        (high,) = _bounded(operand, 1, store.number_octets)
        return [k for k in keys if k <= high]
    if operator == Operator.AT_LEAST:
        (low,) = _bounded(operand, 1, store.number_octets)
        return [k for k in keys if k >= low]
    if operator == Operator.WITHIN_RANGE:
        low, high = _bounded(operand, 2, store.number_octets)
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
        size = store.number_octets
        count = min(len(chosen), (1 << 8 * size) - 1).to_bytes(size, "little")
        return Outcome((), bytes([OpCode.NUMBER_OF_RECORDS_RESPONSE, Operator.NULL]) + count)
    if not chosen:
        return Outcome((), _response(opcode, ResponseCode.NO_RECORDS_FOUND))
    if opcode == OpCode.DELETE_STORED_RECORDS:
        for key in chosen:
            del store.records[key]
        return Outcome((), _response(opcode, ResponseCode.SUCCESS))
    records = tuple(store.records[key] for key in chosen)
    return Outcome(records, _response(opcode, ResponseCode.SUCCESS), tuple(chosen))


def respond(request: bytes, store: RecordStore, *, busy: bool = False) -> Outcome:
    """The device's answer to one RACP write (deleting records changes ``store``); ``busy``: a
    GHS sensor sending live observations to this client answers "server busy" but to an abort."""
    if len(request) < 2:
        return Outcome((), _response(request[0] if request else 0, ResponseCode.INVALID_OPERAND))
    opcode, operator, operand = request[0], request[1], bytes(request[2:])
    if busy and opcode != OpCode.ABORT_OPERATION:
        return Outcome((), _response(opcode, ResponseCode.SERVER_BUSY))
    try:
        return _handle(opcode, operator, operand, store)
    except _Refused as refused:
        return Outcome((), _response(opcode, refused.code))
