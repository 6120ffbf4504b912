"""Which simulated device measures which metric.

Faults happen to devices, not to numbers: a pulse oximeter whose probe falls off loses SpO2 *and*
pulse rate at once. This table is how a device fault reaches the right series, and how the
transport shells know which BLE peripheral carries which metric. Metric names are the contract's
catalogue keys, so a simulated value can become a ``Reading`` without renaming.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from nabd.simulators.errors import SimulatorError

__all__ = ["DEVICE_METRICS", "METRICS", "Device", "device_of"]


class Device(StrEnum):
    """The wearables a simulated patient carries (one of each)."""

    CHEST_STRAP = "chest_strap"
    """Heart-rate strap: heart rate and RR intervals (beat by beat)."""
    PULSE_OXIMETER = "pulse_oximeter"
    THERMOMETER = "thermometer"
    BP_CUFF = "bp_cuff"
    GLUCOSE_METER = "glucose_meter"
    SCALE = "scale"
    RESPIRATION_SENSOR = "respiration_sensor"
    """A chest patch speaking the Generic Health Sensor service (GHS 1.0): respiratory rate. The
    Heart Rate service has no respiration field, so a strap cannot carry it."""


DEVICE_METRICS: Final[Mapping[Device, tuple[str, ...]]] = MappingProxyType(
    {
        Device.CHEST_STRAP: ("heart_rate",),
        Device.RESPIRATION_SENSOR: ("respiration_rate",),
        Device.PULSE_OXIMETER: ("spo2", "pulse_rate"),
        Device.THERMOMETER: ("body_temperature",),
        Device.BP_CUFF: ("systolic_bp", "diastolic_bp", "mean_arterial_pressure"),
        Device.GLUCOSE_METER: ("glucose",),
        Device.SCALE: ("body_weight",),
    }
)
"""The sampled metrics of each device; the chest strap also sends ``rr_interval`` beat by beat."""

METRICS: Final = tuple(key for keys in DEVICE_METRICS.values() for key in keys)
"""Every metric a simulated patient has a sampled series of, in a fixed order."""

_DEVICE_OF: Final = MappingProxyType(
    {key: device for device, keys in DEVICE_METRICS.items() for key in keys}
)


def device_of(metric: str) -> Device:
    """The device that measures ``metric``; raises SimulatorError for a metric no device has."""
    try:
        return _DEVICE_OF[metric]
    except KeyError as exc:
        raise SimulatorError(f"no simulated device measures {metric!r}") from exc
