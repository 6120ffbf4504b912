"""What the virtual devices send, checked without a radio: every emission decodes (with the edge
agent's decoders) to the simulated series at its instant, at each device's cadence, with the
scenarios' link, clock and payload faults applied."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

import numpy as np
import pytest

from nabd.contract.gatt import (
    GlucoseMeasurement,
    IntermediateCuffPressure,
    ObservationReassembler,
    SegmentHeader,
    encode,
)
from nabd.contract.gatt import decode as decode_value
from nabd.edge.gatt import GattDecodeError, Reading, SampleFlag, observation_readings
from nabd.edge.gatt import decode as edge_decode
from nabd.simulators import scenarios as sc
from nabd.simulators.ble.clock import SimClock
from nabd.simulators.ble.schedule import (
    Cadences,
    DeviceFeed,
    Emission,
    LinkEvent,
    events,
    feed_of,
    initial_battery,
)
from nabd.simulators.devices import Device
from nabd.simulators.errors import SimulatorError
from nabd.simulators.patient import draw_profiles, simulate
from nabd.simulators.series import VitalSeries
from nabd.simulators.timebase import DEFAULT_START, regular_times

S = DEFAULT_START
H = 3600.0
SEED = 11
PROFILES = draw_profiles(3, SEED)
SICK, STABLE, FAULTY = (p.patient_id for p in PROFILES)
PLAN: dict[str, list[sc.Scenario]] = {
    SICK: [
        sc.sepsis(S + 0.2 * H, ramp_s=H, hold_s=H, recovery_s=H),
        sc.sensor_off(Device.CHEST_STRAP, [(S + 0.5 * H, S + 0.6 * H)]),
        sc.sensor_off(Device.PULSE_OXIMETER, [(S + 1.0 * H, S + 1.1 * H)]),
        sc.sensor_off(Device.THERMOMETER, [(S + 1.5 * H, S + 1.6 * H)]),
        sc.sensor_off(Device.BP_CUFF, [(S + 2.0 * H, S + 2.3 * H)]),
        sc.sensor_off(Device.SCALE, [(S, S + 0.1 * H)]),
        sc.sensor_off(Device.GLUCOSE_METER, [(S + 2.5 * H, S + 2.9 * H)]),
        sc.sensor_off(Device.RESPIRATION_SENSOR, [(S + 2.6 * H, S + 2.7 * H)]),
    ],
    FAULTY: [
        sc.disconnects(Device.CHEST_STRAP, [(S + 0.5 * H, S + 0.75 * H)]),
        sc.disconnects(Device.GLUCOSE_METER, [(S + 0.5 * H, S + 2.5 * H)]),
        sc.battery_drain(
            Device.PULSE_OXIMETER, S + 0.2 * H, empty_after_s=H, replaced_after_s=0.5 * H
        ),
        sc.clock_drift(Device.THERMOMETER, S + H, S + 3 * H, drift_ppm=2000, step_s=-30),
        sc.duplicated_payloads(Device.BP_CUFF, S, S + 3 * H, probability=1.0),
        sc.garbled_payloads(Device.CHEST_STRAP, S + 2 * H, S + 2.1 * H, probability=1.0),
    ],
}
CADENCES = Cadences(glucose_s=1800.0, scale_s=1800.0)


@cache
def _series() -> VitalSeries:
    return simulate(PROFILES, regular_times(S, 3 * H, 1.0), seed=SEED, scenarios=PLAN)


@cache
def _feed(patient_id: str, device: Device) -> DeviceFeed:
    return feed_of(_series(), patient_id, device, PLAN.get(patient_id, ()), seed=SEED)


@cache
def _emissions(feed: DeviceFeed) -> list[Emission]:
    return [e for e in events(feed, CADENCES) if isinstance(e, Emission)]


def _index(feed: DeviceFeed, at: float) -> int:
    i = int(np.searchsorted(feed.times, at))
    assert feed.times[i] == at
    return i


def _value(feed: DeviceFeed, metric: str, i: int) -> float | None:
    value = float(feed.values[metric][i])
    return None if math.isnan(value) else value


def _stamp(feed: DeviceFeed, at: float) -> datetime:
    moment = datetime.fromtimestamp(at + feed.clock_offset(at), tz=UTC)
    return moment.replace(microsecond=0, tzinfo=None)


T = TypeVar("T")


def _decoded(emission: Emission, kind: type[T]) -> T:
    value = decode_value(emission.characteristic, emission.data)
    assert isinstance(value, kind)
    return value


def _by_metric(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    for reading in readings:
        out.setdefault(reading.metric, []).append(reading)
    return out


def _check_contact_lost(readings: Sequence[Reading], flag: SampleFlag | None) -> None:
    for reading in readings:
        assert reading.value is None or reading.metric == "heart_rate"
        assert SampleFlag.UNAVAILABLE in reading.flags or reading.metric == "heart_rate"
        if flag is not None:
            assert flag in reading.flags


def _whole_observation(feed: DeviceFeed, emission: Emission) -> list[Reading]:
    """A GHS segment alone gives no reading; with its sibling segments (same instant) it is the
    observation, as the edge agent joins it."""
    assert edge_decode(emission.characteristic, emission.data) == []
    joiner = ObservationReassembler()
    whole = None
    for part in _emissions(feed):
        if part.characteristic == emission.characteristic and part.at == emission.at:
            whole = joiner.push(SegmentHeader.of(part.data[0]), part.data[1:])
    assert whole is not None
    return observation_readings(whole)


def _check_emission(feed: DeviceFeed, emission: Emission) -> None:
    """The edge agent's readings of ``emission`` are the series at its instant."""
    if emission.characteristic == 0x2B8B:
        readings = _whole_observation(feed, emission)
    else:
        readings = edge_decode(emission.characteristic, emission.data)
    assert encode(decode_value(emission.characteristic, emission.data)) == emission.data
    found = _by_metric(readings)
    uuid, at = emission.characteristic, emission.at
    if uuid == 0x2A1E:  # intermediate temperature: the value 5 s earlier, early estimate
        i = _index(feed, at)
        assert [r.value for r in readings] == [_value(feed, "body_temperature", i)]
        assert readings[0].flags == {SampleFlag.EARLY_ESTIMATE}
        return
    if uuid == 0x2A36:  # intermediate cuff pressure carries no vital sign
        assert readings == []
        return
    i = _index(feed, at)
    if uuid == 0x2A19:
        assert feed.battery is not None
        assert [r.value for r in readings] == [float(feed.battery[i])]
        return
    metrics = {
        0x2A37: ("heart_rate",),
        0x2A5E: ("spo2", "pulse_rate"),
        0x2A5F: ("spo2", "pulse_rate"),
        0x2A1C: ("body_temperature",),
        0x2A35: ("systolic_bp", "diastolic_bp", "mean_arterial_pressure"),
        0x2A18: ("glucose",),
        0x2A9D: ("body_weight",),
        0x2B8B: ("respiration_rate",),
    }[uuid]
    lost = bool(feed.contact_lost[metrics[0]][i])
    if lost:
        flag = SampleFlag.SENSOR_CONTACT_LOST if uuid in (0x2A37, 0x2A5E, 0x2A5F) else None
        _check_contact_lost(readings, flag)
        if uuid == 0x2A37:
            assert [r.value for r in readings] == [0.0]
        return
    for metric in metrics:
        (reading,) = found[metric]
        expected = _value(feed, metric, i)
        if metric == "glucose":
            assert reading.value == pytest.approx(expected, rel=1e-12)
        else:
            assert reading.value == expected
        assert (SampleFlag.UNAVAILABLE in reading.flags) == (expected is None)
    if uuid in (0x2A5E, 0x2A1C, 0x2A35, 0x2A18, 0x2A9D, 0x2B8B):
        assert {r.timestamp for r in readings} == {_stamp(feed, at)}
    else:
        assert {r.timestamp for r in readings} == {None}


@pytest.mark.parametrize("device", list(Device))
@pytest.mark.parametrize("patient", [SICK, STABLE])
def test_every_emission_decodes_to_the_series_at_its_instant(patient: str, device: Device) -> None:
    feed = _feed(patient, device)
    emissions = _emissions(feed)
    assert emissions
    kinds = Counter(e.characteristic for e in emissions)
    for emission in emissions:
        _check_emission(feed, emission)
    if patient == SICK and device is not Device.GLUCOSE_METER:
        # each sensor_off window of this patient shows up as flagged messages
        lost = [
            e
            for e in emissions
            if e.characteristic not in (0x2A19, 0x2A1E, 0x2A36)
            and feed.contact_lost[next(iter(feed.values))][_index(feed, e.at)]
        ]
        assert lost, f"no contact-lost message from {device}"
    assert (
        set(kinds)
        >= {
            Device.CHEST_STRAP: {0x2A37},
            Device.PULSE_OXIMETER: {0x2A5E, 0x2A5F},
            Device.THERMOMETER: {0x2A1C, 0x2A1E},
            Device.BP_CUFF: {0x2A35, 0x2A36},
            Device.GLUCOSE_METER: {0x2A18},
            Device.SCALE: {0x2A9D},
            Device.RESPIRATION_SENSOR: {0x2B8B},
        }[device]
    )


def test_the_chest_strap_sends_every_detected_beat_once() -> None:
    feed = _feed(STABLE, Device.CHEST_STRAP)
    assert feed.beats is not None
    sent: list[float] = []
    for emission in _emissions(feed):
        for reading in edge_decode(0x2A37, emission.data):
            if reading.metric == "rr_interval" and reading.value is not None:
                sent.append(reading.value)
    first, last = feed.times[0] - 1.0, feed.times[-1]
    inside = (feed.beats.beat_times > first) & (feed.beats.beat_times <= last)
    expected = feed.beats.rr[inside]
    assert sent == expected[np.isfinite(expected)].tolist()
    assert len(sent) > 3 * 3600 * 0.8  # about one a second, at any resting rate


def _times(patient: str, device: Device, uuid: int) -> list[float]:
    return [e.at for e in _emissions(_feed(patient, device)) if e.characteristic == uuid]


def test_each_device_measures_once_per_window_of_its_cadence() -> None:
    windows = {
        Device.CHEST_STRAP: (0x2A37, 1.0),
        Device.PULSE_OXIMETER: (0x2A5F, 1.0),
        Device.THERMOMETER: (0x2A1C, 60.0),
        Device.BP_CUFF: (0x2A35, 900.0),
        Device.GLUCOSE_METER: (0x2A18, 1800.0),
        Device.SCALE: (0x2A9D, 1800.0),
    }
    for device, (uuid, interval) in windows.items():
        times = _times(STABLE, device, uuid)
        assert len(times) == round(3 * H / interval), device
        assert set(np.diff(times)) == {interval}, device
    assert set(np.diff(_times(STABLE, Device.PULSE_OXIMETER, 0x2A5E))) == {900.0}


def test_intermediate_values_precede_their_final_reading() -> None:
    emissions = _emissions(_feed(STABLE, Device.THERMOMETER))
    finals = [e.at for e in emissions if e.characteristic == 0x2A1C]
    early = [e.at for e in emissions if e.characteristic == 0x2A1E]
    assert early == [t - 5.0 for t in finals[1:]]  # the first final has no earlier sample
    cuff = _emissions(_feed(STABLE, Device.BP_CUFF))
    for final in (e for e in cuff if e.characteristic == 0x2A35):
        pressures = [
            e for e in cuff if e.characteristic == 0x2A36 and final.at - 30 <= e.at < final.at
        ]
        assert [e.at for e in pressures] == [final.at - 30, final.at - 20, final.at - 10]
        values = [_decoded(e, IntermediateCuffPressure).cuff_pressure for e in pressures]
        numbers = [v for v in values if isinstance(v, float)]
        assert len(numbers) == 3
        assert numbers == sorted(numbers, reverse=True)


def test_measurements_are_notified_or_indicated_as_the_services_require() -> None:
    indicated = {0x2A5E, 0x2A1C, 0x2A35, 0x2A9D}
    for device in Device:
        for emission in _emissions(_feed(STABLE, device)):
            assert emission.indicate == (emission.characteristic in indicated)


def test_battery_notifications_follow_the_whole_percent_level() -> None:
    feed = _feed(FAULTY, Device.PULSE_OXIMETER)
    assert feed.battery is not None
    changes = [e for e in _emissions(feed) if e.characteristic == 0x2A19]
    levels = feed.battery.astype(int)
    expected = [
        (float(feed.times[i]), int(levels[i]))
        for i in np.flatnonzero(np.diff(levels)) + 1
        if levels[i] > 0
    ]  # the change *to* 0 happens as the device dies: unreachable; the swap to 100 is sent
    assert expected[-1][1] == 100
    assert [(e.at, e.data[0]) for e in changes] == expected
    assert initial_battery(feed) == levels[0]


def test_a_dead_battery_and_a_disconnect_take_the_device_off_the_air() -> None:
    drained = _feed(FAULTY, Device.PULSE_OXIMETER)
    link = [e for e in events(drained, CADENCES) if isinstance(e, LinkEvent)]
    assert drained.battery is not None
    dead = np.flatnonzero(drained.battery == 0)
    assert link == [
        LinkEvent(float(drained.times[dead[0]]), up=False),
        LinkEvent(float(drained.times[dead[-1] + 1]), up=True),
    ]
    assert not [e for e in _emissions(drained) if link[0].at <= e.at < link[1].at]
    strap = _feed(FAULTY, Device.CHEST_STRAP)
    window = (S + 0.5 * H, S + 0.75 * H)
    assert [e for e in events(strap, CADENCES) if isinstance(e, LinkEvent)] == [
        LinkEvent(window[0], up=False),
        LinkEvent(window[1], up=True),
    ]
    beats = [e.at for e in _emissions(strap)]
    assert not [t for t in beats if window[0] <= t < window[1]]
    assert window[1] in beats


def test_a_disconnected_glucose_meter_keeps_its_records() -> None:
    emissions = _emissions(_feed(FAULTY, Device.GLUCOSE_METER))
    offline = [e for e in emissions if not e.live]
    assert [e.at for e in offline] == [S + k * 1800.0 for k in range(1, 5)]
    assert all(e.stored == e.data for e in emissions)
    numbers = [_decoded(e, GlucoseMeasurement).sequence_number for e in emissions]
    assert numbers == list(range(len(emissions)))


def test_clock_drift_shifts_the_time_stamps_only() -> None:
    drifting, same = _feed(FAULTY, Device.THERMOMETER), _feed(STABLE, Device.THERMOMETER)
    inside = [e for e in _emissions(drifting) if e.characteristic == 0x2A1C and e.at >= S + H]
    assert inside
    for emission in inside:
        (reading,) = edge_decode(0x2A1C, emission.data)
        offset = -30.0 + 2000e-6 * (emission.at - (S + H))
        expected = datetime.fromtimestamp(emission.at + offset, tz=UTC)
        assert reading.timestamp == expected.replace(microsecond=0, tzinfo=None)
    assert drifting.clock_offset(S + 0.5 * H) == 0.0
    assert same.clock_offset(S + 2 * H) == 0.0


def test_duplicated_and_garbled_payloads() -> None:
    cuff = _emissions(_feed(FAULTY, Device.BP_CUFF))
    counts = Counter((e.at, e.characteristic, e.data) for e in cuff)
    inside = [n for (at, _, _), n in counts.items() if at >= S]  # the window starts at S
    assert inside
    assert set(inside) == {2}
    assert set(n for (at, _, _), n in counts.items() if at < S) == {1}
    strap = _emissions(_feed(FAULTY, Device.CHEST_STRAP))
    window = [e for e in strap if S + 2 * H <= e.at < S + 2.1 * H]
    garbled = 0
    for emission in window:
        try:
            edge_decode(0x2A37, emission.data)
        except GattDecodeError:
            garbled += 1
    # Receivers ignore trailing bytes and drop optional fields cut short (the Bluetooth
    # convention, nabd.contract.gatt.wire), so a garble that only appends bytes or cuts the RR
    # list decodes to the device's own heart rate; the rest break the frame and are counted.
    assert 0 < garbled < len(window)
    for emission in strap:
        if not S + 2 * H <= emission.at < S + 2.1 * H:
            edge_decode(0x2A37, emission.data)


def test_the_schedule_is_reproducible_and_seeded() -> None:
    feed = _feed(FAULTY, Device.CHEST_STRAP)
    assert list(events(feed, CADENCES)) == list(events(feed, CADENCES))
    other = feed_of(_series(), FAULTY, Device.CHEST_STRAP, PLAN[FAULTY], seed=SEED + 1)
    assert _emissions(feed) != _emissions(other)


def test_events_are_in_time_order() -> None:
    for patient in (SICK, FAULTY):
        for device in Device:
            times = [e.at for e in events(_feed(patient, device), CADENCES)]
            assert times == sorted(times)


@pytest.mark.parametrize(
    "bad", [{"stream_s": 0.0}, {"thermometer_s": 5.0}, {"cuff_s": math.inf}, {"scale_s": -1.0}]
)
def test_impossible_cadences_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(SimulatorError):
        Cadences(**bad)


def test_the_clock_maps_simulated_time_at_its_speed() -> None:
    clock = SimClock(sim_start=S, wall_start=100.0, speed=60.0)
    assert clock.wall_at(S + 3600) == 160.0
    assert clock.sim_at(160.0) == S + 3600
    assert clock.delay(S + 600, now=105.0) == 5.0
    assert clock.delay(S, now=105.0) == 0.0
    for speed in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(SimulatorError):
            SimClock(sim_start=S, wall_start=0.0, speed=speed)
