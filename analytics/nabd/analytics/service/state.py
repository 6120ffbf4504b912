"""The ward state: every patient's windows, newest readings and context, as preallocated arrays.

Patients are rows. :class:`PatientIndex` hands out a row per pseudonymous id on admission (rows are
never reused within a process, so a row always means one patient); every array grows together.
The hot path, :meth:`WardState.ingest`, files a micro-batch of any size into

* one :class:`~nabd.analytics.ring.RingBuffer` per watched metric (only clean values: no value,
  lost contact, a 0 that means "probe off", or a device-flagged artefact never enter a window
  that the physiological detectors read), and
* the *newest reading* table, ``(patients, metrics)``, which keeps every reading, flagged or not:
  the technical detectors need to see that the newest SpO2 reading says "probe off" (stored
  column-major, like every ``(patients, k)`` table the detectors read by column);

with a fixed number of NumPy passes over the batch and one ``push`` per metric, never a loop over
patients or samples. The registry (admissions, nurses' entries, limits, gateways) is applied by
:meth:`WardState.apply`, every few seconds, off the hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    NEVER,
    BoolArray,
    FloatArray,
    IntArray,
    flat_view,
    masked_median,
    pad_rows,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.limits import LimitConfig, Thresholds, thresholds
from nabd.analytics.ring import RingBuffer
from nabd.analytics.service.config import LIMIT_METRICS, MINUTE_METRICS, EngineConfig
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import METRIC_KEYS, Samples, metric_index

__all__ = ["MANUAL_METRICS", "IngestCount", "PatientIndex", "WardState"]

log = logging.getLogger(__name__)

_METRICS = len(METRIC_KEYS)
_BATTERY = metric_index("battery_level")
MANUAL_METRICS: Final = (
    "respiration_rate",
    "spo2",
    "pulse_rate",
    "systolic_bp",
    "body_temperature",
)
"""The NEWS2 parameters a nurse may measure and enter (``nurse_entry``, migrations 0033/0034),
as catalogue keys; the diastolic pressure she enters with the systolic is not scored."""
_GLUCOSE = metric_index("glucose")
BATTERY_WINDOW_S = 900
"""How long the lowest battery reading of a patient's devices stands (devices report every few
minutes, so a low one is heard again well within it)."""


class PatientIndex:
    """Pseudonymous patient id <-> row. Rows are handed out in admission order, never reused
    (a retired id that comes back gets a new row; ``ids`` then lists it at both)."""

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}
        self._ids: list[str] = []

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._ids)

    def id_of(self, row: int) -> str:
        return self._ids[row]

    def rows(self, ids: Iterable[str]) -> IntArray:
        """Rows of ``ids``, -1 for ids never admitted (the registry path, not the hot path)."""
        return np.array([self._rows.get(i, -1) for i in ids], dtype=np.int64)

    def admit(self, ids: Iterable[str]) -> list[str]:
        """Give each unknown id the next row; return the ids that were new, in row order."""
        new = [i for i in dict.fromkeys(ids) if i not in self._rows]
        for patient in new:
            self._rows[patient] = len(self._ids)
            self._ids.append(patient)
        return new

    def retire(self, ids: Iterable[str]) -> IntArray:
        """Forget the rows of ``ids`` (their ward went to another worker); return them.

        The rows stay (never reused, never monitored again); if a patient comes back (the ward
        returns) it gets a fresh row, so no detector state of the earlier stay survives: another
        worker may have changed its alerts meanwhile.
        """
        rows = np.array([self._rows.pop(i) for i in dict.fromkeys(ids) if i in self._rows])
        return rows.astype(np.int64)


@dataclass(frozen=True)
class IngestCount:
    """What one micro-batch did: readings seen, filed into windows, and for unknown rows."""

    readings: int
    windowed: int
    unknown: int


class WardState:
    """Every patient's windows, newest readings and registry context."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.index = PatientIndex()
        self.rings = {
            # The AF detector copies each patient's newest beats every run: a doubled ring
            # makes each copy one contiguous row (RingBuffer, ``doubled``).
            key: RingBuffer(0, cap, doubled=key == "rr_interval")
            for key, cap in config.capacities.items()
        }
        self.minutes = {key: RingBuffer(0, config.minute_capacity) for key in MINUTE_METRICS}
        self.glucose = RingBuffer(0, config.glucose.readings)
        """Each patient's newest clean glucose readings: a CGM's persistence is judged on them."""
        self.latest_time: IntArray = np.full((0, _METRICS), NEVER, dtype=np.int64)
        self.latest_value: FloatArray = np.full((0, _METRICS), np.nan)
        self.latest_contact_lost: BoolArray = np.zeros((0, _METRICS), dtype=np.bool_)
        self.clean_time: IntArray = np.full((0, _METRICS), NEVER, dtype=np.int64)
        self.clean_value: FloatArray = np.full((0, _METRICS), np.nan)
        self.monitored: BoolArray = np.zeros(0, dtype=np.bool_)
        self.scale2: BoolArray = np.zeros(0, dtype=np.bool_)
        self.admitted_at: IntArray = np.zeros(0, dtype=np.int64)
        self.ward_of: IntArray = np.zeros(0, dtype=np.int64)
        self.ward_names: list[str] = []
        self.has_device: BoolArray = np.zeros(0, dtype=np.bool_)
        self.battery: FloatArray = np.zeros(0)
        self.battery_low: FloatArray = np.zeros(0)
        """Lowest battery reading of the patient's devices over the last BATTERY_WINDOW_S."""
        self.battery_low_time: IntArray = np.zeros(0, dtype=np.int64)
        self.gateway_of: IntArray = np.zeros(0, dtype=np.int64)
        self.gateway_online: BoolArray = np.zeros(0, dtype=np.bool_)
        self.gateway_last_seen: IntArray = np.zeros(0, dtype=np.int64)
        self.consciousness = np.zeros(0, dtype="<U1")
        self.consciousness_until: IntArray = np.zeros(0, dtype=np.int64)
        self.on_oxygen: FloatArray = np.zeros(0)
        self.oxygen_until: IntArray = np.zeros(0, dtype=np.int64)
        self.manual_value: FloatArray = np.full((0, len(MANUAL_METRICS)), np.nan, order="F")
        """``(patients, MANUAL_METRICS)``: the value a nurse measured and entered (NaN: none in
        force), observed at ``manual_at`` and valid until ``manual_until``."""
        self.manual_at: IntArray = np.full((0, len(MANUAL_METRICS)), NEVER, np.int64, order="F")
        self.manual_until: IntArray = np.full((0, len(MANUAL_METRICS)), NEVER, np.int64, "F")
        self.thresholds: dict[str, Thresholds] = {}
        self.link_row: IntArray = np.zeros(0, dtype=np.int64)
        """Device links reported down: the patient's row, the device, since when (ns)."""
        self.link_device: npt.NDArray[np.str_] = np.zeros(0, dtype=np.str_)
        self.link_down_since: IntArray = np.zeros(0, dtype=np.int64)
        self._zero_off = np.zeros(_METRICS, dtype=np.bool_)
        for key, expectation in config.expectations.items():
            self._zero_off[metric_index(key)] = expectation.zero_means_off
        self._ring_index = {key: metric_index(key) for key in self.rings}

    @property
    def patients(self) -> int:
        return len(self.index)

    def ward_id(self, row: int) -> str:
        return self.ward_names[int(self.ward_of[row])]

    # ---- the hot path ------------------------------------------------------------------------

    def ingest(self, samples: Samples) -> IngestCount:
        """File a micro-batch: newest readings for all, windows for the clean values."""
        total = len(samples)
        known = (samples.row >= 0) & (samples.row < self.patients)
        unknown = int(total - known.sum())
        # In metric order (uint8 keys: NumPy's stable sort is then a radix sort): every step
        # below reads and writes one metric's column of the tables at a time, which stays in
        # cache, instead of jumping across all of them; each ring gets one contiguous run.
        picked = np.flatnonzero(known)
        picked = picked[np.argsort(samples.metric[picked].astype(np.uint8), kind="stable")]
        rows, metric, time = samples.row[picked], samples.metric[picked], samples.time[picked]
        value = samples.value[picked]
        lost, doubtful = samples.contact_lost[picked], samples.doubtful[picked]
        self._newest(self.latest_time, (self.latest_value, self.latest_contact_lost),
                     rows, metric, time, (value, lost))  # fmt: skip
        clean = np.isfinite(value) & ~lost & ~doubtful & ~(self._zero_off[metric] & (value == 0))
        battery = clean & (metric == _BATTERY)
        if battery.any():
            self._battery(rows[battery], time[battery], value[battery])
        self._newest(self.clean_time, (self.clean_value,), rows[clean], metric[clean],
                     time[clean], (value[clean],))  # fmt: skip
        bounds = np.searchsorted(metric, np.arange(_METRICS + 1), side="left")
        windowed = 0
        for key, ring in self.rings.items():
            index = self._ring_index[key]
            run = slice(bounds[index], bounds[index + 1])
            mine = clean[run]
            windowed += int(ring.push(rows[run][mine], time[run][mine], value[run][mine]).sum())
        run = slice(bounds[_GLUCOSE], bounds[_GLUCOSE + 1])
        mine = clean[run]
        self.glucose.push(rows[run][mine], time[run][mine], value[run][mine])
        return IngestCount(readings=total, windowed=windowed, unknown=unknown)

    @staticmethod
    def _newest(  # noqa: PLR0917 - private; the table pairs read best in this order
        times: IntArray,
        tables: tuple[npt.NDArray[Any], ...],
        rows: IntArray,
        metric: IntArray,
        time: IntArray,
        columns: tuple[npt.NDArray[Any], ...],
    ) -> None:
        """Keep the newest reading per (patient, metric) in ``times`` and ``tables``.

        Of readings with equal times, one of them is kept.
        """
        flat = metric * times.shape[0] + rows  # the tables are column-major
        newest = flat_view(times)
        candidate = np.maximum(newest[flat], time)
        newest[flat] = candidate
        if not np.array_equal(newest[flat], candidate):
            # A cell twice in the batch with different times: the last write won, not the
            # newest. What was written is below the true maximum, so this still finds it.
            np.maximum.at(newest, flat, time)
            candidate = newest[flat]
        winner = time == candidate
        for table, column in zip(tables, columns, strict=True):
            flat_view(table)[flat[winner]] = column[winner]

    def _battery(self, rows: IntArray, time: IntArray, value: FloatArray) -> None:
        """Keep the lowest recent battery level per patient, whichever device reported it.

        A patient wears several devices and each reports its own level; the newest reading
        alone would swing between a low strap and a full oximeter, so the low-battery latch
        would flap. The lowest reading stands until a lower one comes or it is older than
        :data:`BATTERY_WINDOW_S` (devices report every few minutes).
        """
        low = np.full(self.patients, np.inf)
        newest = np.full(self.patients, NEVER, dtype=np.int64)
        np.minimum.at(low, rows, value)
        np.maximum.at(newest, rows, time)
        seen = np.unique(rows)
        expired = self.battery_low_time[seen] < newest[seen] - BATTERY_WINDOW_S * 1_000_000_000
        keep = ~expired & (self.battery_low[seen] < low[seen])  # an equal reading refreshes
        self.battery_low[seen] = np.where(keep, self.battery_low[seen], low[seen])
        self.battery_low_time[seen] = np.where(keep, self.battery_low_time[seen], newest[seen])

    # ---- slow path: per-minute medians --------------------------------------------------------

    def summarise_minute(self, start: int, end: int, rows: IntArray | None = None) -> None:
        """Push the median of ``[start, end)`` of each minute metric into its minute ring.

        Heart rate falls back to the oximeter's pulse rate for patients with no strap samples.
        ``rows``: only these patients (a cohort); default everyone.
        """
        index = np.arange(self.patients) if rows is None else rows
        for key in MINUTE_METRICS:
            median, count = self._median(key, start, end, rows)
            if key == "heart_rate":
                pulse, pulse_count = self._median("pulse_rate", start, end, rows)
                median = np.where(count > 0, median, pulse)
                count = np.maximum(count, pulse_count)
            kept = np.flatnonzero(count > 0)
            self.minutes[key].push(
                index[kept], np.full(kept.shape[0], start, np.int64), median[kept]
            )

    def _median(
        self, key: str, start: int, end: int, rows: IntArray | None
    ) -> tuple[FloatArray, IntArray]:
        ring = self.rings[key]
        columns = min(ring.capacity, self.config.minute_columns)
        window = ring.window(since=start, columns=columns, rows=rows)
        inside = window.valid & (window.times < end)
        return masked_median(window.values, inside)

    # ---- registry ------------------------------------------------------------------------------

    def apply(self, registry: Registry) -> list[str]:
        """Admit new patients and refresh everyone's context; return the newly admitted ids."""
        new = self.index.admit(registry.patient.tolist())
        if new:
            self._grow(self.patients)
        rows = self.index.rows(registry.patient.tolist())
        self.monitored[:] = False
        self.monitored[rows] = True
        self.ward_names = sorted(set(registry.ward.tolist()) | set(self.ward_names))
        self.ward_of[rows] = np.searchsorted(np.array(self.ward_names), registry.ward)
        self.scale2[rows] = registry.scale2
        self.admitted_at[rows] = registry.admitted_at
        self.battery[rows] = registry.battery
        self.has_device[rows] = registry.gateway != ""
        self._apply_gateways(rows, registry)
        self._apply_entries(registry)
        self._apply_limits(registry)
        links = self.index.rows(registry.link_patient.tolist())
        known = links >= 0
        self.link_row = links[known]
        self.link_device = registry.link_device[known]
        self.link_down_since = registry.link_down_since[known]
        return new

    def _grow(self, patients: int) -> None:
        for ring in (*self.rings.values(), *self.minutes.values(), self.glucose):
            ring.grow(patients)
        self.latest_time = pad_rows(self.latest_time, patients, NEVER, order="F")
        self.latest_value = pad_rows(self.latest_value, patients, np.nan, order="F")
        self.latest_contact_lost = pad_rows(self.latest_contact_lost, patients, False, order="F")
        self.clean_time = pad_rows(self.clean_time, patients, NEVER, order="F")
        self.clean_value = pad_rows(self.clean_value, patients, np.nan, order="F")
        self.monitored = pad_rows(self.monitored, patients, False)
        self.scale2 = pad_rows(self.scale2, patients, False)
        self.admitted_at = pad_rows(self.admitted_at, patients, 0)
        self.ward_of = pad_rows(self.ward_of, patients, 0)
        self.has_device = pad_rows(self.has_device, patients, False)
        self.battery = pad_rows(self.battery, patients, np.nan)
        self.battery_low = pad_rows(self.battery_low, patients, np.nan)
        self.battery_low_time = pad_rows(self.battery_low_time, patients, NEVER)
        self.gateway_of = pad_rows(self.gateway_of, patients, -1)
        self.consciousness = pad_rows(self.consciousness, patients, "")
        self.consciousness_until = pad_rows(self.consciousness_until, patients, NEVER)
        self.on_oxygen = pad_rows(self.on_oxygen, patients, np.nan)
        self.oxygen_until = pad_rows(self.oxygen_until, patients, NEVER)
        self.manual_value = pad_rows(self.manual_value, patients, np.nan, order="F")
        self.manual_at = pad_rows(self.manual_at, patients, NEVER, order="F")
        self.manual_until = pad_rows(self.manual_until, patients, NEVER, order="F")

    def _apply_gateways(self, rows: IntArray, registry: Registry) -> None:
        """Each patient's gateway as an index into the registry's gateway columns (-1: none)."""
        ids = registry.gateway_id
        self.gateway_of[:] = -1
        if ids.shape[0]:
            order = np.argsort(ids, kind="stable")
            position = np.searchsorted(ids[order], registry.gateway)
            clipped = np.minimum(position, ids.shape[0] - 1)
            found = (position < ids.shape[0]) & (ids[order][clipped] == registry.gateway)
            self.gateway_of[rows] = np.where(found, order[clipped], -1)
        self.gateway_online = registry.gateway_online.copy()
        self.gateway_last_seen = registry.gateway_last_seen.copy()

    def _apply_entries(self, registry: Registry) -> None:
        self.consciousness[:] = ""
        self.consciousness_until[:] = NEVER
        self.on_oxygen[:] = np.nan
        self.oxygen_until[:] = NEVER
        rows = self.index.rows(registry.entry_patient.tolist())
        known = rows >= 0
        acvpu = known & (registry.entry_parameter == "consciousness")
        self.consciousness[rows[acvpu]] = registry.entry_value[acvpu]
        self.consciousness_until[rows[acvpu]] = registry.entry_valid_until[acvpu]
        oxygen = known & (registry.entry_parameter == "supplemental_oxygen")
        self.on_oxygen[rows[oxygen]] = (registry.entry_value[oxygen] == "oxygen").astype(float)
        self.oxygen_until[rows[oxygen]] = registry.entry_valid_until[oxygen]
        self.manual_value[:] = np.nan
        self.manual_at[:] = NEVER
        self.manual_until[:] = NEVER
        for column, key in enumerate(MANUAL_METRICS):  # a handful of metrics, not patients
            mine = known & (registry.entry_parameter == key)
            self.manual_value[rows[mine], column] = registry.entry_value[mine].astype(np.float64)
            self.manual_at[rows[mine], column] = registry.entry_observed_at[mine]
            self.manual_until[rows[mine], column] = registry.entry_valid_until[mine]

    def _apply_limits(self, registry: Registry) -> None:
        for key in LIMIT_METRICS:
            wards = [self._ward_limits(key, ward, registry) for ward in self.ward_names or [""]]
            low = np.full(self.patients, np.nan)
            high = np.full(self.patients, np.nan)
            mine = (registry.limit_metric == key) & (registry.limit_patient != "")
            rows = self.index.rows(registry.limit_patient[mine].tolist())
            ok = rows >= 0
            low[rows[ok]] = registry.limit_low[mine][ok]
            high[rows[ok]] = registry.limit_high[mine][ok]
            try:
                self.thresholds[key] = thresholds(wards, self.ward_of, low=low, high=high)
            except AnalyticsInputError as exc:
                log.error("alarm limits for %s: %s; patient overrides ignored", key, exc)
                self.thresholds[key] = thresholds(wards, self.ward_of)

    def _ward_limits(self, key: str, ward: str, registry: Registry) -> LimitConfig:
        base = self.config.limits[key]
        mine = (registry.limit_metric == key) & (registry.limit_ward == ward) & (ward != "")
        if not mine.any():
            return base
        low, high = registry.limit_low[mine][0], registry.limit_high[mine][0]
        low = base.low if np.isnan(low) else float(low)
        high = base.high if np.isnan(high) else float(high)
        if not low < high:
            log.error("ward %s: alarm limits for %s would cross; defaults kept", ward, key)
            return base
        return LimitConfig(
            low=low, high=high, margin=base.margin, persist_s=base.persist_s, clear_s=base.clear_s
        )
