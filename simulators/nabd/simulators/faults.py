"""Device faults: what a wearable does to measured series when something goes wrong.

Applied after measurement, one patient's faults at a time, in this order: a frozen value
(flatline), then motion spikes (artefacts), then a dead battery, then lost skin contact, so the
last word on a sample is whether the device could measure at all. Every device also has a
battery that drains slowly (0.5-3 %/day from 60-100 %), so a battery series always exists.

Clock drift changes nothing here (it only shifts ``device_time``, which the shells stamp), and
transport events (disconnects, duplicates, garbling) are for the shells too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.simulators.devices import DEVICE_METRICS, METRICS, Device
from nabd.simulators.measurement import DECIMALS, quantised
from nabd.simulators.scenarios import Artefacts, BatteryDrain, DeviceFault, Flatline, SensorOff
from nabd.simulators.series import BatteryArray, BoolArray
from nabd.simulators.streams import stream
from nabd.simulators.timebase import DAY_S, FloatArray

__all__ = ["MOVED_WITH", "SPIKES", "FaultEffects", "apply_faults"]

SPIKES: Final[Mapping[str, tuple[str, float, float]]] = MappingProxyType(
    {
        "heart_rate": ("times", 1.6, 2.0),  # double counting of T waves or motion
        "pulse_rate": ("times", 1.4, 1.9),
        "respiration_rate": ("plus", 10.0, 25.0),  # impedance swings from movement
        "spo2": ("plus", -25.0, -8.0),  # false desaturations from probe motion
        "body_temperature": ("plus", -4.0, -1.5),  # probe lifted off the skin
        "systolic_bp": ("plus", 25.0, 60.0),  # arm moved during the cuff's deflation
        "diastolic_bp": ("plus", 15.0, 35.0),
        "mean_arterial_pressure": ("plus", 20.0, 45.0),
        "glucose": ("times", 1.4, 2.0),  # contaminated finger
        "body_weight": ("plus", 3.0, 12.0),  # leaning on something
    }
)
"""How a motion artefact distorts each metric: multiply or add a uniform random amount."""

MOVED_WITH: Final[Mapping[Device, tuple[str, ...]]] = MappingProxyType(
    {Device.CHEST_STRAP: ("respiration_rate",)}
)
"""Metrics of *other* devices a device's motion artefacts also distort: a moving chest swings the
respiration patch's impedance as it disturbs the strap (both are worn on the chest)."""

_RANGE: Final = MappingProxyType({"spo2": (0.0, 100.0)})
_ORDER: Final[Mapping[type, int]] = MappingProxyType(
    {Flatline: 0, Artefacts: 1, BatteryDrain: 2, SensorOff: 3}
)
"""Application order; faults not listed (clock drift) change no values."""


@dataclass(frozen=True, slots=True)
class FaultEffects:
    """What the faults left besides the changed values."""

    contact_lost: dict[str, BoolArray]
    battery_level: dict[Device, BatteryArray]
    strap_gaps: list[list[tuple[float, float]]]
    """Per patient, when the chest strap detected no beats (no contact, dead battery)."""


def apply_faults(
    values: dict[str, FloatArray],
    times: FloatArray,
    patient_ids: Sequence[str],
    faults: Sequence[Sequence[DeviceFault]],
    seed: int,
) -> FaultEffects:
    """Apply each patient's faults to ``values`` in place and return the other effects."""
    shape = (len(patient_ids), times.size)
    contact_lost = {metric: np.zeros(shape, dtype=np.bool_) for metric in METRICS}
    gaps: list[list[tuple[float, float]]] = [[] for _ in patient_ids]
    for row, (patient_id, own) in enumerate(zip(patient_ids, faults, strict=True)):
        for fault in sorted(own, key=lambda f: _ORDER.get(type(f), len(_ORDER))):
            inside = slice(*np.searchsorted(times, (fault.onset, fault.offset)))
            metrics = DEVICE_METRICS[fault.device]
            match fault:
                case Flatline():
                    _flatline(values, metrics, row, inside)
                case Artefacts():
                    rng = stream(seed, patient_id, "artefact", fault.device, repr(fault.onset))
                    moved = (*metrics, *MOVED_WITH.get(fault.device, ()))
                    _spikes(values, moved, row=row, inside=inside, fault=fault, rng=rng)
                case BatteryDrain():
                    dead = slice(*np.searchsorted(times, (fault.empty_at, fault.offset)))
                    for metric in metrics:
                        values[metric][row, dead] = np.nan
                    if fault.device is Device.CHEST_STRAP:
                        gaps[row].append((fault.empty_at, fault.offset))
                case SensorOff():
                    for metric in metrics:
                        values[metric][row, inside] = np.nan
                        contact_lost[metric][row, inside] = True
                    if fault.device is Device.CHEST_STRAP:
                        gaps[row].append((fault.onset, fault.offset))
                case _:
                    pass  # clock drift: device_time only, applied by the shells
    battery = {device: _battery(device, times, patient_ids, faults, seed) for device in Device}
    return FaultEffects(contact_lost=contact_lost, battery_level=battery, strap_gaps=gaps)


def _flatline(
    values: dict[str, FloatArray], metrics: Sequence[str], row: int, inside: slice
) -> None:
    """Repeat the last value before the window (the first in it, if there is none before)."""
    source = max(inside.start - 1, 0)
    for metric in metrics:
        values[metric][row, inside] = values[metric][row, source]


def _spikes(
    values: dict[str, FloatArray],
    metrics: Sequence[str],
    *,
    row: int,
    inside: slice,
    fault: Artefacts,
    rng: np.random.Generator,
) -> None:
    """At least one spike of 1-3 samples; about ``spikes_per_minute`` of them in the window."""
    samples = inside.stop - inside.start
    if samples <= 0:
        return
    expected = fault.spikes_per_minute * (fault.offset - fault.onset) / 60.0
    count = int(np.clip(rng.poisson(expected), 1, samples))
    starts = inside.start + rng.choice(samples, size=count, replace=False)
    lengths = rng.integers(1, 4, size=count)
    for metric in metrics:
        kind, low, high = SPIKES[metric]
        sizes = rng.uniform(low, high, size=count)
        series = values[metric][row]
        for first, length, size in zip(starts, lengths, sizes, strict=True):
            span = slice(first, min(first + length, inside.stop))
            series[span] = series[span] * size if kind == "times" else series[span] + size
        low_bound, high_bound = _RANGE.get(metric, (0.0, np.inf))
        series[inside] = quantised(np.clip(series[inside], low_bound, high_bound), DECIMALS[metric])


def _battery(
    device: Device,
    times: FloatArray,
    patient_ids: Sequence[str],
    faults: Sequence[Sequence[DeviceFault]],
    seed: int,
) -> BatteryArray:
    """Each patient's battery level (%) of ``device``: a slow drain, and any drain scenario."""
    level = np.empty((len(patient_ids), times.size))
    for row, patient_id in enumerate(patient_ids):
        rng = stream(seed, patient_id, "battery", device)
        start, per_day = rng.uniform(60.0, 100.0), rng.uniform(0.5, 3.0)
        level[row] = start - per_day * (times - times[0]) / DAY_S
        drains = [f for f in faults[row] if isinstance(f, BatteryDrain) and f.device is device]
        for drain in sorted(drains, key=lambda f: f.onset):
            inside = slice(*np.searchsorted(times, (drain.onset, drain.offset)))
            level[row, inside] = drain.level(times[inside])
            after = slice(inside.stop, None)
            level[row, after] = 100.0 - per_day * (times[after] - drain.offset) / DAY_S
    result: BatteryArray = quantised(np.clip(level, 0.0, 100.0), 0).astype(np.uint8)
    return result
