"""What a virtual device sends, and when: simulated series -> an ordered stream of events.

Pure and lazy. :func:`events` turns one device's slice of a patient's series (a
:class:`DeviceFeed`) into :class:`Emission` (bytes for one characteristic, notified or
indicated) and :class:`LinkEvent` (the device becomes unreachable or reachable again), in
simulated time, ordered. The bumble peripheral only plays them; tests read them directly.

**Cadence.** Each device measures once per window of its cadence (:class:`Cadences`: chest strap
and oximeter every second, thermometer every minute, cuff every 15 min, glucose meter every 4 h,
scale once a day), at the first sample of the window that has a value or a lost contact. So a
1 Hz simulation and a 1/min MIMIC replay (whose cuff readings are a few scattered minutes) both
give one cuff reading per window, when the series has one. In detail:

* chest strap: Heart Rate Measurement (notify) with the RR intervals of the beats since the last
  notification (the newest 9 at most, see :data:`~.messages.MAX_RR_PER_NOTIFICATION`);
* oximeter: PLX Continuous (notify) every window, and a time-stamped PLX Spot-check (indicate)
  every ``spot_check_s``;
* thermometer: an Intermediate Temperature (notify) 5 s before each time-stamped Temperature
  Measurement (indicate), with the value of that earlier instant;
* cuff: three Intermediate Cuff Pressures (notify) at -30, -20 and -10 s, deflating from 20
  above systolic towards diastolic, then the time-stamped Blood Pressure Measurement (indicate);
* glucose meter: a Glucose Measurement record (notify), sequence numbers from 0; records are
  kept by the meter for the Record Access Control Point even while the link is down;
* scale: a time-stamped Weight Measurement (indicate);
* respiration sensor (GHS): a time-stamped respiratory-rate observation on Live Health
  Observations (notify), split into segments of 20 octets (the default ATT MTU of 23 less 3: a
  numeric observation with a time stamp is 24 octets, so it always takes two); its last segment
  carries the whole observation as ``stored``: the sensor keeps it as a record when no client
  takes live observations (the peripheral decides, it knows who asked);
* every device: Battery Level (notify) whenever the whole-percent level changes.

**Scenario effects the shells own.** Time stamps carry the device clock (UTC), shifted by the
scenario's :class:`~nabd.simulators.scenarios.ClockDrift`. A ``disconnect`` transport event and a
dead battery (level 0) make the device unreachable: a :class:`LinkEvent` down, nothing sent, then
up again. ``duplicate`` sends an emission twice, ``garble`` replaces its bytes by
:func:`~nabd.simulators.scenarios.garble` of them, each with the event's probability, drawn from
the device's own random stream (so the same seed gives the same corruption).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.contract.gatt import (
    CharacteristicValue,
    DateTime,
    LiveHealthObservations,
    encode,
    encode_observation,
    segment,
    uuid_of,
)
from nabd.simulators.ble import messages
from nabd.simulators.ble.identity import DeviceIdentity, identity_of
from nabd.simulators.devices import DEVICE_METRICS, Device
from nabd.simulators.errors import SimulatorError
from nabd.simulators.scenarios import ClockDrift, Scenario, TransportEvent, TransportKind, garble
from nabd.simulators.series import BatteryArray, BeatSeries, BoolArray, VitalSeries
from nabd.simulators.streams import stream
from nabd.simulators.timebase import FloatArray

__all__ = [
    "BATTERY_LEVEL",
    "Cadences",
    "DeviceFeed",
    "Emission",
    "Event",
    "LinkEvent",
    "events",
    "feed_of",
    "initial_battery",
]

BATTERY_LEVEL: Final = 0x2A19
_HEART_RATE: Final = 0x2A37
_PLX_SPOT: Final = 0x2A5E
_PLX_CONTINUOUS: Final = 0x2A5F
_TEMPERATURE: Final = 0x2A1C
_INTERMEDIATE_TEMPERATURE: Final = 0x2A1E
_BLOOD_PRESSURE: Final = 0x2A35
_CUFF_PRESSURE: Final = 0x2A36
_GLUCOSE: Final = 0x2A18
_WEIGHT: Final = 0x2A9D
_LIVE_HEALTH_OBSERVATIONS: Final = LiveHealthObservations.UUID
GHS_SEGMENT_OCTETS: Final = 20
"""Live Health Observations segment size: ATT_MTU 23 (the minimum, what every central accepts)
less the 3-octet notification header."""

_SETTLING_S: Final = 5.0
"""How long before a final temperature its intermediate reading is shown."""
_DEFLATION_S: Final = (30.0, 20.0, 10.0)
"""When, before a cuff reading, its intermediate cuff pressures are notified."""


@dataclass(frozen=True, slots=True)
class Emission:
    """One characteristic value sent at simulated time ``at``."""

    at: float
    characteristic: int
    """16-bit UUID."""
    data: bytes
    indicate: bool
    """Indicated (acknowledged by the central) rather than notified."""
    live: bool = True
    """False for a record taken while the link is down: stored, not sent."""
    stored: bytes | None = None
    """A record as the device keeps it for the RACP (``data`` may be garbled on air): a glucose
    record, or a GHS observation (on the last of its segments)."""


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """From ``at`` the device is reachable (``up``: advertising, connectable) or not."""

    at: float
    up: bool


Event = Emission | LinkEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class Cadences:
    """Seconds between measurements of each device (one per window)."""

    stream_s: float = 1.0
    """Chest strap and PLX Continuous."""
    spot_check_s: float = 900.0
    thermometer_s: float = 60.0
    cuff_s: float = 900.0
    glucose_s: float = 4 * 3600.0
    scale_s: float = 86400.0
    respiration_s: float = 30.0
    """The GHS respiration sensor's observation interval."""

    def __post_init__(self) -> None:
        floors = {
            "stream_s": 0.1,
            "spot_check_s": 1.0,
            "thermometer_s": 2 * _SETTLING_S,
            "cuff_s": 2 * max(_DEFLATION_S),
            "glucose_s": 1.0,
            "scale_s": 1.0,
            "respiration_s": 1.0,
        }
        for name, floor in floors.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= floor):
                raise SimulatorError(f"cadence {name} must be at least {floor} s, got {value}")


@dataclass(frozen=True, eq=False)
class DeviceFeed:
    """One device's part of one patient's series, and the scenario events aimed at it."""

    identity: DeviceIdentity
    times: FloatArray
    values: Mapping[str, FloatArray]
    """The device's metrics, 1-D, NaN where missing."""
    contact_lost: Mapping[str, BoolArray]
    battery: BatteryArray | None = None
    beats: BeatSeries | None = None
    transport: tuple[TransportEvent, ...] = ()
    clock: tuple[ClockDrift, ...] = ()
    seed: int = 0

    @property
    def device(self) -> Device:
        return self.identity.device

    def clock_offset(self, at: float) -> float:
        """Device clock minus true time at ``at``."""
        instant = np.array([at])
        return float(sum(float(d.offset_at(instant)[0]) for d in self.clock))


def feed_of(
    series: VitalSeries,
    patient_id: str,
    device: Device,
    scenarios: Sequence[Scenario] = (),
    seed: int = 0,
) -> DeviceFeed:
    """The feed of ``patient_id``'s ``device`` from a ward's series and the patient's scenarios.

    Metrics the series lacks (a replay has no temperature) are all missing.
    """
    row = series.row(patient_id)
    missing = np.full(series.times.size, np.nan)
    never = np.zeros(series.times.size, dtype=np.bool_)
    metrics = DEVICE_METRICS[device]
    battery = series.battery_level.get(device)
    beats = series.beats[row] if series.beats and device is Device.CHEST_STRAP else None
    return DeviceFeed(
        identity=identity_of(patient_id, device),
        times=series.times,
        values={m: series.values[m][row] if m in series.values else missing for m in metrics},
        contact_lost={
            m: series.contact_lost[m][row] if m in series.contact_lost else never for m in metrics
        },
        battery=None if battery is None else battery[row],
        beats=beats,
        transport=tuple(e for s in scenarios for e in s.transport if e.device is device),
        clock=tuple(
            f
            for s in scenarios
            for f in s.faults
            if isinstance(f, ClockDrift) and f.device is device
        ),
        seed=seed,
    )


def initial_battery(feed: DeviceFeed) -> int:
    """The Battery Level a central reads before the first change (100 without a series)."""
    if feed.battery is None or feed.battery.size == 0:
        return 100
    return int(min(100, feed.battery[0]))


# ---- Measurement windows ---------------------------------------------------------------------


def _measured(feed: DeviceFeed, metrics: Sequence[str], interval: float) -> npt.NDArray[np.intp]:
    """Indices of the first sample with a value or a lost contact in each ``interval`` window."""
    times = feed.times
    mask = np.zeros(times.size, dtype=np.bool_)
    for metric in metrics:
        mask |= np.isfinite(feed.values[metric]) | feed.contact_lost[metric]
    candidates = np.flatnonzero(mask)
    if candidates.size == 0:
        return candidates
    windows = np.floor((times[candidates] - times[0]) / interval + 1e-9)
    _, first = np.unique(windows, return_index=True)
    selected: npt.NDArray[np.intp] = candidates[first]
    return selected


def _emission(at: float, value: CharacteristicValue | None, indicate: bool) -> Iterator[Emission]:
    if value is not None:
        yield Emission(at, uuid_of(value), encode(value), indicate)


def _stamp(feed: DeviceFeed, at: float) -> DateTime:
    return messages.device_time(at, feed.clock_offset(at))


def _chest_strap(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    hr, lost = feed.values["heart_rate"], feed.contact_lost["heart_rate"]
    beat_times = feed.beats.beat_times if feed.beats is not None else np.empty(0)
    rr = feed.beats.rr if feed.beats is not None else np.empty(0)
    previous: float | None = None
    for i in _measured(feed, ("heart_rate",), cadences.stream_s):
        at = float(feed.times[i])
        since = at - cadences.stream_s if previous is None else previous
        first, last = np.searchsorted(beat_times, (since, at), side="right")
        previous = at
        value = messages.heart_rate(float(hr[i]), bool(lost[i]), rr[first:last].tolist())
        yield from _emission(at, value, indicate=False)


def _oximeter_continuous(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    spo2, pulse = feed.values["spo2"], feed.values["pulse_rate"]
    lost = feed.contact_lost["spo2"]
    for i in _measured(feed, ("spo2", "pulse_rate"), cadences.stream_s):
        value = messages.plx_continuous(float(spo2[i]), float(pulse[i]), bool(lost[i]))
        yield from _emission(float(feed.times[i]), value, indicate=False)


def _oximeter_spot_check(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    spo2, pulse = feed.values["spo2"], feed.values["pulse_rate"]
    lost = feed.contact_lost["spo2"]
    for i in _measured(feed, ("spo2", "pulse_rate"), cadences.spot_check_s):
        at = float(feed.times[i])
        value = messages.plx_spot_check(
            float(spo2[i]), float(pulse[i]), bool(lost[i]), _stamp(feed, at)
        )
        yield from _emission(at, value, indicate=True)


def _value_before(feed: DeviceFeed, metric: str, at: float, since: float) -> float:
    """The metric's value at the latest sample at or before ``at``, if after ``since``."""
    j = int(np.searchsorted(feed.times, at, side="right")) - 1
    if j < 0 or feed.times[j] <= since or feed.contact_lost[metric][j]:
        return math.nan
    return float(feed.values[metric][j])


def _thermometer(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    values, lost = feed.values["body_temperature"], feed.contact_lost["body_temperature"]
    interval = cadences.thermometer_s
    for i in _measured(feed, ("body_temperature",), interval):
        at = float(feed.times[i])
        if not lost[i]:
            early = at - _SETTLING_S
            shown = _value_before(feed, "body_temperature", early, at - interval)
            yield from _emission(early, messages.intermediate_temperature(shown), indicate=False)
        value = messages.temperature(float(values[i]), bool(lost[i]), _stamp(feed, at))
        yield from _emission(at, value, indicate=True)


def _cuff(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    metrics = ("systolic_bp", "diastolic_bp", "mean_arterial_pressure")
    sbp, dbp, mean = (feed.values[m] for m in metrics)
    lost = feed.contact_lost["systolic_bp"]
    for i in _measured(feed, metrics, cadences.cuff_s):
        at = float(feed.times[i])
        systolic, diastolic = float(sbp[i]), float(dbp[i])
        if not lost[i] and math.isfinite(systolic) and math.isfinite(diastolic):
            top = systolic + 20.0
            for step, before in enumerate(_DEFLATION_S):
                pressure = top - step * (top - diastolic) / len(_DEFLATION_S)
                value = messages.intermediate_cuff_pressure(pressure)
                yield from _emission(at - before, value, indicate=False)
        reading = messages.blood_pressure(
            systolic, diastolic, float(mean[i]), bool(lost[i]), _stamp(feed, at)
        )
        yield from _emission(at, reading, indicate=True)


def _glucose_meter(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    values, lost = feed.values["glucose"], feed.contact_lost["glucose"]
    sequence = itertools.count()
    for i in _measured(feed, ("glucose",), cadences.glucose_s):
        at = float(feed.times[i])
        record = messages.glucose(float(values[i]), bool(lost[i]), next(sequence), _stamp(feed, at))
        if record is not None:
            data = encode(record)
            yield Emission(at, _GLUCOSE, data, indicate=False, stored=data)


def _scale(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    values, lost = feed.values["body_weight"], feed.contact_lost["body_weight"]
    for i in _measured(feed, ("body_weight",), cadences.scale_s):
        at = float(feed.times[i])
        value = messages.weight(float(values[i]), bool(lost[i]), _stamp(feed, at))
        yield from _emission(at, value, indicate=True)


def _respiration_sensor(feed: DeviceFeed, cadences: Cadences) -> Iterator[Emission]:
    values, lost = feed.values["respiration_rate"], feed.contact_lost["respiration_rate"]
    counter = 0
    for i in _measured(feed, ("respiration_rate",), cadences.respiration_s):
        at = float(feed.times[i])
        observation = messages.respiration(
            float(values[i]), bool(lost[i]), at, feed.clock_offset(at)
        )
        if observation is None:
            continue
        whole = encode_observation(observation)
        parts = segment(whole, GHS_SEGMENT_OCTETS, counter)
        counter = (counter + len(parts)) % 64
        for n, part in enumerate(parts, start=1):
            kept = whole if n == len(parts) else None
            yield Emission(at, _LIVE_HEALTH_OBSERVATIONS, part, indicate=False, stored=kept)


def _battery(feed: DeviceFeed) -> Iterator[Emission]:
    if feed.battery is None or feed.battery.size < 2:
        return
    levels = np.minimum(feed.battery, 100)
    for i in np.flatnonzero(np.diff(levels.astype(np.int16))) + 1:
        at = float(feed.times[i])
        yield Emission(at, BATTERY_LEVEL, bytes([int(levels[i])]), indicate=False)


_Source = Callable[[DeviceFeed, Cadences], Iterator[Emission]]
_SOURCES: Final[Mapping[Device, tuple[_Source, ...]]] = {
    Device.CHEST_STRAP: (_chest_strap,),
    Device.PULSE_OXIMETER: (_oximeter_continuous, _oximeter_spot_check),
    Device.THERMOMETER: (_thermometer,),
    Device.BP_CUFF: (_cuff,),
    Device.GLUCOSE_METER: (_glucose_meter,),
    Device.SCALE: (_scale,),
    Device.RESPIRATION_SENSOR: (_respiration_sensor,),
}


# ---- Link and transport ----------------------------------------------------------------------


def _down_intervals(feed: DeviceFeed) -> list[tuple[float, float]]:
    """When the device is unreachable: disconnect windows and a dead battery, merged."""
    spans = [(e.onset, e.offset) for e in feed.transport if e.kind is TransportKind.DISCONNECT]
    if feed.battery is not None and feed.battery.size:
        dead = np.concatenate(([False], feed.battery == 0, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(dead))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            end = float(feed.times[stop]) if stop < feed.times.size else math.inf
            spans.append((float(feed.times[start]), end))
    merged: list[tuple[float, float]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def _link_events(down: Sequence[tuple[float, float]]) -> Iterator[LinkEvent]:
    for start, stop in down:
        yield LinkEvent(start, up=False)
        if math.isfinite(stop):
            yield LinkEvent(stop, up=True)


def _reachable(
    emissions: Iterable[Emission], down: Sequence[tuple[float, float]]
) -> Iterator[Emission]:
    """Drop what is sent while the link is down; a device keeps its records."""
    spans = iter(down)
    current = next(spans, None)
    for emission in emissions:
        while current is not None and emission.at >= current[1]:
            current = next(spans, None)
        if current is None or emission.at < current[0]:
            yield emission
        elif emission.stored is not None:
            yield replace(emission, live=False)


def _corrupted(feed: DeviceFeed, emissions: Iterable[Emission]) -> Iterator[Emission]:
    """Apply ``duplicate`` and ``garble`` transport events, each with its probability."""
    faulty = [e for e in feed.transport if e.kind is not TransportKind.DISCONNECT]
    if not faulty:
        yield from emissions
        return
    rng = stream(feed.seed, feed.identity.patient_id, "ble", feed.device.value, "transport")
    for emission in emissions:
        data, copies = emission.data, 1
        for event in faulty:
            if not event.onset <= emission.at < event.offset or not emission.live:
                continue
            if rng.random() >= event.probability:
                continue
            if event.kind is TransportKind.GARBLE:
                data = garble(data, int(rng.integers(0, 2**32)))
            else:
                copies = 2
        out = replace(emission, data=data)
        for _ in range(copies):
            yield out


# ---- The whole stream --------------------------------------------------------------------------

_RANK: Final = {LinkEvent: 0, Emission: 1}


def events(feed: DeviceFeed, cadences: Cadences | None = None) -> Iterator[Event]:
    """Everything ``feed``'s device does, in simulated-time order (link changes first at a tie)."""
    chosen = cadences or Cadences()
    down = _down_intervals(feed)
    measurements = heapq.merge(
        *(source(feed, chosen) for source in _SOURCES[feed.device]),
        _battery(feed),
        key=lambda e: e.at,
    )
    sent = _corrupted(feed, _reachable(measurements, down))
    merged: Iterator[Event] = heapq.merge(
        _link_events(down), sent, key=lambda e: (e.at, _RANK[type(e)])
    )
    return merged
