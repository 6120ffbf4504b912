"""``nabd evaluate``: the matching of alerts to ground-truth labels on hand-made cases with known
answers, and a small simulated ward run end to end through the engine."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np
import pytest

from nabd.analytics.alerts import AlertEventKind
from nabd.app.cli import main
from nabd.app.evaluation import (
    GLUCOSE_TIMES_H,
    ConditionScore,
    LinkDown,
    RaisedAlert,
    count_unmeasured,
    link_windows,
    replay,
    sample_mask,
    sampled,
    score,
)
from nabd.contract.payloads import AlertPriority
from nabd.simulators import scenarios as sc
from nabd.simulators.cohort import Diabetes
from nabd.simulators.devices import Device
from nabd.simulators.labels import Condition, Label
from nabd.simulators.patient import draw_profiles
from nabd.simulators.ward import Ward, build_ward

T = 1_740_787_200.0
R = AlertEventKind.RAISED


def label(condition: Condition, onset: float, offset: float, patient: str = "p-1") -> Label:
    return Label(
        patient_id=patient,
        scenario="test",
        condition=condition,
        priority=AlertPriority.HIGH,
        onset=T + onset,
        offset=T + offset,
    )


def test_detection_delay_and_false_alerts_are_counted_as_defined() -> None:
    labels = [
        label(Condition.HYPOXAEMIA, 100, 400),
        label(Condition.HYPOXAEMIA, 1000, 1300),  # missed
        label(Condition.SENSOR_OFF, 2000, 2100),
        label(Condition.ARTEFACT, 3000, 3600),  # no alert expected
    ]
    alerts = [
        RaisedAlert("p-1", "spo2_low", T + 130, R, resolved_at=T + 500),  # found after 30 s
        RaisedAlert("p-1", "desaturation", T + 150, R, resolved_at=T + 600),  # not false
        RaisedAlert("p-1", "sensor_off", T + 1990, R, resolved_at=T + 2200),  # open at onset
        RaisedAlert("p-1", "news2", T + 3100, R),  # during the artefacts: false
        RaisedAlert("p-2", "spo2_low", T + 130, R),  # another patient: false
        RaisedAlert("p-1", "stale_data", T + 2500, R),  # within the grace of sensor_off
    ]
    outcome = score(labels, alerts, patients=2, seconds=43_200, grace_s=600)
    hypoxaemia = outcome.by_label["hypoxaemia"]
    assert (hypoxaemia.labels, hypoxaemia.detected, hypoxaemia.delays) == (2, 1, [30.0])
    assert outcome.by_label["sensor_off"].delays == [0.0]
    assert "artefact" not in outcome.by_label
    assert outcome.false_by_alert == {"news2": 1, "spo2_low": 1, "sensor_off": 1}
    assert outcome.false_per_patient_day == pytest.approx(3 / 1.0)


def test_a_sensor_off_scenario_is_found_and_a_stable_ward_stays_quiet() -> None:
    ward = build_ward(4, seed=3, scenario_mix={"stable": 3, "sensor_off": 1}, duration_s=1800)
    series = ward.simulate(ward.times(1.0))
    alerts = replay(ward, series, tick_s=2)
    outcome = score(ward.labels, alerts, patients=4, seconds=1800)
    found = outcome.by_label["sensor_off"]
    assert found.labels >= 1
    assert found.detected == found.labels
    assert max(found.delays) <= 30  # 15 s of persistence, 2 s ticks
    assert outcome.false_by_alert == {}


def test_motion_artefacts_do_not_page() -> None:
    ward = build_ward(1, seed=5, scenario_mix={"motion_artefacts": 1}, duration_s=1800)
    assert any(isinstance(f, sc.Artefacts) for s in ward.assignments[ward.profiles[0].patient_id]
               for f in s.faults)  # fmt: skip
    alerts = replay(ward, ward.simulate(ward.times(1.0)), tick_s=2)
    assert alerts == []


def test_the_command_prints_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--patients", "3", "--hours", "0.25", "--tick", "5"]) == 0
    out = capsys.readouterr().out
    assert "sensitivity" in out
    assert "per patient-day" in out
    assert "glucose by cohort (CGM every 300 s: " in out
    assert "target" in out


def test_glucose_can_be_measured_on_a_what_if_cadence_and_nonsense_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["evaluate", "--patients", "2", "--hours", "0.1", "--glucose-every", "300"]
    assert main(args) == 0
    assert "glucose every 300 s for all" in capsys.readouterr().out
    assert main(["evaluate", "--glucose-every", "0"]) == 2
    assert "--glucose-every 0: should be at least 1" in capsys.readouterr().err


def _ward_of(
    scenario: sc.Scenario, start: float, hours: float, diabetes: Diabetes = Diabetes.NON_INSULIN
) -> Ward:
    """One patient (``diabetes``) living through ``scenario`` over ``[start, start + hours)``."""
    profiles = (dataclasses.replace(draw_profiles(1, 11)[0], diabetes=diabetes),)
    patient = profiles[0].patient_id
    return Ward(
        seed=11,
        start=start,
        end=start + hours * 3600,
        profiles=profiles,
        assignments=MappingProxyType({patient: (scenario,)}),
        labels=scenario.labels(patient),
    )


def test_a_lost_link_is_found_within_its_target_and_pages_nobody_else() -> None:
    ward = build_ward(3, seed=4, scenario_mix={"stable": 2, "disconnects": 1}, duration_s=3600)
    outcome = score(ward.labels, replay(ward, ward.simulate(ward.times(1.0)), tick_s=5),
                    patients=3, seconds=3600)  # fmt: skip
    found = outcome.by_label["device_disconnected"]
    assert found.labels >= 1
    assert found.detected == found.labels
    assert found.within_target == found.labels  # 60 s of grace, 5 s ticks: within 2 min
    assert outcome.false_by_alert == {}


def test_a_battery_run_flat_is_a_link_down_until_it_is_replaced() -> None:
    drain = sc.battery_drain(Device.THERMOMETER, T + 600, empty_after_s=1800, replaced_after_s=900)
    ward = _ward_of(drain, T, 1.0)
    assert link_windows(ward) == [LinkDown(0, Device.THERMOMETER, T + 2400, T + 3300)]
    alerts = replay(ward, ward.simulate(ward.times(1.0)), tick_s=5)
    raised = [a for a in alerts if a.condition == "device_disconnected"]
    assert len(raised) == 1
    assert T + 2460 <= raised[0].at <= T + 2470  # the grace, then the next tick
    assert raised[0].resolved_at is not None


def test_glucose_is_measured_before_meals_and_at_bedtime_only() -> None:
    times = np.arange(T, T + 86400, 1.0)  # T is midnight UTC
    hours = sorted((times[sample_mask("glucose", times)] - T) / 3600)
    assert hours == list(GLUCOSE_TIMES_H)


def _hypoglycaemia(
    scenario: sc.Scenario, start: float, diabetes: Diabetes = Diabetes.NON_INSULIN
) -> ConditionScore:
    """Two hours of one patient from ``start``, scored, unmeasured episodes counted."""
    ward = _ward_of(scenario, start, 2.0, diabetes)
    series = ward.simulate(ward.times(1.0))
    outcome = score(ward.labels, replay(ward, series, tick_s=5), patients=1, seconds=7200)
    count_unmeasured(outcome, ward, series)
    return outcome.by_label["hypoglycaemia"]


def test_a_hypoglycaemia_a_check_falls_in_is_found_and_one_between_checks_is_unmeasured() -> None:
    seen = sc.hypoglycaemia(T + 6.75 * 3600, ramp_s=600, hold_s=3000, recovery_s=600, glucose=2.5)
    found = _hypoglycaemia(seen, T + 6.5 * 3600)  # the 07:30 check falls in the episode
    assert (found.detected, found.unmeasured) == (1, 0)
    assert found.found[0][1] is not None
    assert found.found[0][1].condition == "hypoglycaemia"
    unseen = sc.hypoglycaemia(T + 2 * 3600, ramp_s=600, hold_s=1800, recovery_s=600)
    missed = _hypoglycaemia(unseen, T + 1.5 * 3600)  # at night: no check until 07:30
    assert (missed.detected, missed.unmeasured) == (0, 1)


def test_a_cgm_finds_a_night_hypoglycaemia_no_capillary_check_could_see() -> None:
    night = sc.hypoglycaemia(T + 2 * 3600, ramp_s=600, hold_s=1800, recovery_s=600, glucose=2.5)
    found = _hypoglycaemia(night, T + 1.5 * 3600, Diabetes.INSULIN)
    assert (found.detected, found.unmeasured) == (1, 0)
    # readings every 5 min must stay low for 15 min: found after the fall, within the target
    assert 15 * 60 <= found.delays[0] <= found.target_s


def test_patients_without_diabetes_have_no_glucose_measured() -> None:
    ward = _ward_of(sc.stable(T, T + 3600), T, 1.0, Diabetes.NONE)
    alerts = replay(ward, ward.simulate(ward.times(1.0)), tick_s=5)
    assert not [a for a in alerts if a.condition == "hypoglycaemia"]
    assert not sampled(ward, "glucose", ward.times(1.0)).any()
    cgm = dataclasses.replace(ward.profiles[0], diabetes=Diabetes.INSULIN)
    worn = sampled(dataclasses.replace(ward, profiles=(cgm,)), "glucose", ward.times(1.0))
    assert int(worn.sum()) == 12  # every 300 s over an hour


def test_default_ward_finds_its_hypoglycaemia_within_the_cohort() -> None:
    """The default mix on a small ward: every hypoglycaemia is on an insulin-treated patient
    wearing a CGM, and found; no glucose alert elsewhere."""
    ward = build_ward(40, seed=2, duration_s=4 * 3600)
    insulin = {p.patient_id for p in ward.profiles if p.diabetes is Diabetes.INSULIN}
    lows = [lb for lb in ward.labels if lb.condition is Condition.HYPOGLYCAEMIA]
    assert lows
    assert {lb.patient_id for lb in lows} <= insulin
    alerts = replay(ward, ward.simulate(ward.times(1.0)), tick_s=5)
    outcome = score(ward.labels, alerts, patients=40, seconds=4 * 3600)
    entry = outcome.by_label["hypoglycaemia"]
    assert entry.detected == entry.labels
    assert "hypoglycaemia" not in outcome.false_by_alert
