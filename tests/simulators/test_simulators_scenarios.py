"""Scenarios move the labelled vitals, the labelled way, only inside their labels."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.analytics.news2 import score
from nabd.contract import AlertPriority
from nabd.simulators import scenarios as sc
from nabd.simulators.devices import DEVICE_METRICS, Device
from nabd.simulators.errors import ScenarioError
from nabd.simulators.labels import Condition, news2_priority
from nabd.simulators.patient import PatientProfile, draw_profile, draw_profiles, simulate
from nabd.simulators.series import VitalSeries
from nabd.simulators.streams import stream
from nabd.simulators.timebase import DAY_S, DEFAULT_START, regular_times

S = DEFAULT_START
H = 3600.0
PROFILE = draw_profile(17, index=2)
BEAT_DERIVED = {"heart_rate", "pulse_rate"}
RANK = {
    None: 0,
    AlertPriority.LOW: 1,
    AlertPriority.MEDIUM: 2,
    AlertPriority.HIGH: 3,
    AlertPriority.CRITICAL: 4,
}

CLINICAL_KINDS = (
    "sepsis",
    "opioid_respiratory_depression",
    "hypoxaemia",
    "paroxysmal_af",
    "bradycardia",
    "hypertensive_crisis",
    "hypoglycaemia",
)
CLINICAL = {
    "sepsis": (sc.sepsis(S + H, ramp_s=2 * H, hold_s=H, recovery_s=2 * H), 7 * H),
    "opioid": (sc.opioid_respiratory_depression(S + H), 5 * H),
    "hypoxaemia": (sc.hypoxaemia([S + H, S + 2 * H]), 3 * H),
    "af": (sc.paroxysmal_af([(S + H, S + 1.5 * H)], ventricular_rate=130), 2.5 * H),
    "bradycardia": (sc.bradycardia(S + H), 2 * H),
    "hypertensive": (sc.hypertensive_crisis(S + H), 5 * H),
    "hypoglycaemia": (sc.hypoglycaemia(S + H), 3 * H),
}


def _pair(
    scenarios: list[sc.Scenario], span: float, step: float = 2.0, profile: PatientProfile = PROFILE
) -> tuple[np.ndarray[Any, Any], VitalSeries, VitalSeries]:
    """The same patient, same seed, with and without the scenarios."""
    times = regular_times(S, span, step)
    plan = {profile.patient_id: scenarios}
    return (
        times,
        simulate([profile], times, seed=5, scenarios=plan),
        simulate([profile], times, seed=5),
    )


def _extent(scenario: sc.Scenario) -> tuple[float, float]:
    return min(e.onset for e in scenario.expectations), max(e.offset for e in scenario.expectations)


@pytest.mark.parametrize("name", CLINICAL)
def test_clinical_scenarios_move_their_vitals_the_labelled_way(name: str) -> None:
    scenario, span = CLINICAL[name]
    times, ill, well = _pair([scenario], span)
    for excursion in scenario.excursions:
        amount = excursion.amount(PROFILE.baseline(excursion.metric))
        peak = (times >= excursion.peak[0]) & (times < excursion.peak[1])
        change = ill.values[excursion.metric][0, peak] - well.values[excursion.metric][0, peak]
        assert np.sign(amount) * change.mean() >= 0.5 * abs(amount), excursion.metric


@pytest.mark.parametrize("name", CLINICAL)
def test_clinical_scenarios_change_nothing_outside_their_labels(name: str) -> None:
    scenario, span = CLINICAL[name]
    times, ill, well = _pair([scenario], span)
    onset, offset = _extent(scenario)
    before, after = times < onset, times >= offset + 30  # beat-derived rates look back 8 s
    for key, array in ill.values.items():
        if key in BEAT_DERIVED:
            assert np.array_equal(array[0, before], well.values[key][0, before])
            # after the episode the beats have a new phase, at the same rate
            assert abs(np.mean(array[0, after] - well.values[key][0, after])) < 0.5
        else:
            outside = ~((times >= onset) & (times < offset))
            assert np.array_equal(array[0, outside], well.values[key][0, outside]), key
    assert np.array_equal(
        ill.beats[0].beat_times[ill.beats[0].beat_times < onset],
        well.beats[0].beat_times[well.beats[0].beat_times < onset],
    )


@pytest.mark.parametrize("name", CLINICAL)
def test_every_excursion_is_labelled(name: str) -> None:
    scenario, _ = CLINICAL[name]
    for excursion in scenario.excursions:
        assert any(
            e.onset <= excursion.onset and excursion.offset <= e.offset
            for e in scenario.expectations
        )
    for expectation in scenario.expectations:
        assert any(
            expectation.onset < x.offset and x.onset < expectation.offset
            for x in scenario.excursions
        )


def test_atrial_fibrillation_is_irregularly_irregular_and_faster() -> None:
    scenario = sc.paroxysmal_af([(S + H, S + 2 * H)], ventricular_rate=130, irregularity=0.2)
    times, ill, _ = _pair([scenario], 2.5 * H, step=1.0)
    beats = ill.beats[0]

    def window(onset: float, offset: float) -> np.ndarray[Any, Any]:
        inside = (beats.beat_times >= onset) & (beats.beat_times < offset)
        return beats.rr[inside][1:]

    af, sinus = window(S + H + 60, S + 2 * H - 60), window(S, S + H)
    cv_af, cv_sinus = np.std(af) / np.mean(af), np.std(sinus) / np.mean(sinus)
    assert cv_af > 2 * cv_sinus
    assert cv_af == pytest.approx(0.2, abs=0.05)
    lag1 = {n: np.corrcoef(rr[:-1], rr[1:])[0, 1] for n, rr in (("af", af), ("sinus", sinus))}
    assert abs(lag1["af"]) < 0.2 < lag1["sinus"]  # successive AF intervals are unrelated
    inside = (times >= S + H + 60) & (times < S + 2 * H - 60)
    assert np.mean(ill.values["heart_rate"][0, inside]) == pytest.approx(130, rel=0.06)
    assert 60 / np.mean(af) == pytest.approx(130, rel=0.06)


def _peak_news2(series: VitalSeries, row: int, inside: np.ndarray[Any, Any]) -> Any:
    v = {key: array[row, inside] for key, array in series.values.items()}
    return score(
        v["respiration_rate"],
        v["spo2"],
        False,
        v["body_temperature"],
        v["systolic_bp"],
        v["heart_rate"],
        "A",
    )


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[list[PatientProfile], dict[str, list[sc.Scenario]], VitalSeries]]:
    """Every clinical kind drawn for six patients over a day, charted every minute."""
    profiles = list(draw_profiles(6, seed=31))
    times = regular_times(S, DAY_S, 60.0)
    result = {}
    for kind in ("stable", *CLINICAL_KINDS):
        plan = {
            p.patient_id: [sc.draw(kind, stream(2, p.patient_id), S, S + DAY_S)] for p in profiles
        }
        result[kind] = (profiles, plan, simulate(profiles, times, seed=3, scenarios=plan))
    return result


def test_sepsis_scores_news2_high_at_its_labelled_peak_and_not_before(drawn: Any) -> None:
    profiles, plan, series = drawn["sepsis"]
    for row, profile in enumerate(profiles):
        (scenario,) = plan[profile.patient_id]
        peak = next(e for e in scenario.expectations if e.condition is Condition.NEWS2_HIGH)
        inside = (series.times >= peak.onset) & (series.times < peak.offset)
        assert inside.sum() >= 30
        assert _peak_news2(series, row, inside).total.min() >= 7
        assert peak.priority is AlertPriority.HIGH
        before = series.times < scenario.expectations[0].onset
        assert _peak_news2(series, row, before).total.max() < 5


def test_stable_scenario_stays_below_news2_5(drawn: Any) -> None:
    profiles, plan, series = drawn["stable"]
    everywhere = np.ones(series.times.shape, dtype=bool)
    for row, profile in enumerate(profiles):
        assert _peak_news2(series, row, everywhere).total.max() < 5
        (label,) = plan[profile.patient_id][0].labels(profile.patient_id)
        assert (label.condition, label.priority) == (Condition.STABLE, None)


def test_respiratory_depression_reaches_medium_news2(drawn: Any) -> None:
    profiles, plan, series = drawn["opioid_respiratory_depression"]
    for row, profile in enumerate(profiles):
        a, b = plan[profile.patient_id][0].excursions[0].peak
        inside = (series.times >= a) & (series.times < b)
        assert np.median(_peak_news2(series, row, inside).total) >= 5


@pytest.mark.parametrize("kind", CLINICAL_KINDS)
def test_label_priority_is_at_least_what_news2_at_the_peak_calls_for(drawn: Any, kind: str) -> None:
    profiles, plan, series = drawn[kind]
    for row, profile in enumerate(profiles):
        scenario = plan[profile.patient_id][0]
        for expectation in scenario.expectations:
            inside = (series.times >= expectation.onset) & (series.times < expectation.offset)
            charted = {key: np.median(a[row, inside]) for key, a in series.values.items()}
            news2 = score(
                charted["respiration_rate"],
                charted["spo2"],
                False,
                charted["body_temperature"],
                charted["systolic_bp"],
                charted["heart_rate"],
                "A",
            )
            by_news2 = news2_priority(int(news2.total), bool(news2.single_parameter_3))
            assert RANK[expectation.priority] >= RANK[by_news2], (kind, int(news2.total))


# ---- Technical scenarios -----------------------------------------------------------------------


def test_sensor_off_blanks_and_flags_only_its_device_and_window() -> None:
    scenario = sc.sensor_off(Device.PULSE_OXIMETER, [(S + 600, S + 900)])
    times, faulty, well = _pair([scenario], 1800)
    inside = (times >= S + 600) & (times < S + 900)
    for key, array in faulty.values.items():
        lost = faulty.contact_lost[key][0]
        if key in DEVICE_METRICS[Device.PULSE_OXIMETER]:
            assert np.isnan(array[0, inside]).all()
            assert lost[inside].all()
        else:
            assert np.array_equal(array[0, inside], well.values[key][0, inside])
        assert np.array_equal(array[0, ~inside], well.values[key][0, ~inside])
        assert not lost[~inside].any()


def test_chest_strap_off_loses_the_beats_too() -> None:
    scenario = sc.sensor_off(Device.CHEST_STRAP, [(S + 600, S + 900)])
    times, faulty, well = _pair([scenario], 1800)
    beats = faulty.beats[0]
    assert not ((beats.beat_times >= S + 600) & (beats.beat_times < S + 900)).any()
    first_back = np.searchsorted(beats.beat_times, S + 900)
    assert np.isnan(beats.rr[first_back])  # the beat before it was never seen
    assert np.isnan(beats.rr).sum() == 1
    kept = well.beats[0].beat_times
    kept = kept[(kept < S + 600) | (kept >= S + 900)]
    assert np.array_equal(beats.beat_times, kept)
    assert np.isnan(faulty.values["heart_rate"][0, (times >= S + 600) & (times < S + 900)]).all()


def test_motion_artefacts_are_spikes_inside_the_window_only() -> None:
    scenario = sc.motion_artefacts(Device.PULSE_OXIMETER, S + 600, S + 1200, spikes_per_minute=3)
    times, faulty, well = _pair([scenario], 1800, step=1.0)
    inside = (times >= S + 600) & (times < S + 1200)
    spo2 = faulty.values["spo2"][0] - well.values["spo2"][0]
    pulse = faulty.values["pulse_rate"][0] - well.values["pulse_rate"][0]
    assert (spo2[~inside] == 0).all()
    assert (pulse[~inside] == 0).all()
    spiked = spo2 != 0
    assert 10 <= spiked.sum() <= 90  # about 30 spikes of 1-3 samples
    assert (spo2[spiked] <= -5).all()  # false desaturations
    assert (pulse[spiked] > 10).all()
    assert not faulty.contact_lost["spo2"].any()  # unflagged: analytics must spot them
    assert scenario.expectations[0].priority is None


def test_flatline_repeats_the_last_value() -> None:
    scenario = sc.flatline(Device.THERMOMETER, S + 600, S + 1200)
    times, faulty, well = _pair([scenario], 1800)
    inside = (times >= S + 600) & (times < S + 1200)
    temperature = faulty.values["body_temperature"][0]
    last_good = well.values["body_temperature"][0, np.flatnonzero(inside)[0] - 1]
    assert (temperature[inside] == last_good).all()
    assert np.ptp(well.values["body_temperature"][0, inside]) > 0
    assert np.array_equal(temperature[~inside], well.values["body_temperature"][0, ~inside])


def test_battery_drain_runs_down_then_the_device_goes_silent() -> None:
    scenario = sc.battery_drain(
        Device.CHEST_STRAP, S + 600, start_level=30, empty_after_s=H, replaced_after_s=0.5 * H
    )
    (fault,) = scenario.faults
    assert isinstance(fault, sc.BatteryDrain)
    times, faulty, well = _pair([scenario], 2 * H)
    level = faulty.battery_level[Device.CHEST_STRAP][0].astype(int)
    draining = (times >= S + 600) & (times < fault.empty_at)
    assert level[draining][0] == 30
    assert (np.diff(level[draining]) <= 0).all()
    low, dead = scenario.expectations
    assert (low.condition, dead.condition) == (Condition.LOW_BATTERY, Condition.DEVICE_DISCONNECTED)
    assert (level[(times > low.onset) & (times < low.offset)] <= 20).all()
    assert (level[(times >= S + 600) & (times <= low.onset)] > 20).all()
    silent = (times >= fault.empty_at) & (times < fault.offset)
    assert (level[silent] == 0).all()
    assert np.isnan(faulty.values["heart_rate"][0, silent]).all()
    assert not faulty.contact_lost["heart_rate"].any()  # silent, not "no contact"
    assert level[times >= fault.offset].min() >= 99
    before = times < S + 600
    assert np.array_equal(level[before], well.battery_level[Device.CHEST_STRAP][0, before])
    assert not (
        (faulty.beats[0].beat_times >= fault.empty_at) & (faulty.beats[0].beat_times < fault.offset)
    ).any()


def test_clock_drift_leaves_the_values_and_shifts_device_time_in_its_window() -> None:
    scenario = sc.clock_drift(Device.BP_CUFF, S + 600, S + 1200, drift_ppm=1000, step_s=5)
    times, faulty, well = _pair([scenario], 1800)
    assert all(np.array_equal(faulty.values[k], well.values[k]) for k in faulty.values)
    (fault,) = scenario.faults
    assert isinstance(fault, sc.ClockDrift)
    offset = fault.offset_at(times)
    inside = (times >= S + 600) & (times < S + 1200)
    assert (offset[~inside] == 0).all()
    assert np.allclose(offset[inside], 5 + 1e-3 * (times[inside] - (S + 600)))


@pytest.mark.parametrize(
    ("make", "kind", "condition"),
    [
        (
            lambda: sc.disconnects(Device.SCALE, [(S + 60, S + 120)]),
            sc.TransportKind.DISCONNECT,
            Condition.DEVICE_DISCONNECTED,
        ),
        (
            lambda: sc.duplicated_payloads(Device.SCALE, S + 60, S + 120),
            sc.TransportKind.DUPLICATE,
            Condition.DUPLICATED_PAYLOAD,
        ),
        (
            lambda: sc.garbled_payloads(Device.SCALE, S + 60, S + 120),
            sc.TransportKind.GARBLE,
            Condition.GARBLED_PAYLOAD,
        ),
    ],
)
def test_transport_scenarios_are_events_for_the_shells(
    make: Any, kind: sc.TransportKind, condition: Condition
) -> None:
    scenario = make()
    (event,) = scenario.transport
    assert (event.kind, event.device, event.onset, event.offset) == (
        kind,
        Device.SCALE,
        S + 60,
        S + 120,
    )
    assert scenario.expectations[0].condition is condition
    _, faulty, well = _pair([scenario], 300)
    assert all(np.array_equal(faulty.values[k], well.values[k]) for k in faulty.values)


# ---- Garbling ----------------------------------------------------------------------------------


@given(payload=st.binary(max_size=300), seed=st.integers(0, 2**32))
def test_garble_always_changes_the_payload_the_same_way_for_a_seed(
    payload: bytes, seed: int
) -> None:
    garbled = sc.garble(payload, seed)
    assert garbled != payload
    assert garbled == sc.garble(payload, seed)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    document=st.dictionaries(st.text(max_size=6), json_values, max_size=5),
    seed=st.integers(0, 2**32),
)
def test_a_garbled_json_object_never_parses(document: dict[str, Any], seed: int) -> None:
    garbled = sc.garble(json.dumps(document, separators=(",", ":")).encode(), seed)
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        json.loads(garbled.decode("utf-8"))


def test_garble_seeds_give_different_corruptions() -> None:
    payload = b'{"schema":"nabd.obs/1","readings":[]}'
    assert len({sc.garble(payload, seed) for seed in range(30)}) >= 25


# ---- Drawing and validation --------------------------------------------------------------------


@pytest.mark.parametrize("kind", sc.SCENARIO_KINDS)
@pytest.mark.parametrize("span", [DAY_S, 2 * H])
def test_drawn_scenarios_fit_their_window(kind: str, span: float) -> None:
    for seed in range(5):
        scenario = sc.draw(kind, stream(seed, "x", kind), S, S + span)
        assert scenario.name == kind
        assert scenario.expectations
        parts = [
            *scenario.expectations,
            *scenario.excursions,
            *scenario.rhythms,
            *scenario.faults,
            *scenario.transport,
        ]
        assert all(p.onset >= S and p.offset <= S + span + 1e-6 for p in parts)


def test_drawing_is_reproducible() -> None:
    for kind in sc.SCENARIO_KINDS:
        first = sc.draw(kind, stream(1, "p-1", kind), S, S + DAY_S)
        assert first == sc.draw(kind, stream(1, "p-1", kind), S, S + DAY_S)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sc.draw("influenza", stream(0, "x"), S, S + H),
        lambda: sc.draw("stable", stream(0, "x"), S + H, S),
        lambda: sc.Excursion(
            metric="pulse_rate", onset=S, ramp_s=1, hold_s=1, recovery_s=1, shift=1.0
        ),
        lambda: sc.Excursion(metric="spo2", onset=S, ramp_s=0, hold_s=0, recovery_s=0, shift=1.0),
        lambda: sc.Excursion(metric="spo2", onset=S, ramp_s=1, hold_s=1, recovery_s=1),
        lambda: sc.Excursion(
            metric="spo2", onset=S, ramp_s=1, hold_s=1, recovery_s=1, shift=1.0, target=90.0
        ),
        lambda: sc.RhythmEpisode(onset=S, offset=S + 60, irregularity=0.0),
        lambda: sc.SensorOff(device=Device.SCALE, onset=S, offset=S),
        lambda: sc.Artefacts(device=Device.SCALE, onset=S, offset=S + 1, spikes_per_minute=0),
        lambda: sc.BatteryDrain(
            device=Device.SCALE, onset=S, offset=S + 9, start_level=50, empty_at=S + 10
        ),
        lambda: sc.TransportEvent(
            device=Device.SCALE, onset=S, offset=S + 1, kind=sc.TransportKind.GARBLE, probability=0
        ),
    ],
)
def test_contradictory_scenarios_are_refused(make: Any) -> None:
    with pytest.raises(ScenarioError):
        make()


def test_excursion_envelope_is_zero_outside_and_one_on_the_plateau() -> None:
    excursion = sc.Excursion(
        metric="spo2", onset=100.0, ramp_s=10, hold_s=20, recovery_s=10, target=85.0
    )
    times = np.arange(80.0, 160.0, 0.5)
    weight = excursion.envelope(times)
    assert (weight[(times < 100) | (times >= 140)] == 0).all()
    assert (weight[(times >= 110) & (times < 130)] == 1).all()
    assert (np.diff(weight[times < 110]) >= 0).all()
    assert (np.diff(weight[times >= 130]) <= 0).all()
    assert excursion.amount(97.0) == -12.0
