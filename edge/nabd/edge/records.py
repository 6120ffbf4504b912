"""A glucose meter's stored records: what to ask for after a reconnection, and each record's
reading identity.

A glucose meter keeps every measurement as a numbered record (Glucose Service 1.0: the Sequence
Number, uint16, increased by one per record) and sends a record at most once on its own, when
it is taken and a collector is connected. Readings taken while the gateway was away (the patient
at home went out, the gateway rebooted) stay on the meter until a collector asks for them through
the Record Access Control Point (0x2A52). So after every connection the agent asks for the
records after the last one it received ("report stored records, greater than or equal to
last + 1"; all records for a meter it never heard from), and the meter notifies them as Glucose
Measurements before indicating the end of the procedure (:mod:`nabd.contract.gatt.racp`).

**Exactly once.** Two things make a record one reading, whatever path it comes by:

* its reading ``seq`` is derived from the record itself, :func:`record_seq` (the meter's
  device time, to the second, and its sequence number), not from the order received. The same
  record sent live, reported again by the RACP, re-read by another gateway or after a lost
  mark has the same identity ``(device_id, seq, "glucose")``; the outbox keeps it once and
  ingest stores it once (docs/contract.md, reading identity);
* the agent remembers, per device, the sequence number of the newest record it received
  (:class:`RecordMarks`), and writes it to the outbox database *in the same transaction* as that
  record's readings: after a restart it asks for exactly the records it does not hold, not for
  everything again, and a record it never committed is asked for again.

The mark is the *last* record received, not the highest: a meter whose numbering starts again
(a factory reset) sends a lower number, and the next request starts from there. A record number
of 65535 (the end of the uint16 range) asks for all records next time: duplicates cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from nabd.contract.gatt.racp import MAX_GLUCOSE_SEQUENCE_NUMBER, RacpFrame, glucose_records_from

__all__ = ["RecordMarks", "record_seq", "request_after"]

_EPOCH: Final = datetime(1970, 1, 1)
_RECORD_BITS: Final = 16


def record_seq(record: int, device_time: datetime | None) -> int:
    """The reading ``seq`` of stored record number ``record`` taken at ``device_time`` (the
    meter's own naive wall-clock time; ``None`` when its clock is not set).

    ``seconds since 1970 of the device time << 16 | record``: unique per record on one meter
    (a record number repeats only after a reset, at another time), far below the numbers the
    gateway hands out after being told to read a device (the current time in microseconds,
    :mod:`nabd.edge.sequence`), and within the contract's 63 bits for any Date Time.
    """
    if device_time is None:
        return record
    seconds = max(0, int((device_time.replace(tzinfo=None) - _EPOCH).total_seconds()))
    return seconds << _RECORD_BITS | record


def request_after(last: int | None) -> RacpFrame:
    """The RACP request for the records after ``last`` (all of them for ``None``)."""
    if last is None or last >= MAX_GLUCOSE_SEQUENCE_NUMBER:
        return glucose_records_from(None)
    return glucose_records_from(last + 1)


class RecordMarks:
    """Each device's last received record number: known (memory) and to be written (disk)."""

    def __init__(self, stored: Mapping[str, int] | None = None) -> None:
        self._last: dict[str, int] = dict(stored or {})
        self._unwritten: dict[str, int] = {}

    def last(self, device_id: str) -> int | None:
        return self._last.get(device_id)

    def note(self, device_id: str, record: int) -> None:
        """A record was received (called with its readings, before they are written)."""
        self._last[device_id] = record
        self._unwritten[device_id] = record

    def take_unwritten(self) -> dict[str, int]:
        """The marks to write with the queued readings (handed over once)."""
        taken, self._unwritten = self._unwritten, {}
        return taken

    def restore(self, marks: Mapping[str, int]) -> None:
        """Marks whose write failed: written with the next attempt, unless newer ones came."""
        self._unwritten = {**marks, **self._unwritten}
