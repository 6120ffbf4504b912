"""Decoded samples -> contract readings: identity, quality flags, device and receive time.

Each reading is built as the contract's :class:`~nabd.contract.payloads.Reading`, so it is
validated *before* it enters the outbox: a value outside the metric's possible range (a corrupted
frame, a device bug) is rejected here, alone and counted, instead of later making ingest refuse
the whole batch it travels in.

How the codecs' sample flags become the contract's quality flags:

==========================  ===================================================================
sample flag                 reading
==========================  ===================================================================
``unavailable``             ``value`` null, ``unavailable``
``sensor_contact_lost``     ``sensor_contact_lost``
``early_estimate``          ``early_estimate``
``questionable``            ``questionable``
``motion``                  ``artefact``
``invalid``                 ``value`` null, ``unavailable``: the device says the number is not a
                            measurement (sensor malfunction, strip error), so none is recorded
``test_data``               no reading at all: demonstration data or a control-solution test is
                            not the patient's (counted in the status report)
==========================  ===================================================================

A device time stamp from a clock that was never set is dropped and flagged
``device_clock_unset`` (see :mod:`nabd.edge.clock`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from pydantic import ValidationError

from nabd.contract.payloads import Quality, Reading
from nabd.edge.clock import DeviceTime
from nabd.edge.gatt import Reading as Sample
from nabd.edge.gatt import SampleFlag

__all__ = ["QUALITY_OF", "Stamped", "stamp", "usable"]

QUALITY_OF: Final = MappingProxyType(
    {
        SampleFlag.UNAVAILABLE: Quality.UNAVAILABLE,
        SampleFlag.SENSOR_CONTACT_LOST: Quality.SENSOR_CONTACT_LOST,
        SampleFlag.EARLY_ESTIMATE: Quality.EARLY_ESTIMATE,
        SampleFlag.QUESTIONABLE: Quality.QUESTIONABLE,
        SampleFlag.MOTION: Quality.ARTEFACT,
        SampleFlag.INVALID: Quality.UNAVAILABLE,
    }
)
"""Sample flag -> quality flag; ``test_data`` has none because such samples are dropped."""


@dataclass(frozen=True, slots=True)
class Stamped:
    """The readings of one message, and what could not become one."""

    readings: tuple[Reading, ...]
    rejected: tuple[str, ...] = ()
    """Why each refused sample was refused (``"heart_rate: 400.0 /min is outside ..."``)."""


def usable(samples: Sequence[Sample]) -> tuple[list[Sample], int]:
    """The samples that may become readings, and how many were test data."""
    kept = [s for s in samples if SampleFlag.TEST_DATA not in s.flags]
    return kept, len(samples) - len(kept)


def stamp(
    device_id: str,
    samples: Sequence[Sample],
    seqs: Sequence[int],
    received_at: datetime,
    time: DeviceTime,
) -> Stamped:
    """Contract readings for one message's ``samples`` numbered ``seqs``."""
    readings: list[Reading] = []
    rejected: list[str] = []
    for sample, seq in zip(samples, seqs, strict=True):
        quality = {QUALITY_OF[flag] for flag in sample.flags if flag in QUALITY_OF}
        if time.unset:
            quality.add(Quality.DEVICE_CLOCK_UNSET)
        value = None if Quality.UNAVAILABLE in quality else sample.value
        try:
            readings.append(
                Reading(
                    device_id=device_id,
                    seq=seq,
                    metric=sample.metric,
                    quality=tuple(quality),
                    value=value,
                    unit=sample.unit,
                    device_time=time.at,
                    received_at=received_at,
                )
            )
        except ValidationError as exc:
            detail = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in detail["loc"])
            reason = detail["msg"].removeprefix("Value error, ")
            rejected.append(f"{sample.metric}: {where}: {reason}")
    return Stamped(tuple(readings), tuple(rejected))
