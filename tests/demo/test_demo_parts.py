"""The demo's pure parts: the ward plan and its clock, counting what devices deliver, matching
alerts to labels, the nurse's view rendered from a given snapshot."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from rich.console import Console

from nabd.app.demo.fleet import REFUSED, Tally
from nabd.app.demo.gateways import edge_config
from nabd.app.demo.plan import DEMO_DEVICES, plan_ward, simulated_ward, wall_labels
from nabd.app.demo.rounds import SLACK_S, NurseRounds, plan_rounds
from nabd.app.demo.settings import DemoOptions
from nabd.app.demo.snapshot import AlertRow, GatewayRow, News2Counts, PatientRow, WardSnapshot
from nabd.app.demo.station import DemoStation, station_environment
from nabd.app.demo.summary import Played, render_summary, span, summarise
from nabd.app.demo.supervise import service_environment
from nabd.app.demo.timeline import cadences, onto_wall, sample_times
from nabd.app.demo.view import ack_keys, progress_line, render
from nabd.contract.gatt import (
    HeartRateMeasurement,
    SensorContact,
    encode,
    encode_observation,
    segment,
)
from nabd.contract.payloads import AlertPriority
from nabd.edge.config import load_config
from nabd.simulators.ble.messages import respiration
from nabd.simulators.ble.schedule import Emission
from nabd.simulators.labels import Condition, Label

START = 1_800_000_000.0


def _options(**changes: object) -> DemoOptions:
    values: dict[str, object] = {"patients": 3, "duration_s": 60.0, "seed": 1}
    values.update(changes)
    return DemoOptions.model_validate(values)


# ---- plan and time ----------------------------------------------------------------------------


def test_plan_gives_each_run_fresh_pseudonyms_over_the_same_simulated_patients() -> None:
    options = _options(patients=6, per_gateway=4)
    first, second = plan_ward(options, "run-a", START), plan_ward(options, "run-b", START)
    assert [b.sim_patient_id for b in first.beds] == [b.sim_patient_id for b in second.beds]
    assert not {b.patient_id for b in first.beds} & {b.patient_id for b in second.beds}
    assert not set(first.device_ids()) & set(second.device_ids())
    assert first.gateways == ("demo-gw1", "demo-gw2")
    assert [len(first.beds_of(g)) for g in first.gateways] == [4, 2]
    assert all(len(b.devices) == len(DEMO_DEVICES) for b in first.beds)


def test_the_ward_is_played_onto_the_wall_clock_at_the_speed_asked() -> None:
    plan = plan_ward(_options(speed=60.0), "run", START)
    assert plan.to_wall(plan.sim_start + 3600) == pytest.approx(plan.wall_start + 60)
    times = sample_times(plan)
    assert times.size == 60
    assert np.allclose(np.diff(times), 60.0)
    ward = simulated_ward(plan)
    series = onto_wall(ward.simulate(times), plan)
    assert np.allclose(np.diff(series.times), 1.0)
    assert series.times[0] == plan.wall_start
    beats = series.beats[0]
    assert beats.beat_times[-1] <= plan.wall_start + 60  # an hour of beats in a minute
    assert np.nanmedian(beats.rr) > 0.4  # ... but each RR interval is still a real one


def test_labels_move_to_the_wall_clock_and_the_runs_pseudonyms() -> None:
    plan = plan_ward(_options(scenarios=("opioid_respiratory_depression",)), "run", START)
    ward = simulated_ward(plan)
    labels = wall_labels(plan, ward.labels)
    assert {label.patient_id for label in labels} == {b.patient_id for b in plan.beds}
    first_scenario = plan.wall_start + plan.lead_in_s
    assert all(first_scenario <= lab.onset < lab.offset <= plan.wall_end + 1e-6 for lab in labels)


def test_cadences_keep_usual_rates_but_respect_wall_clock_floors() -> None:
    assert cadences(1.0).cuff_s == 900.0
    assert cadences(1.0).thermometer_s == 60.0
    fast = cadences(60.0)
    assert (fast.stream_s, fast.thermometer_s, fast.cuff_s) == (1.0, 10.0, 60.0)
    assert (cadences(1.0).respiration_s, fast.respiration_s) == (30.0, 5.0)


def test_nurse_rounds_count_each_beds_simulated_respiration_every_few_hours() -> None:
    # Issue 20 item 2: 12 simulated hours at x60 with 4-hour rounds: 3 rounds, 4 wall min apart.
    plan = plan_ward(_options(patients=3, duration_s=720.0, speed=60.0), "run", START)
    ward = simulated_ward(plan)
    rounds = plan_rounds(plan, ward, 4.0)
    assert [r.wall_at - plan.wall_start for r in rounds] == [15.0, 255.0, 495.0]
    series = ward.simulate(sample_times(plan))  # what the devices play; sample 15 is +15 wall s
    assert series.times[15] == plan.sim_start + 15.0 * 60
    for patient, entries in rounds[0].entries.items():
        bed = next(b for b in plan.beds if b.patient_id == patient)
        true_rate = float(series.values["respiration_rate"][series.row(bed.sim_patient_id), 15])
        assert entries["respiration_rate"] == str(round(true_rate))
        assert (entries["consciousness"], entries["supplemental_oxygen"]) == ("A", "air")
    assert {p for r in rounds for p in r.entries} == {b.patient_id for b in plan.beds}
    assert plan_rounds(plan, ward, 0.0) == ()
    played = NurseRounds.of(plan, ward, 4.0)
    assert played.valid_for_s == 240.0 + SLACK_S  # until just after the next round
    assert played.step("unused: nothing is due", plan.wall_start) == ""


def test_options_refuse_what_the_demo_cannot_play() -> None:
    with pytest.raises(ValidationError, match="clock_drift"):
        _options(scenarios=("clock_drift",))
    with pytest.raises(ValidationError, match="unknown scenario"):
        _options(scenarios=("flu",))
    with pytest.raises(ValidationError, match="lead-in"):
        _options(duration_s=10.0)


def test_gateway_configuration_is_a_valid_edge_file(tmp_path: Path) -> None:
    plan = plan_ward(_options(), "run", START)
    path = edge_config(plan, "demo-gw1", tmp_path, 41234)
    config = load_config(path)
    assert config.ble.transport == "tcp-client:127.0.0.1:41234"
    assert len(config.devices) == 3 * len(DEMO_DEVICES)


# ---- counting what devices deliver --------------------------------------------------------------


def _heart_rate(bpm: int, rr: tuple[float, ...] = ()) -> Emission:
    value = HeartRateMeasurement(
        heart_rate=bpm,
        uint16_format=bpm > 0xFF,
        sensor_contact=SensorContact.DETECTED,
        rr_intervals=rr,
    )
    return Emission(START, 0x2A37, encode(value), indicate=False)


def test_tally_counts_readings_as_the_gateway_makes_them() -> None:
    tally = Tally()
    tally.add("hrs-1", _heart_rate(72, (0.8, 0.82)))
    tally.add("hrs-1", _heart_rate(400))  # an artefact beyond the possible range
    tally.add("hrs-1", Emission(START, 0x2A37, b"\x10", indicate=False))  # truncated
    assert tally.as_json() == {"hrs-1": {"heart_rate": 1, "rr_interval": 2, REFUSED: 1}}


def test_tally_joins_a_ghs_sensors_segments_as_the_gateway_does() -> None:
    observation = respiration(14.0, False, START)
    assert observation is not None
    parts = segment(encode_observation(observation), 20)
    assert len(parts) == 2
    tally = Tally()
    tally.add("ghs-1", Emission(START, 0x2B8B, parts[0], indicate=False))
    assert tally.as_json() == {"ghs-1": {REFUSED: 0}}  # half an observation: no reading yet
    tally.add("ghs-1", Emission(START, 0x2B8B, parts[1], indicate=False))
    tally.add("ghs-1", Emission(START, 0x2B8B, parts[1], indicate=False))  # out of sequence
    assert tally.as_json() == {"ghs-1": {"respiration_rate": 1, REFUSED: 0}}


# ---- summary ------------------------------------------------------------------------------------


def _label(patient: str, condition: Condition, onset: float, offset: float) -> Label:
    priority = None if condition is Condition.STABLE else AlertPriority.HIGH
    return Label(
        patient_id=patient,
        scenario=condition.value,
        condition=condition,
        priority=priority,
        onset=onset,
        offset=offset,
    )


def _alert(patient: str, condition: str, at: float, state: str = "raised") -> AlertRow:
    return AlertRow(f"id-{patient}-{condition}", patient, condition, "high", state, at)


def test_summary_matches_alerts_to_labels_and_ignores_alerts_after_the_stop() -> None:
    labels = [
        _label("p-a", Condition.RESPIRATORY_DEPRESSION, START + 10, START + 50),
        _label("p-b", Condition.BRADYCARDIA, START + 10, START + 50),
        _label("p-c", Condition.STABLE, START, START + 60),
    ]
    alerts = [
        _alert("p-a", "spo2_low", START + 30),
        _alert("p-c", "heart_rate_deviation", START + 20),  # nothing explains it
        _alert("p-b", "stale_data", START + 70),  # after the devices stopped
    ]
    summary = summarise(
        generated=100,
        ingested=100,
        labels=labels,
        alerts=alerts,
        played=Played(wall_start=START, planned_s=61, speed=60, until=START + 61),
        export_dir=Path("dash"),
        exported_files=12,
    )
    assert summary.lossless
    lines = {line.condition: (line.expected, line.raised, line.missed) for line in summary.lines}
    assert lines == {"bradycardia": (1, 0, 1), "respiratory_depression": (1, 1, 0)}
    assert summary.false_alerts == {"heart_rate_deviation": 1}
    assert summary.alerts_raised == 2
    assert summary.by_patient == {"p-a": ["spo2_low"], "p-c": ["heart_rate_deviation"]}
    text = render_summary(summary)
    assert "generated 100, ingested 100 (equal)" in text
    assert "nabd dashboards deploy" in text
    assert "12 files in dash" in text


def test_summary_counts_only_labels_whose_onset_was_played() -> None:
    """Stopped early (Ctrl-C at 110 s of a 720 s plan at x60): the later scenarios were never
    played, so they are neither expected nor missed, and the summary says how much was played."""
    labels = [
        _label("p-a", Condition.BRADYCARDIA, START + 10, START + 50),
        _label("p-b", Condition.BRADYCARDIA, START + 400, START + 500),  # never reached
        _label("p-c", Condition.RESPIRATORY_DEPRESSION, START + 109, START + 300),  # onset played
    ]
    alerts = [_alert("p-a", "heart_rate_low", START + 20)]
    played = Played(wall_start=START, planned_s=720, speed=60, until=START + 110)
    summary = summarise(
        generated=5, ingested=5, labels=labels, alerts=alerts, played=played, export_dir=None
    )
    lines = {line.condition: (line.expected, line.raised, line.missed) for line in summary.lines}
    assert lines == {"bradycardia": (1, 1, 0), "respiratory_depression": (1, 0, 1)}
    assert summary.not_reached == 1
    text = render_summary(summary)
    assert "played 1 h 50 min of 12 h planned (15 %)" in text
    assert "not reached before the stop (not counted): 1" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.4, "59 s"), (60, "1 min"), (3600, "1 h"), (6600, "1 h 50 min"),
     (43_200, "12 h"), (5999, "1 h 40 min")],
)  # fmt: skip
def test_span_says_durations_as_people_do(seconds: float, text: str) -> None:
    assert span(seconds) == text


def test_played_is_bounded_by_the_plan() -> None:
    before = Played(wall_start=START, planned_s=100, speed=60, until=START - 5)
    after = Played(wall_start=START, planned_s=100, speed=60, until=START + 500)
    assert (before.played_s, before.fraction) == (0.0, 0.0)
    assert (after.played_s, after.fraction) == (100.0, 1.0)
    assert after.describe() == "played 1 h 40 min of 1 h 40 min planned (100 %)"


def test_summary_says_loudly_when_readings_differ() -> None:
    summary = summarise(
        generated=10,
        ingested=9,
        labels=[],
        alerts=[],
        played=Played(wall_start=START, planned_s=60, speed=60, until=START),
        export_dir=None,
    )
    assert not summary.lossless
    assert "DIFFERENT" in render_summary(summary)


def test_summary_counts_a_technical_alert_from_ingest_without_failing() -> None:
    """The watchdog's ``monitoring_interrupted`` (no analytics rule) used to end the demo with
    KeyError on a second run on the same stack."""
    summary = summarise(
        generated=10,
        ingested=10,
        labels=[],
        alerts=[_alert("p-a", "monitoring_interrupted", START + 3)],
        played=Played(wall_start=START, planned_s=60, speed=60, until=START + 60),
        export_dir=None,
    )
    assert summary.false_alerts == {"monitoring_interrupted": 1}


def test_summary_counts_complete_news2_scores() -> None:
    summary = summarise(
        generated=10,
        ingested=10,
        labels=[],
        alerts=[],
        played=Played(wall_start=START, planned_s=60, speed=60, until=START),
        export_dir=None,
        news2=News2Counts(scores=40, complete=12, with_respiration_rate=30),
    )
    assert (
        "NEWS2     40 scores, 12 complete (all seven parameters), 30 with a respiratory rate"
        in render_summary(summary).splitlines()
    )


# ---- the ward view -------------------------------------------------------------------------------


def _snapshot() -> WardSnapshot:
    raised = AlertRow(
        "a1", "p-111111111111", "spo2_low", "high", "raised", START,
        text="SpO2 low: 86 % for 90 s (limit 90 %)",
    )  # fmt: skip
    acked = AlertRow("a2", "p-111111111111", "news2", "medium", "acknowledged", START, None, "ana")
    patients = (
        PatientRow(
            bed=1,
            patient_id="p-111111111111",
            scenario="opioid_respiratory_depression",
            gateway_id="demo-gw1",
            vitals={
                "heart_rate": 64.0,
                "spo2": 86.0,
                "body_temperature": 36.84,
                "systolic_bp": 108.0,
                "diastolic_bp": 70.0,
            },
            news2_total=4,
            news2_risk="low-medium",
            alerts=(raised, acked),
        ),
        PatientRow(bed=2, patient_id="p-222222222222", scenario="stable", gateway_id="demo-gw1"),
    )
    return WardSnapshot(
        ward_id="demo",
        elapsed_s=30,
        play_s=60,
        speed=60,
        patients=patients,
        gateways=(GatewayRow("demo-gw1", True, True, 7, 8, 3),),
        generated=120,
        ingested=118,
        alerts_raised=2,
        keys=ack_keys(patients),
        message="bed 1: news2 acknowledged by ana",
    )


def test_view_renders_patients_alerts_with_their_keys_and_gateways() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(render(_snapshot()))
    text = buffer.getvalue()
    assert "p-111111111111" in text
    assert "p-222222222222" in text
    assert "86" in text
    assert "36.8" in text
    assert "108/70" in text
    assert "4+" in text  # NEWS2 without respiration rate: a lower bound
    assert "[a] SpO2 low: 86 % for 90 s (limit 90 %) high" in text  # what it says, not its key
    assert "news2 medium ack ana" in text  # acknowledged: no key; no sentence: the condition
    assert "7/8 connected" in text
    assert "3 pending" in text
    assert "generated 120, ingested 118" in text
    assert "bed 1: news2 acknowledged by ana" in text


def test_view_keeps_the_station_line_in_its_footer() -> None:
    line = "nurse station https://localhost:9443/ (sign in as demo-abc123, password pw)"
    buffer = io.StringIO()
    snapshot = dataclasses.replace(_snapshot(), station=line)
    Console(file=buffer, width=200, color_system=None).print(render(snapshot))
    assert line in buffer.getvalue()
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(render(_snapshot()))
    assert "nurse station" not in buffer.getvalue()


def test_headless_progress_is_one_line() -> None:
    line = progress_line(_snapshot())
    assert "\n" not in line
    assert "generated 120, ingested 118, alerts raised 2 (2 open), gateways 1/1" in line


# ---- least privilege per process ---------------------------------------------------------------


def test_each_process_gets_only_its_own_credentials() -> None:
    stack = {
        "NABD_DATABASE_URL": "postgresql://nabd:owner@h/nabd",
        "NABD_MQTT_HOST": "127.0.0.1",
        "NABD_MQTT_PORT": "8883",
        "NABD_MQTT_CA_FILE": "/ca.crt",
        "NABD_INGEST_DATABASE_URL": "postgresql://ingest:x@h/nabd",
        "NABD_INGEST_MQTT_PASSWORD": "i",
        "NABD_ANALYTICS_DATABASE_URL": "postgresql://analytics:y@h/nabd",
        "NABD_ANALYTICS_MQTT_PASSWORD": "a",
    }
    ingest = service_environment(stack, "ingest")
    assert ingest == {
        "NABD_MQTT_HOST": "127.0.0.1",
        "NABD_MQTT_PORT": "8883",
        "NABD_MQTT_CA_FILE": "/ca.crt",
        "NABD_INGEST_DATABASE_URL": "postgresql://ingest:x@h/nabd",
        "NABD_INGEST_MQTT_PASSWORD": "i",
    }
    assert "NABD_DATABASE_URL" not in service_environment(stack, "analytics")


def test_the_station_gets_only_its_own_login_and_certificate() -> None:
    stack = {
        "NABD_DATABASE_URL": "postgresql://nabd:owner@h/nabd",
        "NABD_STATION_DATABASE_URL": "postgresql://station:s@h/nabd",
        "NABD_CLINICAL_DATABASE_URL": "postgresql://clinical:c@h/nabd",
        "NABD_WEB_TLS_CERT_FILE": "/web.crt",
        "NABD_WEB_TLS_KEY_FILE": "/web.key",
        "NABD_MQTT_HOST": "127.0.0.1",
    }
    assert station_environment(stack, 9443) == {
        "NABD_STATION_DATABASE_URL": "postgresql://station:s@h/nabd",
        "NABD_WEB_TLS_CERT_FILE": "/web.crt",
        "NABD_WEB_TLS_KEY_FILE": "/web.key",
        "NABD_WEB_HOST": "127.0.0.1",
        "NABD_WEB_PORT": "9443",
    }


def test_the_demo_login_is_printed_whole_and_marked_temporary() -> None:
    line = DemoStation("https://localhost:9443/", "demo-abc123", "pw-123456789").line()
    assert line.startswith("demo: nurse station https://localhost:9443/")
    assert "demo-abc123" in line
    assert "pw-123456789" in line
    assert "this run only" in line
