"""The engine on synthetic signals with known answers: staleness makes NEWS2 incomplete, nurses'
entries count only while valid, a single motion spike does not page while a sustained change
pages exactly when its persistence says, flagged artefacts never reach the detectors, probe-off
is a technical alarm not a desaturation, and scoring many patients together equals scoring each
alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from nabd.analytics.alerts import HIGH, MEDIUM
from nabd.analytics.arrays import NEVER
from nabd.analytics.news2 import MISSING, NO_RISK
from nabd.analytics.service.conditions import CONDITIONS, column
from nabd.analytics.service.engine import Engine, facts, message
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import Samples
from nabd.contract.alert_text import render
from nabd.contract.payloads import Alert, parse, to_json

S = 1_000_000_000
T0 = 1_750_000_000 * S


def registry(
    patients: int,
    *,
    scale2: Sequence[bool] | None = None,
    entries: Sequence[tuple[int, str, str, int]] = (),
    observed: Sequence[int] = (),
    gateway_online: bool = True,
    gateway_seen: int = NEVER,
) -> Registry:
    """``patients`` admitted an hour before T0 on ward w1, each with a device on gateway g1."""
    return Registry(
        patient=np.array([f"p{i}" for i in range(patients)]),
        ward=np.array(["w1"] * patients),
        scale2=np.array(scale2 or [False] * patients),
        admitted_at=np.full(patients, T0 - 3600 * S),
        gateway=np.array(["g1"] * patients),
        battery=np.full(patients, 90.0),
        gateway_id=np.array(["g1"]),
        gateway_online=np.array([gateway_online]),
        gateway_last_seen=np.array([gateway_seen]),
        entry_patient=np.array([f"p{e[0]}" for e in entries], dtype=np.str_),
        entry_parameter=np.array([e[1] for e in entries], dtype=np.str_),
        entry_value=np.array([e[2] for e in entries], dtype=np.str_),
        entry_valid_until=np.array([e[3] for e in entries], dtype=np.int64),
        entry_observed_at=np.array(observed, dtype=np.int64),
    )


def engine(patients: int = 1, **kwargs: object) -> Engine:
    made = Engine()
    made.apply(registry(patients, **kwargs))  # type: ignore[arg-type]
    return made


def feed(
    e: Engine,
    second: float,
    metric: str,
    values: Sequence[float],
    *,
    contact_lost: bool = False,
    doubtful: bool = False,
) -> None:
    n = len(values)
    e.ingest(
        Samples.of(
            np.arange(n),
            [metric] * n,
            np.full(n, T0 + int(second * S)),
            values,
            contact_lost=np.full(n, contact_lost),
            doubtful=np.full(n, doubtful),
        )
    )


def heart_rate(second: int) -> float:
    """A living heart rate: varies, so no flatline."""
    return 72.0 + (second % 5)


def run_heart_rate(
    e: Engine, seconds: int, value_at: object, **flags: bool
) -> list[tuple[int, str, str]]:
    """One heart-rate sample per second; return (second, event, condition) of every event."""
    events = []
    for second in range(seconds):
        value = value_at(second)  # type: ignore[operator]
        feed(
            e, second, "heart_rate", [value], doubtful=flags.get("doubtful", False) and value > 100
        )
        found = e.detect(T0 + second * S)
        events += [(second, t.kind.value, t.condition) for t in e.alerts(found)]
    return events


def test_a_stale_parameter_makes_news2_incomplete_never_normal() -> None:
    e = engine()
    feed(e, 0, "heart_rate", [150.0])  # scores 3
    found = e.detect(T0 + 9 * S)  # heart rate is stale after 10 s
    assert int(found.news2.heart_rate[0]) == 3
    found = e.detect(T0 + 11 * S)
    assert int(found.news2.heart_rate[0]) == MISSING
    assert not bool(found.news2.complete[0])
    # The only parameter went stale: nothing is present, so there is no score (issue 20).
    assert (int(found.news2.total[0]), str(found.news2.risk[0])) == (MISSING, NO_RISK)
    assert not bool(found.news2.scored[0])
    assert "incomplete" in message(found, 0, "news2")
    assert "0" not in message(found, 0, "news2").split("(")[0]  # no number, never "NEWS2 0"


def test_a_stale_parameter_beside_a_fresh_one_leaves_an_incomplete_score() -> None:
    e = engine()
    feed(e, 0, "heart_rate", [150.0])  # scores 3, stale after 10 s
    feed(e, 10, "spo2", [97.0])  # scores 0, fresh at 11 s
    found = e.detect(T0 + 11 * S)
    assert (int(found.news2.total[0]), bool(found.news2.complete[0])) == (0, False)
    assert int(found.news2.heart_rate[0]) == MISSING
    text = message(found, 0, "news2")
    # A score from stale values says so: measured, now too old (not "never measured").
    assert "heart rate (stale)" in text, text
    assert "respiratory rate," in text or text.endswith("respiratory rate)"), text
    assert "respiratory rate (stale)" not in text  # never measured: plain missing


def test_a_counted_respiratory_rate_scores_while_valid_and_freshest() -> None:
    # Issue 20 item 2: a nurse's counted rate (observed at 5 s, valid until 100 s).
    counted = [(0, "respiration_rate", "26", T0 + 100 * S)]
    e = engine(entries=counted, observed=[T0 + 5 * S])
    found = e.detect(T0 + 10 * S)
    assert int(found.news2.respiration_rate[0]) == 3  # 26/min: no device, the nurse's count
    feed(e, 20, "respiration_rate", [16.0])  # a device measures later: the fresher value wins
    found = e.detect(T0 + 21 * S)
    assert int(found.news2.respiration_rate[0]) == 0
    e.apply(registry(1, entries=counted, observed=[T0 + 30 * S]))  # counted again, after it
    found = e.detect(T0 + 31 * S)
    assert int(found.news2.respiration_rate[0]) == 3
    found = e.detect(T0 + 100 * S)  # expired, and the device's value is stale (3 min) or older
    assert int(found.news2.respiration_rate[0]) == 0  # the device's 16 again, still fresh
    found = e.detect(T0 + 400 * S)
    assert int(found.news2.respiration_rate[0]) == MISSING  # neither: missing, never normal


def test_a_nurses_spot_values_score_while_valid_and_freshest() -> None:
    # Issue 20 item 2: spot SpO2, pulse, systolic pressure and temperature measured by a nurse
    # (observed at 5 s, valid until 100 s) on a bed without those devices, then a device's.
    until = T0 + 100 * S
    spot = [
        (0, "spo2", "93", until),  # Scale 1: 92-93 scores 2
        (0, "pulse_rate", "135", until),  # 131+ scores 3
        (0, "systolic_bp", "95", until),  # 91-100 scores 2
        (0, "diastolic_bp", "60", until),  # not a NEWS2 parameter: read, never scored
        (0, "body_temperature", "39.2", until),  # 39.1+ scores 2
    ]
    e = engine(entries=spot, observed=[T0 + 5 * S] * len(spot))
    news = e.detect(T0 + 10 * S).news2
    nurse = (2, 3, 2, 2)
    assert (int(news.spo2[0]), int(news.heart_rate[0]), int(news.systolic_bp[0]),
            int(news.temperature[0])) == nurse  # fmt: skip
    # A device measures later: each of its fresher values wins over the nurse's.
    feed(e, 20, "spo2", [97.0])
    feed(e, 20, "heart_rate", [70.0])  # the strap: pulse for NEWS2
    news = e.detect(T0 + 21 * S).news2
    assert (int(news.spo2[0]), int(news.heart_rate[0])) == (0, 0)
    assert (int(news.systolic_bp[0]), int(news.temperature[0])) == (2, 2)  # still the nurse's
    # Stale device values (heart rate after 10 s): the nurse's, still valid, count again.
    news = e.detect(T0 + 50 * S).news2
    assert int(news.heart_rate[0]) == 3
    # Expired: missing, never normal.
    news = e.detect(T0 + 400 * S).news2
    assert (int(news.heart_rate[0]), int(news.systolic_bp[0]), int(news.temperature[0])) == (
        MISSING,
        MISSING,
        MISSING,
    )


def test_a_nurses_older_spot_value_does_not_hide_a_fresher_device_value() -> None:
    # The nurse's SpO2 was measured before the device's: the device's is the freshest.
    e = engine(entries=[(0, "spo2", "85", T0 + 600 * S)], observed=[T0 + 1 * S])
    feed(e, 2, "spo2", [96.0])
    assert int(e.detect(T0 + 3 * S).news2.spo2[0]) == 0
    # The pulse too: a pulse oximeter's pulse rate newer than the nurse's counted pulse wins.
    e = engine(entries=[(0, "pulse_rate", "140", T0 + 600 * S)], observed=[T0 + 1 * S])
    feed(e, 2, "pulse_rate", [72.0])
    assert int(e.detect(T0 + 3 * S).news2.heart_rate[0]) == 0


def test_nurse_entries_count_only_while_valid() -> None:
    until = T0 + 60 * S
    e = engine(
        entries=[(0, "consciousness", "V", until), (0, "supplemental_oxygen", "oxygen", until)]
    )
    found = e.detect(T0 + 59 * S)
    assert (int(found.news2.consciousness[0]), int(found.news2.air_or_oxygen[0])) == (3, 2)
    found = e.detect(T0 + 60 * S)
    assert (int(found.news2.consciousness[0]), int(found.news2.air_or_oxygen[0])) == (
        MISSING,
        MISSING,
    )


def test_each_patient_is_scored_on_their_own_scale() -> None:
    e = engine(2, scale2=[False, True], entries=[(1, "supplemental_oxygen", "air", T0 + 600 * S)])
    feed(e, 0, "spo2", [89.0, 89.0])
    found = e.detect(T0 + S)
    assert found.news2.spo2.tolist() == [3, 0]  # Scale 2's target is 88-92 %
    assert found.news2.scale2.tolist() == [False, True]


def test_a_single_motion_spike_does_not_page() -> None:
    events = run_heart_rate(engine(), 180, lambda s: 190.0 if s == 60 else heart_rate(s))
    assert events == []


def test_a_sustained_change_pages_when_its_persistence_says() -> None:
    events = run_heart_rate(engine(), 120, lambda s: 150.0 if s >= 30 else heart_rate(s))
    # heart_rate_high: 10 s of persistence; NEWS2 (heart rate scores 3): 30 s.
    assert events == [(40, "raised", "heart_rate_high"), (60, "raised", "news2")]


def test_flagged_artefacts_never_reach_the_detectors() -> None:
    events = run_heart_rate(
        engine(), 120, lambda s: 150.0 if s >= 30 else heart_rate(s), doubtful=True
    )
    assert [e for e in events if e[2] != "stale_data"] == []


def test_a_probe_off_is_a_technical_alarm_not_a_desaturation() -> None:
    e = engine()
    events = []
    for second in range(60):
        probe_off = second >= 10
        feed(e, second, "spo2", [0.0 if probe_off else 97.0], contact_lost=probe_off)
        feed(e, second, "heart_rate", [heart_rate(second)])
        events += [(second, t.kind.value, t.condition) for t in e.alerts(e.detect(T0 + second * S))]
    assert events == [(25, "raised", "sensor_off")]  # 15 s of persistence
    assert CONDITIONS[column("sensor_off")].kind.value == "technical"


def test_a_gateway_is_offline_only_when_it_says_so_or_falls_silent() -> None:
    never = engine(gateway_seen=NEVER)
    assert not never.detect(T0).active[0, column("gateway_offline")]
    said = engine(gateway_online=False, gateway_seen=T0)
    assert said.detect(T0).active[0, column("gateway_offline")]
    silent = engine(gateway_seen=T0 - 121 * S)
    assert silent.detect(T0).active[0, column("gateway_offline")]


def test_a_silence_says_since_when_so_its_end_can_say_after_how_long() -> None:
    """Stale data counts from the newest reading of the metric silent longest, a gateway's
    silence from when it was last heard: the alert says for how long, and the store adds the
    rest once the condition clears (data resumed after ...). A gateway that said ``offline``
    but was never heard from has no known start: no duration rather than a made-up one."""
    e = engine(gateway_seen=T0 - 200 * S)
    feed(e, -100, "spo2", [97.0])
    feed(e, -50, "heart_rate", [70.0])
    found = e.detect(T0)
    assert facts(found, 0, "stale_data").duration_s == 100.0
    assert message(found, 0, "stale_data") == "Monitoring interrupted for 100 s: heart rate, SpO2"
    assert facts(found, 0, "gateway_offline").duration_s == 200.0
    assert message(found, 0, "gateway_offline") == "Bedside gateway offline for 3 min"
    said = engine(gateway_online=False, gateway_seen=NEVER).detect(T0)
    assert said.active[0, column("gateway_offline")]
    assert facts(said, 0, "gateway_offline").duration_s is None


def test_many_patients_together_equal_each_alone() -> None:
    rng = np.random.default_rng(3)
    patients, seconds = 4, 150
    hr = 70 + rng.normal(0, 3, (seconds, patients)).cumsum(axis=0)
    hr[40:80, 1] = 160.0
    hr[:, 2] = np.where(np.arange(seconds) % 17 == 0, 200.0, hr[:, 2])
    spo2 = np.clip(97 + rng.normal(0, 1, (seconds, patients)), 70, 100).round()
    spo2[50:110, 3] = 84.0
    together = engine(patients)
    alone = [engine(1) for _ in range(patients)]
    for second in range(seconds):
        now = T0 + second * S
        feed(together, second, "heart_rate", hr[second].tolist())
        feed(together, second, "spo2", spo2[second].tolist())
        all_found = together.detect(now)
        all_events = together.alerts(all_found)
        for p, single in enumerate(alone):
            feed(single, second, "heart_rate", [hr[second, p]])
            feed(single, second, "spo2", [spo2[second, p]])
            found = single.detect(now)
            assert np.array_equal(found.active[0], all_found.active[p])
            assert int(found.news2.total[0]) == int(all_found.news2.total[p])
            mine = [(t.kind, t.condition) for t in all_events if t.row == p]
            assert mine == [(t.kind, t.condition) for t in single.alerts(found)]
    assert together.book.open_count > 0  # the scenario did raise alerts


@pytest.mark.parametrize("condition", [c.name for c in CONDITIONS])
def test_every_message_fits_the_contract(condition: str) -> None:
    e = engine()
    found = e.detect(T0)
    text = message(found, 0, condition)
    alert = Alert.model_validate(
        {
            "schema": "nabd.alert/1",
            "alert_id": "9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f",
            "patient_id": "p0",
            "ward_id": "w1",
            "kind": condition,
            "priority": "high",
            "state": "raised",
            "raised_at": "2025-03-01T09:41:17Z",
            "message": text,
            "metric": CONDITIONS[column(condition)].metric,
        },
        strict=False,
    )
    assert parse(Alert, to_json(alert)) == alert
    assert "p0" not in text  # nothing identifying, not even the pseudonym


def test_a_device_link_down_past_its_grace_names_the_device() -> None:
    e = engine(2)
    links = dict(
        link_patient=np.array(["p1", "p1"]),
        link_device=np.array(["thermo-7", "cuff-2"]),
        link_down_since=np.array([T0 - 90 * S, T0 - 30 * S], dtype=np.int64),
    )
    base = registry(2)
    e.apply(Registry(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **links}))
    found = e.detect(T0)
    col = column("device_disconnected")
    assert found.active[:, col].tolist() == [False, True]
    assert found.priority[1, col] == MEDIUM
    assert message(found, 1, "device_disconnected") == "Device disconnected for 90 s: thermo-7"
    later = e.detect(T0 + 40 * S)  # the cuff's link is down for 70 s now
    assert message(later, 1, "device_disconnected") == (
        "Device disconnected for 2 min: cuff-2, thermo-7"
    )
    e.apply(registry(2))  # the links are back
    assert not e.detect(T0 + 41 * S).active[:, col].any()


def test_a_low_glucose_reading_pages_by_level_while_current() -> None:
    e = engine(3)
    feed(e, 0, "glucose", [5.4, 3.6, 2.7])
    found = e.detect(T0 + 5 * S)
    col = column("hypoglycaemia")
    assert found.active[:, col].tolist() == [False, True, True]
    assert found.priority[1:, col].tolist() == [MEDIUM, HIGH]
    assert message(found, 2, "hypoglycaemia") == "Glucose low: 2.7 mmol/L (limit 3.0 mmol/L)"
    assert message(found, 1, "hypoglycaemia") == "Glucose low: 3.6 mmol/L (limit 3.9 mmol/L)"
    assert not e.detect(T0 + 3601 * S).active[:, col].any()  # an hour old: no longer current


def test_a_cgm_pages_after_15_minutes_below_a_level_not_on_one_low_reading() -> None:
    e = engine(2)
    col = column("hypoglycaemia")
    feed(e, 0, "glucose", [6.0, 6.0])
    for minute, low in ((5, 3.4), (10, 3.5), (15, 3.6)):  # patient 1: one dip, then back
        feed(e, minute * 60, "glucose", [low, 6.0 if minute > 5 else 3.3])
        assert not e.detect(T0 + minute * 60 * S).active[:, col].any(), minute
    feed(e, 20 * 60, "glucose", [3.7, 6.1])  # patient 0: 15 min below 3.9
    assert e.detect(T0 + 20 * 60 * S).active[:, col].tolist() == [True, False]


@pytest.mark.parametrize("condition", [c.name for c in CONDITIONS])
def test_every_condition_has_facts_that_render_in_every_language(condition: str) -> None:
    said = facts(engine().detect(T0), 0, condition)
    assert said.condition == condition
    assert all(render(said, lang) for lang in ("fr", "en", "ar"))


def test_a_limit_alert_carries_its_value_limit_and_duration() -> None:
    e = engine()
    for second in range(40):
        feed(e, second, "spo2", [86.0])
        feed(e, second, "heart_rate", [heart_rate(second)])
        found = e.detect(T0 + second * S)
    said = facts(found, 0, "spo2_low")
    assert (said.value, said.unit, said.limit, said.duration_s) == (86.0, "%", 91.0, 39.0)
    assert render(said, "en") == "SpO2 low: 86 % for 39 s (limit 91 %)"
