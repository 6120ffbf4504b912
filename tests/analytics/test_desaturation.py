"""Desaturation events (ODI): exact confirmation and end ticks, ODI-3 vs ODI-4, rate per hour."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.arrays import FloatArray
from nabd.analytics.desaturation import Desaturation, DesaturationConfig
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer

S = 1_000_000_000


def run(
    spo2: FloatArray, config: DesaturationConfig | None = None
) -> tuple[dict[str, list[list[int]]], Desaturation, list[FloatArray]]:
    """One sample and one tick per second (NaN: no sample); transition ticks per patient."""
    seconds, patients = spo2.shape
    ring = RingBuffer(patients, capacity=150)
    detector = Desaturation(patients, config)
    log: dict[str, list[list[int]]] = {"started": [], "ended": []}
    log = {key: [[] for _ in range(patients)] for key in ("started", "ended")}
    rates = []
    for second in range(seconds):
        present = np.flatnonzero(~np.isnan(spo2[second]))
        now = second * S
        ring.push(present, np.full(present.shape, now), spo2[second, present])
        tick = detector.step(now, ring.window())
        rates.append(tick.events_per_hour)
        for key in log:
            for p in np.flatnonzero(getattr(tick, key)):
                log[key][p].append(second)
    return log, detector, rates


def dip(seconds: int, start: int, length: int, level: float, base: float = 97.0) -> FloatArray:
    spo2 = np.full(seconds, base)
    spo2[start : start + length] = level
    return spo2


def test_a_dip_is_confirmed_after_ten_seconds_and_ends_on_recovery() -> None:
    log, _, _ = run(dip(400, start=300, length=15, level=93.0)[:, None])
    assert log["started"] == [[310]]  # 93 <= 97 - 3 from t=300; confirmed 10 s later
    assert log["ended"] == [[315]]  # back to 97 at t=315


def test_a_nine_second_dip_is_not_an_event() -> None:
    log, _, _ = run(dip(400, start=300, length=10, level=93.0)[:, None])  # 300..309
    assert log["started"] == [[]]
    log, _, _ = run(dip(400, start=300, length=11, level=93.0)[:, None])  # 300..310
    assert log["started"] == [[310]]


def test_a_three_point_dip_counts_for_odi3_not_odi4() -> None:
    spo2 = dip(400, start=300, length=20, level=94.0)[:, None]
    assert run(spo2)[0]["started"] == [[310]]
    odi4 = DesaturationConfig(drop=4.0, recovery=1.0)
    assert run(spo2, odi4)[0]["started"] == [[]]


def test_a_long_desaturation_keeps_its_frozen_baseline() -> None:
    # 90 s at 92 %: longer than half the 120 s baseline window, so a rolling median would fall
    # to 92 and the event would "end" while the patient is still desaturated.
    spo2 = dip(500, start=300, length=90, level=92.0)
    spo2[380:385] = 94.5  # above the 94 % dip level but short of the 95 % recovery level
    log, _, _ = run(spo2[:, None])
    assert log["started"] == [[310]]
    assert log["ended"] == [[390]]


def test_a_gap_interrupts_a_dip_that_is_not_yet_confirmed() -> None:
    spo2 = dip(400, start=300, length=40, level=93.0)
    spo2[305] = np.nan  # a one-second gap: the 304 sample is still current (max_age_s 5)
    assert run(spo2[:, None])[0]["started"] == [[310]]
    spo2[305:312] = np.nan  # at t=310 the newest sample (304) is 6 s old: the dip is dropped
    assert run(spo2[:, None])[0]["started"] == [[322]]  # a new dip from 312


def test_events_per_hour() -> None:
    spo2 = np.full(1800, 97.0)
    for start in (300, 600, 900, 1200):
        spo2[start : start + 15] = 92.0
    log, _, rates = run(spo2[:, None])
    assert log["started"] == [[310, 610, 910, 1210]]
    assert np.isnan(rates[899][0])  # 15 min of monitoring are needed (from t=0)
    assert rates[900][0] == pytest.approx(2 / 0.25)  # two events in the first 15 min
    assert rates[-1][0] == pytest.approx(4 / (1799 / 3600))


def test_the_rate_window_forgets_old_events() -> None:
    config = DesaturationConfig(rate_window_s=900, min_coverage_s=600)
    spo2 = np.full(1800, 97.0)
    spo2[300:315] = 92.0
    log, _, rates = run(spo2[:, None], config)
    assert log["started"] == [[310]]
    assert rates[1199][0] == pytest.approx(1 / 0.25)  # the event began at 300, in the window
    assert rates[1201][0] == 0.0  # 1201 - 900 > 300: gone


def test_all_patients_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    patients = 7
    spo2 = np.round(96 + rng.normal(0, 0.6, size=(1200, patients)))
    for p in range(patients):
        for start in rng.integers(150, 1150, size=6):
            spo2[start : start + rng.integers(5, 40), p] -= rng.integers(2, 7)
    spo2[rng.random(spo2.shape) < 0.02] = np.nan
    together, _, together_rates = run(spo2)
    assert sum(map(len, together["started"])) >= 10
    for p in range(patients):
        alone, _, alone_rates = run(spo2[:, p : p + 1])
        assert alone == {k: [v[p]] for k, v in together.items()}
        np.testing.assert_array_equal([r[p] for r in together_rates], [r[0] for r in alone_rates])


def test_growing_keeps_events_and_bad_input_raises() -> None:
    _, detector, _ = run(dip(400, start=300, length=15, level=93.0)[:, None])
    detector.grow(3)
    ring = RingBuffer(3, capacity=150)
    tick = detector.step(400 * S, ring.window())
    assert tick.events_in_window.tolist() == [1, 0, 0]
    with pytest.raises(AnalyticsInputError, match="rows"):
        detector.step(401 * S, RingBuffer(2, capacity=10).window())
    with pytest.raises(AnalyticsInputError):
        DesaturationConfig(drop=3.0, recovery=3.0)


def test_stepping_cohorts_at_one_instant_equals_stepping_everyone() -> None:
    """Two cohorts stepped in turn at the same ``now`` leave the detector exactly as one step of
    every patient does: ``rows`` only chooses whom to advance."""
    rng = np.random.default_rng(5)
    seconds, patients = 900, 8
    spo2 = np.clip(97 + rng.normal(0, 1, (seconds, patients)).round(), 80, 100)
    for p in range(patients):
        start = int(rng.integers(200, 700))
        spo2[start : start + int(rng.integers(5, 60)), p] -= rng.integers(3, 8)
    spo2[rng.random(spo2.shape) < 0.05] = np.nan
    ring = RingBuffer(patients, capacity=150)
    whole, split = Desaturation(patients), Desaturation(patients)
    cohorts = [np.array([0, 2, 4, 6]), np.array([7, 5, 3, 1])]
    for second in range(seconds):
        present = np.flatnonzero(~np.isnan(spo2[second]))
        now = second * S
        ring.push(present, np.full(present.shape, now), spo2[second, present])
        expected = whole.step(now, ring.window())
        for rows in cohorts:
            part = split.step(now, ring.window(rows=rows), rows=rows)
            for name in ("in_event", "started", "ended", "events_in_window"):
                assert np.array_equal(getattr(part, name), getattr(expected, name)[rows])
            assert np.array_equal(part.baseline, expected.baseline[rows], equal_nan=True)
            assert np.array_equal(part.events_per_hour, expected.events_per_hour[rows],
                                  equal_nan=True)  # fmt: skip
    assert sum(int(t) for t in whole.step(seconds * S, ring.window()).events_in_window) > 0
