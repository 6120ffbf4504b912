"""Stored records a device keeps: what to ask for after a reconnection, and each record's
reading identity. Glucose meters and Generic Health Sensors share it all.

Two profiles keep numbered records and give them through the Record Access Control Point (0x2A52,
:mod:`nabd.contract.gatt.racp`), :data:`GLUCOSE` and :data:`GHS`:

* a glucose meter keeps every measurement as a record (Glucose Service 1.0: the Sequence Number,
  uint16, increased by one per record) and reports them as Glucose Measurements (0x2A18);
* a Generic Health Sensor (GHS 1.0) keeps the observations it could not send live (no client had
  asked for live observations) as records numbered by a Record Number (uint32) and reports them,
  segmented, on Stored Health Observations (0x2BDD).

Either device sends a record at most once on its own. Readings taken while the gateway was away
(the patient at home went out, the gateway rebooted) stay on the device until a collector asks.
So after every connection the agent asks for the records after the last one it received ("report
stored records, greater than or equal to last + 1"; all records for a device it never heard
from), and the device sends them before indicating the end of the procedure.

**Exactly once.** Two things make a record one reading, whatever path it comes by:

* its reading ``seq`` is derived from the record itself, :func:`record_seq` (the device's time
  stamp, to the second, and its record number), not from the order received. The same record
  sent live, reported again by the RACP, re-read by another gateway or after a lost mark has the
  same identity ``(device_id, seq, metric)``; the outbox keeps it once and ingest stores it once
  (docs/contract.md, reading identity);
* the agent remembers, per device, the number of the newest record it received
  (:class:`RecordMarks`), and writes it to the outbox database *in the same transaction* as that
  record's readings: after a restart it asks for exactly the records it does not hold, not for
  everything again, and a record it never committed is asked for again.

The mark is the *last* record received, not the highest: a device whose numbering starts again
(a factory reset) sends a lower number, and the next request starts from there. A record number
at the end of its profile's range asks for all records next time: duplicates cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from nabd.contract.gatt.racp import (
    MAX_GLUCOSE_SEQUENCE_NUMBER,
    MAX_RECORD_NUMBER,
    RacpFrame,
    glucose_records_from,
    records_from,
)

__all__ = ["GHS", "GLUCOSE", "PROFILES", "RecordMarks", "RecordProfile", "record_seq"]

_EPOCH: Final = datetime(1970, 1, 1)
_RECORD_BITS: Final = 16
_RECORD_MASK: Final = (1 << _RECORD_BITS) - 1
_UNTIMED: Final = 1 << 62
"""Records without a usable time stamp are numbered from here: above any number the gateway
hands out itself (microseconds since 1970, :mod:`nabd.edge.sequence`) and any timed record's,
below the contract's 2**63."""


@dataclass(frozen=True, slots=True)
class RecordProfile:
    """A profile whose devices keep numbered records and give them through the RACP."""

    name: str
    records: int
    """The characteristic the records arrive on (16-bit UUID)."""
    largest: int
    """The last record number of the profile's range."""
    request: Callable[[int | None], RacpFrame]
    """The RACP request for the records from a number on (all for ``None``)."""

    def request_after(self, last: int | None) -> RacpFrame:
        """The RACP request for the records after ``last`` (all of them for ``None``)."""
        if last is None or last >= self.largest:
            return self.request(None)
        return self.request(last + 1)


GLUCOSE: Final = RecordProfile("glucose", 0x2A18, MAX_GLUCOSE_SEQUENCE_NUMBER, glucose_records_from)
"""Glucose Service 1.0: Glucose Measurement records, uint16 Sequence Number."""
GHS: Final = RecordProfile("generic_health_sensor", 0x2BDD, MAX_RECORD_NUMBER, records_from)
"""GHS 1.0: Stored Health Observations, uint32 Record Number."""
PROFILES: Final = (GLUCOSE, GHS)


def record_seq(record: int, device_time: datetime | None) -> int:
    """The reading ``seq`` of stored record number ``record`` taken at ``device_time`` (the
    device's own naive wall-clock time; ``None`` when it carries none or its clock is not set).

    ``seconds since 1970 of the device time << 16 | the record number's low 16 bits``: unique
    per record on one device (a record number repeats only after a reset, at another time; a
    GHS uint32 Record Number shares its low 16 bits with another only 65536 records apart, never
    in the same second), far below the numbers the gateway hands out after being told to read a
    device (the current time in microseconds, :mod:`nabd.edge.sequence`), and within the
    contract's 63 bits for any Date Time. Without a time, ``2**62 + record``: a range of its own.
    """
    if device_time is None:
        return _UNTIMED | record
    seconds = max(0, int((device_time.replace(tzinfo=None) - _EPOCH).total_seconds()))
    return seconds << _RECORD_BITS | (record & _RECORD_MASK)


class RecordMarks:
    """Each device's last received record number (glucose meter or GHS sensor): known
    (memory) and to be written (disk)."""

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
