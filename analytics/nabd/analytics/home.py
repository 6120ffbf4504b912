"""Patients at home judged *now*: every home rule's current level per patient, for the service.

The home rules (:mod:`~nabd.analytics.weight`, :mod:`~nabd.analytics.home_bp`,
:mod:`~nabd.analytics.glucose`, :mod:`~nabd.analytics.spot_spo2`,
:mod:`~nabd.analytics.adherence`) give a level per reading; they are causal, so judging a
patient's recent readings again whenever new ones may have arrived and keeping the level of the
newest judged reading gives what judging each reading on arrival gives
(docs/home-monitoring.md). :func:`judge_now` does that for every home patient at once and
returns a ``(patients, rules)`` table of current levels and the number each alert message shows.

A rule's alert is on while its newest judged reading breaches, as the evaluation's episodes are
(:func:`~nabd.analytics.spot.episodes`): raised by a breaching reading, resolved by the next
reading that does not breach; a missing reading resolves nothing. The newest *judged* reading
is, for weight, the newest morning weight (later weighings of a day are not judged), for the
7-day BP mean the newest reading once the mean has enough readings, and for adherence the
newest scheduled occasion whose window has ended.

The home gateway's silence (:mod:`~nabd.analytics.home_gateway`) is judged here too, from its
last ``online`` status: the ``home_gateway_offline`` column, and per adherence column whether
the newest missed window passed with the gateway silent (the alert's message then says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import numpy as np

from nabd.analytics.adherence import Schedule, adherence
from nabd.analytics.arrays import NEVER, NS_PER_S, BoolArray, FloatArray, Int8Array, IntArray
from nabd.analytics.glucose import GlucoseLimits, glucose_levels
from nabd.analytics.home_bp import BloodPressureLimits, home_bp
from nabd.analytics.home_gateway import gateway_silence, silent_after_s, silent_through
from nabd.analytics.ring import Window
from nabd.analytics.spot import DAY_NS, LOW, window_of
from nabd.analytics.spot_spo2 import Spo2Limits, spo2_spot
from nabd.analytics.weight import WeightLimits, weight_gain
from nabd.contract.careplan import CarePlan, MeasurementKind

__all__ = ["ADHERENCE_METRIC", "HOME_METRICS", "LOOKBACK_DAYS", "RULES", "HomeNow", "judge_now"]

HOME_METRICS: Final = ("body_weight", "systolic_bp", "diastolic_bp", "glucose", "spo2")
"""The catalogue keys the home rules read."""
LOOKBACK_DAYS: Final = 9
"""Days of readings judged: weight compares a morning with the 7 previous days, the BP mean and
the SpO2 baseline look back 7 days before a reading, plus the day itself and one of margin."""
ADHERENCE_METRIC: Final = {
    MeasurementKind.WEIGHT: "body_weight",
    MeasurementKind.BLOOD_PRESSURE: "systolic_bp",
    MeasurementKind.GLUCOSE: "glucose",
    MeasurementKind.SPO2: "spo2",
}
"""The reading that makes a scheduled occasion of each kind taken."""
RULES: Final = (
    "weight_gain",
    "bp_severe",
    "bp_low",
    "bp_mean_high",
    "glucose_low",
    "glucose_high",
    "spo2_low",
    *(f"adherence_{kind.value}" for kind in ADHERENCE_METRIC),
    "home_gateway_offline",
)
"""The alert conditions of the home rules, in the columns of :class:`HomeNow`."""

Flat = tuple[IntArray, IntArray, FloatArray]
"""Readings of one metric: patient row, time (int64 ns), value."""


@dataclass(frozen=True)
class HomeNow:
    """Per patient and rule (:data:`RULES`): the current level (0 none, 1 low ... 4 critical)
    and the number its message shows (NaN: none); per patient when the home gateway was last
    heard (int64 ns; NEVER: no home gateway), the start of ``home_gateway_offline``'s silence;
    per patient and rule, ``gateway_silent``: an adherence alert whose newest missed window
    passed with the gateway silent."""

    level: Int8Array
    value: FloatArray
    heard_at: IntArray
    gateway_silent: BoolArray

    def column(self, rule: str) -> int:
        return RULES.index(rule)

    @classmethod
    def empty(cls) -> HomeNow:
        """No patient judged."""
        return cls(np.zeros((0, len(RULES)), np.int8), np.zeros((0, len(RULES))),
                   np.zeros(0, np.int64), np.zeros((0, len(RULES)), np.bool_))  # fmt: skip


def judge_now(
    readings: Mapping[str, Flat],
    plans: Sequence[CarePlan],
    *,
    now: int,
    since: IntArray,
    gateway_seen: IntArray | None = None,
    has_gateway: BoolArray | None = None,
) -> HomeNow:
    """Judge every patient (one plan per row) on ``readings`` of the last days at ``now`` (ns);
    ``since`` (ns per patient) is when each was put on their plan: earlier occasions are not
    counted as missed. ``gateway_seen`` (ns per patient, NEVER: never heard) is their home
    gateway's last ``online`` status and ``has_gateway`` whether they have one (default: no
    patient has one, the gateway is not judged)."""
    n = len(plans)
    if has_gateway is None:
        has_gateway = np.zeros(n, np.bool_)
    if gateway_seen is None:
        gateway_seen = np.full(n, NEVER, np.int64)
    silence = gateway_silence(now, gateway_seen, since, silent_after_s(plans), has_gateway)
    gateway_silent = np.zeros((n, len(RULES)), np.bool_)
    level = np.zeros((n, len(RULES)), np.int8)
    value = np.full((n, len(RULES)), np.nan)

    def put(rule: str, found: tuple[Int8Array, FloatArray]) -> None:
        level[:, RULES.index(rule)], value[:, RULES.index(rule)] = found

    at = datetime.fromtimestamp(now / NS_PER_S, UTC)
    offsets = np.array([plan.utc_offset_s(at) for plan in plans], np.int64)
    windows = {key: _window(n, readings.get(key)) for key in HOME_METRICS}
    weight = windows["body_weight"]
    w = weight_gain(weight, WeightLimits.of(plans), offsets)
    gain = np.fmax(np.fmax(w.day_gain, w.three_day_gain), np.fmax(w.week_gain, w.above_dry))
    put("weight_gain", _newest(w.level, gain, w.morning))
    sbp, dbp = _paired(windows["systolic_bp"], windows["diastolic_bp"])
    bp = home_bp(sbp, dbp, BloodPressureLimits.of(plans))
    put("bp_severe", _newest(bp.severe, sbp.values, sbp.valid))
    put("bp_low", _newest(bp.low, sbp.values, sbp.valid))
    put("bp_mean_high", _newest(bp.mean_high, bp.mean_sbp, ~np.isnan(bp.mean_sbp)))
    glucose = windows["glucose"]
    g = glucose_levels(glucose, GlucoseLimits.of(plans))
    put("glucose_low", _newest(g.low, glucose.values, glucose.valid))
    put("glucose_high", _newest(g.high, glucose.values, glucose.valid))
    spo2 = windows["spo2"]
    put("spo2_low", _newest(spo2_spot(spo2, Spo2Limits.of(plans)).level, spo2.values, spo2.valid))
    today = (now + offsets * NS_PER_S) // DAY_NS
    first_day = int(today.min(initial=now // DAY_NS)) - LOOKBACK_DAYS + 1
    days = int(today.max(initial=now // DAY_NS)) - first_day + 1
    for kind, metric in ADHERENCE_METRIC.items():
        schedule = Schedule.of(plans, kind)
        a = adherence(windows[metric], schedule, offsets, first_day=first_day,
                      days=days, now=now, since=since)  # fmt: skip
        missed = a.missed_in_a_row.astype(np.float64)
        rule = f"adherence_{kind.value}"
        put(rule, _newest(a.level, missed, a.occasions.valid))
        opened = _newest_opening(a.occasions.times, a.occasions.valid, schedule)
        on = level[:, RULES.index(rule)] > 0
        gateway_silent[:, RULES.index(rule)] = on & silent_through(now, silence.heard_at, opened)
    # No number: the message shows how long the gateway has been silent (its duration).
    level[:, RULES.index("home_gateway_offline")] = np.where(silence.active, LOW, 0)
    return HomeNow(level=level, value=value, heard_at=silence.heard_at,
                   gateway_silent=gateway_silent)  # fmt: skip


def _newest_opening(ends: IntArray, judged: BoolArray, schedule: Schedule) -> IntArray:
    """Per row, when the window of the newest judged occasion opened (int64 ns; NEVER: none).
    Occasions are ``(days * slots)`` columns, day-major; a window opens ``end - start`` before
    its end."""
    rows, width = judged.shape
    if width == 0:
        return np.full(rows, NEVER, np.int64)
    slots = schedule.start_s.shape[1]
    length = np.tile(schedule.end_s - schedule.start_s, (1, width // max(slots, 1)))
    cols = np.where(judged, np.arange(width), -1).max(axis=1, initial=-1)
    at = np.maximum(cols, 0)[:, None]
    end = np.take_along_axis(ends, at, axis=1)[:, 0]
    span = np.take_along_axis(length, at, axis=1)[:, 0] * NS_PER_S
    return np.where(cols >= 0, end - span, NEVER).astype(np.int64)


def _window(patients: int, flat: Flat | None) -> Window:
    if flat is None:
        empty = np.zeros(0, np.int64)
        return window_of(patients, empty, empty, np.zeros(0))
    return window_of(patients, *flat)


def _paired(sbp: Window, dbp: Window) -> tuple[Window, Window]:
    """The blood pressure readings that have both numbers, as two windows of the same shape
    (a cuff sends them together; one of them missing makes the reading unusable)."""
    patients = sbp.valid.shape[0]
    (s_row, s_time, s_value), (d_row, d_time, d_value) = _flat(sbp), _flat(dbp)
    key = np.dtype([("row", np.int64), ("time", np.int64)])
    s_key, d_key = np.empty(s_row.size, key), np.empty(d_row.size, key)
    s_key["row"], s_key["time"], d_key["row"], d_key["time"] = s_row, s_time, d_row, d_time
    _, s_at, d_at = np.intersect1d(s_key, d_key, assume_unique=True, return_indices=True)
    return (
        window_of(patients, s_row[s_at], s_time[s_at], s_value[s_at]),
        window_of(patients, s_row[s_at], s_time[s_at], d_value[d_at]),
    )


def _flat(window: Window) -> Flat:
    rows = np.broadcast_to(np.arange(window.valid.shape[0])[:, None], window.valid.shape)
    v = window.valid
    return rows[v].astype(np.int64), window.times[v], window.values[v]


def _newest(level: Int8Array, value: FloatArray, judged: BoolArray) -> tuple[Int8Array, FloatArray]:
    """Per row, the level and value at the newest judged column (0 and NaN: none)."""
    cols = np.where(judged, np.arange(judged.shape[1]), -1).max(axis=1, initial=-1)
    has = cols >= 0
    at = np.maximum(cols, 0)[:, None]
    if judged.shape[1] == 0:
        rows = judged.shape[0]
        return np.zeros(rows, np.int8), np.full(rows, np.nan)
    lv = np.where(has, np.take_along_axis(level, at, axis=1)[:, 0], 0).astype(np.int8)
    val = np.where(has, np.take_along_axis(value, at, axis=1)[:, 0], np.nan)
    return lv, val
