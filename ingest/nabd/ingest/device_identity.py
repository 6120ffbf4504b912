"""Is a device what it was registered as? Its Device Information strings against its registry row.

A gateway reads each device's Device Information Service (0x180A) at every connection and sends
the manufacturer, model, serial number and firmware revision in its status
(:class:`~nabd.contract.payloads.DeviceInformation`). A device that reports another manufacturer,
model or serial number than the ones it was registered with (``nabd device add --model
--serial --manufacturer``) is probably not the device the registry thinks is on the patient (two
devices swapped, a registration typed wrong): its readings are attributed by the registry, so a
person must look. Pure: :func:`mismatch` says what differs, in words for ``nabd device show``.

Only what was registered is compared (a registration without a model says nothing about the
model), and spelling differences that do not change the meaning are not differences: case and
runs of white space (``"OXI 200"`` is ``"oxi  200"``). The firmware revision is never compared:
it changes with every update.
"""

from __future__ import annotations

from dataclasses import dataclass

from nabd.contract.payloads import DeviceInformation

__all__ = ["Registered", "mismatch"]


@dataclass(frozen=True, slots=True)
class Registered:
    """What the registry says a device is (``None``: not registered)."""

    manufacturer: str | None
    model: str | None
    serial: str | None


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def mismatch(registered: Registered, reported: DeviceInformation) -> str | None:
    """What the device reports that its registration contradicts (``None``: nothing)."""
    pairs = (
        ("manufacturer", registered.manufacturer, reported.manufacturer),
        ("model", registered.model, reported.model),
        ("serial", registered.serial, reported.serial_number),
    )
    differences = [
        f"reports {label} {said!r}, registered as {expected!r}"
        for label, expected, said in pairs
        if expected is not None and said is not None and not _same(expected, said)
    ]
    return "; ".join(differences) or None
