"""The GATT codecs' exceptions, a branch of the contract's :class:`ContractError` tree.

Two directions, two families:

* :class:`GattDecodeError` (and its subclasses): bytes from a device that are not a valid value of
  the characteristic. Each names the characteristic (``"Heart Rate Measurement (0x2A37)"``) and the
  reason, so the edge agent can log and count rejects per device type without parsing messages.
* :class:`GattValueError`: a typed value that its characteristic cannot carry (a heart rate of 300
  in the 8-bit format, a date of 31 February, a weight above the 16-bit field). Raised when the
  value is constructed, so an encoder never meets one.

A decoder raises nothing but :class:`GattDecodeError`: never ``IndexError``, ``struct.error`` or a
number made up from a special value.
"""

from __future__ import annotations

from nabd.contract.errors import ContractError

__all__ = [
    "GattDecodeError",
    "GattError",
    "GattValueError",
    "InvalidDateTimeError",
    "InvalidFieldError",
    "TruncatedError",
    "UnknownCharacteristicError",
]


class GattError(ContractError):
    """Base class of every error raised by :mod:`nabd.contract.gatt`."""


class GattValueError(GattError):
    """A typed value that its characteristic cannot carry on the wire."""


class UnknownCharacteristicError(GattError):
    """A characteristic UUID that has no codec here."""


class GattDecodeError(GattError):
    """Bytes that are not a valid value of ``characteristic``; ``reason`` says why."""

    def __init__(self, characteristic: str, reason: str) -> None:
        self.characteristic = characteristic
        self.reason = reason
        super().__init__(f"{characteristic}: {reason}")

    def __reduce__(self) -> tuple[type[GattDecodeError], tuple[str, str]]:
        # Picklable despite the two-argument signature (errors cross process boundaries in logs).
        return (type(self), (self.characteristic, self.reason))


class TruncatedError(GattDecodeError):
    """The value ends before a field that its flags (or the format) say is present."""


class InvalidFieldError(GattDecodeError):
    """A field holds a value outside its defined range (battery 101 %, bad UTF-8, ...)."""


class InvalidDateTimeError(InvalidFieldError):
    """A Date Time field (0x2A08 layout) that is not a date: month 13, 30 February, hour 24."""
