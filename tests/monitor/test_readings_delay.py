"""Readings that arrive late: one delay for the pipeline, not a ``stale_data`` alarm per patient.

The delay rule alone (:class:`ReadingsDelay`), then the engine fed as an overloaded pipeline
feeds it: every reading reaches the tick 30 s after it was taken.
"""

from __future__ import annotations

import numpy as np
import pytest

from nabd.analytics.service.conditions import column
from nabd.analytics.service.errors import MonitorInputError
from nabd.analytics.service.readings_delay import ReadingsDelay, ReadingsDelayPolicy
from nabd.analytics.service.samples import Samples
from tests.monitor.test_monitor_engine import T0, S, engine, heart_rate


def times(*seconds: float) -> np.ndarray:
    return np.array([T0 + int(s * S) for s in seconds], dtype=np.int64)


def test_on_time_readings_are_not_late_and_excuse_nothing() -> None:
    d = ReadingsDelay()
    for tick in range(20):
        d.observe(T0 + tick * S, times(tick - 1.5, tick - 1.2))
    now = T0 + 19 * S
    assert d.delay_ns(now) == 1_200_000_000
    assert d.delayed_s(now) is None
    assert d.allowance_ns(now) == 0


def test_late_readings_make_a_delay_and_excuse_that_much_silence() -> None:
    d = ReadingsDelay()
    for tick in range(20):
        d.observe(T0 + tick * S, times(tick - 31, tick - 30))
    now = T0 + 19 * S
    assert d.delayed_s(now) == 30.0
    assert d.allowance_ns(now) == 30 * S


def test_one_fresh_tick_in_the_window_is_enough_to_be_on_time() -> None:
    """A tick that brought only a gateway's replayed backlog does not make the pipeline late
    while other ticks bring fresh readings: the smallest lag of the window counts."""
    d = ReadingsDelay()
    d.observe(T0, times(-1))
    for tick in range(1, 9):
        d.observe(T0 + tick * S, times(tick - 600))  # backlog only
    assert d.delayed_s(T0 + 8 * S) is None
    d.observe(T0 + 11 * S, times(11 - 600))  # the fresh tick left the window (10 s)
    assert d.delayed_s(T0 + 11 * S) == 600.0


def test_no_readings_at_all_is_silence_not_delay() -> None:
    d = ReadingsDelay()
    d.observe(T0, times(-40))
    assert d.delayed_s(T0) == 40.0
    for tick in range(1, 12):
        d.observe(T0 + tick * S, times())  # nothing arrives
    assert d.delay_ns(T0 + 11 * S) is None
    assert d.allowance_ns(T0 + 11 * S) == 0


def test_the_allowance_is_capped() -> None:
    d = ReadingsDelay(ReadingsDelayPolicy(max_allowance_s=120.0))
    d.observe(T0, times(-900))
    assert d.delayed_s(T0) == 900.0
    assert d.allowance_ns(T0) == 120 * S


@pytest.mark.parametrize("field", ["delayed_after_s", "window_s", "max_allowance_s"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_a_policy_must_be_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(MonitorInputError, match=field):
        ReadingsDelayPolicy(**{field: value})


def overloaded(
    patients: int,
    seconds: int,
    late_s: int,
    *,
    silent_from: dict[int, int],
    value: float | None = None,
) -> list[tuple[int, str, str, int]]:
    """Every tick brings each patient's heart rate and SpO2 of ``late_s`` seconds ago, as an
    overloaded pipeline does, except patients whose device stopped (``silent_from``: row ->
    the second its readings stop being taken). Return (second, event, condition, row)."""
    e = engine(patients)
    events = []
    for second in range(seconds):
        taken = second - late_s
        rows = [r for r in range(patients) if taken < silent_from.get(r, seconds)]
        if taken >= 0 and rows:
            n = len(rows)
            for metric, v in (
                ("heart_rate", heart_rate(taken) if value is None else value),
                ("spo2", 97.0),
            ):
                e.ingest(
                    Samples.of(
                        np.array(rows),
                        [metric] * n,
                        np.full(n, T0 + taken * S),
                        [v] * n,
                        contact_lost=np.zeros(n, dtype=bool),
                        doubtful=np.zeros(n, dtype=bool),
                    )
                )
        now = T0 + second * S
        arrived = (
            Samples.of(np.zeros(1, dtype=np.int64), ["heart_rate"], [T0 + taken * S], [72.0])
            if taken >= 0 and rows
            else Samples.empty()
        )
        e.arrived(now, arrived)
        found = e.detect(now)
        events += [(second, t.kind.value, t.condition, t.row) for t in e.alerts(found)]
    return events


def test_an_overloaded_pipeline_does_not_flag_every_patient() -> None:
    """30 s late for 3 minutes: no ``stale_data`` for anyone (it was every patient before),
    yet a patient whose device stopped is still flagged, 10 s of silence beyond the delay."""
    events = overloaded(8, 180, 30, silent_from={3: 100})
    stale = [(s, row) for s, kind, cond, row in events if cond == "stale_data" and kind == "raised"]
    # Its last reading was taken at 99 s and arrived at 129 s; stale 10 s after the delay.
    assert [row for _, row in stale] == [3]
    assert 99 + 30 + 10 <= stale[0][0] <= 99 + 30 + 10 + 2


def test_late_values_still_raise_their_limits() -> None:
    """A heart rate of 150 that arrives 30 s late is still the current one: ``heart_rate_high``
    is raised (before, every late value was "stale" and no limit could fire)."""
    events = overloaded(2, 120, 30, silent_from={}, value=150.0)
    raised = {(cond, row) for _, kind, cond, row in events if kind == "raised"}
    assert ("heart_rate_high", 0) in raised
    assert ("heart_rate_high", 1) in raised
    assert not any(cond == "stale_data" for cond, _ in raised)


def test_a_pipeline_that_stops_is_still_silence_for_everyone() -> None:
    """Readings arrive late, then none arrive at all: within the window the delay is
    forgotten, and every patient is ``stale_data`` as before."""
    e = engine(2)
    for second in range(41):  # the last late readings leave the 10-s window at 40 s
        now = T0 + second * S
        taken = T0 + (second - 20) * S
        if second < 30:
            for metric in ("heart_rate", "spo2"):
                e.ingest(Samples.of(np.arange(2), [metric] * 2, np.full(2, taken), [72.0, 73.0]))
            e.arrived(now, Samples.of(np.arange(1), ["spo2"], [taken], [97.0]))
        else:
            e.arrived(now, Samples.empty())
        found = e.detect(now)
        if second == 29:
            assert not found.active[:, column("stale_data")].any()
    assert found.active[:, column("stale_data")].all()


def test_stored_records_and_patients_at_home_are_not_the_pipeline_being_late() -> None:
    """A cuff uploading the pressures it stored, a meter's glucose, a respiration rate (once a
    minute), or a patient at home sending her day: late by design. Only readings streamed live
    (heart rate, pulse, SpO2, RR intervals) of patients on a ward say how late the pipeline is."""
    e = engine(2)
    for second in range(12):
        now = T0 + second * S
        old = np.full(2, T0 - 3600 * S)
        e.arrived(
            now, Samples.of(np.arange(2), ["systolic_bp", "respiration_rate"], old, [120.0, 16.0])
        )
        e.arrived(now, Samples.of([1], ["heart_rate"], [T0 - 600 * S], [70.0]), away=np.array([1]))
    assert e.delay.delay_ns(T0 + 11 * S) is None
    e.arrived(T0 + 12 * S, Samples.of([0], ["rr_interval"], [T0 - 18 * S], [0.8]))
    assert e.delay.delayed_s(T0 + 12 * S) == 30.0
