"""A snapshot of what the service needs to know about patients besides their observations.

Read from the database every few seconds (:mod:`nabd.analytics.service.source`) and applied to the
ward state in one go: who is admitted and where, the NEWS2 scale a clinician set, nurses' entries
(consciousness, supplemental oxygen, values they measured) with their validity, alarm limits per
ward and patient, the lowest battery of each patient's devices, the state of their gateways and of
each device's Bluetooth link. Everything is columns (NumPy arrays), one element per patient, entry,
limit or gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import NEVER, BoolArray, FloatArray, IntArray

__all__ = ["Registry"]

StrArray = npt.NDArray[np.str_]


def _str(values: list[str] | None = None) -> StrArray:
    return np.array(values or [], dtype=np.str_)


@dataclass(frozen=True, kw_only=True)
class Registry:
    """Admitted patients and their context. Times are int64 ns since the epoch."""

    patient: StrArray = field(default_factory=_str)
    ward: StrArray = field(default_factory=_str)
    scale2: BoolArray = field(default_factory=lambda: np.zeros(0, np.bool_))
    admitted_at: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    gateway: StrArray = field(default_factory=_str)
    """The gateway of the patient's devices ('' when none is assigned)."""
    battery: FloatArray = field(default_factory=lambda: np.zeros(0))
    """Lowest battery level (%) of the patient's assigned devices (NaN: unknown)."""

    gateway_id: StrArray = field(default_factory=_str)
    gateway_online: BoolArray = field(default_factory=lambda: np.zeros(0, np.bool_))
    gateway_last_seen: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    """NEVER when the gateway has never been heard from."""

    entry_patient: StrArray = field(default_factory=_str)
    """Nurses' entries in force: one per patient and parameter (the newest)."""
    entry_parameter: StrArray = field(default_factory=_str)
    """'consciousness', 'supplemental_oxygen', or a measured value's catalogue key
    (``respiration_rate`` counted, ``spo2``, ``pulse_rate``, ``systolic_bp``, ``diastolic_bp``,
    ``body_temperature``; migrations 0033, 0034)."""
    entry_value: StrArray = field(default_factory=_str)
    """'A', 'C', 'V', 'P', 'U', 'air' / 'oxygen', or the measured value as text (e.g. '37.2')."""
    entry_valid_until: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    entry_observed_at: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    """When the nurse observed it; left out (empty), NEVER for every entry: a device's value,
    whenever it was measured, is then the fresher one."""

    def __post_init__(self) -> None:
        if self.entry_observed_at.shape[0] != self.entry_patient.shape[0]:
            never = np.full(self.entry_patient.shape[0], NEVER, dtype=np.int64)
            object.__setattr__(self, "entry_observed_at", never)

    limit_ward: StrArray = field(default_factory=_str)
    """Alarm limit overrides: the ward ('' for a patient's row) ..."""
    limit_patient: StrArray = field(default_factory=_str)
    """... or the patient ('' for a ward's row), the metric, and the limits (NaN: unchanged)."""
    limit_metric: StrArray = field(default_factory=_str)
    limit_low: FloatArray = field(default_factory=lambda: np.zeros(0))
    limit_high: FloatArray = field(default_factory=lambda: np.zeros(0))

    link_patient: StrArray = field(default_factory=_str)
    """Device links that are down, as the gateway's latest status reports them: the patient,"""
    link_device: StrArray = field(default_factory=_str)
    """the device,"""
    link_down_since: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    """and since when its link is down (searching, connecting or lost), by the gateway's
    clock. Connected devices have no row."""
