"""The alert conditions the service watches: one column of the alert arrays each.

Every condition has a name (it goes on the wire as ``Alert.kind`` and in ``alert.condition``), a
kind in the IEC 60601-1-8 sense (physiological: about the patient; technical: about the
equipment), its default priority and the metric it is about. What a nurse reads is rendered from
the alert's facts by :mod:`nabd.contract.alert_text` (in French, English or Arabic), never from
anything identifying.
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
    """One alertable condition."""

    name: str
    kind: Kind
    priority: int
    """Default priority code (``nabd.analytics.alerts.LOW`` ...); some conditions vary it."""
    metric: str | None


_P, _T = Kind.PHYSIOLOGICAL, Kind.TECHNICAL

CONDITIONS: Final = (
    # NEWS2 risk: low-medium (a single parameter scores 3) -> low, medium -> medium, high -> high.
    Condition("news2", _P, LOW, None),
    Condition("heart_rate_high", _P, HIGH, "heart_rate"),
    Condition("heart_rate_low", _P, HIGH, "heart_rate"),
    Condition("spo2_low", _P, HIGH, "spo2"),
    Condition("respiration_rate_high", _P, HIGH, "respiration_rate"),
    Condition("respiration_rate_low", _P, HIGH, "respiration_rate"),
    Condition("systolic_bp_high", _P, HIGH, "systolic_bp"),
    Condition("systolic_bp_low", _P, HIGH, "systolic_bp"),
    Condition("temperature_high", _P, MEDIUM, "body_temperature"),
    Condition("temperature_low", _P, HIGH, "body_temperature"),
    Condition("heart_rate_deviation", _P, MEDIUM, "heart_rate"),
    Condition("spo2_deviation", _P, MEDIUM, "spo2"),
    Condition("respiration_rate_deviation", _P, MEDIUM, "respiration_rate"),
    Condition("heart_rate_trend", _P, LOW, "heart_rate"),
    Condition("respiration_rate_trend", _P, LOW, "respiration_rate"),
    Condition("spo2_trend", _P, LOW, "spo2"),
    Condition("desaturation", _P, MEDIUM, "spo2"),
    # Medium; high when the ventricular rate is fast (>= 110 /min).
    Condition("atrial_fibrillation", _P, MEDIUM, "rr_interval"),
    # High below 3.0 mmol/L (level 2), medium below 3.9 (level 1): nabd.analytics.glucose.
    Condition("hypoglycaemia", _P, HIGH, "glucose"),
    Condition("no_data", _T, MEDIUM, None),
    Condition("stale_data", _T, MEDIUM, None),
    Condition("sensor_off", _T, MEDIUM, None),
    Condition("flatline", _T, LOW, None),
    Condition("low_battery", _T, LOW, "battery_level"),
    Condition("gateway_offline", _T, MEDIUM, None),
    Condition("device_disconnected", _T, MEDIUM, None),
    # Patients at home (nabd.analytics.home, docs/home-monitoring.md): judged on their spot
    # readings instead of the conditions above; the priority is the rule's level, these are the
    # first levels. spo2_low above is shared: a home patient's SpO2 spot rule raises it.
    Condition("weight_gain", _P, MEDIUM, "body_weight"),
    Condition("bp_severe", _P, LOW, "systolic_bp"),
    Condition("bp_low", _P, LOW, "systolic_bp"),
    Condition("bp_mean_high", _P, LOW, "systolic_bp"),
    Condition("glucose_low", _P, MEDIUM, "glucose"),
    Condition("glucose_high", _P, LOW, "glucose"),
    # Adherence is not a physiological alarm: a low-priority call for the remote nurse; its
    # value is the number of scheduled measurements missed in a row (no unit).
    Condition("adherence_weight", _T, LOW, None),
    Condition("adherence_blood_pressure", _T, LOW, None),
    Condition("adherence_glucose", _T, LOW, None),
    Condition("adherence_spo2", _T, LOW, None),
    # The home gateway silent longer than the plan's gateway.silent_after_h (12 h by default,
    # nabd.analytics.home_gateway): a call about the box, low, never escalating. Its message
    # shows how long; no number.
    Condition("home_gateway_offline", _T, LOW, None),
)
"""In column order. The order is part of nothing persistent: rows are stored by name."""

NAMES: Final = tuple(c.name for c in CONDITIONS)
BY_NAME: Final = MappingProxyType({c.name: c for c in CONDITIONS})
_COLUMNS: Final = MappingProxyType({c.name: i for i, c in enumerate(CONDITIONS)})


def column(name: str) -> int:
    """The column of condition ``name`` in the alert arrays."""
    return _COLUMNS[name]
