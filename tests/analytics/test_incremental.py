"""The window detectors that skip work give exactly what the whole-window computations give.

``nabd.analytics.reference`` keeps the computations as first written. Here random sample
streams (ties and flat runs from a few distinct values, gaps, samples newer than ``now``, ring
wrap-around, patients admitted mid-way and discharged) are fed to small rings, and at every
step the fast and the reference detectors must agree bit for bit: flatline verdicts, AF
statistics and verdicts, every field of a desaturation tick. A gap is a patient sending
nothing: the rings refuse NaN samples, so a missing value reaches the detectors as the NaN
padding of a window, which is what these streams produce.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nabd.analytics import af, reference
from nabd.analytics.arrays import IntArray
from nabd.analytics.desaturation import Desaturation, DesaturationConfig, DesaturationTick
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer
from nabd.analytics.technical import MetricExpectation, flatline, flatline_walk

S = 1_000_000_000
AF = af.AfConfig(beats=16, trim=3, max_window_s=30, persist_s=0, clear_s=0)
DESAT = DesaturationConfig(
    baseline_s=10,
    min_baseline_samples=3,
    min_duration_s=2,
    max_age_s=2,
    rate_window_s=20,
    min_coverage_s=5,
)
FLAT = (
    MetricExpectation(interval_s=1, flatline_window_s=12, flatline_min_points=4),
    MetricExpectation(
        interval_s=1, flatline_window_s=6, flatline_min_points=2, flatline_epsilon=0.5
    ),
)


class Ward:
    """Three rings (a heart rate, RR intervals twice: plain and doubled, SpO2) and three
    desaturation detectors (stepped from a window, from the ring, and the reference)."""

    def __init__(self, patients: int, capacity: int) -> None:
        self.hr = RingBuffer(patients, capacity)
        self.rr = RingBuffer(patients, max(capacity, AF.beats))
        self.rr_doubled = RingBuffer(patients, max(capacity, AF.beats), doubled=True)
        self.spo2 = RingBuffer(patients, capacity)
        self.desat = Desaturation(patients, DESAT)
        self.desat_ring = Desaturation(patients, DESAT)
        self.desat_reference = reference.ReferenceDesaturation(patients, DESAT)

    @property
    def patients(self) -> int:
        return self.hr.patients

    def grow(self, patients: int) -> None:
        for ring in (self.hr, self.rr, self.rr_doubled, self.spo2):
            ring.grow(patients)
        for detector in (self.desat, self.desat_ring, self.desat_reference):
            detector.grow(patients)

    def clear(self, rows: IntArray) -> None:
        for ring in (self.hr, self.rr, self.rr_doubled, self.spo2):
            ring.clear(rows)


def same_tick(a: DesaturationTick, b: DesaturationTick) -> None:
    for name in DesaturationTick.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


def same_verdicts(lazy: af.AfAssessment, whole: af.AfAssessment, cfg: af.AfConfig = AF) -> None:
    """Ready and irregular bit for bit; a statistic computed (not NaN) equal bit for bit, and
    left out (NaN) only where the verdict was already "regular" without it."""
    assert np.array_equal(lazy.ready, whole.ready)
    assert np.array_equal(lazy.irregular, whole.irregular)
    assert not lazy.features.irregular[~lazy.ready].any()
    ready = whole.ready
    assert np.array_equal(lazy.features.irregular[ready], whole.features.irregular[ready])
    low, high = cfg.tpr_band
    expected = whole.features
    in_band = (expected.tpr > low) & (expected.tpr < high)
    for name, needed in (
        ("tpr", ready),
        ("nrmssd", ready & in_band),
        ("entropy", ready & in_band & (expected.nrmssd > cfg.nrmssd_min)),
    ):
        got, want = getattr(lazy.features, name), getattr(expected, name)
        computed = ~np.isnan(got)
        assert not computed[~ready].any(), name
        assert computed[needed].all(), name
        assert np.array_equal(got[computed], want[computed]), name


def compare(ward: Ward, now: int, cohort: IntArray) -> None:
    for expectation in FLAT:
        expected = flatline(now, ward.hr.window(), expectation)
        assert np.array_equal(flatline_walk(now, ward.hr, expectation), expected)
        assert np.array_equal(flatline(now, ward.hr.stored(), expectation), expected)
        walked = flatline_walk(now, ward.hr, expectation, cohort)
        assert np.array_equal(walked, expected[cohort])
    window = ward.rr.window(columns=AF.beats)
    fast, slow = af.assess(now, window, AF), reference.af_assess(now, window, AF)
    assert np.array_equal(fast.ready, slow.ready)
    assert np.array_equal(fast.irregular, slow.irregular)
    for name in ("nrmssd", "tpr", "entropy", "irregular"):
        assert np.array_equal(getattr(fast.features, name), getattr(slow.features, name)), name
    for ring in (ward.rr, ward.rr_doubled):
        same_verdicts(af.assess_ring(now, ring, AF), slow)
        judged = af.assess_ring(now, ring, AF, cohort)
        assert np.array_equal(judged.irregular, slow.irregular[cohort])
        assert np.array_equal(judged.ready, slow.ready[cohort])
        for columns in (0, 1, AF.beats):
            newest = ward.rr.window(columns=columns, rows=cohort).values
            assert np.array_equal(ring.newest_values(cohort, columns), newest, equal_nan=True)
    spo2 = ward.spo2.window(rows=cohort)
    tick = ward.desat_reference.step(now, spo2, rows=cohort)
    same_tick(ward.desat.step(now, spo2, rows=cohort), tick)
    same_tick(ward.desat_ring.step_ring(now, ward.spo2, rows=cohort), tick)


VALUES = {
    "hr": (70.0, 70.0, 70.0, 70.2, 71.0, 90.0),
    "rr": (0.5, 0.625, 0.75, 0.8, 0.8125, 1.0, 1.25, 0.8000000000000002),
    "spo2": (85.0, 90.0, 93.0, 94.0, 96.0, 97.0, 97.0, 98.0),
    "spo2 fractional": (85.0, 90.0, 93.0, 94.0, 96.0, 97.0, 97.0, 95.5),
}
"""Whole-number SpO2 takes the medians' int16 sort; a fractional one their float sort."""


@settings(max_examples=80, deadline=None)
@given(
    patients=st.integers(1, 4),
    capacity=st.integers(4, 24),
    steps=st.integers(5, 60),
    data=st.data(),
)
def test_fast_detectors_equal_the_reference_at_every_step(
    patients: int, capacity: int, steps: int, data: st.DataObject
) -> None:
    ward = Ward(patients, capacity)
    now = 1_750_000_000 * S
    spo2 = data.draw(st.sampled_from(("spo2", "spo2 fractional")))
    for _ in range(steps):
        now += data.draw(st.sampled_from((1, 1, 1, 2, 3, 8, 40))) * S
        event = data.draw(st.sampled_from(("send",) * 8 + ("grow", "clear")))
        if event == "grow":
            ward.grow(ward.patients + data.draw(st.integers(1, 2)))
        elif event == "clear":
            ward.clear(np.array([data.draw(st.integers(0, ward.patients - 1))]))
        for key, rings in (
            ("hr", (ward.hr,)),
            ("rr", (ward.rr, ward.rr_doubled)),
            (spo2, (ward.spo2,)),
        ):
            size = data.draw(st.integers(0, 3 * ward.patients))
            rows = data.draw(st.lists(st.integers(0, ward.patients - 1), min_size=size,
                                      max_size=size))  # fmt: skip
            # Mostly just before now; sometimes a second ahead (a device clock running fast).
            ahead = st.sampled_from((-3, -2, -1, -1, 0, 0, 0, 1))
            times = [now + data.draw(ahead) * S // 2 for _ in rows]
            values = [data.draw(st.sampled_from(VALUES[key])) for _ in rows]
            for ring in rings:
                ring.push(np.array(rows, dtype=np.int64), np.array(times, dtype=np.int64), values)
        cohort = np.array(
            sorted(data.draw(st.sets(st.integers(0, ward.patients - 1), min_size=1))),
            dtype=np.int64,
        )
        compare(ward, now, np.arange(ward.patients) if event == "send" else cohort)


@settings(max_examples=300, deadline=None)
@given(
    intervals=arrays(
        np.float64,
        st.tuples(st.integers(0, 12), st.just(32)),
        elements=st.sampled_from((0.4, 0.6, 0.6, 0.8, 0.8, 0.8, 1.0, 1.2)) | st.floats(0.3, 2.0),
    )
    | arrays(  # a span too wide for keys: the general path
        np.float64,
        st.tuples(st.integers(0, 12), st.just(32)),
        elements=st.sampled_from((1e-9, 0.8, 0.8, 1e9)) | st.floats(1e-3, 1e3),
    ),
    trim=st.integers(0, 14),
)
def test_trimming_by_sorted_values_equals_the_stable_argsort(
    intervals: np.ndarray, trim: int
) -> None:
    """Ties at the trimming thresholds (and rows of one value) are ranked by position, by
    sorted values (the general path) or by sorted keys (:func:`af._keys`); judged lazily, the
    same verdicts."""
    assert np.array_equal(af._kept(intervals, trim), reference.af_kept(intervals, trim))
    cfg = af.AfConfig(beats=32, trim=trim)
    fast, slow = af.features(intervals, cfg), reference.af_features(intervals, cfg)
    for name in ("nrmssd", "tpr", "entropy", "irregular"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name), equal_nan=True), name
    keyed = af._keys(intervals)
    if keyed is not None:
        keys, _ = keyed
        kept = af._kept_by_key(keys, np.sort(keys, axis=1), trim)
        assert np.array_equal(kept, reference.af_kept(intervals, trim))
    ready = np.ones(intervals.shape[0], dtype=np.bool_)
    lazy = af._features(np.ascontiguousarray(intervals), cfg, lazy=True)
    same_verdicts(
        af.AfAssessment(features=lazy, ready=ready, irregular=lazy.irregular),
        af.AfAssessment(features=slow, ready=ready, irregular=slow.irregular),
        cfg,
    )


def test_walking_back_reads_only_as_far_as_the_signal_stays_flat() -> None:
    """A varying patient is done after one short read; a flat one is walked to the window's
    start, across the ring's wrap-around."""
    ring = RingBuffer(3, capacity=50)
    for second in range(120):  # wraps the ring twice
        values = [70.0 + second % 2, 70.0, 70.0 if second < 100 else 71.0]
        ring.push([0, 1, 2], [second * S] * 3, values)
    expectation = MetricExpectation(interval_s=1, flatline_window_s=30)
    now = 119 * S  # patient 2's window holds 70s (89..99) and 71s (100..119)
    assert flatline_walk(now, ring, expectation).tolist() == [False, True, False]
    assert flatline(now, ring.window(), expectation).tolist() == [False, True, False]
    later = 131 * S  # its window holds 71s only
    assert flatline_walk(later, ring, expectation).tolist() == [False, True, True]


def test_reading_back_refuses_negative_offsets() -> None:
    with pytest.raises(AnalyticsInputError):
        RingBuffer(1, 4).back(np.array([0]), -1, 2)


def test_many_windows_are_judged_block_by_block_with_the_same_numbers() -> None:
    """More windows than one block (``af._BLOCK``): the same statistics as one pass."""
    rng = np.random.default_rng(5)
    rows = 2 * af._BLOCK + 7
    intervals = np.round(rng.uniform(0.4, 1.4, (rows, 128)) * 64) / 64  # many ties
    fast, slow = af.features(intervals), reference.af_features(intervals, af.AfConfig())
    for name in ("nrmssd", "tpr", "entropy", "irregular"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert fast.irregular.shape == (rows,)
