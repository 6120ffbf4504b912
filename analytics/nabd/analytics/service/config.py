"""How the engine watches patients: windows, cadences, persistence per condition, alert policy.

One frozen value, built once at start. The detector parameters are the scoring core's own
configuration types with their documented defaults (``docs/analytics.md``); what is decided here
is how the service wires them: which metrics get a window and how long, how often each group of
detectors runs, and the persistence of the conditions the service itself latches (NEWS2, sensor
off). Every condition's delay is explicit configuration, never a hidden constant: the trade-off
between a single artefact paging a nurse and a real event paging late is made per condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from nabd.analytics.af import AfConfig
from nabd.analytics.alerts import HIGH, AlertPolicy
from nabd.analytics.arrays import check_duration
from nabd.analytics.baseline import DEFAULT_BASELINES, BaselineConfig
from nabd.analytics.desaturation import DesaturationConfig
from nabd.analytics.glucose import WardGlucose
from nabd.analytics.limits import DEFAULT_LIMITS, LimitConfig
from nabd.analytics.service.conditions import NAMES
from nabd.analytics.service.errors import MonitorInputError
from nabd.analytics.service.readings_delay import ReadingsDelayPolicy
from nabd.analytics.technical import DEFAULT_EXPECTATIONS, BatteryConfig, MetricExpectation
from nabd.analytics.trend import TrendConfig

__all__ = [
    "CONTINUOUS_METRICS",
    "DEFAULT_CAPACITIES",
    "LIMIT_METRICS",
    "MINUTE_METRICS",
    "NO_ESCALATION",
    "EngineConfig",
    "Persistence",
]

DEFAULT_CAPACITIES: Final[Mapping[str, int]] = MappingProxyType(
    {
        # 1 Hz: 320 s covers the 300 s flatline window.
        "heart_rate": 320,
        "pulse_rate": 320,
        # 1 Hz: covers the desaturation baseline (120 s) plus the dip itself.
        "spo2": 192,
        # One per beat: the AF window (128 beats) plus margin.
        "rr_interval": 160,
        "respiration_rate": 16,
        "body_temperature": 4,
        "systolic_bp": 4,
    }
)
"""Samples kept per patient in each raw window (16 bytes each)."""

MINUTE_METRICS: Final = ("heart_rate", "spo2", "respiration_rate")
"""Metrics with a ring of per-minute medians, for baselines and trends (heart rate falls back to
the oximeter's pulse rate for patients without a heart-rate strap)."""

LIMIT_METRICS: Final = ("heart_rate", "spo2", "respiration_rate", "systolic_bp", "body_temperature")
"""Metrics with hard limits (heart rate: the strap's, else the oximeter's pulse rate)."""

CONTINUOUS_METRICS: Final = ("heart_rate", "pulse_rate", "spo2", "rr_interval", "respiration_rate")
"""Metrics streamed continuously: silence from one of them is the ``stale_data`` condition.
Spot measurements (temperature, blood pressure) going stale makes NEWS2 incomplete instead."""


@dataclass(frozen=True, kw_only=True)
class Persistence:
    """How long a condition the service latches itself must hold before it fires or clears."""

    persist_s: float
    clear_s: float

    def __post_init__(self) -> None:
        check_duration("persist_s", self.persist_s)
        check_duration("clear_s", self.clear_s)


NO_ESCALATION: Final = frozenset(
    {*(n for n in NAMES if n.startswith("adherence_")), "home_gateway_offline"}
)
"""Conditions that stay a low-priority call for the remote nurse however long they wait: a
missed home measurement, a silent home gateway (docs/home-monitoring.md). Waiting does not make
them more urgent; the clinical home rules still escalate."""


def _policy() -> AlertPolicy:
    return AlertPolicy(
        conditions=NAMES,
        raise_after_s=0.0,
        resolve_after_s=60.0,
        escalate_after_s=(1800.0, 600.0, 180.0, 60.0),
        max_level=3,
        latch_priority=HIGH,
        escalates=[name not in NO_ESCALATION for name in NAMES],
    )


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Everything the engine needs besides the data; defaults suit a general ward."""

    capacities: Mapping[str, int] = field(default_factory=lambda: DEFAULT_CAPACITIES)
    minute_capacity: int = 360
    """Per-minute medians kept: 6 h, the baseline history."""
    minute_columns: int = 120
    """Newest raw samples a per-minute median is taken from (2 min at 1 Hz)."""
    expectations: Mapping[str, MetricExpectation] = field(
        default_factory=lambda: DEFAULT_EXPECTATIONS
    )
    """Expected sampling and staleness per metric; a value older than its ``stale_after_s`` is
    missing for NEWS2 and the limits (never assumed normal)."""
    limits: Mapping[str, LimitConfig] = field(default_factory=lambda: DEFAULT_LIMITS)
    baselines: Mapping[str, BaselineConfig] = field(
        default_factory=lambda: {m: DEFAULT_BASELINES[m] for m in MINUTE_METRICS}
    )
    trends: Mapping[str, TrendConfig] = field(
        default_factory=lambda: {m: TrendConfig() for m in MINUTE_METRICS}
    )
    """Off by default (``rise_per_h``/``fall_per_h`` infinite): no published thresholds."""
    desaturation: DesaturationConfig = field(default_factory=DesaturationConfig)
    af: AfConfig = field(default_factory=AfConfig)
    af_fast_rate: float = 110.0
    """AF with a ventricular rate at or above this (/min) is high priority, else medium."""
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    confirm_samples: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"respiration_rate": 3})
    )
    """Per metric, how many of its newest samples the current value is the median of (default
    1: the newest). Respiration rate arrives once a minute, so its newest value stands for a
    minute and one motion artefact would outlast any time persistence; the median of three
    ignores it, at the cost of seeing a real change one to two samples later."""
    news2: Persistence = Persistence(persist_s=30.0, clear_s=60.0)
    """NEWS2 is scored from the latest values every tick; one artefact scoring 3 for a second
    must not page, a score that holds for 30 s must."""
    sensor_off: Persistence = Persistence(persist_s=15.0, clear_s=5.0)
    """A probe slipping for a few seconds is not worth a page; 15 s without contact is."""
    no_data_grace_s: float = 120.0
    """After admission (or a service start), how long to wait for a first sample."""
    gateway_timeout_s: float = 120.0
    readings_delay: ReadingsDelayPolicy = field(default_factory=ReadingsDelayPolicy)
    """When the freshest readings arrive late, a patient's silence is judged beyond that delay
    (``stale_data``), and the delay is said once per ward instead
    (:mod:`nabd.analytics.service.readings_delay`)."""
    link_grace_s: float = 60.0
    """A device's Bluetooth link must stay down this long before ``device_disconnected``: the
    edge agent reconnects within seconds after a normal drop (backing off to at most a minute),
    and a spot device that misses no measurement should not page (IEC 60601-1-8: a technical
    alarm is for a condition that persists)."""
    glucose: WardGlucose = field(default_factory=WardGlucose)
    window_every_s: float = 1.0
    """Each patient's window detectors (desaturation, AF, flatline) are judged this often."""
    slow_every_s: float = 60.0
    """Each patient's per-minute detectors (medians, baselines, trends) are judged this often."""
    window_cohorts: int = 1
    """Patients split into this many cohorts (``row % k``) for the window detectors: a run is
    due every ``window_every_s / k`` and judges the cohorts whose turn came, so each patient is
    still judged every ``window_every_s`` and no single tick pays for the whole ward
    (``nabd.analytics.service.cohorts``). 1: everyone at every run."""
    slow_cohorts: int = 1
    """The same for the per-minute detectors (e.g. 60: one sixtieth of the ward every second)."""
    policy: AlertPolicy = field(default_factory=_policy)

    def __post_init__(self) -> None:
        if self.policy.conditions != NAMES:
            raise MonitorInputError("policy: its conditions must be the service's, in order")
        for key in (*LIMIT_METRICS, "pulse_rate"):
            if key not in self.capacities or key not in self.expectations:
                raise MonitorInputError(f"capacities/expectations: {key} is required")
        if self.capacities["rr_interval"] < self.af.beats:
            raise MonitorInputError("capacities: rr_interval must hold the AF window")
        for key, k in self.confirm_samples.items():
            if not 1 <= k <= self.capacities.get(key, 0):
                raise MonitorInputError(f"confirm_samples[{key}] must be in 1..its capacity")
        if self.minute_capacity < 1 or self.minute_columns < 1:
            raise MonitorInputError("minute_capacity and minute_columns must be >= 1")
        for name in ("no_data_grace_s", "gateway_timeout_s", "link_grace_s"):
            check_duration(name, getattr(self, name))
        if self.window_every_s <= 0 or self.slow_every_s <= 0:
            raise MonitorInputError("window_every_s and slow_every_s must be > 0")
        if self.window_cohorts < 1 or self.slow_cohorts < 1:
            raise MonitorInputError("window_cohorts and slow_cohorts must be >= 1")
