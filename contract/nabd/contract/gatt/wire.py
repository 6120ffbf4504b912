"""Little-endian field reading and writing shared by every characteristic codec.

:class:`Reader` is the only code that indexes into device bytes. Every read checks the length first
and raises a :class:`GattDecodeError` subclass naming the characteristic and the field, which is
what keeps ``IndexError`` and ``struct.error`` out of the decoders. :func:`parse` wraps one decode:
it turns a construction error of the typed result into :class:`InvalidFieldError` and rejects
trailing bytes.
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
    ReservedFlagsError,
    ReservedValueError,
    TrailingBytesError,
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
        """A one-byte Flags field; any bit outside ``defined`` is reserved and rejected."""
        value = self.u8(field)
        if value & ~defined & 0xFF:
            raise self.error(
                ReservedFlagsError,
                f"{field} 0x{value:02X} sets reserved bits 0x{value & ~defined:02X}",
            )
        return value

    def enum(self, kind: type[E], raw: int, field: str) -> E:
        """``kind(raw)``, or :class:`ReservedValueError` when ``raw`` is not a defined value."""
        try:
            return kind(raw)
        except ValueError as exc:
            raise self.error(ReservedValueError, f"{field} value {raw} is reserved") from exc

    def date_time(self, field: str) -> DateTime:
        raw = self._take(DATE_TIME_SIZE, field)
        try:
            return DateTime(int.from_bytes(raw[0:2], "little"), *raw[2:])
        except GattValueError as exc:
            raise self.error(InvalidDateTimeError, f"{field}: {exc}") from exc

    def finish(self) -> None:
        """Reject anything left over after the last announced field."""
        if self.remaining():
            raise self.error(
                TrailingBytesError,
                f"{self.remaining()} byte(s) after the last field (at offset {self._offset})",
            )


def parse(characteristic: str, data: Buffer, read: Callable[[Reader], T]) -> T:
    """Run ``read`` over ``data``; the whole value must be consumed.

    A :class:`GattValueError` from building the typed result (a value the device may not send,
    such as a battery level of 120 %) becomes :class:`InvalidFieldError`.
    """
    reader = Reader(characteristic, data)
    try:
        value = read(reader)
    except GattValueError as exc:
        reason = str(exc).removeprefix(f"{characteristic}: ")
        raise InvalidFieldError(characteristic, reason) from exc
    reader.finish()
    return value


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
