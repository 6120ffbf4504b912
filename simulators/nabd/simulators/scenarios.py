"""Scenarios: what happens to a virtual patient, as data, with the labels that say so.

A :class:`Scenario` changes nothing by itself. It lists

* **excursions**: smooth departures of one vital from the patient's own baseline (sepsis raises
  heart rate and lowers blood pressure over hours), evaluated at any instant, so the generator can
  apply them on its beat grid and on the sampling times alike;
* **rhythm episodes**: intervals of atrial fibrillation, applied beat by beat;
* **device faults**: what a wearable does wrong (probe off, motion spikes, a frozen value, a
  draining battery, a drifting clock), applied to the measured series;
* **transport events**: what the radio and the network do wrong (disconnects, duplicated and
  garbled payloads), which only the BLE/MQTT shells can apply; they read them from here;
* **expectations**: the ground-truth labels, with the condition and the alert priority expected.

Everything outside ``[onset, offset)`` of an excursion or fault is left exactly as it was, which
is what lets the tests compare a patient with and without a scenario sample by sample.

Scenario functions (``sepsis(...)``, ``sensor_off(...)``) take explicit parameters; ``draw``
picks plausible random parameters for a named kind within a time window, for ward building.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.contract import AlertPriority
from nabd.simulators.devices import Device
from nabd.simulators.errors import ScenarioError
from nabd.simulators.labels import Condition, Label
from nabd.simulators.timebase import FloatArray

__all__ = [
    "EXCURSION_METRICS",
    "SCENARIO_KINDS",
    "Artefacts",
    "BatteryDrain",
    "ClockDrift",
    "DeviceFault",
    "Excursion",
    "Expectation",
    "Flatline",
    "RhythmEpisode",
    "Scenario",
    "SensorOff",
    "TransportEvent",
    "TransportKind",
    "battery_drain",
    "bradycardia",
    "clock_drift",
    "disconnects",
    "draw",
    "duplicated_payloads",
    "flatline",
    "garble",
    "garbled_payloads",
    "hypertensive_crisis",
    "hypoglycaemia",
    "hypoxaemia",
    "motion_artefacts",
    "opioid_respiratory_depression",
    "paroxysmal_af",
    "sensor_off",
    "sepsis",
    "stable",
]

MINUTE: Final = 60.0
HOUR: Final = 3600.0

EXCURSION_METRICS: Final = (
    "heart_rate",
    "respiration_rate",
    "spo2",
    "body_temperature",
    "systolic_bp",
    "diastolic_bp",
    "glucose",
    "body_weight",
)
"""The latent vitals an excursion can move; pulse rate follows heart rate and MAP follows BP."""


def _check_interval(what: str, onset: float, offset: float) -> None:
    if not (math.isfinite(onset) and math.isfinite(offset) and offset > onset):
        raise ScenarioError(f"{what}: need finite onset < offset, got {onset}, {offset}")


# ---- Physiology -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Excursion:
    """One vital leaving the patient's baseline and coming back.

    The effect rises over ``ramp_s`` from ``onset`` (smoothstep, no kink), holds for ``hold_s``
    (the *peak*), and falls back over ``recovery_s``; it is exactly zero outside
    ``[onset, offset)``. Its size is either a ``shift`` (added) or a ``target`` (the value the
    vital reaches at the peak, whatever the patient's baseline). Circadian rhythm and noise stay
    on top of it.
    """

    metric: str
    onset: float
    ramp_s: float
    hold_s: float
    recovery_s: float
    shift: float | None = None
    target: float | None = None

    def __post_init__(self) -> None:
        if self.metric not in EXCURSION_METRICS:
            raise ScenarioError(f"an excursion cannot move {self.metric!r}")
        spans = (self.ramp_s, self.hold_s, self.recovery_s)
        if not all(math.isfinite(s) and s >= 0 for s in spans) or sum(spans) <= 0:
            raise ScenarioError(f"excursion durations must be >= 0 and not all 0, got {spans}")
        _check_interval(f"{self.metric} excursion", self.onset, self.offset)
        if (self.shift is None) == (self.target is None):
            raise ScenarioError("an excursion has exactly one of shift and target")
        size = self.shift if self.shift is not None else self.target
        if size is None or not math.isfinite(size):
            raise ScenarioError(f"excursion size must be finite, got {size}")

    @property
    def offset(self) -> float:
        return self.onset + self.ramp_s + self.hold_s + self.recovery_s

    @property
    def peak(self) -> tuple[float, float]:
        """``[start, end)`` of the plateau, where the full effect applies."""
        start = self.onset + self.ramp_s
        return start, start + self.hold_s

    def amount(self, baseline: float) -> float:
        """The full effect for a patient whose baseline value of the metric is ``baseline``."""
        if self.shift is not None:
            return self.shift
        assert self.target is not None  # __post_init__ guarantees one of them
        return self.target - baseline

    def envelope(self, times: FloatArray) -> FloatArray:
        """The fraction of the full effect (0 to 1) at each instant."""
        peak_start, peak_end = self.peak
        rise = _smoothstep(times, self.onset, self.ramp_s)
        fall = 1.0 - _smoothstep(times, peak_end, self.recovery_s)
        inside = (times >= self.onset) & (times < self.offset)
        weight: FloatArray = np.where(inside, np.where(times < peak_start, rise, fall), 0.0)
        return weight


def _smoothstep(times: FloatArray, start: float, span: float) -> FloatArray:
    """0 before ``start``, 1 after ``start + span``, a smooth S between (a step if span is 0)."""
    if span <= 0:
        return (times >= start).astype(np.float64)
    x = np.clip((times - start) / span, 0.0, 1.0)
    result: FloatArray = x * x * (3.0 - 2.0 * x)
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class RhythmEpisode:
    """Atrial fibrillation over ``[onset, offset)``: RR intervals become irregularly irregular.

    ``irregularity`` is the coefficient of variation of the RR intervals (0.15-0.25 is typical of
    AF; sinus rhythm at rest is a few percent). The ventricular rate comes from a heart-rate
    excursion over the same interval.
    """

    onset: float
    offset: float
    irregularity: float = 0.2

    def __post_init__(self) -> None:
        _check_interval("rhythm episode", self.onset, self.offset)
        if not 0.0 < self.irregularity <= 0.5:
            raise ScenarioError(f"AF irregularity must be in (0, 0.5], got {self.irregularity}")


# ---- Devices -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _DeviceWindow:
    device: Device
    onset: float
    offset: float

    def __post_init__(self) -> None:
        _check_interval(f"{type(self).__name__} on {self.device}", self.onset, self.offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorOff(_DeviceWindow):
    """No skin contact: the device's values are missing and flagged ``sensor_contact_lost``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Artefacts(_DeviceWindow):
    """Motion artefacts: short implausible spikes (1-3 samples), about ``spikes_per_minute``."""

    spikes_per_minute: float = 2.0

    def __post_init__(self) -> None:
        _DeviceWindow.__post_init__(self)
        if not 0 < self.spikes_per_minute <= 60:
            raise ScenarioError(
                f"spikes_per_minute must be in (0, 60], got {self.spikes_per_minute}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Flatline(_DeviceWindow):
    """A stuck sensor: every value repeats the last one measured before ``onset``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryDrain(_DeviceWindow):
    """The battery falls from ``start_level`` % at onset to 0 at ``empty_at``; the device is dead
    (no values) from then until ``offset``, when the battery is swapped (100 %)."""

    start_level: float
    empty_at: float

    def __post_init__(self) -> None:
        _DeviceWindow.__post_init__(self)
        if not 0 < self.start_level <= 100:
            raise ScenarioError(f"start_level must be in (0, 100], got {self.start_level}")
        if not self.onset < self.empty_at <= self.offset:
            raise ScenarioError("empty_at must lie in (onset, offset]")

    def level(self, times: FloatArray) -> FloatArray:
        """Battery level (%) at each instant inside the window (meaningless outside it)."""
        fraction = (times - self.onset) / (self.empty_at - self.onset)
        level: FloatArray = np.clip(self.start_level * (1.0 - fraction), 0.0, 100.0)
        return level

    def low_from(self, threshold: float = 20.0) -> float:
        """When the level as reported (whole percent, half up) first reads ``threshold`` or less
        (onset if it starts there)."""
        reads_at_most = threshold + 0.5
        if self.start_level < reads_at_most:
            return self.onset
        drained = 1 - reads_at_most / self.start_level
        return self.onset + drained * (self.empty_at - self.onset)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockDrift(_DeviceWindow):
    """The device clock steps by ``step_s`` at onset, then runs ``drift_ppm`` fast (negative:
    slow), until it is set again at ``offset``. Only ``device_time`` is affected; shells apply
    :meth:`offset_at` to the true time."""

    drift_ppm: float
    step_s: float = 0.0

    def __post_init__(self) -> None:
        _DeviceWindow.__post_init__(self)
        if not (math.isfinite(self.drift_ppm) and abs(self.drift_ppm) <= 1e5):
            raise ScenarioError(f"drift_ppm must be within +/-1e5, got {self.drift_ppm}")
        if not math.isfinite(self.step_s):
            raise ScenarioError("step_s must be finite")

    def offset_at(self, times: FloatArray) -> FloatArray:
        """Device clock minus true time (s) at each instant: 0 outside the window."""
        inside = (times >= self.onset) & (times < self.offset)
        drift = self.step_s + self.drift_ppm * 1e-6 * (times - self.onset)
        result: FloatArray = np.where(inside, drift, 0.0)
        return result


DeviceFault = SensorOff | Artefacts | Flatline | BatteryDrain | ClockDrift


class TransportKind(StrEnum):
    DISCONNECT = "disconnect"
    """The BLE link is down: nothing from the device reaches the gateway."""
    DUPLICATE = "duplicate"
    """Each payload is sent twice with this probability (the same reading identity)."""
    GARBLE = "garble"
    """Each payload is replaced by :func:`garble` of it with this probability."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportEvent(_DeviceWindow):
    """Something only the transport shells can do; they apply it to messages in the window."""

    kind: TransportKind
    probability: float = 1.0

    def __post_init__(self) -> None:
        _DeviceWindow.__post_init__(self)
        if not 0 < self.probability <= 1:
            raise ScenarioError(f"probability must be in (0, 1], got {self.probability}")


# ---- Scenario ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """A label before it is given a patient."""

    condition: Condition
    priority: AlertPriority | None
    onset: float
    offset: float

    def __post_init__(self) -> None:
        _check_interval(f"{self.condition} expectation", self.onset, self.offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A named set of changes to one patient, with the labels they deserve."""

    name: str
    expectations: tuple[Expectation, ...]
    excursions: tuple[Excursion, ...] = ()
    rhythms: tuple[RhythmEpisode, ...] = ()
    faults: tuple[DeviceFault, ...] = ()
    transport: tuple[TransportEvent, ...] = ()

    def labels(self, patient_id: str) -> tuple[Label, ...]:
        """The expectations as labels of ``patient_id``."""
        return tuple(
            Label(
                patient_id=patient_id,
                scenario=self.name,
                condition=e.condition,
                priority=e.priority,
                onset=e.onset,
                offset=e.offset,
            )
            for e in self.expectations
        )


def _expect(
    condition: Condition, priority: AlertPriority | None, onset: float, offset: float
) -> Expectation:
    return Expectation(condition=condition, priority=priority, onset=onset, offset=offset)


def _excursions(
    onset: float, ramp_s: float, hold_s: float, recovery_s: float, **sizes: tuple[str, float]
) -> tuple[Excursion, ...]:
    """Excursions sharing one time course; ``sizes`` maps metric to ('shift'|'target', value)."""
    return tuple(
        Excursion(
            metric=metric,
            onset=onset,
            ramp_s=ramp_s,
            hold_s=hold_s,
            recovery_s=recovery_s,
            shift=value if kind == "shift" else None,
            target=value if kind == "target" else None,
        )
        for metric, (kind, value) in sizes.items()
    )


# ---- Clinical scenarios ----------------------------------------------------------------------


def stable(start: float, end: float) -> Scenario:
    """Nothing happens: baseline, circadian rhythm and noise only. No alert is expected."""
    return Scenario(name="stable", expectations=(_expect(Condition.STABLE, None, start, end),))


def sepsis(
    onset: float,
    *,
    ramp_s: float = 6 * HOUR,
    hold_s: float = 3 * HOUR,
    recovery_s: float = 6 * HOUR,
    heart_rate: float = 124.0,
    respiration_rate: float = 27.0,
    systolic_bp: float = 90.0,
    diastolic_bp: float = 52.0,
    temperature: float = 38.9,
    spo2: float = 93.0,
) -> Scenario:
    """Sepsis-like deterioration: tachycardia, tachypnoea, hypotension, fever, mild desaturation.

    The targets default to a NEWS2 of about 11 at the peak (RR 3, SBP 2-3, HR 2, temperature 1,
    SpO2 2). Labels: ``sepsis`` over the whole excursion, ``news2_high`` over the plateau.
    """
    moves = _excursions(
        onset,
        ramp_s,
        hold_s,
        recovery_s,
        heart_rate=("target", heart_rate),
        respiration_rate=("target", respiration_rate),
        systolic_bp=("target", systolic_bp),
        diastolic_bp=("target", diastolic_bp),
        body_temperature=("target", temperature),
        spo2=("target", spo2),
    )
    peak_start, peak_end = moves[0].peak
    return Scenario(
        name="sepsis",
        expectations=(
            _expect(Condition.SEPSIS, AlertPriority.HIGH, onset, moves[0].offset),
            _expect(Condition.NEWS2_HIGH, AlertPriority.HIGH, peak_start, peak_end),
        ),
        excursions=moves,
    )


def opioid_respiratory_depression(
    onset: float,
    *,
    ramp_s: float = 30 * MINUTE,
    hold_s: float = 90 * MINUTE,
    recovery_s: float = 60 * MINUTE,
    respiration_rate: float = 7.0,
    spo2: float = 87.0,
    heart_rate_shift: float = -8.0,
    systolic_shift: float = -10.0,
) -> Scenario:
    """Opioid-induced respiratory depression: slow breathing, then falling SpO2.

    NEWS2 at the peak is at least 6 (RR <= 8 and SpO2 <= 91 score 3 each), which is medium risk
    on vitals alone; sedation (not simulated) would add 3. Priority high.
    """
    moves = _excursions(
        onset,
        ramp_s,
        hold_s,
        recovery_s,
        respiration_rate=("target", respiration_rate),
        spo2=("target", spo2),
        heart_rate=("shift", heart_rate_shift),
        systolic_bp=("shift", systolic_shift),
    )
    return Scenario(
        name="opioid_respiratory_depression",
        expectations=(
            _expect(Condition.RESPIRATORY_DEPRESSION, AlertPriority.HIGH, onset, moves[0].offset),
        ),
        excursions=moves,
    )


def hypoxaemia(
    onsets: Sequence[float],
    *,
    duration_s: float = 5 * MINUTE,
    spo2: float = 84.0,
    heart_rate_shift: float = 10.0,
    respiration_shift: float = 4.0,
) -> Scenario:
    """Episodes of desaturation (one label each) with a compensatory rise in HR and RR.

    SpO2 <= 91 scores 3 in NEWS2; at 84 % the episode is an emergency: priority high.
    """
    edge = min(60.0, duration_s / 4)
    moves: list[Excursion] = []
    expected: list[Expectation] = []
    for onset in onsets:
        episode = _excursions(
            onset,
            edge,
            duration_s - 2 * edge,
            edge,
            spo2=("target", spo2),
            heart_rate=("shift", heart_rate_shift),
            respiration_rate=("shift", respiration_shift),
        )
        moves.extend(episode)
        expected.append(_expect(Condition.HYPOXAEMIA, AlertPriority.HIGH, onset, episode[0].offset))
    return Scenario(name="hypoxaemia", expectations=tuple(expected), excursions=tuple(moves))


def paroxysmal_af(
    episodes: Sequence[tuple[float, float]],
    *,
    ventricular_rate: float = 125.0,
    irregularity: float = 0.2,
) -> Scenario:
    """Paroxysms of atrial fibrillation: abrupt onset of an irregularly irregular, faster rhythm.

    Within each ``(onset, offset)`` the RR intervals lose respiratory sinus arrhythmia and become
    independent draws (coefficient of variation ``irregularity``) around the ventricular rate,
    reached within 10 s. Priority medium: new AF needs review, rarely an emergency.
    """
    moves: list[Excursion] = []
    rhythms: list[RhythmEpisode] = []
    expected: list[Expectation] = []
    for onset, offset in episodes:
        edge = min(10.0, (offset - onset) / 4)
        moves.extend(
            _excursions(
                onset,
                edge,
                offset - onset - 2 * edge,
                edge,
                heart_rate=("target", ventricular_rate),
            )
        )
        rhythms.append(RhythmEpisode(onset=onset, offset=offset, irregularity=irregularity))
        expected.append(_expect(Condition.ATRIAL_FIBRILLATION, AlertPriority.MEDIUM, onset, offset))
    return Scenario(
        name="paroxysmal_af",
        expectations=tuple(expected),
        excursions=tuple(moves),
        rhythms=tuple(rhythms),
    )


def bradycardia(
    onset: float,
    *,
    duration_s: float = 30 * MINUTE,
    heart_rate: float = 38.0,
    systolic_shift: float = -15.0,
) -> Scenario:
    """Symptomatic bradycardia (e.g. high-grade AV block), reached within 2 minutes.

    HR <= 40 scores 3 in NEWS2: low-medium risk, priority medium.
    """
    edge = min(2 * MINUTE, duration_s / 4)
    moves = _excursions(
        onset,
        edge,
        duration_s - 2 * edge,
        edge,
        heart_rate=("target", heart_rate),
        systolic_bp=("shift", systolic_shift),
    )
    return Scenario(
        name="bradycardia",
        expectations=(
            _expect(Condition.BRADYCARDIA, AlertPriority.MEDIUM, onset, moves[0].offset),
        ),
        excursions=moves,
    )


def hypertensive_crisis(
    onset: float,
    *,
    ramp_s: float = 30 * MINUTE,
    hold_s: float = 60 * MINUTE,
    recovery_s: float = 120 * MINUTE,
    systolic_bp: float = 225.0,
    diastolic_bp: float = 125.0,
    heart_rate_shift: float = 8.0,
) -> Scenario:
    """Hypertensive crisis (SBP >= 180 or DBP >= 120 mmHg), treated down over two hours.

    NEWS2 scores SBP >= 220 only 3 (priority medium); the crisis itself calls for high.
    """
    moves = _excursions(
        onset,
        ramp_s,
        hold_s,
        recovery_s,
        systolic_bp=("target", systolic_bp),
        diastolic_bp=("target", diastolic_bp),
        heart_rate=("shift", heart_rate_shift),
    )
    return Scenario(
        name="hypertensive_crisis",
        expectations=(
            _expect(Condition.HYPERTENSIVE_CRISIS, AlertPriority.HIGH, onset, moves[0].offset),
        ),
        excursions=moves,
    )


def hypoglycaemia(
    onset: float,
    *,
    ramp_s: float = 45 * MINUTE,
    hold_s: float = 30 * MINUTE,
    recovery_s: float = 20 * MINUTE,
    glucose: float = 2.6,
    heart_rate_shift: float = 15.0,
    systolic_shift: float = 8.0,
    temperature_shift: float = -0.2,
) -> Scenario:
    """Level 2 hypoglycaemia (< 3.0 mmol/L) with its adrenergic response (tachycardia, a rise in
    systolic pressure, sweating that cools the skin), corrected by glucose. NEWS2 does not see
    glucose; priority high."""
    moves = _excursions(
        onset,
        ramp_s,
        hold_s,
        recovery_s,
        glucose=("target", glucose),
        heart_rate=("shift", heart_rate_shift),
        systolic_bp=("shift", systolic_shift),
        body_temperature=("shift", temperature_shift),
    )
    return Scenario(
        name="hypoglycaemia",
        expectations=(
            _expect(Condition.HYPOGLYCAEMIA, AlertPriority.HIGH, onset, moves[0].offset),
        ),
        excursions=moves,
    )


# ---- Technical scenarios ---------------------------------------------------------------------


def sensor_off(device: Device, windows: Sequence[tuple[float, float]]) -> Scenario:
    """The sensor loses skin contact: values missing, flagged ``sensor_contact_lost``.

    The patient is unmonitored meanwhile: priority medium.
    """
    return Scenario(
        name="sensor_off",
        expectations=tuple(
            _expect(Condition.SENSOR_OFF, AlertPriority.MEDIUM, a, b) for a, b in windows
        ),
        faults=tuple(SensorOff(device=device, onset=a, offset=b) for a, b in windows),
    )


def motion_artefacts(
    device: Device, onset: float, offset: float, *, spikes_per_minute: float = 2.0
) -> Scenario:
    """Motion artefacts: brief implausible spikes. The right response is no clinical alert."""
    fault = Artefacts(
        device=device, onset=onset, offset=offset, spikes_per_minute=spikes_per_minute
    )
    return Scenario(
        name="motion_artefacts",
        expectations=(_expect(Condition.ARTEFACT, None, onset, offset),),
        faults=(fault,),
    )


def flatline(device: Device, onset: float, offset: float) -> Scenario:
    """A frozen sensor repeating one value: unmonitored in disguise, priority medium."""
    return Scenario(
        name="flatline",
        expectations=(_expect(Condition.FLATLINE, AlertPriority.MEDIUM, onset, offset),),
        faults=(Flatline(device=device, onset=onset, offset=offset),),
    )


def battery_drain(
    device: Device,
    onset: float,
    *,
    start_level: float = 30.0,
    empty_after_s: float = 4 * HOUR,
    replaced_after_s: float = 1 * HOUR,
) -> Scenario:
    """A battery running down: ``low_battery`` (low) from 20 % until empty, then
    ``device_disconnected`` (medium) until the battery is swapped."""
    empty_at = onset + empty_after_s
    fault = BatteryDrain(
        device=device,
        onset=onset,
        offset=empty_at + replaced_after_s,
        start_level=start_level,
        empty_at=empty_at,
    )
    return Scenario(
        name="battery_drain",
        expectations=(
            _expect(Condition.LOW_BATTERY, AlertPriority.LOW, fault.low_from(), empty_at),
            _expect(Condition.DEVICE_DISCONNECTED, AlertPriority.MEDIUM, empty_at, fault.offset),
        ),
        faults=(fault,),
    )


def disconnects(device: Device, windows: Sequence[tuple[float, float]]) -> Scenario:
    """BLE link losses: the shells deliver nothing from the device in each window (medium)."""
    return Scenario(
        name="disconnects",
        expectations=tuple(
            _expect(Condition.DEVICE_DISCONNECTED, AlertPriority.MEDIUM, a, b) for a, b in windows
        ),
        transport=tuple(
            TransportEvent(device=device, onset=a, offset=b, kind=TransportKind.DISCONNECT)
            for a, b in windows
        ),
    )


def clock_drift(
    device: Device, onset: float, offset: float, *, drift_ppm: float = 500.0, step_s: float = 0.0
) -> Scenario:
    """A device clock that jumps and drifts (``device_time`` only): priority low."""
    fault = ClockDrift(
        device=device, onset=onset, offset=offset, drift_ppm=drift_ppm, step_s=step_s
    )
    return Scenario(
        name="clock_drift",
        expectations=(_expect(Condition.CLOCK_DRIFT, AlertPriority.LOW, onset, offset),),
        faults=(fault,),
    )


def duplicated_payloads(
    device: Device, onset: float, offset: float, *, probability: float = 0.1
) -> Scenario:
    """Payloads delivered twice: ingest must store them once. No alert is expected."""
    event = TransportEvent(
        device=device,
        onset=onset,
        offset=offset,
        kind=TransportKind.DUPLICATE,
        probability=probability,
    )
    return Scenario(
        name="duplicated_payloads",
        expectations=(_expect(Condition.DUPLICATED_PAYLOAD, None, onset, offset),),
        transport=(event,),
    )


def garbled_payloads(
    device: Device, onset: float, offset: float, *, probability: float = 0.05
) -> Scenario:
    """Corrupted payloads: they must be dead-lettered, never stored. No alert is expected."""
    event = TransportEvent(
        device=device,
        onset=onset,
        offset=offset,
        kind=TransportKind.GARBLE,
        probability=probability,
    )
    return Scenario(
        name="garbled_payloads",
        expectations=(_expect(Condition.GARBLED_PAYLOAD, None, onset, offset),),
        transport=(event,),
    )


def garble(payload: bytes, seed: int) -> bytes:
    """A corrupted variant of ``payload``: never equal to it, the same for the same seed.

    One of what faulty radios, firmware and cut connections produce: flipped bits, truncation,
    inserted bytes, an overwritten span, or an invalid UTF-8 sequence spliced in. Each variant is
    either truncated or holds a byte sequence that is not UTF-8 (a 0xFF byte, or a lone byte
    with its high bit flipped), so a garbled JSON object (ASCII text) can never parse as JSON:
    the corruption is one ingest must detect, not a plausible wrong value.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6761726B]))
    data = bytearray(payload)
    if not data:
        return b"\xff" + rng.bytes(int(rng.integers(0, 8)))
    where = int(rng.integers(0, len(data)))
    match int(rng.integers(0, 5)):
        case 0:
            _flip_bits(data, where, rng)
        case 1:
            del data[where if where > 0 else 1 :]
        case 2:
            data[where:where] = b"\xff" + rng.bytes(int(rng.integers(0, 8)))
        case 3:
            span = int(rng.integers(1, 9))
            data[where : where + span] = b"\xff" + rng.bytes(span - 1)
        case _:
            data[where:where] = b"\xc3\x28"
    if data == payload:  # only a 1-byte payload truncated to itself can get here
        data.append(0xFF)
    return bytes(data)


def _flip_bits(data: bytearray, where: int, rng: np.random.Generator) -> None:
    """Flip the high bit at ``where`` and up to 7 low bits elsewhere (low bits keep ASCII ASCII,
    so the lone high byte stays invalid UTF-8)."""
    data[where] ^= 0x80
    for _ in range(int(rng.integers(0, 8))):
        other = int(rng.integers(0, len(data)))
        if other != where:
            data[other] ^= 1 << int(rng.integers(0, 7))


# ---- Random draws for ward building ----------------------------------------------------------


def _placed(rng: np.random.Generator, start: float, end: float, span: float) -> tuple[float, float]:
    """An onset leaving room for ``span`` (shrunk to 90 % of the window if needed), and the
    factor the span was scaled by."""
    window = end - start
    scale = min(1.0, 0.9 * window / span)
    earliest = start + 0.05 * window
    latest = max(earliest, end - span * scale)
    return float(rng.uniform(earliest, latest)), scale


def _slots(
    rng: np.random.Generator, start: float, end: float, count: int, longest: float
) -> list[tuple[float, float]]:
    """``count`` non-overlapping intervals, one inside each equal slot of the window."""
    slot = (end - start) / count
    intervals = []
    for index in range(count):
        duration = float(rng.uniform(0.3, 1.0)) * min(longest, 0.8 * slot)
        onset = start + index * slot + float(rng.uniform(0.1, 0.9)) * (slot - duration)
        intervals.append((onset, onset + duration))
    return intervals


_WORN: Final = (
    Device.CHEST_STRAP,
    Device.PULSE_OXIMETER,
    Device.THERMOMETER,
    Device.BP_CUFF,
    Device.GLUCOSE_METER,
    Device.SCALE,
)
"""Devices a drawn transport fault may hit: the ones every simulated patient wears (the
respiration sensor is on some beds only; leaving it out keeps seeded draws as they were)."""


def _device(rng: np.random.Generator, choices: Sequence[Device] = _WORN) -> Device:
    return choices[int(rng.integers(0, len(choices)))]


_CONTINUOUS: Final = (Device.CHEST_STRAP, Device.PULSE_OXIMETER)


def _draw_sepsis(rng: np.random.Generator, start: float, end: float) -> Scenario:
    onset, scale = _placed(rng, start, end, 15 * HOUR)
    return sepsis(
        onset,
        ramp_s=6 * HOUR * scale,
        hold_s=3 * HOUR * scale,
        recovery_s=6 * HOUR * scale,
        heart_rate=float(rng.uniform(118, 132)),
        respiration_rate=float(rng.uniform(26, 30)),
        systolic_bp=float(rng.uniform(84, 95)),
        diastolic_bp=float(rng.uniform(46, 56)),
        temperature=float(rng.uniform(38.6, 39.4)),
        spo2=float(rng.uniform(91, 94)),
    )


def _draw_respiratory_depression(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ramp, hold, recovery = (
        float(rng.uniform(a, b)) * MINUTE for a, b in ((20, 40), (60, 120), (30, 90))
    )
    onset, scale = _placed(rng, start, end, ramp + hold + recovery)
    return opioid_respiratory_depression(
        onset,
        ramp_s=ramp * scale,
        hold_s=hold * scale,
        recovery_s=recovery * scale,
        respiration_rate=float(rng.uniform(5, 7)),
        spo2=float(rng.uniform(84, 88)),
        heart_rate_shift=-float(rng.uniform(5, 12)),
        systolic_shift=-float(rng.uniform(5, 15)),
    )


def _draw_hypoxaemia(rng: np.random.Generator, start: float, end: float) -> Scenario:
    count = int(rng.integers(2, 5))
    windows = _slots(rng, start, end, count, 10 * MINUTE)
    duration = min(b - a for a, b in windows)
    return hypoxaemia(
        [a for a, _ in windows],
        duration_s=duration,
        spo2=float(rng.uniform(80, 87)),
        heart_rate_shift=float(rng.uniform(8, 15)),
        respiration_shift=float(rng.uniform(3, 6)),
    )


def _draw_af(rng: np.random.Generator, start: float, end: float) -> Scenario:
    windows = _slots(rng, start, end, int(rng.integers(1, 4)), 90 * MINUTE)
    return paroxysmal_af(
        windows,
        ventricular_rate=float(rng.uniform(110, 150)),
        irregularity=float(rng.uniform(0.15, 0.25)),
    )


def _draw_bradycardia(rng: np.random.Generator, start: float, end: float) -> Scenario:
    duration = float(rng.uniform(15, 60)) * MINUTE
    onset, scale = _placed(rng, start, end, duration)
    return bradycardia(
        onset,
        duration_s=duration * scale,
        heart_rate=float(rng.uniform(34, 42)),
        systolic_shift=-float(rng.uniform(10, 20)),
    )


def _draw_hypertensive_crisis(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ramp, hold, recovery = (
        float(rng.uniform(a, b)) * MINUTE for a, b in ((20, 40), (45, 90), (60, 120))
    )
    onset, scale = _placed(rng, start, end, ramp + hold + recovery)
    return hypertensive_crisis(
        onset,
        ramp_s=ramp * scale,
        hold_s=hold * scale,
        recovery_s=recovery * scale,
        systolic_bp=float(rng.uniform(215, 235)),
        diastolic_bp=float(rng.uniform(120, 130)),
        heart_rate_shift=float(rng.uniform(5, 12)),
    )


def _draw_hypoglycaemia(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ramp, hold, recovery = (
        float(rng.uniform(a, b)) * MINUTE for a, b in ((30, 60), (20, 40), (15, 30))
    )
    onset, scale = _placed(rng, start, end, ramp + hold + recovery)
    return hypoglycaemia(
        onset,
        ramp_s=ramp * scale,
        hold_s=hold * scale,
        recovery_s=recovery * scale,
        glucose=float(rng.uniform(2.2, 2.9)),
        heart_rate_shift=float(rng.uniform(10, 20)),
        systolic_shift=float(rng.uniform(5, 10)),
        temperature_shift=-float(rng.uniform(0.1, 0.3)),
    )


def _draw_sensor_off(rng: np.random.Generator, start: float, end: float) -> Scenario:
    device = _device(rng, _CONTINUOUS)
    return sensor_off(device, _slots(rng, start, end, int(rng.integers(1, 4)), 20 * MINUTE))


def _draw_artefacts(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ((onset, offset),) = _slots(rng, start, end, 1, 30 * MINUTE)
    device = _device(rng, _CONTINUOUS)
    return motion_artefacts(device, onset, offset, spikes_per_minute=float(rng.uniform(1, 4)))


def _draw_flatline(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ((onset, offset),) = _slots(rng, start, end, 1, 30 * MINUTE)
    return flatline(_device(rng, _CONTINUOUS), onset, offset)


def _draw_battery(rng: np.random.Generator, start: float, end: float) -> Scenario:
    empty, replaced = float(rng.uniform(2, 6)) * HOUR, float(rng.uniform(0.5, 2)) * HOUR
    onset, scale = _placed(rng, start, end, empty + replaced)
    return battery_drain(
        _device(rng),
        onset,
        start_level=float(rng.uniform(25, 35)),
        empty_after_s=empty * scale,
        replaced_after_s=replaced * scale,
    )


def _draw_disconnects(rng: np.random.Generator, start: float, end: float) -> Scenario:
    windows = _slots(rng, start, end, int(rng.integers(1, 4)), 10 * MINUTE)
    return disconnects(_device(rng), windows)


def _draw_clock_drift(rng: np.random.Generator, start: float, end: float) -> Scenario:
    onset, _ = _placed(rng, start, end, 0.5 * (end - start))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return clock_drift(
        _device(rng),
        onset,
        end,
        drift_ppm=sign * float(rng.uniform(100, 2000)),
        step_s=float(rng.uniform(-30, 30)),
    )


def _draw_duplicates(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ((onset, offset),) = _slots(rng, start, end, 1, 2 * HOUR)
    return duplicated_payloads(
        _device(rng), onset, offset, probability=float(rng.uniform(0.05, 0.3))
    )


def _draw_garbled(rng: np.random.Generator, start: float, end: float) -> Scenario:
    ((onset, offset),) = _slots(rng, start, end, 1, 2 * HOUR)
    return garbled_payloads(_device(rng), onset, offset, probability=float(rng.uniform(0.02, 0.1)))


_DRAWS: Final[Mapping[str, Callable[[np.random.Generator, float, float], Scenario]]] = (
    MappingProxyType(
        {
            "stable": lambda _rng, start, end: stable(start, end),
            "sepsis": _draw_sepsis,
            "opioid_respiratory_depression": _draw_respiratory_depression,
            "hypoxaemia": _draw_hypoxaemia,
            "paroxysmal_af": _draw_af,
            "bradycardia": _draw_bradycardia,
            "hypertensive_crisis": _draw_hypertensive_crisis,
            "hypoglycaemia": _draw_hypoglycaemia,
            "sensor_off": _draw_sensor_off,
            "motion_artefacts": _draw_artefacts,
            "flatline": _draw_flatline,
            "battery_drain": _draw_battery,
            "disconnects": _draw_disconnects,
            "clock_drift": _draw_clock_drift,
            "duplicated_payloads": _draw_duplicates,
            "garbled_payloads": _draw_garbled,
        }
    )
)

SCENARIO_KINDS: Final = tuple(_DRAWS)
"""Names accepted by :func:`draw` (and in a ward's scenario mix); each is a Scenario's name."""


def draw(kind: str, rng: np.random.Generator, start: float, end: float) -> Scenario:
    """A ``kind`` scenario with plausible random parameters, fitted inside ``[start, end)``.

    Long scenarios (sepsis over 15 h) are compressed in time to fit a short window.
    """
    _check_interval(f"{kind} window", start, end)
    try:
        make = _DRAWS[kind]
    except KeyError as exc:
        raise ScenarioError(
            f"unknown scenario {kind!r}; known: {', '.join(SCENARIO_KINDS)}"
        ) from exc
    return make(rng, start, end)
