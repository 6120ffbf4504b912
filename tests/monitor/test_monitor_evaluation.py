"""``nabd evaluate``: the matching of alerts to ground-truth labels on hand-made cases with known
answers, and a small simulated ward run end to end through the engine."""

from __future__ import annotations

import pytest

from nabd.analytics.alerts import AlertEventKind
from nabd.app.cli import main
from nabd.app.evaluation import RaisedAlert, replay, score
from nabd.contract.payloads import AlertPriority
from nabd.simulators import scenarios as sc
from nabd.simulators.labels import Condition, Label
from nabd.simulators.ward import build_ward

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
