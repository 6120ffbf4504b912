"""SpO2 desaturation events and their rate per hour (an oxygen desaturation index, ODI).

Definition used (sleep-medicine convention; there is no single standard algorithm, and published
ODI implementations differ mainly in how they take the baseline):

* an **event** is a fall of SpO2 to at least ``drop`` percentage points below the baseline,
  staying at or below that level for at least ``min_duration_s`` (10 s). ``drop = 3`` counts the
  desaturations of ODI-3, the >= 3 % desaturation of the AASM Scoring Manual's recommended
  hypopnoea rule; ``drop = 4`` those of ODI-4, the >= 4 % of its acceptable (CMS) rule. The
  10-second minimum is the AASM minimum duration of a scored respiratory event.
* the **baseline** is the median SpO2 over the preceding ``baseline_s`` (120 s), so a brief dip
  does not move it (a median ignores anything shorter than half its window), and it is frozen
  when a dip begins, so a long desaturation cannot drag its own reference down and "end" itself.
* a confirmed event **ends** when SpO2 is back to within ``drop - recovery`` of the frozen
  baseline (hysteresis: with drop 3 and recovery 1, a dip from 97 % starts at <= 94 % and ends at
  >= 95 %). A dip that has not yet lasted ``min_duration_s`` is dropped as soon as SpO2 leaves the
  dip level or the reading goes missing: confirmation needs continuous evidence.
* **events per hour** counts events that *began* in the last ``rate_window_s`` (1 h), divided
  by the hours of that window the patient has been monitored (since their first SpO2 reading),
  and is reported only after ``min_coverage_s`` (15 min).

Unlike the other detectors this one is a mutable object, because it keeps each patient's recent
event times in a :class:`~nabd.analytics.ring.RingBuffer`; every tick is still a fixed number of
NumPy passes over all patients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import (
    NEVER,
    NS_PER_S,
    BoolArray,
    FloatArray,
    IntArray,
    check_duration,
    check_now,
    elapsed_at_least,
    masked_median,
    pad_rows,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer, Window

__all__ = ["Desaturation", "DesaturationConfig", "DesaturationTick"]

_BLOCK = 1024
"""Patients whose rolling medians :meth:`Desaturation.step_ring` takes together (1 024: 124-133
ms at 100 000 patients, 145 in blocks of 2 048)."""


@dataclass(frozen=True, kw_only=True)
class DesaturationConfig:
    """ODI-3 by default; ``drop=4.0`` gives ODI-4. SpO2 in %, durations in seconds."""

    drop: float = 3.0
    min_duration_s: float = 10
    baseline_s: float = 120
    min_baseline_samples: int = 30
    recovery: float = 1.0
    max_age_s: float = 5
    """The newest sample counts as "current" only if it is at most this old."""
    rate_window_s: float = 3600
    min_coverage_s: float = 900

    def __post_init__(self) -> None:
        for name in ("drop", "recovery"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise AnalyticsInputError(name, f"must be > 0 percentage points, got {value}")
        if self.recovery >= self.drop:
            raise AnalyticsInputError("recovery", "must be smaller than drop")
        for name in ("min_duration_s", "baseline_s", "max_age_s", "min_coverage_s"):
            check_duration(name, getattr(self, name))
        check_duration("rate_window_s", self.rate_window_s)
        if self.rate_window_s <= 0 or self.min_coverage_s > self.rate_window_s:
            raise AnalyticsInputError("rate_window_s", "must be > 0 and at least min_coverage_s")
        if self.min_baseline_samples < 1:
            raise AnalyticsInputError("min_baseline_samples", "must be >= 1")

    @property
    def max_events(self) -> int:
        """Events one rate window can hold: at most one per ``min_duration_s`` plus one."""
        shortest = max(self.min_duration_s, 1.0)
        return math.ceil(self.rate_window_s / shortest) + 1


@dataclass(frozen=True)
class DesaturationTick:
    """What one tick found, per patient (arrays of shape ``(patients,)``)."""

    current: FloatArray
    """The SpO2 the tick judged (NaN: none fresh enough)."""
    baseline: FloatArray
    """The baseline in force: the frozen one during a dip, else the rolling median (NaN: too few
    samples)."""
    in_event: BoolArray
    """A confirmed desaturation is under way (the alertable condition)."""
    started: BoolArray
    """An event was confirmed at this tick (it began ``min_duration_s`` earlier)."""
    ended: BoolArray
    """A confirmed event ended at this tick."""
    events_in_window: IntArray
    events_per_hour: FloatArray
    """NaN until ``min_coverage_s`` of monitoring."""


class Desaturation:
    """Online desaturation detector and ODI for every patient; call :meth:`step` each tick."""

    def __init__(self, patients: int, config: DesaturationConfig | None = None) -> None:
        self.config = config or DesaturationConfig()
        self._in_dip = np.zeros(patients, dtype=np.bool_)
        self._confirmed = np.zeros(patients, dtype=np.bool_)
        self._dip_since = np.full(patients, NEVER, dtype=np.int64)
        self._dip_baseline = np.full(patients, np.nan)
        self._first_seen = np.full(patients, NEVER, dtype=np.int64)
        self._events = RingBuffer(patients, self.config.max_events)

    @property
    def patients(self) -> int:
        return int(self._in_dip.shape[0])

    def grow(self, patients: int) -> None:
        """Room for new patients (admissions); existing state is kept."""
        self._in_dip = pad_rows(self._in_dip, patients, fill=False)
        self._confirmed = pad_rows(self._confirmed, patients, fill=False)
        self._dip_since = pad_rows(self._dip_since, patients, fill=NEVER)
        self._dip_baseline = pad_rows(self._dip_baseline, patients, fill=np.nan)
        self._first_seen = pad_rows(self._first_seen, patients, fill=NEVER)
        self._events.grow(patients)

    def step(self, now: int, spo2: Window, rows: npt.ArrayLike | None = None) -> DesaturationTick:
        """Advance patients to ``now`` given their SpO2 ring window (>= ``baseline_s``).

        ``rows`` (patient indices; default all) advances only those patients, whose windows
        ``spo2`` holds in that order: a cohort judged at this tick. The others keep their state;
        the result's arrays are the cohort's.
        """
        instant = check_now(now)
        index = np.arange(self.patients) if rows is None else np.asarray(rows, dtype=np.int64)
        if spo2.valid.shape[0] != index.shape[0]:
            raise AnalyticsInputError(
                "spo2",
                f"window has {spo2.valid.shape[0]} rows for {index.shape[0]} patients",
            )
        current = self._fresh(instant, spo2.latest_time, spo2.latest_value)
        rolling = self._rolling_baseline(instant, spo2.times, spo2.values, spo2.valid)
        return self._advance(instant, index, current, rolling)

    def step_ring(
        self, now: int, spo2: RingBuffer, rows: npt.ArrayLike | None = None
    ) -> DesaturationTick:
        """:meth:`step` reading the SpO2 ring itself: the same tick, bit for bit, without
        copying every patient's window into time order.

        The newest sample is the ring's :meth:`~RingBuffer.latest`; the rolling median needs
        only which samples lie in its time range, not their order, so it is taken over the
        ring's storage (:meth:`~RingBuffer.stored`, no copy) ``_BLOCK`` patients at a time, so
        that each block's temporaries stay in cache.
        """
        instant = check_now(now)
        index = np.arange(self.patients) if rows is None else np.asarray(rows, dtype=np.int64)
        if spo2.patients != self.patients:
            raise AnalyticsInputError(
                "spo2", f"ring has {spo2.patients} patients, the detector {self.patients}"
            )
        if index.size and (index.min() < 0 or index.max() >= self.patients):
            raise AnalyticsInputError("rows", f"must be in 0..{self.patients - 1}")
        latest_time, latest_value = spo2.latest()
        current = self._fresh(instant, latest_time[index], latest_value[index])
        times, values = spo2.storage()
        rolling = np.empty(index.shape[0])
        every = rows is None
        for start in range(0, index.shape[0], _BLOCK):
            part = slice(start, start + _BLOCK)
            pick = part if every else index[part]
            block = values[pick]
            valid = ~np.isnan(block)  # an unfilled slot is NaN
            rolling[part] = self._rolling_baseline(instant, times[pick], block, valid)
        return self._advance(instant, index, current, rolling)

    def _advance(
        self, instant: int, index: IntArray, current: FloatArray, rolling: FloatArray
    ) -> DesaturationTick:
        """The dip and event logic of the patients ``index``, given their current SpO2 and
        rolling baseline."""
        cfg = self.config
        known = ~np.isnan(current)
        seen = np.where(known, current, np.inf)
        was_in_dip, was_confirmed = self._in_dip[index], self._confirmed[index]
        first_seen = self._first_seen[index]
        self._first_seen[index] = np.where((first_seen == NEVER) & known, instant, first_seen)
        start = ~was_in_dip & known & (seen <= rolling - cfg.drop)
        dip_baseline = np.where(start, rolling, self._dip_baseline[index])
        dip_since = np.where(start, instant, self._dip_since[index])
        dipping = was_in_dip | start
        below = dipping & known & (seen <= dip_baseline - cfg.drop)
        recovered = known & (seen >= dip_baseline - cfg.drop + cfg.recovery)
        stays = np.where(was_confirmed, ~recovered, below)
        in_dip = dipping & stays
        confirm = (
            in_dip
            & ~was_confirmed
            & below
            & elapsed_at_least(dip_since, instant, seconds_to_ns(cfg.min_duration_s))
        )
        ended = was_confirmed & ~in_dip
        self._record(index[confirm], dip_since[confirm], dip_baseline[confirm])
        confirmed = (was_confirmed | confirm) & in_dip
        self._in_dip[index] = in_dip
        self._confirmed[index] = confirmed
        self._dip_since[index] = np.where(in_dip, dip_since, NEVER)
        self._dip_baseline[index] = np.where(in_dip, dip_baseline, np.nan)
        count, rate = self._rate(instant, index)
        return DesaturationTick(
            current=current,
            baseline=np.where(in_dip, dip_baseline, rolling),
            in_event=confirmed,
            started=confirm,
            ended=ended,
            events_in_window=count,
            events_per_hour=rate,
        )

    def _fresh(self, now: int, latest_time: IntArray, latest_value: FloatArray) -> FloatArray:
        fresh = elapsed_at_least(latest_time, now, 0) & (
            latest_time >= now - seconds_to_ns(self.config.max_age_s)
        )
        return np.where(fresh, latest_value, np.nan)

    def _rolling_baseline(
        self, now: int, times: IntArray, values: FloatArray, valid: BoolArray
    ) -> FloatArray:
        """Median of the samples of the last ``baseline_s`` (in any column order)."""
        recent = valid & (times >= now - seconds_to_ns(self.config.baseline_s))
        recent &= times <= now
        median, count = masked_median(values, recent)
        return np.where(count >= self.config.min_baseline_samples, median, np.nan)

    def _record(self, patients: IntArray, since: IntArray, baseline: FloatArray) -> None:
        """Store each newly confirmed event's start time (value: its baseline)."""
        self._events.push(patients, since, baseline)

    def _rate(self, now: int, index: IntArray) -> tuple[IntArray, FloatArray]:
        window_ns = seconds_to_ns(self.config.rate_window_s)
        count = np.zeros(index.shape[0], dtype=np.int64)
        # Only patients with an event held are read: most have none, and a pass over every
        # patient's 361 event slots cost as much as the rest of the detector.
        some = np.flatnonzero(self._events.count[index] > 0)
        if some.size:
            events = self._events.window(rows=index[some])
            count[some] = (events.valid & (events.times >= now - window_ns)).sum(axis=1)
        return count, self._per_hour(now, index, count)

    def _per_hour(self, now: int, index: IntArray, count: IntArray) -> FloatArray:
        """Events per hour of the rate window the patients have been monitored (NaN: too
        little monitoring yet)."""
        window_ns = seconds_to_ns(self.config.rate_window_s)
        first_seen = self._first_seen[index]
        seen = first_seen != NEVER
        monitored = np.where(seen, now - np.where(seen, first_seen, now), 0)
        covered = np.minimum(monitored, window_ns)
        ready = seen & (covered >= seconds_to_ns(self.config.min_coverage_s)) & (covered > 0)
        hours = np.where(ready, covered, 1) / (NS_PER_S * 3600.0)
        rate: FloatArray = np.where(ready, count / hours, np.nan)
        return rate
