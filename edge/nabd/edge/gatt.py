"""Characteristic bytes -> readings in canonical units: the edge agent's view of the GATT codecs.

The byte-exact decoders live in :mod:`nabd.contract.gatt`, shared with the simulators' encoders.
This module flattens a decoded value into :class:`Reading` rows, one per metric sample (one per RR
interval), each with its catalogue key, canonical value and UCUM unit and the device's own time
stamp when the payload carries one.

* A special value (NaN, NRes, +/-INFINITY, reserved) never becomes a number: ``value`` is ``None``
  and ``flags`` holds :attr:`SampleFlag.UNAVAILABLE`, which is what the contract's
  ``Quality.UNAVAILABLE`` + ``"value": null`` carries on the wire.
* ``timestamp`` is the device's wall-clock time, *naive*: the characteristic carries no zone, so
  attaching one (per device, from the configuration) is the agent's decision.
* ``clock_unset`` is true when the payload carries a time stamp that the device itself marks as
  not set (PLX "device clock is not set") or that has no date (year, month or day 0); the agent
  then reports ``device_clock_unset`` instead of a time.
* ``record`` is a glucose record's Sequence Number or a GHS stored observation's Record Number:
  the device keeps the record and can send it again, so its reading's identity comes from the
  record, not from the order received (:mod:`nabd.edge.records`).
* Bytes that are not a valid value, and characteristics with no decoder, raise
  :class:`GattDecodeError` (a ``ValueError``); a decoder never returns a partial reading.
* Generic Health Sensor observations arrive in segments: :func:`decode` of one segment gives the
  readings of a single-segment observation and none for a part; the session joins the parts
  (:class:`~nabd.contract.gatt.ObservationReassembler`) and calls :func:`observation_readings`
  with the whole. Each observation brings its own time stamp; a bundle member that is malformed
  is left out and the others kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from nabd.contract.catalogue import metric as catalogue_metric
from nabd.contract.gatt import (
    CharacteristicValue,
    DateTime,
    GattDecodeError,
    GlucoseMeasurement,
    HealthObservation,
    LiveHealthObservations,
    ObservationReassembler,
    SampleFlag,
    StoredHealthObservations,
    UnknownCharacteristicError,
    decode_observations,
    observation_samples,
)
from nabd.contract.gatt import decode as decode_value

__all__ = [
    "GattDecodeError",
    "Reading",
    "SampleFlag",
    "SegmentedObservations",
    "characteristic_uuid16",
    "decode",
    "observation_readings",
]

_BASE_UUID_TAIL: Final = "-0000-1000-8000-00805f9b34fb"
_UUID16_RE: Final = re.compile(r"^(?:0x)?([0-9a-f]{4})$")
_UUID128_RE: Final = re.compile(rf"^0000([0-9a-f]{{4}}){re.escape(_BASE_UUID_TAIL)}$")


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample of one metric, in the catalogue's canonical unit."""

    metric: str
    """Catalogue key (``nabd.contract.catalogue``)."""
    value: float | None
    """Canonical unit; ``None`` only for a special value (then flagged ``unavailable``)."""
    unit: str
    """The metric's canonical UCUM unit."""
    timestamp: datetime | None
    """The device's wall-clock time (naive), when the payload carries a usable one."""
    flags: frozenset[SampleFlag] = frozenset()
    """What the device said about the value (contact lost, early estimate, ...)."""
    clock_unset: bool = False
    """The payload carries a time stamp, but from a clock the device says is not set."""
    record: int | None = None
    """The device's own record number (a glucose record's Sequence Number, a GHS stored
    observation's Record Number), when the value is a stored record the device can be asked for
    again (:mod:`nabd.edge.records`)."""


@runtime_checkable
class _Timed(Protocol):
    """Values that may carry a device time stamp (PLX spot-check, HTS, BLS, GLS, WSS)."""

    @property
    def measured_at(self) -> datetime | None: ...


def characteristic_uuid16(characteristic_uuid: int | str) -> int:
    """The 16-bit SIG UUID named by an int, ``"2A37"``, ``"0x2a37"`` or bleak's 128-bit form.

    Raises :class:`GattDecodeError` for anything else (a vendor 128-bit UUID has no codec here).
    """
    if isinstance(characteristic_uuid, int):
        if 0 <= characteristic_uuid <= 0xFFFF:
            return characteristic_uuid
        raise GattDecodeError(f"characteristic {characteristic_uuid}", "not a 16-bit UUID")
    text = characteristic_uuid.strip().lower()
    match = _UUID16_RE.fullmatch(text) or _UUID128_RE.fullmatch(text)
    if match is None:
        raise GattDecodeError(f"characteristic {characteristic_uuid!r}", "not a SIG 16-bit UUID")
    return int(match.group(1), 16)


def decode(characteristic_uuid: int | str, data: bytes) -> list[Reading]:
    """Decode one characteristic value into readings; raises :class:`GattDecodeError`."""
    uuid = characteristic_uuid16(characteristic_uuid)
    try:
        value = decode_value(uuid, data)
    except UnknownCharacteristicError as exc:
        raise GattDecodeError(f"characteristic 0x{uuid:04X}", "no decoder for it") from exc
    timestamp, clock_unset = _device_time(value)
    record = value.sequence_number if isinstance(value, GlucoseMeasurement) else None
    return [
        Reading(
            metric=str(sample.metric),
            value=sample.value,
            unit=catalogue_metric(sample.metric).unit,
            timestamp=timestamp,
            flags=sample.flags,
            clock_unset=clock_unset,
            record=record,
        )
        for sample in value.samples()
    ]


def observation_readings(data: bytes) -> list[Reading]:
    """The readings of one whole (reassembled) GHS observation value; never raises."""
    return [r for observation in decode_observations(data) for r in _observation(observation)]


class SegmentedObservations:
    """One connection's GHS observation characteristics: segments in, readings out when whole.

    :meth:`push` returns the readings of the observation a segment completes (``None`` while it
    is incomplete) and whether an earlier observation was lost on the way (a segment missing);
    bytes that are not a segment raise :class:`GattDecodeError`.
    """

    def __init__(self) -> None:
        self._joiners: dict[int, ObservationReassembler] = {}

    def push(self, uuid: int, data: bytes) -> tuple[list[Reading] | None, bool]:
        value = decode_value(uuid, data)
        if not isinstance(value, LiveHealthObservations | StoredHealthObservations):
            raise GattDecodeError(f"characteristic 0x{uuid:04X}", "not a GHS observation segment")
        joiner = self._joiners.setdefault(uuid, ObservationReassembler())
        dropped = joiner.dropped
        whole = joiner.push(value.header, value.data)
        lost = joiner.dropped > dropped
        if whole is None:
            return None, lost
        readings = observation_readings(whole)
        if isinstance(value, StoredHealthObservations):  # the record the last segment names
            readings = [replace(r, record=value.record_number) for r in readings]
        return readings, lost


def _observation(observation: HealthObservation) -> list[Reading]:
    stamp = observation.time.wall_clock if observation.time is not None else None
    return [
        Reading(
            metric=str(sample.metric),
            value=sample.value,
            unit=catalogue_metric(sample.metric).unit,
            timestamp=stamp,
            flags=sample.flags,
        )
        for sample in observation_samples(observation)
    ]


def _device_time(value: CharacteristicValue) -> tuple[datetime | None, bool]:
    """The device's time stamp and whether the payload carried one the device could not set."""
    if not isinstance(value, _Timed):
        return None, False
    measured_at = value.measured_at
    return measured_at, measured_at is None and _carries_time_stamp(value)


def _carries_time_stamp(value: CharacteristicValue) -> bool:
    if isinstance(value, GlucoseMeasurement):
        return True  # Base Time is mandatory in a glucose record
    stamp: DateTime | None = getattr(value, "timestamp", None)
    return stamp is not None
