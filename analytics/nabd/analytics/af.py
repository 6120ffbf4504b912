"""Atrial fibrillation from RR intervals alone: is the ventricular rhythm irregularly irregular?

Method: Dash, Chon, Lu and Raeder, "Automatic real time detection of atrial fibrillation",
*Annals of Biomedical Engineering* 37(9):1701-1709, 2009. A
window of ``beats`` consecutive RR intervals (128) is called AF when all three statistics say
"random":

* **normalised RMSSD** (root mean square of successive differences over the mean RR) above
  ``nrmssd_min`` (0.1): the rhythm varies beat to beat by more than sinus arrhythmia does;
* **turning point ratio** (the fraction of intervals that are a local maximum or minimum of their
  neighbours) inside the band a random sequence gives: a random series of n values has
  (2n - 4) / 3 turning points on average with variance (16n - 29) / 90, and the band is that mean
  +/- ``tpr_sigmas`` (3) standard deviations, divided by n (0.545-0.767 for 128 beats; Dash et
  al. quote 0.54-0.77). Sinus rhythm, where one long beat follows another, has too few;
* **Shannon entropy** of the RR histogram (``bins`` = 16 equal bins between the window's
  smallest and largest kept interval, normalised by log 16 to 0..1) above ``entropy_min`` (0.7).

Following the paper's outlier removal (as we read it: the 8 longest and 8 shortest intervals of
each 128-beat segment are discarded), the ``trim`` longest and shortest intervals are left out
of the RMSSD (a successive difference counts only if both its intervals are kept), of its mean
and of the histogram, so a few ectopic beats do not look like AF; the turning points, which
depend on order, are counted on the whole window.

Everything is computed for an ``(n_windows, beats)`` array at once: the windows may be one per
patient (the newest ``beats`` intervals in a ring buffer, :func:`assess`) or many windows of one
recording (:func:`windows`, used by ``bench/af_eval.py`` on the MIT-BIH AF database). The
service judges every patient each second with :func:`assess_ring`, which reads the ring itself
and computes a statistic only where it can still change the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from nabd.analytics.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    check_duration,
    check_now,
    seconds_to_ns,
)
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.latch import Latch
from nabd.analytics.ring import RingBuffer, Window

__all__ = [
    "AfAssessment",
    "AfConfig",
    "AfFeatures",
    "AfState",
    "assess",
    "assess_ring",
    "features",
    "windows",
]


@dataclass(frozen=True, kw_only=True)
class AfConfig:
    """The detector's parameters (the statistics' defaults are Dash et al.'s); durations in s."""

    beats: int = 128
    trim: int = 8
    bins: int = 16
    nrmssd_min: float = 0.1
    tpr_sigmas: float = 3.0
    entropy_min: float = 0.7
    max_window_s: float = 300
    """Beats older than this (before ``now``) are not used: a gap in the RR stream must not
    join two distant stretches into one window."""
    persist_s: float = 30
    clear_s: float = 60

    def __post_init__(self) -> None:
        if self.beats < 16:
            raise AnalyticsInputError("beats", f"must be >= 16, got {self.beats}")
        if not 0 <= 2 * self.trim <= self.beats - 4:
            raise AnalyticsInputError("trim", f"must leave >= 4 of {self.beats} beats")
        if self.bins < 2:
            raise AnalyticsInputError("bins", f"must be >= 2, got {self.bins}")
        for name in ("nrmssd_min", "tpr_sigmas", "entropy_min"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise AnalyticsInputError(name, "must be finite and >= 0")
        for name in ("max_window_s", "persist_s", "clear_s"):
            check_duration(name, getattr(self, name))

    @property
    def tpr_band(self) -> tuple[float, float]:
        """Turning-point ratios a random series of ``beats`` values lies within."""
        n = self.beats
        mean = (2 * n - 4) / 3
        sd = math.sqrt((16 * n - 29) / 90)
        return (mean - self.tpr_sigmas * sd) / n, (mean + self.tpr_sigmas * sd) / n


@dataclass(frozen=True)
class AfFeatures:
    """The three statistics per window, and the verdict (all three say "random")."""

    nrmssd: FloatArray
    tpr: FloatArray
    entropy: FloatArray
    irregular: BoolArray


def windows(rr: npt.ArrayLike, beats: int, step: int) -> FloatArray:
    """Windows of ``beats`` consecutive intervals every ``step`` beats, as rows (a view)."""
    series = np.asarray(rr, dtype=np.float64)
    if series.ndim != 1 or step < 1:
        raise AnalyticsInputError("rr", "must be 1-D, with step >= 1")
    if series.shape[0] < beats:
        return np.empty((0, beats))
    view: FloatArray = sliding_window_view(series, beats)[::step]
    return view


def features(rr: npt.ArrayLike, config: AfConfig | None = None) -> AfFeatures:
    """The statistics of each row of ``rr`` (seconds, shape ``(n_windows, config.beats)``)."""
    cfg = config or AfConfig()
    intervals = np.asarray(rr, dtype=np.float64)
    if intervals.ndim != 2 or intervals.shape[1] != cfg.beats:
        raise AnalyticsInputError("rr", f"expected shape (n, {cfg.beats}), got {intervals.shape}")
    if not (np.isfinite(intervals).all() and (intervals > 0).all()):
        raise AnalyticsInputError("rr", "intervals must be finite and > 0 s")
    parts = [
        _features(np.ascontiguousarray(intervals[i : i + _BLOCK]), cfg, lazy=False)
        for i in range(0, len(intervals), _BLOCK)
    ]
    return _joined(parts, cfg)


_BLOCK: Final = 1024
"""Windows judged together: a block's temporaries (1 MB each) stay in cache. Measured at
100 000 windows judged in full: 264 ms in blocks of 1 024, 274 of 512, 493 of 2 048, about
twice that in one pass."""
_FIELDS: Final = ("nrmssd", "tpr", "entropy", "irregular")


def _joined(parts: list[AfFeatures], cfg: AfConfig) -> AfFeatures:
    """Blocks' statistics end to end (rows are independent: the same numbers as one pass)."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _features(np.ones((0, cfg.beats)), cfg, lazy=False)
    return AfFeatures(*(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS))


def _features(intervals: FloatArray, cfg: AfConfig, *, lazy: bool) -> AfFeatures:
    """The statistics of a block of windows (C-contiguous rows of positive intervals).

    ``lazy``: a statistic is computed only for the windows whose verdict it can still change,
    cheapest first: the turning points of every window; the trimmed RMSSD of those inside the
    turning-point band; the entropy of those whose RMSSD is also above its threshold. A window
    already "regular" gets NaN for the statistics left: its verdict, False, is what any value
    of them would give. Sinus rhythm rarely passes the RMSSD test, so the histogram is computed
    for few windows. (Blocks whose intervals cannot be keyed, see :func:`_keys`, take the
    general path and get every statistic.)
    """
    n, beats = intervals.shape
    keyed = _keys(intervals)
    if keyed is None:
        if not (np.isfinite(intervals).all() and (intervals > 0).all()):
            raise AnalyticsInputError("rr", "intervals must be finite and > 0 s")
        return _features_any(intervals, cfg)
    keys, base = keyed
    low, high = cfg.tpr_band
    diffs = _differences(intervals)
    tpr = _count(_turns(diffs)[:, : beats - 2]) / beats
    nrmssd = np.full(n, np.nan)
    entropy = np.full(n, np.nan)
    rows = np.flatnonzero((tpr > low) & (tpr < high)) if lazy else np.arange(n)
    if rows.size:
        every = rows.size == n
        ordered = np.sort(keys if every else keys[rows], axis=1)
        kept = _kept_by_key(keys if every else keys[rows], ordered, cfg.trim)
        block, steps = (intervals, diffs) if every else (intervals[rows], diffs[rows])
        nrmssd[rows] = _nrmssd_of(block, steps, kept, cfg.trim)
        high_enough = nrmssd[rows] > cfg.nrmssd_min if lazy else np.ones(rows.size, np.bool_)
        chosen = np.flatnonzero(high_enough)
        if chosen.size:
            kept_keys = ordered[chosen, cfg.trim : beats - cfg.trim]
            kept_values = _values_of_keys(kept_keys, base, beats)
            entropy[rows[chosen]] = _entropy_of_sorted(kept_values, cfg.bins)
    irregular = (nrmssd > cfg.nrmssd_min) & (tpr > low) & (tpr < high) & (entropy > cfg.entropy_min)
    return AfFeatures(nrmssd=nrmssd, tpr=tpr, entropy=entropy, irregular=irregular)


def _features_any(intervals: FloatArray, cfg: AfConfig) -> AfFeatures:
    """Every statistic of every window, for any finite intervals (the general path)."""
    kept = _kept(intervals, cfg.trim)
    nrmssd = _nrmssd(intervals, kept)
    tpr = _turning_point_ratio(intervals)
    entropy = _entropy(intervals, kept, cfg.bins)
    low, high = cfg.tpr_band
    irregular = (nrmssd > cfg.nrmssd_min) & (tpr > low) & (tpr < high) & (entropy > cfg.entropy_min)
    return AfFeatures(nrmssd=nrmssd, tpr=tpr, entropy=entropy, irregular=irregular)


# ---- the keyed path: elementwise work on whole contiguous blocks, sums on the same rows ----
#
# Every statistic must be the number the general path gives, bit for bit. Elementwise IEEE
# operations (+, -, *, /, floor, comparisons) give the same result wherever they run, so they
# are done on the flat block (NumPy's fastest loops); sums are taken over arrays of the general
# path's shape, each row ``beats - 1`` or ``beats`` long, because a floating-point sum depends
# on how its terms are grouped.


def _position_bits(beats: int) -> int:
    return max(1, (beats - 1).bit_length())


def _keys(intervals: FloatArray) -> tuple[IntArray, int] | None:
    """Distinct sort keys in (value, position) order, and the block's base.

    A positive float's bits, read as an int64, are ordered as the floats are. Less the
    block's smallest (the base) and shifted left to make room for the column, they give keys
    that one sort puts in the stable order the trimming rule needs, with no ties left to
    rank. None (the general path then) if the block holds an interval <= 0 or its bits span
    too much to shift: at 128 beats, a ratio of more than 256 between its longest and shortest
    interval (RR intervals of 0.25-3 s span 12).
    """
    n, beats = intervals.shape
    shift = _position_bits(beats)
    bits = intervals.view(np.int64)
    if n == 0:
        return None
    base = int(bits.min())
    if base <= 0 or int(bits.max()) - base >= 2 ** (62 - shift):
        return None
    keys = bits - base
    keys <<= shift
    keys |= np.arange(beats, dtype=np.int64)
    return keys, base


def _values_of_keys(keys: IntArray, base: int, beats: int) -> FloatArray:
    """The intervals the keys stand for (the inverse of :func:`_keys`)."""
    bits = keys >> _position_bits(beats)
    bits += base
    values: FloatArray = bits.view(np.float64)
    return values


def _kept_by_key(keys: IntArray, ordered: IntArray, trim: int) -> BoolArray:
    """:func:`_kept` from distinct keys: kept strictly between the ``trim``-th smallest and
    the ``trim``-th largest key of the row."""
    beats = keys.shape[1]
    if trim == 0:
        return np.ones(keys.shape, dtype=np.bool_)
    kept: BoolArray = keys > ordered[:, trim - 1 : trim]
    kept &= keys < ordered[:, beats - trim : beats - trim + 1]
    return kept


def _differences(intervals: FloatArray) -> FloatArray:
    """Successive differences, shape ``(n, beats)``: column ``j < beats - 1`` is
    ``x[j + 1] - x[j]`` as ``np.diff`` gives it; the last column is junk (the next row's
    first interval less this row's last), never read."""
    flat = np.reshape(intervals, -1)
    steps = np.empty(flat.shape[0], dtype=np.float64)
    np.subtract(flat[1:], flat[:-1], out=steps[:-1])
    steps[-1:] = 0.0
    result: FloatArray = steps.reshape(intervals.shape)
    return result


def _turns(diffs: FloatArray) -> BoolArray:
    """Turning points, shape ``(n, beats)``: column ``j`` is interval ``j + 1`` being a peak
    or a trough (``x[j+1]`` above or below both neighbours: its two differences of opposite
    signs, which rounding cannot change); columns ``beats - 2`` on are junk."""
    flat = np.reshape(diffs, -1)
    rising, falling = flat > 0, flat < 0
    turns = np.zeros(flat.shape[0], dtype=np.bool_)
    turns[:-1] = (rising[:-1] & falling[1:]) | (falling[:-1] & rising[1:])
    result: BoolArray = turns.reshape(diffs.shape)
    return result


def _count(mask: BoolArray) -> IntArray:
    """True per row, as int64 (summing bytes: several times faster than ``sum`` of bools)."""
    wide = np.uint8 if mask.shape[1] < 256 else np.int64
    result: IntArray = mask.view(np.uint8).sum(axis=1, dtype=wide).astype(np.int64)
    return result


def _nrmssd_of(intervals: FloatArray, diffs: FloatArray, kept: BoolArray, trim: int) -> FloatArray:
    """:func:`_nrmssd` with the keyed path's arrays: the same terms summed over the same rows.

    A difference whose two intervals are not both kept is set to 0 after squaring (0 * 0 in
    the general path; squaring first cannot overflow differently). Every window keeps
    ``beats - 2 * trim`` intervals, so the mean divides by that number.
    """
    n, beats = intervals.shape
    flat = np.reshape(kept, -1)
    pairs = np.zeros(flat.shape[0], dtype=np.bool_)
    pairs[:-1] = flat[1:] & flat[:-1]
    squares = np.square(diffs)
    np.copyto(squares, 0.0, where=~pairs.reshape(n, beats))
    counted = pairs.reshape(n, beats)[:, : beats - 1]
    rmssd = np.sqrt(squares[:, : beats - 1].sum(axis=1) / np.maximum(_count(counted), 1))
    mean = (intervals * kept).sum(axis=1) / (beats - 2 * trim)
    result: FloatArray = rmssd / mean
    return result


def _entropy_of_sorted(kept_values: FloatArray, bins: int) -> FloatArray:
    """:func:`_entropy` from each row's kept intervals sorted: the first and last are its
    smallest and largest, and a histogram does not care about order."""
    low, high = kept_values[:, :1], kept_values[:, -1:]
    width = np.where(high > low, high - low, 1.0)
    index = np.floor((kept_values - low) / width * bins)
    np.minimum(index, bins - 1, out=index)
    cell = index.astype(np.int64)
    cell += np.arange(0, kept_values.shape[0] * bins, bins, dtype=np.int64)[:, None]
    counts = np.bincount(np.reshape(cell, -1), minlength=kept_values.shape[0] * bins)
    p = counts.reshape(-1, bins) / kept_values.shape[1]
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    result: FloatArray = -terms.sum(axis=1) / math.log(bins)
    return result


# ---- the general path ------------------------------------------------------------------------


def _kept(intervals: FloatArray, trim: int) -> BoolArray:
    """Mask of the intervals left after dropping the ``trim`` shortest and longest of each row.

    "Shortest" and "longest" are the first and last ``trim`` of a stable sort (of equal
    intervals, the earliest counts as shorter): an interval's rank is the number of smaller
    ones plus the number of equal ones before it. Rather than sort the positions (a stable
    argsort, once nine tenths of this detector's cost), the values alone are sorted (NumPy's
    vectorised sort, about 40 times faster) to find the ``trim``-th smallest and largest,
    ``lo`` and ``hi``: anything strictly between is kept, anything beyond is dropped, and only
    intervals equal to ``lo`` or ``hi`` need their rank, counted along the row.
    """
    if trim == 0 or intervals.shape[0] == 0:
        return np.ones(intervals.shape, dtype=np.bool_)
    beats = intervals.shape[1]
    ordered = np.sort(intervals, axis=1)
    lo, hi = ordered[:, trim - 1 : trim], ordered[:, beats - trim : beats - trim + 1]
    column = np.arange(beats, dtype=np.int16 if beats < 2**15 - 1 else np.int64)
    # Of the intervals equal to lo, the first (trim - shorter ones) go; of those equal to hi,
    # the last (trim - longer ones): both counts are >= 1 and at most the ties, and the rule
    # holds when lo == hi. Positions of the ties sorted (a fast sort of small integers) give
    # the cut; the argsort this replaces ranked every interval of every row.
    tied_lo = intervals == lo
    low_drop = trim - (intervals < lo).sum(axis=1)
    first = np.sort(np.where(tied_lo, column, beats), axis=1)
    low_cut = np.take_along_axis(first, low_drop[:, None] - 1, axis=1)
    tied_hi = intervals == hi
    high_drop = trim - (intervals > hi).sum(axis=1)
    last = np.sort(np.where(tied_hi, column, -1), axis=1)
    high_cut = np.take_along_axis(last, beats - high_drop[:, None], axis=1)
    kept = (intervals >= lo) & (intervals <= hi)
    kept &= ~(tied_lo & (column <= low_cut)) & ~(tied_hi & (column >= high_cut))
    return kept


def _nrmssd(intervals: FloatArray, kept: BoolArray) -> FloatArray:
    pairs = kept[:, 1:] & kept[:, :-1]
    step = np.where(pairs, np.diff(intervals, axis=1), 0.0)
    rmssd = np.sqrt((step * step).sum(axis=1) / np.maximum(pairs.sum(axis=1), 1))
    mean = np.where(kept, intervals, 0.0).sum(axis=1) / kept.sum(axis=1)
    result: FloatArray = rmssd / mean
    return result


def _turning_point_ratio(intervals: FloatArray) -> FloatArray:
    before, middle, after = intervals[:, :-2], intervals[:, 1:-1], intervals[:, 2:]
    peak = (middle > before) & (middle > after)
    trough = (middle < before) & (middle < after)
    result: FloatArray = (peak | trough).sum(axis=1) / intervals.shape[1]
    return result


def _entropy(intervals: FloatArray, kept: BoolArray, bins: int) -> FloatArray:
    """Normalised Shannon entropy of the kept intervals in ``bins`` equal-width bins per row."""
    low = np.where(kept, intervals, np.inf).min(axis=1)
    high = np.where(kept, intervals, -np.inf).max(axis=1)
    width = np.where(high > low, high - low, 1.0)
    index = np.floor((intervals - low[:, None]) / width[:, None] * bins).astype(np.int64)
    index = np.where(kept, np.clip(index, 0, bins - 1), bins)  # bin ``bins``: left out
    rows = np.arange(intervals.shape[0])[:, None] * (bins + 1)
    flat = np.reshape(rows + index, -1)
    counts = np.bincount(flat, minlength=intervals.shape[0] * (bins + 1))
    counts = counts.reshape(-1, bins + 1)[:, :bins]
    p = counts / kept.sum(axis=1, keepdims=True)
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    result: FloatArray = -terms.sum(axis=1) / math.log(bins)
    return result


@dataclass(frozen=True)
class AfAssessment:
    """Per patient: the verdict on the newest ``beats`` intervals, if there were enough."""

    features: AfFeatures
    """Rows where ``ready`` is False hold the statistics of a dummy window (:func:`assess`) or
    NaN (:func:`assess_ring`, which also leaves NaN the statistics that could not change a
    verdict): ignore them."""
    ready: BoolArray
    irregular: BoolArray
    """``features.irregular & ready``."""


def assess(now: int, rr: Window, config: AfConfig | None = None) -> AfAssessment:
    """Judge each patient's newest ``beats`` RR intervals (a ring window of RR, seconds)."""
    cfg = config or AfConfig()
    instant = check_now(now)
    if rr.valid.shape[1] < cfg.beats:
        raise AnalyticsInputError("rr", f"window has fewer than {cfg.beats} columns")
    valid = rr.valid[:, -cfg.beats :]
    times = rr.times[:, -cfg.beats :]
    fresh = valid & (times >= instant - seconds_to_ns(cfg.max_window_s)) & (times <= instant)
    ready = fresh.sum(axis=1) == cfg.beats
    found = _features_of_ready(rr.values[:, -cfg.beats :], ready, cfg)
    return AfAssessment(features=found, ready=ready, irregular=found.irregular & ready)


def assess_ring(
    now: int, rr: RingBuffer, config: AfConfig | None = None, rows: IntArray | None = None
) -> AfAssessment:
    """:func:`assess` of the ring's patients (or of ``rows``), reading the ring itself.

    The same ``ready`` and ``irregular``, bit for bit, for less work. A window is ready when
    its ``beats`` newest intervals all lie in ``[now - max_window_s, now]``: the ring is
    strictly time-ordered, so that is its ``beats``-th newest beat not too old and its newest
    not ahead of ``now``, two reads per patient (:meth:`RingBuffer.back`) instead of a window
    of times. Only the ready windows are copied (:meth:`RingBuffer.newest_values`, one row
    copy each from a ``doubled`` ring), ``_BLOCK`` at a time, and judged lazily
    (:func:`_features`): statistics that could not change the verdict are NaN, as are those
    of windows not ready.
    """
    cfg = config or AfConfig()
    instant = check_now(now)
    if rr.capacity < cfg.beats:
        raise AnalyticsInputError("rr", f"ring holds fewer than {cfg.beats} intervals")
    index = np.arange(rr.patients) if rows is None else np.asarray(rows, dtype=np.int64)
    oldest, newest = rr.back(index, cfg.beats - 1, 1), rr.back(index, 0, 1)
    ready = oldest.valid[:, 0] & (oldest.times[:, 0] >= instant - seconds_to_ns(cfg.max_window_s))
    ready &= newest.times[:, 0] <= instant
    n = index.shape[0]
    found = AfFeatures(
        nrmssd=np.full(n, np.nan),
        tpr=np.full(n, np.nan),
        entropy=np.full(n, np.nan),
        irregular=np.zeros(n, dtype=np.bool_),
    )
    picked = np.flatnonzero(ready)
    for start in range(0, picked.size, _BLOCK):
        part = picked[start : start + _BLOCK]
        block = _features(rr.newest_values(index[part], cfg.beats), cfg, lazy=True)
        for name in _FIELDS:
            getattr(found, name)[part] = getattr(block, name)
    return AfAssessment(features=found, ready=ready, irregular=found.irregular & ready)


def _features_of_ready(values: FloatArray, ready: BoolArray, cfg: AfConfig) -> AfFeatures:
    """:func:`features` of the ready rows; the others get those of a window of 1 s intervals
    (the dummy :func:`assess` documents), computed once: patients without a full, recent RR
    window (no strap, a gap) cost nothing."""
    rows = np.flatnonzero(ready)
    if rows.size == ready.shape[0]:
        return features(values, cfg)
    dummy = features(np.ones((1, cfg.beats)), cfg)
    picked = features(values[rows], cfg)
    parts = []
    for name in _FIELDS:
        column = np.repeat(getattr(dummy, name), ready.shape[0])
        column[rows] = getattr(picked, name)
        parts.append(column)
    return AfFeatures(*parts)


@dataclass(frozen=True)
class AfState:
    """The AF condition latched per patient (fires after ``persist_s`` of irregular windows)."""

    latch: Latch

    @classmethod
    def initial(cls, patients: int) -> AfState:
        return cls(latch=Latch.initial(patients))

    def grow(self, patients: int) -> AfState:
        return AfState(latch=self.latch.grow(patients))

    def step(self, now: int, found: AfAssessment, config: AfConfig | None = None) -> AfState:
        """A window that is not ready (too few recent beats) is evidence of neither."""
        cfg = config or AfConfig()
        regular = found.ready & ~found.features.irregular
        return AfState(
            latch=self.latch.step(
                check_now(now),
                found.irregular,
                regular,
                seconds_to_ns(cfg.persist_s),
                seconds_to_ns(cfg.clear_s),
            )
        )
