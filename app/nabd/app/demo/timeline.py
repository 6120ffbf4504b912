"""Accelerated time, played onto the wall clock (pure).

The simulators' own fleet plays simulated time faster than the wall clock, so a device's time
stamps run ahead of the gateway's receive time and of analytics' clock, which is the wall clock
(its staleness, persistence and escalation delays are wall seconds). The demo instead samples the
simulated ward once per wall second of play (every ``speed`` simulated seconds) and relabels every
instant onto the wall clock (:meth:`WardPlan.to_wall`). Then every time stamp on the wire, the
device's and the gateway's, is the real time at which it is sent, as with real devices, and only
the physiology runs ``speed`` times faster.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

from nabd.app.demo.plan import WardPlan
from nabd.simulators.ble.schedule import Cadences, DeviceFeed
from nabd.simulators.scenarios import Scenario
from nabd.simulators.series import BeatSeries, VitalSeries
from nabd.simulators.timebase import FloatArray

__all__ = ["cadences", "onto_wall", "sample_times", "transport_onto_wall"]

_WALL_STEP_S: Final = 1.0
"""One sample per wall second: the strap's and the oximeter's cadence as a nurse sees it."""


def sample_times(plan: WardPlan) -> FloatArray:
    """Simulated instants, one per wall second of play."""
    count = max(1, int(plan.play_s / _WALL_STEP_S))
    times: FloatArray = plan.sim_start + np.arange(count, dtype=np.float64) * (
        _WALL_STEP_S * plan.speed
    )
    return times


def onto_wall(series: VitalSeries, plan: WardPlan) -> VitalSeries:
    """The same series with every instant (samples and beats) moved onto the wall clock."""

    def wall(times: FloatArray) -> FloatArray:
        moved: FloatArray = plan.wall_start + (times - plan.sim_start) / plan.speed
        return moved

    return VitalSeries(
        patient_ids=series.patient_ids,
        times=wall(series.times),
        values=dict(series.values),
        contact_lost=dict(series.contact_lost),
        battery_level=dict(series.battery_level),
        beats=tuple(BeatSeries(b.patient_id, wall(b.beat_times), b.rr) for b in series.beats),
    )


def transport_onto_wall(
    feed: DeviceFeed, scenarios: tuple[Scenario, ...], plan: WardPlan
) -> DeviceFeed:
    """``feed`` with its device's transport events (disconnects...) on the wall clock."""
    events = tuple(
        dataclasses.replace(e, onset=plan.to_wall(e.onset), offset=plan.to_wall(e.offset))
        for s in scenarios
        for e in s.transport
        if e.device is feed.device
    )
    return dataclasses.replace(feed, transport=events, clock=())


def cadences(speed: float) -> Cadences:
    """The devices' usual cadences in simulated time, but never faster than these wall-clock
    floors (a thermometer every 10 s, a respiration sensor every 5 s, a cuff or a spot check
    every minute)."""
    return Cadences(
        stream_s=_WALL_STEP_S,
        spot_check_s=max(60.0, 900.0 / speed),
        thermometer_s=max(10.0, 60.0 / speed),
        cuff_s=max(60.0, 900.0 / speed),
        respiration_s=max(5.0, 30.0 / speed),
    )
