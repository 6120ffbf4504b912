"""Virtual patients: reproducible, physiologically coherent, quantised as devices report."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pytest

from nabd.analytics.news2 import score
from nabd.contract.catalogue import METRICS as CATALOGUE
from nabd.simulators.devices import DEVICE_METRICS, METRICS, Device
from nabd.simulators.errors import SimulatorError
from nabd.simulators.measurement import DECIMALS
from nabd.simulators.patient import draw_profile, draw_profiles, simulate
from nabd.simulators.series import RR_RESOLUTION_S, VitalSeries
from nabd.simulators.timebase import DAY_S, DEFAULT_START, regular_times

DAY = regular_times(DEFAULT_START, DAY_S, 1.0)


@pytest.fixture(scope="module")
def ward_day() -> VitalSeries:
    """Eight stable patients, one day at 1 Hz."""
    return simulate(draw_profiles(8, seed=21), DAY, seed=4)


def _same(a: VitalSeries, b: VitalSeries) -> bool:
    return (
        a.patient_ids == b.patient_ids
        and all(np.array_equal(a.values[k], b.values[k], equal_nan=True) for k in a.values)
        and all(np.array_equal(a.contact_lost[k], b.contact_lost[k]) for k in a.values)
        and all(np.array_equal(a.battery_level[d], b.battery_level[d]) for d in Device)
        and all(
            np.array_equal(x.beat_times, y.beat_times)
            and np.array_equal(x.rr, y.rr, equal_nan=True)
            for x, y in zip(a.beats, b.beats, strict=True)
        )
    )


# ---- Profiles ----------------------------------------------------------------------------------


def test_profiles_are_reproducible_and_seed_dependent() -> None:
    assert draw_profiles(20, seed=5) == draw_profiles(20, seed=5)
    assert draw_profiles(20, seed=5) != draw_profiles(20, seed=6)
    assert len({p.patient_id for p in draw_profiles(200, seed=5)}) == 200


def test_growing_a_ward_keeps_its_patients() -> None:
    assert draw_profiles(10, seed=3)[:4] == draw_profiles(4, seed=3)
    assert draw_profile(3, index=7) == draw_profiles(8, seed=3)[7]


def test_profiles_are_plausible_adults_with_normal_resting_vitals() -> None:
    profiles = draw_profiles(300, seed=1)
    resting = score(
        [p.resting_respiration_rate for p in profiles],
        [p.spo2_baseline for p in profiles],
        False,
        [p.temperature_baseline for p in profiles],
        [p.systolic_baseline for p in profiles],
        [p.resting_heart_rate for p in profiles],
        "A",
    )
    assert (resting.total == 0).all()  # anything alarming must come from a scenario
    assert all(18 <= p.age <= 95 for p in profiles)
    assert {p.sex for p in profiles} == {"female", "male"}
    assert all(p.systolic_baseline - p.diastolic_baseline >= 30 for p in profiles)
    bmi = np.array([p.weight / p.height**2 for p in profiles])
    assert bmi.min() >= 17.5
    assert bmi.max() <= 43
    heights = {s: np.mean([p.height for p in profiles if p.sex == s]) for s in ("female", "male")}
    assert heights["male"] > heights["female"] + 0.08


@pytest.mark.parametrize(
    "change",
    [
        {"patient_id": "Patient 1"},
        {"patient_id": "a/b"},
        {"age": 7},
        {"resting_heart_rate": float("nan")},
        {"spo2_baseline": 101.0},
        {"diastolic_baseline": 125.0},  # pulse pressure below 15
        {"sex": "x"},
    ],
)
def test_implausible_profiles_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(SimulatorError):
        dataclasses.replace(draw_profile(1), **change)


# ---- Reproducibility ---------------------------------------------------------------------------


def test_same_seed_same_arrays_other_seed_other_arrays() -> None:
    profiles = draw_profiles(3, seed=2)
    times = regular_times(DEFAULT_START, 1800, 1.0)
    first = simulate(profiles, times, seed=9)
    assert _same(first, simulate(profiles, times, seed=9))
    other = simulate(profiles, times, seed=10)
    for key in ("heart_rate", "spo2", "body_temperature", "systolic_bp"):
        assert not np.array_equal(first.values[key], other.values[key])
    assert not np.array_equal(first.beats[0].beat_times[:50], other.beats[0].beat_times[:50])


def test_a_patient_does_not_depend_on_the_rest_of_the_ward() -> None:
    profiles = draw_profiles(5, seed=2)
    times = regular_times(DEFAULT_START, 1800, 2.0)
    whole = simulate(profiles, times, seed=1)
    part = simulate(profiles[2:4], times, seed=1)
    for key, array in part.values.items():
        assert np.array_equal(array, whole.values[key][2:4], equal_nan=True)
    assert np.array_equal(part.beats[1].beat_times, whole.beats[3].beat_times)


def test_the_generator_touches_no_global_random_state() -> None:
    np.random.seed(0)
    expected = np.random.random(3)
    np.random.seed(0)
    simulate(draw_profiles(1, seed=1), regular_times(DEFAULT_START, 60, 1.0), seed=1)
    assert np.array_equal(np.random.random(3), expected)


@pytest.mark.parametrize(
    ("times", "seed"),
    [
        ([DEFAULT_START, DEFAULT_START], 1),  # not increasing
        ([[DEFAULT_START]], 1),
        ([], 1),
        ([DEFAULT_START, float("inf")], 1),
        ([DEFAULT_START], -1),
        ([DEFAULT_START], True),
    ],
)
def test_bad_times_and_seeds_are_refused(times: list[Any], seed: Any) -> None:
    with pytest.raises(SimulatorError):
        simulate(draw_profiles(1, seed=1), times, seed=seed)


def test_scenarios_for_an_unknown_patient_are_refused() -> None:
    with pytest.raises(SimulatorError, match="not simulated"):
        simulate(draw_profiles(1, seed=1), [DEFAULT_START], seed=1, scenarios={"p-nobody": []})


# ---- Plausibility ------------------------------------------------------------------------------


def test_every_series_uses_catalogue_keys_in_range(ward_day: VitalSeries) -> None:
    assert set(ward_day.values) == set(METRICS)
    for key, array in ward_day.values.items():
        assert not np.isnan(array).any()  # no faults: every sample present
        assert CATALOGUE[key].admits(float(array.min()))
        assert CATALOGUE[key].admits(array.max())
    assert set(ward_day.battery_level) == set(DEVICE_METRICS)


@pytest.mark.parametrize(
    ("key", "low", "high"),
    [
        ("heart_rate", 40, 120),
        ("pulse_rate", 40, 120),
        ("spo2", 90, 100),
        ("respiration_rate", 6, 28),
        ("body_temperature", 35.5, 38.0),
        ("systolic_bp", 85, 200),
        ("diastolic_bp", 40, 120),
        ("glucose", 3.0, 25.0),  # diabetics after meals, read by a CGM (11 % error)
        ("body_weight", 40, 160),
    ],
)
def test_stable_patients_stay_in_physiological_ranges(
    ward_day: VitalSeries, key: str, low: float, high: float
) -> None:
    array = ward_day.values[key]
    assert low <= array.min()
    assert array.max() <= high


def test_values_are_quantised_as_devices_report_them(ward_day: VitalSeries) -> None:
    for key, array in ward_day.values.items():
        scaled = array * 10 ** DECIMALS[key]
        assert np.allclose(scaled, np.round(scaled), atol=1e-6), key
    assert DECIMALS["body_temperature"] == 1
    assert DECIMALS["spo2"] == 0
    rr = np.concatenate([b.rr for b in ward_day.beats])
    steps = rr[~np.isnan(rr)] / RR_RESOLUTION_S
    assert np.allclose(steps, np.round(steps))


def test_mean_arterial_pressure_is_diastolic_plus_a_third_of_pulse_pressure(
    ward_day: VitalSeries,
) -> None:
    systolic, diastolic = ward_day.values["systolic_bp"], ward_day.values["diastolic_bp"]
    expected = diastolic + (systolic - diastolic) / 3
    assert np.abs(ward_day.values["mean_arterial_pressure"] - expected).max() <= 1.0
    assert (systolic - diastolic >= 10).all()


def test_heart_rate_agrees_with_the_rr_intervals(ward_day: VitalSeries) -> None:
    for row, beats in enumerate(ward_day.beats):
        from_rr = 60.0 / np.nanmean(beats.rr)
        assert np.mean(ward_day.values["heart_rate"][row]) == pytest.approx(from_rr, rel=0.02)
        assert np.mean(ward_day.values["pulse_rate"][row]) == pytest.approx(from_rr, rel=0.02)
        assert (beats.beat_times >= DAY[0]).all()
        assert (beats.beat_times <= DAY[-1]).all()


def test_sinus_rhythm_has_heart_rate_variability(ward_day: VitalSeries) -> None:
    for beats in ward_day.beats:
        five_minutes = beats.beat_times < DAY[0] + 300
        rr = beats.rr[five_minutes][1:]
        successive = np.sqrt(np.mean(np.diff(rr) ** 2))  # RMSSD
        assert 0.01 < np.std(rr) / np.mean(rr) < 0.12
        assert 0.004 < successive < 0.08


def test_rr_intervals_follow_breathing() -> None:
    """Respiratory sinus arrhythmia: the RR spectrum peaks at the breathing frequency."""
    profile = draw_profile(8, index=0)
    series = simulate([profile], regular_times(DEFAULT_START, 1200, 1.0), seed=3)
    beats = series.beats[0]
    grid = np.arange(beats.beat_times[1], beats.beat_times[-1], 0.25)
    rr = np.interp(grid, beats.beat_times[1:], beats.rr[1:])
    power = np.abs(np.fft.rfft(rr - rr.mean())) ** 2
    freqs = np.fft.rfftfreq(grid.size, 0.25)
    breathing_hz = np.mean(series.values["respiration_rate"]) / 60
    band = np.abs(freqs - breathing_hz) < 0.03
    rest = (freqs > 0.15) & (freqs < 1.0) & ~band
    assert power[band].mean() > 5 * power[rest].mean()


def test_circadian_rhythms(ward_day: VitalSeries) -> None:
    hours = (DAY - DAY[0]) / 3600

    def at(key: str, hour: float) -> float:
        return float(ward_day.values[key][:, np.abs(hours - hour) < 0.5].mean())

    assert at("body_temperature", 4) < at("body_temperature", 18) - 0.3
    assert at("heart_rate", 4) < at("heart_rate", 15) - 4
    assert at("systolic_bp", 3) < at("systolic_bp", 14) - 8
    assert at("glucose", 8.25) > at("glucose", 4) + 0.8  # after breakfast


def test_the_utc_offset_moves_the_rhythm() -> None:
    profiles = draw_profiles(4, seed=2)
    night = regular_times(DEFAULT_START + 4 * 3600, 3600, 10.0)  # 04:00-05:00 UTC
    utc = simulate(profiles, night, seed=1).values["body_temperature"].mean()
    shifted = simulate(profiles, night, seed=1, utc_offset_s=13 * 3600).values[
        "body_temperature"
    ]  # 17:00 local
    assert shifted.mean() > utc + 0.3


def test_stable_patients_stay_below_news2_5(ward_day: VitalSeries) -> None:
    def charted(key: str) -> np.ndarray[Any, Any]:  # a charted value: one minute's median
        return np.median(ward_day.values[key].reshape(len(ward_day.patient_ids), -1, 60), axis=2)

    minutes = score(
        charted("respiration_rate"),
        charted("spo2"),
        False,
        charted("body_temperature"),
        charted("systolic_bp"),
        charted("pulse_rate"),
        "A",
    )
    assert minutes.total.max() < 5
    v = ward_day.values
    seconds = score(
        v["respiration_rate"],
        v["spo2"],
        False,
        v["body_temperature"],
        v["systolic_bp"],
        v["heart_rate"],
        "A",
    )
    assert (seconds.total >= 5).mean() < 1e-4


def test_batteries_drain_slowly(ward_day: VitalSeries) -> None:
    for level in ward_day.battery_level.values():
        assert level.dtype == np.uint8
        assert (np.diff(level.astype(int), axis=1) <= 0).all()
        drop = level[:, 0].astype(int) - level[:, -1]
        assert (drop <= 4).all()
        assert (level >= 55).all()


def test_a_ward_day_generates_in_a_few_seconds() -> None:
    profiles = draw_profiles(50, seed=1)
    began = time.perf_counter()
    series = simulate(profiles, DAY, seed=1)
    elapsed = time.perf_counter() - began
    assert series.values["heart_rate"].shape == (50, 86400)
    assert elapsed < 20, f"50 patients x 24 h at 1 Hz took {elapsed:.1f} s"


def test_chest_motion_disturbs_the_respiration_patch_too() -> None:
    """A strap's motion artefacts swing the chest-worn respiration sensor's rate as well
    (``faults.MOVED_WITH``); the oximeter's leave it alone."""
    from nabd.simulators import scenarios as sc  # noqa: PLC0415

    profiles = draw_profiles(2, 9)
    times = regular_times(DEFAULT_START, 1800.0, 1.0)
    window = (DEFAULT_START + 600.0, DEFAULT_START + 1200.0)
    plan = {
        profiles[0].patient_id: [sc.motion_artefacts(Device.CHEST_STRAP, *window)],
        profiles[1].patient_id: [sc.motion_artefacts(Device.PULSE_OXIMETER, *window)],
    }
    moved = simulate(profiles, times, seed=9, scenarios=plan)
    still = simulate(profiles, times, seed=9)
    changed = ~np.isclose(
        moved.values["respiration_rate"], still.values["respiration_rate"], equal_nan=True
    )
    assert changed[0].any()
    assert not changed[1].any()
