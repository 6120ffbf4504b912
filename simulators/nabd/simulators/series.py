"""What a simulation or a replay hands to the shells: sampled series and beat streams.

Arrays are read-only: a series is a value, shared by every consumer. Missing samples are NaN and
are never a number in disguise: where ``contact_lost`` is set the device reported "no contact"
(a shell sends a reading flagged ``unavailable`` and ``sensor_contact_lost``); where a value is
NaN without it, the device sent nothing for that instant (dead battery, a cuff between
measurements, an invalid sample in a recording).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from nabd.simulators.devices import Device
from nabd.simulators.errors import SimulatorError
from nabd.simulators.timebase import FloatArray

__all__ = ["RR_RESOLUTION_S", "BatteryArray", "BeatSeries", "BoolArray", "VitalSeries"]

BoolArray = npt.NDArray[np.bool_]
BatteryArray = npt.NDArray[np.uint8]

RR_RESOLUTION_S: Final = 1 / 1024
"""RR intervals travel in 1/1024 s units in the Heart Rate Measurement characteristic (0x2A37)."""


_Array = TypeVar("_Array", bound="np.ndarray[Any, Any]")


def _frozen(array: _Array) -> _Array:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False, slots=True)
class BeatSeries:
    """The beats one chest strap detected: R-peak times and the RR interval ending at each.

    ``rr[k]`` is ``beat_times[k] - beat_times[k-1]`` quantised as the strap sends it, or NaN when
    the previous beat was not detected (the first beat, or the first after contact came back).
    """

    patient_id: str
    beat_times: FloatArray
    """Seconds since the Unix epoch, strictly increasing."""
    rr: FloatArray
    """Seconds."""

    def __post_init__(self) -> None:
        if self.beat_times.ndim != 1 or self.beat_times.shape != self.rr.shape:
            raise SimulatorError("beat_times and rr must be 1-D arrays of one length")
        if (np.diff(self.beat_times) <= 0).any():
            raise SimulatorError("beat times must be strictly increasing")
        _frozen(self.beat_times)
        _frozen(self.rr)


@dataclass(frozen=True, eq=False)
class VitalSeries:
    """Sampled series of several patients at common instants; row ``i`` is ``patient_ids[i]``.

    ``values`` maps catalogue metric keys to (patients, times) arrays in the catalogue's
    canonical units, quantised as devices report them (NaN: no value). ``contact_lost`` has the
    same keys and shapes. ``battery_level`` maps each device to its battery (%) as unsigned
    integers. ``beats`` holds each patient's detected beats, in row order (empty for a replay
    without beats).
    """

    patient_ids: tuple[str, ...]
    times: FloatArray
    values: Mapping[str, FloatArray]
    contact_lost: Mapping[str, BoolArray]
    battery_level: Mapping[Device, BatteryArray] = field(default_factory=dict)
    beats: tuple[BeatSeries, ...] = ()

    def __post_init__(self) -> None:
        shape = (len(self.patient_ids), self.times.size)
        if len(set(self.patient_ids)) != len(self.patient_ids):
            raise SimulatorError("patient ids must be unique")
        if set(self.contact_lost) != set(self.values):
            raise SimulatorError("contact_lost must have exactly the keys of values")
        arrays = [*self.values.values(), *self.contact_lost.values()]
        if any(a.shape != shape for a in [*arrays, *self.battery_level.values()]):
            raise SimulatorError(f"every series must have shape {shape}")
        if self.beats and tuple(b.patient_id for b in self.beats) != self.patient_ids:
            raise SimulatorError("beats must be given for every patient, in row order")
        for array in (self.times, *arrays, *self.battery_level.values()):
            _frozen(array)
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "contact_lost", MappingProxyType(dict(self.contact_lost)))
        object.__setattr__(self, "battery_level", MappingProxyType(dict(self.battery_level)))

    def row(self, patient_id: str) -> int:
        """The row of ``patient_id``; SimulatorError if the series has no such patient."""
        try:
            return self.patient_ids.index(patient_id)
        except ValueError as exc:
            raise SimulatorError(f"no patient {patient_id!r} in this series") from exc
