"""Little-endian field reading and writing shared by every characteristic codec.

:class:`Reader` is the only code that indexes into device bytes. Every read checks the length first
and raises a :class:`GattDecodeError` subclass naming the characteristic and the field, which is
what keeps ``IndexError`` and ``struct.error`` out of the decoders. :func:`parse` wraps one decode
and turns a construction error of the typed result into :class:`InvalidFieldError`.

**Tolerance on receipt** (the Bluetooth convention: Core Specification v5.4, Vol 3, Part G,
section 3.3.3.x and every GATT Specification Supplement characteristic, "Reserved for Future Use"
bits and values are ignored by a receiver, and later revisions append new fields at the end):

* Flags bits a specification reserves are ignored (:meth:`Reader.flags` masks them off);
* bytes after the last field the flags announce are ignored (:func:`parse` does not reject them);
* an *optional* field that is cut short (a notification truncated at ATT_MTU - 3 bytes, a
  device that sets a flag and sends nothing) is dropped together with the optional fields after
  it, and the mandatory fields already read are kept (:meth:`Reader.optional`);
* an optional field that holds a reserved enumeration value or an impossible date is dropped
  (:meth:`Reader.enum_or_none`, :meth:`Reader.date_time_or_none`), the rest of the value kept.

A malformed *mandatory* field (a truncated heart rate, a glucose record's base time of 30 February)
still rejects the value: there is nothing trustworthy left to report.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeAlias, TypeVar

from nabd.contract.gatt.date_time import DATE_TIME_SIZE, DateTime
from nabd.contract.gatt.errors import (
    GattDecodeError,
    GattValueError,
    InvalidDateTimeError,
    InvalidFieldError,
    TruncatedError,
)
from nabd.contract.gatt.ieee11073 import (
    MedFloat,
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
)

__all__ = ["Buffer", "Reader", "Writer", "parse"]

Buffer: TypeAlias = bytes | bytearray | memoryview
"""What a BLE stack hands over for a characteristic value."""

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


class Reader:
    """Consumes one characteristic value field by field."""

    def __init__(self, characteristic: str, data: Buffer) -> None:
        self.characteristic = characteristic
        self._data = bytes(data)
        self._offset = 0
        self._cut_short = False

    def remaining(self) -> int:
        """Bytes not yet read."""
        return len(self._data) - self._offset

    def error(self, kind: type[GattDecodeError], reason: str) -> GattDecodeError:
        """An error of ``kind`` about this characteristic, for the caller to raise."""
        return kind(self.characteristic, reason)

    def _take(self, size: int, field: str) -> bytes:
        if self.remaining() < size:
            raise self.error(
                TruncatedError,
                f"{field} needs {size} byte(s) at offset {self._offset}, {self.remaining()} left",
            )
        chunk = self._data[self._offset : self._offset + size]
        self._offset += size
        return chunk

    def unsigned(self, size: int, field: str) -> int:
        """An unsigned little-endian integer of ``size`` bytes."""
        return int.from_bytes(self._take(size, field), "little")

    def u8(self, field: str) -> int:
        return self.unsigned(1, field)

    def u16(self, field: str) -> int:
        return self.unsigned(2, field)

    def u24(self, field: str) -> int:
        return self.unsigned(3, field)

    def s16(self, field: str) -> int:
        return int.from_bytes(self._take(2, field), "little", signed=True)

    def sfloat(self, field: str) -> MedFloat:
        return decode_sfloat(self.u16(field))

    def float32(self, field: str) -> MedFloat:
        return decode_float(self.unsigned(4, field))

    def flags(self, defined: int, field: str = "Flags") -> int:
        """A one-byte Flags field with the bits outside ``defined`` (reserved) cleared.

        A receiver ignores reserved bits: a later revision may use one to announce a field it
        appends at the end, which :func:`parse` then leaves unread.
        """
        return self.u8(field) & defined

    def optional(self, present: int | bool, read: Callable[[], T]) -> T | None:
        """``read()`` when the flags say the field is ``present`` and its bytes arrived.

        An optional field cut short ends the value: it and every optional field after it are
        ``None`` (their bytes cannot be placed), while the fields read before it stand.
        """
        if not present or self._cut_short:
            return None
        start = self._offset
        try:
            return read()
        except TruncatedError:
            self._offset = start
            self._cut_short = True
            return None

    def enum_or_none(self, kind: type[E], raw: int) -> E | None:
        """``kind(raw)``, or ``None`` when ``raw`` is reserved: the field is dropped, not the
        value."""
        try:
            return kind(raw)
        except ValueError:
            return None

    def date_time(self, field: str) -> DateTime:
        raw = self._take(DATE_TIME_SIZE, field)
        try:
            return DateTime(int.from_bytes(raw[0:2], "little"), *raw[2:])
        except GattValueError as exc:
            raise self.error(InvalidDateTimeError, f"{field}: {exc}") from exc

    def date_time_or_none(self, field: str) -> DateTime | None:
        """An optional Date Time: an impossible date (month 13) drops the time stamp only.

        The reading then carries no device time, and the gateway's receive time stands.
        """
        try:
            return self.date_time(field)
        except InvalidDateTimeError:
            return None


def parse(characteristic: str, data: Buffer, read: Callable[[Reader], T]) -> T:
    """Run ``read`` over ``data``; bytes after the last announced field are ignored.

    A :class:`GattValueError` from building the typed result (a value the device may not send,
    such as a battery level of 120 %) becomes :class:`InvalidFieldError`.
    """
    reader = Reader(characteristic, data)
    try:
        return read(reader)
    except GattValueError as exc:
        reason = str(exc).removeprefix(f"{characteristic}: ")
        raise InvalidFieldError(characteristic, reason) from exc


class Writer:
    """Builds one characteristic value field by field."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def unsigned(self, value: int, size: int) -> Writer:
        self._buffer += value.to_bytes(size, "little")
        return self

    def u8(self, value: int) -> Writer:
        return self.unsigned(value, 1)

    def u16(self, value: int) -> Writer:
        return self.unsigned(value, 2)

    def u24(self, value: int) -> Writer:
        return self.unsigned(value, 3)

    def s16(self, value: int) -> Writer:
        self._buffer += value.to_bytes(2, "little", signed=True)
        return self

    def sfloat(self, value: MedFloat) -> Writer:
        return self.u16(encode_sfloat(value))

    def float32(self, value: MedFloat) -> Writer:
        return self.unsigned(encode_float(value), 4)

    def date_time(self, value: DateTime) -> Writer:
        self.u16(value.year)
        self._buffer += bytes((value.month, value.day, value.hours, value.minutes, value.seconds))
        return self

    def to_bytes(self) -> bytes:
        return bytes(self._buffer)
