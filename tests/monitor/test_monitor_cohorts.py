"""Cohorts: the window and per-minute detectors judge each patient once per period, whatever
the tick rate; with ticks slower than a cohort's turn they change nothing at all; and a cohort
judged at an instant gets the verdicts everyone judged at that instant would."""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.baseline import BaselineState
from nabd.analytics.service.cohorts import Cadence, cohort_step
from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.engine import Engine
from nabd.analytics.service.errors import MonitorInputError
from nabd.analytics.service.service import MonitorService
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import MonitorDb, settings
from tests.monitor.test_monitor_engine import T0, S, feed, registry


@pytest.mark.parametrize(("cohorts", "tick_s"), [(1, 1.0), (4, 1.0), (4, 0.25), (5, 0.1), (3, 7.0)])
def test_each_patient_is_judged_once_per_period(cohorts: int, tick_s: float) -> None:
    every_s, patients = 2.0, 11
    cadence = Cadence(every_s, cohorts)
    judged: list[list[int]] = [[] for _ in range(patients)]
    ticks = int(60 / tick_s)
    for tick in range(ticks):
        now = T0 + round(tick * tick_s * S)
        run, rows = cadence.due(now, patients)
        if run:
            for row in range(patients) if rows is None else rows.tolist():
                judged[row].append(now)
    for times in judged:
        gaps = np.diff(times) / S
        # The first run judges everyone (start-up); from then on, never judged twice within a
        # period, never left longer than a period (or a tick, when ticks are slower).
        assert times[0] == T0
        assert gaps[1:].min() >= min(every_s, tick_s * cohorts) - 0.011 or tick_s >= every_s
        assert gaps.max() <= max(every_s, tick_s) + 0.011


def test_cohort_step_touches_only_the_cohort() -> None:
    state = BaselineState.initial(6)
    rows = np.array([1, 4])
    fire = np.ones(6, dtype=np.bool_)

    def step(part: BaselineState) -> BaselineState:
        size = part.high.active.shape[0]
        up, none = fire[:size], ~fire[:size]
        return BaselineState(high=part.high.step(T0, up, none, 0, 0), low=part.low)

    stepped = cohort_step(state, rows, step)
    assert stepped.high.active.tolist() == [False, True, False, False, True, False]
    assert stepped.high.fired.tolist() == stepped.high.active.tolist()
    assert not stepped.low.active.any()
    assert cohort_step(state, None, step).high.active.all()


def _ward(config: EngineConfig, seconds: int) -> list[tuple[int, int, str, str]]:
    """Six patients, one of them desaturating, one in AF, one with a frozen heart rate."""
    rng = np.random.default_rng(4)
    e = Engine(config)
    e.apply(registry(6))
    events = []
    for second in range(seconds):
        hr = (72 + rng.normal(0, 2, 6)).round()
        hr[2] = 80.0  # flatline after 300 s
        spo2 = np.clip(97 + rng.normal(0, 0.6, 6).round(), 90, 100)
        if 200 <= second < 260:
            spo2[1] = 90.0  # a desaturation of 7 points for a minute
        rr = 60 / hr
        rr[4] = rng.uniform(0.4, 1.2)  # irregularly irregular
        feed(e, second, "heart_rate", hr.tolist())
        feed(e, second, "spo2", spo2.tolist())
        feed(e, second - 0.5, "rr_interval", rr.tolist())
        found = e.detect(T0 + second * S)
        events += [(second, t.row, t.kind.value, t.condition) for t in e.alerts(found)]
    return events


def test_with_ticks_slower_than_a_turn_cohorts_change_nothing() -> None:
    plain = _ward(EngineConfig(), 420)
    assert {(row, c) for _, row, kind, c in plain if kind == "raised"} >= {
        (1, "desaturation"),
        (4, "atrial_fibrillation"),
        (2, "flatline"),
    }
    spread = _ward(EngineConfig(window_cohorts=4, slow_cohorts=60), 420)
    assert spread == plain  # turns every 0.25 s and 1 s: every tick judges everyone


def test_cohorts_judged_in_turn_find_the_same_conditions_within_a_period() -> None:
    plain = _ward(EngineConfig(window_every_s=3.0), 420)
    spread = _ward(EngineConfig(window_every_s=3.0, window_cohorts=3), 420)
    first: dict[tuple[int, int, str], int] = {}
    for events in (plain, spread):
        for second, row, kind, condition in events:
            if kind == "raised" and condition in (
                "desaturation",
                "atrial_fibrillation",
                "flatline",
            ):
                first.setdefault((id(events), row, condition), second)
    for (source, row, condition), second in first.items():
        if source == id(plain):
            assert abs(first[(id(spread), row, condition)] - second) <= 3, (row, condition)
    assert len(first) == 6


def test_cohorts_must_be_positive() -> None:
    with pytest.raises(MonitorInputError):
        EngineConfig(window_cohorts=0)


@pytest.mark.integration
def test_the_service_takes_cadences_and_cohorts_from_its_settings(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    service = MonitorService(
        settings(nabd_stack, monitor_db, window_every_s=5.0, window_cohorts=5, slow_cohorts=60)
    )
    config = service.engine.config
    assert (config.window_every_s, config.window_cohorts, config.slow_cohorts) == (5.0, 5, 60)
    assert config.slow_every_s == 60.0
