"""The window detectors as first written, whole windows at every run: the oracle and the baseline.

The detectors the engine runs every second (:mod:`~nabd.analytics.af`,
:func:`~nabd.analytics.technical.flatline_walk`, :mod:`~nabd.analytics.desaturation`) now skip
the work that cannot change a verdict: AF trims by sorted values instead of a stable argsort of
positions and judges only patients with a full, recent RR window; flatline walks back from the
newest sample only as far as the signal stays flat; the desaturation rate reads only patients
with an event held. Each is meant to give exactly what the computation it replaced gave. This
module keeps those computations, unchanged, so that the property tests
(``tests/analytics/test_incremental.py``) compare the two at every step of random sample streams,
and ``bench/analytics_bench.py`` measures both in the same run. The service does not use it.

:func:`flatline` is :func:`nabd.analytics.technical.flatline` itself, which still judges any
window given to it.
"""

from __future__ import annotations

import math

import numpy as np

from nabd.analytics import af
from nabd.analytics.arrays import BoolArray, FloatArray, IntArray, check_now, seconds_to_ns
from nabd.analytics.desaturation import Desaturation
from nabd.analytics.ring import Window
from nabd.analytics.technical import flatline

__all__ = ["ReferenceDesaturation", "af_assess", "af_features", "flatline"]


def af_assess(now: int, rr: Window, config: af.AfConfig | None = None) -> af.AfAssessment:
    """:func:`nabd.analytics.af.assess` as first written: every row's statistics computed."""
    cfg = config or af.AfConfig()
    instant = check_now(now)
    valid = rr.valid[:, -cfg.beats :]
    times = rr.times[:, -cfg.beats :]
    fresh = valid & (times >= instant - seconds_to_ns(cfg.max_window_s)) & (times <= instant)
    ready = fresh.sum(axis=1) == cfg.beats
    values = np.where(ready[:, None], rr.values[:, -cfg.beats :], 1.0)
    found = af_features(values, cfg)
    return af.AfAssessment(features=found, ready=ready, irregular=found.irregular & ready)


def af_features(intervals: FloatArray, cfg: af.AfConfig) -> af.AfFeatures:
    """:func:`nabd.analytics.af.features` trimming by a stable argsort."""
    kept = af_kept(intervals, cfg.trim)
    nrmssd = af._nrmssd(intervals, kept)
    tpr = af._turning_point_ratio(intervals)
    entropy = _entropy(intervals, kept, cfg.bins)
    low, high = cfg.tpr_band
    irregular = (nrmssd > cfg.nrmssd_min) & (tpr > low) & (tpr < high) & (entropy > cfg.entropy_min)
    return af.AfFeatures(nrmssd=nrmssd, tpr=tpr, entropy=entropy, irregular=irregular)


def af_kept(intervals: FloatArray, trim: int) -> BoolArray:
    """The ``trim`` shortest and longest of each row dropped: first and last of a stable sort."""
    kept = np.ones(intervals.shape, dtype=np.bool_)
    if trim == 0:
        return kept
    order = np.argsort(intervals, axis=1, kind="stable")
    rows = np.arange(intervals.shape[0])[:, None]
    kept[rows, order[:, :trim]] = False
    kept[rows, order[:, -trim:]] = False
    return kept


def _entropy(intervals: FloatArray, kept: BoolArray, bins: int) -> FloatArray:
    low = np.where(kept, intervals, np.inf).min(axis=1)
    high = np.where(kept, intervals, -np.inf).max(axis=1)
    width = np.where(high > low, high - low, 1.0)
    index = np.floor((intervals - low[:, None]) / width[:, None] * bins).astype(np.int64)
    index = np.clip(index, 0, bins - 1)
    rows = np.broadcast_to(np.arange(intervals.shape[0])[:, None], intervals.shape)
    flat = (rows * bins + index)[kept]
    counts = np.bincount(flat, minlength=intervals.shape[0] * bins).reshape(-1, bins)
    p = counts / kept.sum(axis=1, keepdims=True)
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    result: FloatArray = -terms.sum(axis=1) / math.log(bins)
    return result


class ReferenceDesaturation(Desaturation):
    """:class:`~nabd.analytics.desaturation.Desaturation` counting recent events over every
    patient's event slots."""

    def _rate(self, now: int, index: IntArray) -> tuple[IntArray, FloatArray]:
        window_ns = seconds_to_ns(self.config.rate_window_s)
        events = self._events.stored()
        recent = events.valid[index] & (events.times[index] >= now - window_ns)
        count = recent.sum(axis=1, dtype=np.int64)
        return count, self._per_hour(now, index, count)
