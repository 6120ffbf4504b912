"""The alert conditions the service watches: one column of the alert arrays each.

Every condition has a name (it goes on the wire as ``Alert.kind`` and in ``alert.condition``), a
kind in the IEC 60601-1-8 sense (physiological: about the patient; technical: about the
equipment), its default priority, the metric it is about, and a one-line message template. The
templates never contain anything identifying: only the condition, a value and its unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from nabd.analytics.alerts import HIGH, LOW, MEDIUM

__all__ = ["BY_NAME", "CONDITIONS", "NAMES", "Condition", "Kind", "column"]


class Kind(StrEnum):
    """IEC 60601-1-8 alarm kinds."""

    PHYSIOLOGICAL = "physiological"
    TECHNICAL = "technical"


@dataclass(frozen=True)
class Condition:
    """One alertable condition. ``template`` is formatted with ``value`` (a float, may be NaN)."""

    name: str
    kind: Kind
    priority: int
    """Default priority code (``nabd.analytics.alerts.LOW`` ...); some conditions vary it."""
    metric: str | None
    template: str


_P, _T = Kind.PHYSIOLOGICAL, Kind.TECHNICAL

CONDITIONS: Final = (
    # NEWS2 risk: low-medium (a single parameter scores 3) -> low, medium -> medium, high -> high.
    Condition("news2", _P, LOW, None, "NEWS2 {value:.0f} or more ({detail})"),
    Condition("heart_rate_high", _P, HIGH, "heart_rate", "Heart rate high: {value:.0f} /min"),
    Condition("heart_rate_low", _P, HIGH, "heart_rate", "Heart rate low: {value:.0f} /min"),
    Condition("spo2_low", _P, HIGH, "spo2", "SpO2 low: {value:.0f} %"),
    Condition(
        "respiration_rate_high",
        _P,
        HIGH,
        "respiration_rate",
        "Respiratory rate high: {value:.0f} /min",
    ),
    Condition(
        "respiration_rate_low",
        _P,
        HIGH,
        "respiration_rate",
        "Respiratory rate low: {value:.0f} /min",
    ),
    Condition("systolic_bp_high", _P, HIGH, "systolic_bp", "Systolic BP high: {value:.0f} mmHg"),
    Condition("systolic_bp_low", _P, HIGH, "systolic_bp", "Systolic BP low: {value:.0f} mmHg"),
    Condition(
        "temperature_high", _P, MEDIUM, "body_temperature", "Temperature high: {value:.1f} °C"
    ),
    Condition("temperature_low", _P, HIGH, "body_temperature", "Temperature low: {value:.1f} °C"),
    Condition(
        "heart_rate_deviation",
        _P,
        MEDIUM,
        "heart_rate",
        "Heart rate {value:.0f} /min, far from this patient's baseline ({detail})",
    ),
    Condition(
        "spo2_deviation",
        _P,
        MEDIUM,
        "spo2",
        "SpO2 {value:.0f} %, well below this patient's baseline ({detail})",
    ),
    Condition(
        "respiration_rate_deviation",
        _P,
        MEDIUM,
        "respiration_rate",
        "Respiratory rate {value:.0f} /min, far from this patient's baseline ({detail})",
    ),
    Condition(
        "heart_rate_trend", _P, LOW, "heart_rate", "Heart rate trending: {value:+.1f} /min per hour"
    ),
    Condition(
        "respiration_rate_trend",
        _P,
        LOW,
        "respiration_rate",
        "Respiratory rate trending: {value:+.1f} /min per hour",
    ),
    Condition("spo2_trend", _P, LOW, "spo2", "SpO2 falling: {value:+.1f} % per hour"),
    Condition("desaturation", _P, MEDIUM, "spo2", "SpO2 desaturation: {value:.0f} % ({detail})"),
    # Medium; high when the ventricular rate is fast (>= 110 /min).
    Condition(
        "atrial_fibrillation",
        _P,
        MEDIUM,
        "rr_interval",
        "Irregular rhythm suggesting atrial fibrillation, heart rate {value:.0f} /min",
    ),
    # High below 3.0 mmol/L (level 2), medium below 3.9 (level 1): nabd.analytics.glucose.
    Condition("hypoglycaemia", _P, HIGH, "glucose", "Glucose low: {value:.1f} mmol/L ({detail})"),
    Condition("no_data", _T, MEDIUM, None, "No data received since admission"),
    Condition("stale_data", _T, MEDIUM, None, "Monitoring interrupted: {detail}"),
    Condition("sensor_off", _T, MEDIUM, None, "Sensor off or no skin contact: {detail}"),
    Condition("flatline", _T, LOW, None, "Signal frozen (no variation): {detail}"),
    Condition("low_battery", _T, LOW, "battery_level", "Device battery low: {value:.0f} %"),
    Condition("gateway_offline", _T, MEDIUM, None, "Bedside gateway offline"),
    Condition(
        "device_disconnected",
        _T,
        MEDIUM,
        None,
        "Device disconnected for {value:.0f} min: {detail}",
    ),
)
"""In column order. The order is part of nothing persistent: rows are stored by name."""

NAMES: Final = tuple(c.name for c in CONDITIONS)
BY_NAME: Final = MappingProxyType({c.name: c for c in CONDITIONS})
_COLUMNS: Final = MappingProxyType({c.name: i for i, c in enumerate(CONDITIONS)})


def column(name: str) -> int:
    """The column of condition ``name`` in the alert arrays."""
    return _COLUMNS[name]
