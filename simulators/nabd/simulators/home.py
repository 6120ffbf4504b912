"""Simulated patients at home: care plans, daily routines with spot devices, labelled scenarios.

:func:`build_home` gives every patient one programme (heart failure, hypertension, diabetes,
COPD, in turn) and its default care plan (:func:`nabd.contract.careplan.default_plan`; the
heart-failure patient's dry weight set), then lives their days:

* **routine**: each scheduled slot has the patient's own habitual time (a fixed share of the
  window, +-20 min from day to day, 45 min later on Saturdays and Sundays); a measurement is
  forgotten with the patient's own probability (1-8 %, doubled at weekends) and taken too late
  (after the window) 2 % of the time. A blood-pressure occasion is two readings 1 min apart
  (the HBPM protocol [HC]).
* **physiology**, per programme: morning weight around the dry weight (day-to-day AR(1), SD
  about 0.3 kg, scale noise 0.15 kg, to 0.1 kg; 1 % of mornings in clothes, +0.8-1.8 kg,
  unlabelled); a controlled treated blood pressure (mean SBP
  112-132); pre-meal glucose around the patient's own mean (7-9 mmol/L, log-normal, 0.1 mmol/L
  resolution); SpO2 of a hypercapnic COPD patient at 90-93 % (integer %).
* **scenarios** (one per patient; 45 % stable): the programme's clinical one (35 %):
  ``hf_decompensation`` (gradual gain of 2.5-4.5 kg over 5-9 days, held 2 days, then
  diuresis), ``nocturnal_hypoglycaemia`` (1-2 nights with glucose down to 2.4-3.5 mmol/L from
  01:00-03:30: 70 % wake with symptoms and measure, re-checking 15 min after treating; the
  others are found low at the breakfast measurement, unless they forget it),
  ``hypertensive_episode`` (treatment stopped: +55-75/+25-35 mmHg within a day, for 2-4 days),
  ``copd_exacerbation`` (SpO2 falling 4-7 points over 2 days, for 2-4 days); or
  ``non_adherence`` (no measurement for 3-7 days, 10 %) or ``holiday_away`` (away from the
  gateway 5-10 days, 10 %).

**Labels**: each clinical episode over ``[onset, end of the episode)``; every run of
``misses_before_alert`` or more missed occasions of one kind (forgotten, late, away) as
``non_adherence`` over ``[first missed window start, last missed window end)``, named after its
cause (``non_adherence``, ``holiday_away`` or ``forgetting``). Figures are assumptions chosen to
look like published home-monitoring data, not fitted to any; docs/simulators.md lists them.

Deterministic: everything follows from ``seed`` and each patient's own streams
(:func:`nabd.simulators.streams.stream`). Times are float seconds since the epoch, UTC; the
simulated patients live at UTC+0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.contract import AlertPriority
from nabd.contract.careplan import CarePlan, MeasurementKind, Programme, default_plan
from nabd.simulators.errors import SimulatorError
from nabd.simulators.labels import Condition, Label
from nabd.simulators.streams import check_seed, stream
from nabd.simulators.timebase import DAY_S, DEFAULT_START, FloatArray

__all__ = ["CLINICAL_SCENARIO", "HomeCohort", "HomeReadings", "build_home"]

PROGRAMMES: Final = (
    Programme.HEART_FAILURE,
    Programme.HYPERTENSION,
    Programme.DIABETES,
    Programme.COPD,
)
CLINICAL_SCENARIO: Final[Mapping[Programme, tuple[str, Condition, AlertPriority]]] = {
    Programme.HEART_FAILURE: (
        "hf_decompensation",
        Condition.HEART_FAILURE_DECOMPENSATION,
        AlertPriority.MEDIUM,
    ),
    Programme.HYPERTENSION: (
        "hypertensive_episode",
        Condition.HYPERTENSIVE_EPISODE,
        AlertPriority.MEDIUM,
    ),
    Programme.DIABETES: (
        "nocturnal_hypoglycaemia",
        Condition.NOCTURNAL_HYPOGLYCAEMIA,
        AlertPriority.MEDIUM,
    ),
    Programme.COPD: ("copd_exacerbation", Condition.COPD_EXACERBATION, AlertPriority.MEDIUM),
}
MIX: Final = (("stable", 0.45), ("clinical", 0.35), ("non_adherence", 0.10),
              ("holiday_away", 0.10))  # fmt: skip
METRICS: Final = ("body_weight", "systolic_bp", "diastolic_bp", "glucose", "spo2")
H: Final = 3600.0
CLOTHED: Final = 0.01
"""Share of mornings weighed in clothes or shoes (+0.8-1.8 kg): unlabelled, so any alert it
causes counts as false, as it would for the nurse who calls."""


@dataclass(frozen=True)
class HomeReadings:
    """Flat readings of one metric: patient row, time (s since the epoch), value (contract unit)."""

    row: npt.NDArray[np.int64]
    time: FloatArray
    value: FloatArray


@dataclass(frozen=True, eq=False)
class HomeCohort:
    """Patients, their plans and scenarios, every reading and the answer key."""

    seed: int
    start: float
    days: int
    patient_ids: tuple[str, ...]
    plans: tuple[CarePlan, ...]
    scenarios: tuple[str, ...]
    readings: Mapping[str, HomeReadings]
    labels: tuple[Label, ...]

    @property
    def end(self) -> float:
        return self.start + self.days * DAY_S


@dataclass
class _Patient:
    """One patient's readings and labels while they are being lived."""

    pid: str
    start: float
    plan: CarePlan
    scenario: str
    readings: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)

    def add(self, metric: str, times: npt.ArrayLike, values: npt.ArrayLike) -> None:
        pairs = zip(np.atleast_1d(times).tolist(), np.atleast_1d(values).tolist(), strict=True)
        self.readings.setdefault(metric, []).extend(pairs)

    def label(self, scenario: str, condition: Condition, onset: float, offset: float,
              priority: AlertPriority | None = AlertPriority.MEDIUM) -> None:  # fmt: skip
        self.labels.append(
            Label(
                patient_id=self.pid,
                scenario=scenario,
                condition=condition,
                priority=priority,
                onset=onset,
                offset=offset,
            )
        )


def build_home(patients: int, *, days: int = 30, seed: int = 1,
               start: float = DEFAULT_START) -> HomeCohort:  # fmt: skip
    """A deterministic cohort of ``patients`` home patients over ``days`` days from ``start``
    (a UTC midnight)."""
    check_seed(seed)
    if patients < 1 or days < 1:
        raise SimulatorError(f"need at least 1 patient and 1 day, got {patients} and {days}")
    if start % DAY_S:
        raise SimulatorError("start must be a UTC midnight (a multiple of 86400 s)")
    order = stream(seed, "cohort", "programmes").permutation(patients)
    lived = []
    for row in range(patients):
        pid = f"h-{row + 1:04d}"
        programme = PROGRAMMES[int(order[row]) % len(PROGRAMMES)]
        pick = stream(seed, pid, "scenario").random()
        weights = np.cumsum([w for _, w in MIX])
        kind = MIX[int(np.searchsorted(weights, pick * weights[-1], side="right"))][0]
        scenario = CLINICAL_SCENARIO[programme][0] if kind == "clinical" else kind
        lived.append(_live(seed, pid, programme, scenario, start=start, days=days))
    readings = {}
    for metric in METRICS:
        rows = [np.full(len(p.readings.get(metric, [])), i) for i, p in enumerate(lived)]
        pairs = [np.array(p.readings.get(metric, []), dtype=np.float64).reshape(-1, 2)
                 for p in lived]  # fmt: skip
        joined = np.concatenate(pairs) if pairs else np.zeros((0, 2))
        readings[metric] = HomeReadings(
            row=np.concatenate(rows).astype(np.int64), time=joined[:, 0], value=joined[:, 1]
        )
    return HomeCohort(
        seed=seed,
        start=start,
        days=days,
        patient_ids=tuple(p.pid for p in lived),
        plans=tuple(p.plan for p in lived),
        scenarios=tuple(p.scenario for p in lived),
        readings=readings,
        labels=tuple(label for p in lived for label in p.labels),
    )


def _live(seed: int, pid: str, programme: Programme, scenario: str, *, start: float,
          days: int) -> _Patient:  # fmt: skip
    rng = stream(seed, pid, "physiology")
    dry = round(float(rng.uniform(55, 110)), 1)
    plan = default_plan([programme]).with_changes({"weight": {"dry_weight_kg": dry}})
    patient = _Patient(pid, start, plan, scenario)
    away = _away_days(seed, pid, scenario, days)
    occasions = _occasions(seed, pid, plan, start=start, days=days, away=away)
    for _times, taken, window in occasions.values():
        _misses(patient, taken, window, away, start)
    if MeasurementKind.WEIGHT in occasions:
        _weights(seed, patient, dry, occasions[MeasurementKind.WEIGHT], days)
    if MeasurementKind.BLOOD_PRESSURE in occasions:
        _pressures(seed, patient, programme, occasions[MeasurementKind.BLOOD_PRESSURE], days)
    if MeasurementKind.GLUCOSE in occasions:
        _glucose(seed, patient, occasions[MeasurementKind.GLUCOSE], days)
    if MeasurementKind.SPO2 in occasions:
        _spo2(seed, patient, occasions[MeasurementKind.SPO2], days)
    return patient


def _away_days(seed: int, pid: str, scenario: str, days: int) -> tuple[int, int] | None:
    """``[first, last)`` day without any measurement, for the adherence scenarios."""
    if scenario not in {"non_adherence", "holiday_away"}:
        return None
    rng = stream(seed, pid, "away")
    length = int(rng.integers(3, 8)) if scenario == "non_adherence" else int(rng.integers(5, 11))
    length = min(length, max(days - 2, 1))
    first = int(rng.integers(1, max(days - length, 1) + 1))
    return first, min(first + length, days)


Occasions = tuple[FloatArray, npt.NDArray[np.bool_], FloatArray]
"""Per kind, ``(days, slots)`` arrays: the time measured (or would have been), whether it
counts as taken, and the window ``[start, end)`` as ``(days, slots, 2)``."""


def _occasions(seed: int, pid: str, plan: CarePlan, *, start: float, days: int,
               away: tuple[int, int] | None) -> dict[MeasurementKind, Occasions]:  # fmt: skip
    rng = stream(seed, pid, "routine")
    forget = float(rng.uniform(0.01, 0.08))
    day = np.arange(days)
    weekday = (np.floor(start / DAY_S).astype(np.int64) + day + 3) % 7  # 1970-01-01: Thursday
    weekend = weekday >= 5
    out: dict[MeasurementKind, Occasions] = {}
    for kind in MeasurementKind:
        slots = plan.slots(kind)
        if not slots:
            continue
        bounds = np.array([s.window_s for s in slots], dtype=np.float64)  # (slots, 2)
        habit = bounds[:, 0] + rng.uniform(0.2, 0.4, len(slots)) * (bounds[:, 1] - bounds[:, 0])
        jitter = rng.normal(0, 20 * 60, (days, len(slots)))
        late_shift = rng.uniform(10 * 60, 90 * 60, (days, len(slots)))
        local = habit[None, :] + jitter + np.where(weekend, 45 * 60, 0)[:, None]
        local = np.maximum(local, bounds[None, :, 0] + 60)
        p_forget = np.where(weekend, 2 * forget, forget)[:, None]
        forgot = rng.random((days, len(slots))) < p_forget
        late = rng.random((days, len(slots))) < 0.02
        local = np.where(late, bounds[None, :, 1] + late_shift, local)
        local = np.minimum(local, DAY_S - 61)
        # Late readings are still sent (they feed the rules, not adherence); forgotten or away
        # ones are not. A late reading inside a later window of the kind counts for that one.
        sent = ~forgot
        if away is not None:
            sent[away[0] : away[1]] = False
        inside = (local[:, :, None] >= bounds[None, None, :, 0]) & (
            local[:, :, None] < bounds[None, None, :, 1]
        )
        taken: npt.NDArray[np.bool_] = np.any(inside & sent[:, :, None], axis=1)
        midnight = start + day[:, None] * DAY_S
        times = midnight + local
        window = midnight[..., None] + bounds[None, :, :]
        out[kind] = (np.where(sent, times, np.nan), taken, window)
    return out


def _misses(patient: _Patient, taken: npt.NDArray[np.bool_], window: FloatArray,
            away: tuple[int, int] | None, start: float) -> None:  # fmt: skip
    """Label every run of ``misses_before_alert`` or more missed occasions of one kind."""
    need = patient.plan.adherence.misses_before_alert
    missed = ~taken.reshape(-1)
    spans = window.reshape(-1, 2)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], missed.astype(np.int8), [0]])))
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - first < need:
            continue
        onset, offset = float(spans[first, 0]), float(spans[stop - 1, 1])
        cause = "forgetting"
        if (
            away is not None
            and onset < start + away[1] * DAY_S
            and offset > start + away[0] * DAY_S
        ):
            cause = patient.scenario
        patient.label(cause, Condition.NON_ADHERENCE, onset, offset, AlertPriority.LOW)


def _ramp(t_days: FloatArray, onset: float, rise: float, hold: float, fall: float) -> FloatArray:
    """0 before ``onset``, up linearly over ``rise`` days, 1 for ``hold``, down over ``fall``."""
    up = np.clip((t_days - onset) / rise, 0, 1)
    down = np.clip((t_days - onset - rise - hold) / fall, 0, 1)
    result: FloatArray = up * (1 - down)
    return result


def _episode_window(rng: np.random.Generator, days: int, length: float) -> float:
    """An onset day (fractional) leaving ``length`` days before the end where possible."""
    latest = max(days - length, 2.0)
    return float(rng.uniform(min(3.0, latest - 0.5), latest))


def _weights(seed: int, patient: _Patient, dry: float, occasions: Occasions, days: int) -> None:
    rng = stream(seed, patient.pid, "weight")
    times = occasions[0][:, 0]
    drift = np.zeros(days)
    steps = rng.normal(0, 0.25, days)
    for d in range(1, days):
        drift[d] = 0.6 * drift[d - 1] + steps[d]
    t_days = (times - patient.start) / DAY_S
    excess = np.zeros(days)
    if patient.scenario == "hf_decompensation":
        rise, gain = float(rng.uniform(5, 9)), float(rng.uniform(2.5, 4.5))
        onset = float(np.floor(_episode_window(rng, days, rise + 2)))
        excess = gain * _ramp(np.nan_to_num(t_days, nan=-1.0), onset, rise, 2.0, 3.0)
        start = patient.start + onset * DAY_S
        offset = min(start + (rise + 2) * DAY_S, patient.start + days * DAY_S)
        patient.label("hf_decompensation", Condition.HEART_FAILURE_DECOMPENSATION, start, offset)
    clothed = (rng.random(days) < CLOTHED) * rng.uniform(0.8, 1.8, days)
    value = np.round(dry + drift + excess + clothed + rng.normal(0, 0.15, days), 1)
    sent = ~np.isnan(times)
    patient.add("body_weight", times[sent], value[sent])


def _pressures(seed: int, patient: _Patient, programme: Programme, occasions: Occasions,
               days: int) -> None:  # fmt: skip
    rng = stream(seed, patient.pid, "pressure")
    times = occasions[0]
    if programme is Programme.HEART_FAILURE:
        sbp0, dbp0 = float(np.clip(rng.normal(116, 6), 108, 130)), 70.0
    else:
        sbp0 = float(np.clip(rng.normal(124, 5), 112, 132))
        dbp0 = float(np.clip(rng.normal(77, 3), 68, 82))
    day_effect = rng.normal(0, 4, (days, 1))
    evening = np.arange(times.shape[1])[None, :] * -3.0
    t_days = (np.nan_to_num(times, nan=0.0) - patient.start) / DAY_S
    up = np.zeros(times.shape)
    down = np.zeros(times.shape)
    if patient.scenario == "hypertensive_episode":
        hold = float(rng.uniform(2, 4))
        onset = _episode_window(rng, days, hold + 1)
        shape = _ramp(t_days, onset, 1.0, hold, 1.0)
        up, down = shape * rng.uniform(55, 75), shape * rng.uniform(25, 35)
        start = patient.start + onset * DAY_S
        offset = min(start + (1 + hold) * DAY_S, patient.start + days * DAY_S)
        patient.label("hypertensive_episode", Condition.HYPERTENSIVE_EPISODE, start, offset)
    sent = ~np.isnan(times)
    for repeat in range(2):  # two readings 1 min apart
        sbp = sbp0 + day_effect + evening + up + rng.normal(0, 4, times.shape)
        dbp = dbp0 + 0.5 * day_effect + down + rng.normal(0, 3, times.shape)
        at = times[sent] + 60.0 * repeat
        patient.add("systolic_bp", at, np.round(sbp[sent]))
        patient.add("diastolic_bp", at, np.round(np.minimum(dbp, sbp - 15)[sent]))


def _glucose(seed: int, patient: _Patient, occasions: Occasions, days: int) -> None:
    rng = stream(seed, patient.pid, "glucose")
    times, _taken, window = occasions
    mean = float(rng.uniform(6.5, 8.5))
    bedtime = np.zeros(times.shape[1])
    bedtime[-1] = 0.8
    values = (mean + bedtime)[None, :] * np.exp(rng.normal(0, 0.18, times.shape))
    values = np.round(values, 1)
    extra_t: list[float] = []
    extra_v: list[float] = []
    if patient.scenario == "nocturnal_hypoglycaemia" and days >= 4:
        nights = rng.choice(np.arange(2, max(days - 1, 3)), size=min(int(rng.integers(1, 3)),
                            max(days - 3, 1)), replace=False)  # fmt: skip
        for night in np.sort(nights):
            onset = patient.start + night * DAY_S + rng.uniform(1 * H, 3.5 * H)
            nadir = float(rng.uniform(2.4, 3.5))
            treated = float(rng.uniform(4.4, 5.6))
            if rng.random() < 0.7:  # wakes with symptoms and measures
                at = onset + rng.uniform(20 * 60, 60 * 60)
                extra_t += [at, at + 15 * 60]
                extra_v += [round(nadir + rng.normal(0, 0.15), 1), round(treated, 1)]
                offset = at + 15 * 60
            elif not np.isnan(times[night, 0]):  # found low at breakfast
                at = float(times[night, 0])
                values[night, 0] = round(float(rng.uniform(2.9, 3.7)), 1)
                extra_t.append(at + 15 * 60)
                extra_v.append(round(treated, 1))
                offset = at + 15 * 60
            else:  # nobody measured: recovers on its own by morning, invisible to a meter
                offset = float(window[night, 0, 0]) + 2 * H
            patient.label("nocturnal_hypoglycaemia", Condition.NOCTURNAL_HYPOGLYCAEMIA,
                          float(onset), max(float(offset), float(onset) + 60))  # fmt: skip
    sent = ~np.isnan(times)
    patient.add("glucose", np.concatenate([times[sent], extra_t]),
                np.concatenate([values[sent], extra_v]))  # fmt: skip


def _spo2(seed: int, patient: _Patient, occasions: Occasions, days: int) -> None:
    rng = stream(seed, patient.pid, "spo2")
    times = occasions[0]
    base = float(rng.uniform(90.5, 93.0))
    t_days = (np.nan_to_num(times, nan=0.0) - patient.start) / DAY_S
    fall = np.zeros(times.shape)
    if patient.scenario == "copd_exacerbation":
        hold = float(rng.uniform(2, 4))
        onset = _episode_window(rng, days, hold + 2)
        fall = _ramp(t_days, onset, 2.0, hold, 2.0) * rng.uniform(4, 7)
        start = patient.start + onset * DAY_S
        offset = min(start + (2 + hold) * DAY_S, patient.start + days * DAY_S)
        patient.label("copd_exacerbation", Condition.COPD_EXACERBATION, start, offset)
    values = np.clip(np.round(base - fall + rng.normal(0, 0.8, times.shape)), 70, 100)
    sent = ~np.isnan(times)
    patient.add("spo2", times[sent], values[sent])
