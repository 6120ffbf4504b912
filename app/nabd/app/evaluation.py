"""Evaluating the engine on simulated wards: sensitivity, false alerts, detection delay.

A simulated ward (:func:`nabd.simulators.ward.build_ward`) gives patients, the scenarios they live
through and the ground-truth labels. :func:`replay` feeds its series through the same
:class:`~nabd.analytics.service.engine.Engine` the service runs, tick by tick, as devices would send
them (cadences in :data:`CADENCE_S`; glucose as each patient's cohort has it watched,
:mod:`nabd.simulators.cohort`: a CGM every 5 min for the insulin-treated, capillary checks at
:data:`GLUCOSE_TIMES_H` for other diabetics, none otherwise; RR intervals beat by beat; a
disconnect drops the device's samples and, like a battery run flat, is the device's link
reported down in the registry, as the gateway's status would; contact loss is sent flagged;
unflagged motion spikes are sent as they are), and keeps every alert raised.
:func:`score` matches alerts to labels:

* a label is **detected** when an alert of one of its matching conditions (:data:`MATCHES`) was
  raised or worsened in ``[onset, offset + grace)`` for that patient, or was already open at
  onset; its **delay** is from onset to that alert (0 when already open);
* an alert is **false** when no label of its patient, on a condition it matches, covers its
  raise time (``[onset, offset + grace)``); false alerts are counted per alert condition and
  divided by patient-days simulated. Labels that expect no alert (``stable``, ``artefact``)
  have no matching conditions, so any alert during them is false.

Each labelled condition has a target delay (:data:`TARGET_DELAY_S`); :func:`delay_parts` splits
a detection's delay into the physiology (until the value crosses the limit), the measurement
interval (until a sample the ward takes shows it) and the detector, and
:func:`count_unmeasured` counts the spot-measured episodes no scheduled sample could show.
Conditions the engine does not watch (clock drift, duplicates and garbled payloads, which are
ingest's business) are listed as not evaluated rather than scored as missed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.analytics.alerts import AlertEventKind
from nabd.analytics.arrays import NEVER, BoolArray, FloatArray
from nabd.analytics.glucose import LEVEL_1_MMOL_L
from nabd.analytics.limits import DEFAULT_LIMITS
from nabd.analytics.service.conditions import BY_NAME, Kind
from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.engine import Engine
from nabd.analytics.service.lifecycle import NurseAction
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import Samples, metric_index
from nabd.simulators.cohort import CAPILLARY_TIMES_H, glucose_schedule
from nabd.simulators.devices import Device, device_of
from nabd.simulators.labels import Condition, Label
from nabd.simulators.scenarios import BatteryDrain, TransportKind
from nabd.simulators.series import VitalSeries
from nabd.simulators.ward import Ward

__all__ = [
    "CADENCE_S",
    "CLINICAL",
    "GLUCOSE_TIMES_H",
    "MATCHES",
    "NOT_EVALUATED",
    "TARGET_DELAY_S",
    "WARD_RULES",
    "ConditionScore",
    "DelayParts",
    "LinkDown",
    "Outcome",
    "RaisedAlert",
    "Rules",
    "count_unmeasured",
    "delay_parts",
    "finders",
    "link_windows",
    "registry_of",
    "replay",
    "sample_mask",
    "sampled",
    "score",
]

S: Final = 1_000_000_000

CADENCE_S: Final[Mapping[str, int]] = MappingProxyType(
    {
        "heart_rate": 1,
        "pulse_rate": 1,
        "spo2": 1,
        "respiration_rate": 60,
        "body_temperature": 1800,
        "systolic_bp": 1800,
        "diastolic_bp": 1800,
        "mean_arterial_pressure": 1800,
    }
)
"""Seconds between samples per metric: wearables every second, respiration rate every minute,
thermometer and automated cuff every 30 minutes (a monitored ward); batteries every 5 minutes."""
BATTERY_CADENCE_S: Final = 300

GLUCOSE_TIMES_H: Final = CAPILLARY_TIMES_H
"""Capillary glucose on a ward, hours of the ward's day: before breakfast, lunch and dinner and
at bedtime (ADA Standards of Care section 16, "Diabetes Care in the Hospital"), for patients
with diabetes not on insulin. Between them, nobody measures their glucose: an episode between
two checks cannot be seen by any detector (see ``ConditionScore.unmeasured``)."""

_NEWS2_PARTS: Final = frozenset({"news2"})
MATCHES: Final[Mapping[Condition, frozenset[str]]] = MappingProxyType(
    {
        Condition.NEWS2_HIGH: _NEWS2_PARTS,
        Condition.SEPSIS: frozenset(
            {
                "news2",
                "heart_rate_high",
                "respiration_rate_high",
                "systolic_bp_low",
                "temperature_high",
                "spo2_low",
                "heart_rate_deviation",
                "respiration_rate_deviation",
                "spo2_deviation",
                "desaturation",
            }
        ),
        Condition.RESPIRATORY_DEPRESSION: frozenset(
            {
                "news2",
                "respiration_rate_low",
                "spo2_low",
                "desaturation",
                "spo2_deviation",
                "respiration_rate_deviation",
            }
        ),
        Condition.HYPOXAEMIA: frozenset({"news2", "spo2_low", "desaturation", "spo2_deviation"}),
        Condition.ATRIAL_FIBRILLATION: frozenset({"atrial_fibrillation"}),
        Condition.BRADYCARDIA: frozenset({"news2", "heart_rate_low", "heart_rate_deviation"}),
        Condition.HYPERTENSIVE_CRISIS: frozenset({"systolic_bp_high"}),
        Condition.SENSOR_OFF: frozenset({"sensor_off", "stale_data"}),
        Condition.FLATLINE: frozenset({"flatline"}),
        Condition.LOW_BATTERY: frozenset({"low_battery"}),
        Condition.DEVICE_DISCONNECTED: frozenset({"device_disconnected", "stale_data", "no_data"}),
        Condition.HYPOGLYCAEMIA: frozenset({"hypoglycaemia"}),
        Condition.STABLE: frozenset(),
        Condition.ARTEFACT: frozenset(),
    }
)
"""Label condition -> the alert conditions that count as finding it."""

CLINICAL: Final = frozenset(
    {
        Condition.NEWS2_HIGH,
        Condition.SEPSIS,
        Condition.RESPIRATORY_DEPRESSION,
        Condition.HYPOXAEMIA,
        Condition.ATRIAL_FIBRILLATION,
        Condition.BRADYCARDIA,
        Condition.HYPERTENSIVE_CRISIS,
        Condition.HYPOGLYCAEMIA,
    }
)
"""Labels of a real deterioration: any physiological alert during one is explained by it."""

_MIN: Final = 60.0
TARGET_DELAY_S: Final[Mapping[Condition, float]] = MappingProxyType(
    {
        # Seconds from a label's onset by which it should be found (docs/analytics.md).
        Condition.HYPOXAEMIA: 1 * _MIN,  # SpO2 every second; a 10 s persistence
        Condition.BRADYCARDIA: 5 * _MIN,
        Condition.ATRIAL_FIBRILLATION: 5 * _MIN,  # 128 beats (~2 min) to judge the rhythm
        Condition.RESPIRATORY_DEPRESSION: 15 * _MIN,
        Condition.NEWS2_HIGH: 5 * _MIN,
        # RCP NEWS2 (2017): a score of 5 or more is a key threshold for urgent response; the
        # Surviving Sepsis Campaign (2021) counts its first hour from recognition.
        Condition.SEPSIS: 60 * _MIN,
        # ACC/AHA 2017: a hypertensive emergency is treated within the first hour.
        Condition.HYPERTENSIVE_CRISIS: 60 * _MIN,
        # ADA Standards of Care (section 16): treat and re-test within 15 min of a low reading;
        # a CGM event needs 15 min below the level (consensus), after the fall to it.
        Condition.HYPOGLYCAEMIA: 60 * _MIN,
        Condition.SENSOR_OFF: 1 * _MIN,
        Condition.FLATLINE: 10 * _MIN,  # a 300 s window must be frozen first
        Condition.LOW_BATTERY: 10 * _MIN,  # batteries report every 5 min
        Condition.DEVICE_DISCONNECTED: 2 * _MIN,  # 60 s grace for a normal reconnection
    }
)
"""How soon each labelled condition should be found; the report says how many were."""

NOT_EVALUATED: Final = frozenset(
    {
        Condition.CLOCK_DRIFT,
        Condition.DUPLICATED_PAYLOAD,
        Condition.GARBLED_PAYLOAD,
    }
)


@dataclass(frozen=True)
class Rules:
    """What :func:`score` matches: label condition -> alert conditions that find it, the labels
    of a clinical episode, which alert conditions are physiological, what is not scored."""

    matches: Mapping[Condition, frozenset[str]]
    clinical: frozenset[Condition]
    physiological: Callable[[str], bool]
    not_evaluated: frozenset[Condition]


def _ward_physiological(condition: str) -> bool:
    """An analytics rule about the patient's physiology; an alert no analytics rule names
    (ingest's ``monitoring_interrupted``, raised for every patient when analytics was down, as
    on a demo run on a stack whose analytics stopped minutes ago) is technical."""
    rule = BY_NAME.get(condition)
    return rule is not None and rule.kind is Kind.PHYSIOLOGICAL


WARD_RULES: Final = Rules(
    matches=MATCHES,
    clinical=CLINICAL,
    physiological=_ward_physiological,
    not_evaluated=NOT_EVALUATED,
)


@dataclass(frozen=True)
class RaisedAlert:
    """An alert the engine raised (or worsened: a new page) during the replay."""

    patient_id: str
    condition: str
    at: float
    """Seconds since the epoch."""
    kind: AlertEventKind
    resolved_at: float | None = None


@dataclass
class ConditionScore:
    labels: int = 0
    detected: int = 0
    delays: list[float] = field(default_factory=list)
    target_s: float = float("nan")
    found: list[tuple[Label, RaisedAlert | None]] = field(default_factory=list)
    """Each detected label and the alert that found it (None: one already open at onset)."""
    unmeasured: int = 0
    """Labels whose episode no scheduled sample showed (see :func:`unmeasured`)."""

    @property
    def within_target(self) -> int:
        return sum(d <= self.target_s for d in self.delays)

    @property
    def sensitivity(self) -> float:
        return self.detected / self.labels if self.labels else float("nan")


@dataclass
class Outcome:
    """What :func:`score` found."""

    patient_days: float
    by_label: dict[str, ConditionScore]
    false_by_alert: dict[str, int]
    alerts: int
    not_evaluated: dict[str, int]

    @property
    def false_per_patient_day(self) -> float:
        return sum(self.false_by_alert.values()) / self.patient_days


def registry_of(ward: Ward, links: Sequence[LinkDown] = ()) -> Registry:
    """The ward's patients as the service's registry: admitted at the start, one gateway, and
    the device links the gateway reports down (``links``, as ingest stores them)."""
    ids = np.array([p.patient_id for p in ward.profiles], dtype=np.str_)
    n = ids.shape[0]
    return Registry(
        patient=ids,
        ward=np.full(n, "sim", dtype=np.str_),
        scale2=np.zeros(n, dtype=np.bool_),
        admitted_at=np.full(n, int(ward.start) * S, dtype=np.int64),
        gateway=np.full(n, "g-sim", dtype=np.str_),
        battery=np.full(n, np.nan),
        gateway_id=np.array(["g-sim"]),
        gateway_online=np.array([True]),
        gateway_last_seen=np.array([NEVER]),  # no status recorded: never called offline
        link_patient=np.array([ids[link.row] for link in links], dtype=np.str_),
        link_device=np.array([link.device.value for link in links], dtype=np.str_),
        link_down_since=np.array([round(link.onset * S) for link in links], dtype=np.int64),
    )


@dataclass(frozen=True)
class LinkDown:
    """A device's Bluetooth link down over ``[onset, offset)`` (seconds since the epoch)."""

    row: int
    device: Device
    onset: float
    offset: float


def link_windows(ward: Ward) -> list[LinkDown]:
    """When each device's link is down: a transport disconnect, or a battery run flat (a dead
    device drops its link until the battery is swapped). The edge agent reports both the same
    way, as the device's state in its gateway status."""
    out: list[LinkDown] = []
    for row, profile in enumerate(ward.profiles):
        for scenario in ward.assignments[profile.patient_id]:
            out.extend(
                LinkDown(row, e.device, e.onset, e.offset)
                for e in scenario.transport
                if e.kind is TransportKind.DISCONNECT
            )
            out.extend(
                LinkDown(row, f.device, f.empty_at, f.offset)
                for f in scenario.faults
                if isinstance(f, BatteryDrain)
            )
    return out


def sample_mask(key: str, times: FloatArray) -> BoolArray:
    """Which of the (1 s) ``times`` a ward measures ``key`` at, for every patient alike: every
    :data:`CADENCE_S`, or for glucose the capillary checks at :data:`GLUCOSE_TIMES_H` (a
    patient's own glucose schedule is :func:`sampled`'s)."""
    if key == "glucose":
        second = np.rint(times).astype(np.int64) % 86400
        checks: BoolArray = np.isin(second, [round(h * 3600) for h in GLUCOSE_TIMES_H])
        return checks
    every: BoolArray = np.arange(times.shape[0]) % CADENCE_S[key] == 0
    return every


def sampled(
    ward: Ward, key: str, times: FloatArray, glucose_every_s: int | None = None
) -> BoolArray:
    """``(patients, times)``: where the ward measures each patient's ``key``. Glucose follows
    the patient's cohort (:func:`nabd.simulators.cohort.glucose_schedule`), or with
    ``glucose_every_s`` everyone's every that many seconds (a what-if); the rest
    :func:`sample_mask`."""
    if key == "glucose":
        schedule: BoolArray = glucose_schedule(ward.profiles, times, glucose_every_s)
        return schedule
    mask: BoolArray = np.broadcast_to(sample_mask(key, times), (len(ward.profiles), times.size))
    return mask


def _dropped(ward: Ward, series: VitalSeries) -> dict[Device, np.ndarray]:
    """Per device, ``(patients, times)``: a disconnect keeps the sample from the gateway."""
    out: dict[Device, np.ndarray] = {}
    for row, profile in enumerate(ward.profiles):
        for scenario in ward.assignments[profile.patient_id]:
            for event in scenario.transport:
                if event.kind.value != "disconnect":
                    continue
                mask = out.setdefault(event.device, np.zeros(series.times.shape, bool)[None]
                                      .repeat(len(ward.profiles), axis=0))  # fmt: skip
                mask[row] |= (series.times >= event.onset) & (series.times < event.offset)
    return out


def _batches(
    ward: Ward, series: VitalSeries, tick_s: int, glucose_every_s: int | None = None
) -> Iterator[tuple[int, Samples]]:
    """One :class:`Samples` per tick: ``(tick end ns, samples of [tick start, tick end))``."""
    times = series.times
    n, steps = len(ward.profiles), times.shape[0]
    dropped = _dropped(ward, series)
    no_drop = np.zeros((n, steps), dtype=np.bool_)
    rows_all = np.arange(n)
    beat_rows = np.concatenate(
        [
            np.zeros(0, np.int64),
            *(np.full(b.beat_times.shape[0], i) for i, b in enumerate(series.beats)),
        ]
    ).astype(np.int64)
    empty = np.zeros(0)
    beat_times = np.concatenate([empty, *(b.beat_times for b in series.beats)])
    beat_rr = np.concatenate([empty, *(b.rr for b in series.beats)])
    order = np.argsort(beat_times, kind="stable")
    beat_rows, beat_times, beat_rr = beat_rows[order], beat_times[order], beat_rr[order]
    strap_drop = dropped.get(Device.CHEST_STRAP, no_drop)
    keys = [key for key in (*CADENCE_S, "glucose") if key in series.values]
    taken = {key: sampled(ward, key, times, glucose_every_s) for key in keys}
    for first in range(0, steps, tick_s):
        last = min(first + tick_s, steps)
        parts: list[Samples] = []
        for key in keys:
            cols = np.arange(first, last)[taken[key][:, first:last].any(axis=0)]
            if cols.size == 0:
                continue
            drop = dropped.get(device_of(key), no_drop)[:, cols]
            values = series.values[key][:, cols]
            lost = series.contact_lost[key][:, cols]
            send = taken[key][:, cols] & ~drop & (~np.isnan(values) | lost)
            r, c = np.nonzero(send)
            parts.append(
                Samples(
                    row=rows_all[r],
                    metric=np.full(r.shape[0], metric_index(key), dtype=np.int64),
                    time=(times[cols][c] * S).astype(np.int64),
                    value=values[r, c],
                    contact_lost=lost[r, c],
                    doubtful=np.zeros(r.shape[0], dtype=np.bool_),
                )
            )
        for index, (device, levels) in enumerate(series.battery_level.items()):
            cols = np.arange(first, last)
            cols = cols[(cols + index) % BATTERY_CADENCE_S == 0]
            if cols.size == 0:
                continue
            drop = dropped.get(device, no_drop)[:, cols]
            r, c = np.nonzero(~drop & (levels[:, cols] > 0))  # an empty device sends nothing
            parts.append(
                Samples.of(
                    rows_all[r],
                    np.full(r.shape[0], metric_index("battery_level")),
                    (times[cols][c] * S).astype(np.int64),
                    levels[:, cols][r, c].astype(np.float64),
                )
            )
        lo, hi = np.searchsorted(beat_times, [times[first], times[last - 1] + 1.0])
        rr = beat_rr[lo:hi]
        beat_cols = np.minimum((beat_times[lo:hi] - times[0]).astype(np.int64), steps - 1)
        keep = ~np.isnan(rr) & ~strap_drop[beat_rows[lo:hi], beat_cols]
        parts.append(
            Samples.of(
                beat_rows[lo:hi][keep],
                np.full(int(keep.sum()), metric_index("rr_interval")),
                (beat_times[lo:hi][keep] * S).astype(np.int64),
                rr[keep],
            )
        )
        batch = parts[0]
        for part in parts[1:]:
            batch = batch.concat(part)
        yield int(times[last - 1] * S) + S, batch


def replay(
    ward: Ward,
    series: VitalSeries,
    *,
    tick_s: int = 2,
    ack_after_s: float = 120.0,
    config: EngineConfig | None = None,
    glucose_every_s: int | None = None,
) -> list[RaisedAlert]:
    """Feed the simulated ward through the engine; return the alerts it raised.

    A simulated nurse acknowledges every alert ``ack_after_s`` after it was raised (or last
    worsened), as a ward would; without it, latched alerts would stay open for ever.
    """
    engine = Engine(config)
    engine.apply(registry_of(ward))
    links = link_windows(ward)
    down: list[LinkDown] = []
    ids = [p.patient_id for p in ward.profiles]
    raised: list[RaisedAlert] = []
    open_at: dict[tuple[int, str], int] = {}
    to_ack: list[tuple[int, uuid.UUID]] = []
    for now, batch in _batches(ward, series, tick_s, glucose_every_s):
        engine.ingest(batch)
        at = now / S
        now_down = [link for link in links if link.onset <= at < link.offset]
        if (
            now_down != down
        ):  # the gateway's status changed: ingest stores it, the registry reads it
            down = now_down
            engine.apply(registry_of(ward, down))
        due = [alert for at, alert in to_ack if at <= now]
        to_ack = [(at, alert) for at, alert in to_ack if at > now]
        actions = [NurseAction(0, alert, "acknowledge", "simulated nurse") for alert in due]
        for t in engine.alerts(engine.detect(now), actions):
            if t.kind in (AlertEventKind.RAISED, AlertEventKind.WORSENED):
                to_ack.append((now + round(ack_after_s * S), t.alert_id))
            key = (t.row, t.condition)
            if t.kind in (AlertEventKind.RAISED, AlertEventKind.WORSENED):
                raised.append(RaisedAlert(ids[t.row], t.condition, now / S, t.kind))
                open_at.setdefault(key, len(raised) - 1)
            elif t.kind is AlertEventKind.RESOLVED and key in open_at:
                for i in range(open_at.pop(key), len(raised)):
                    if raised[i].patient_id == ids[t.row] and raised[i].condition == t.condition:
                        raised[i] = RaisedAlert(
                            raised[i].patient_id, raised[i].condition, raised[i].at,
                            raised[i].kind, now / S,
                        )  # fmt: skip
    return raised


def score(
    labels: Sequence[Label],
    alerts: Sequence[RaisedAlert],
    *,
    patients: int,
    seconds: float,
    grace_s: float = 300.0,
    rules: Rules | None = None,
) -> Outcome:
    """Match alerts to labels (see the module docstring); ``rules`` default to the ward's."""
    rules = rules or WARD_RULES
    by_label: dict[str, ConditionScore] = {}
    not_evaluated: dict[str, int] = {}
    for label in labels:
        if label.condition in rules.not_evaluated:
            not_evaluated[label.condition.value] = not_evaluated.get(label.condition.value, 0) + 1
            continue
        wanted = rules.matches[label.condition]
        if not wanted:
            continue
        entry = by_label.setdefault(
            label.condition.value,
            ConditionScore(target_s=TARGET_DELAY_S.get(label.condition, float("nan"))),
        )
        entry.labels += 1
        found = _delay(label, alerts, wanted, grace_s)
        if found is not None:
            entry.detected += 1
            entry.delays.append(found[0])
            entry.found.append((label, found[1]))
    false_by_alert: dict[str, int] = {}
    for alert in alerts:
        if alert.kind is not AlertEventKind.RAISED:
            continue
        if not _explained(alert, labels, grace_s, rules):
            false_by_alert[alert.condition] = false_by_alert.get(alert.condition, 0) + 1
    return Outcome(
        patient_days=patients * seconds / 86400.0,
        by_label=by_label,
        false_by_alert=false_by_alert,
        alerts=sum(a.kind is AlertEventKind.RAISED for a in alerts),
        not_evaluated=not_evaluated,
    )


def _delay(
    label: Label, alerts: Sequence[RaisedAlert], wanted: frozenset[str], grace_s: float
) -> tuple[float, RaisedAlert | None] | None:
    """The delay to the first matching alert and that alert (None if open before onset)."""
    best: tuple[float, RaisedAlert | None] | None = None
    for alert in alerts:
        if alert.patient_id != label.patient_id or alert.condition not in wanted:
            continue
        still_open = alert.resolved_at is None or alert.resolved_at > label.onset
        if alert.at < label.onset and still_open:
            return 0.0, None
        if label.onset <= alert.at < label.offset + grace_s:
            delay = alert.at - label.onset
            if best is None or delay < best[0]:
                best = (delay, alert)
    return best


def _explained(alert: RaisedAlert, labels: Sequence[Label], grace_s: float, rules: Rules) -> bool:
    """A label of the patient covers the alert: one it matches, or any physiological alert
    during a clinical episode (the patient is deteriorating: an alert about it is not false,
    whichever vital it names)."""
    physiological = rules.physiological(alert.condition)
    return any(
        label.patient_id == alert.patient_id
        and label.onset <= alert.at < label.offset + grace_s
        and (
            alert.condition in rules.matches.get(label.condition, frozenset())
            or (physiological and label.condition in rules.clinical)
        )
        for label in labels
    )


_LIMITED: Final = {
    "heart_rate": "heart_rate",
    "spo2": "spo2",
    "respiration_rate": "respiration_rate",
    "systolic_bp": "systolic_bp",
    "body_temperature": "temperature",
}
_LIMIT_OF: Final = MappingProxyType(
    {
        f"{name}_{side}": (key, side, getattr(DEFAULT_LIMITS[key], side))
        for key, name in _LIMITED.items()
        for side in ("low", "high")
        if getattr(DEFAULT_LIMITS[key], side) is not None
        and math.isfinite(getattr(DEFAULT_LIMITS[key], side))
    }
    | {"hypoglycaemia": ("glucose", "below", LEVEL_1_MMOL_L)}
)
"""Alert condition -> (metric, side, default limit): where a value starts to count."""

_EVIDENCE: Final = MappingProxyType(
    {
        Condition.HYPOGLYCAEMIA: "hypoglycaemia",
        Condition.HYPERTENSIVE_CRISIS: "systolic_bp_high",  # a cuff every 30 min
    }
)
"""Spot-measured label conditions whose episode a ward only sees if a scheduled sample falls in
it: checked by :func:`count_unmeasured` through that alert condition's limit."""


def _beyond(values: FloatArray, side: str, limit: float) -> BoolArray:
    """Where ``values`` breach ``limit``: hard limits fire at or beyond it ("low", "high"),
    glucose levels strictly below it ("below")."""
    breach: BoolArray
    if side == "below":
        breach = values < limit
    else:
        breach = values <= limit if side == "low" else values >= limit
    return breach


def count_unmeasured(
    outcome: Outcome,
    ward: Ward,
    series: VitalSeries,
    grace_s: float = 300.0,
    glucose_every_s: int | None = None,
) -> None:
    """Set ``unmeasured`` per label condition: episodes of ``ward`` in which no sample the ward
    takes (per :func:`sampled`) is beyond the limit, so no detector could find them. Saying so
    is honest; stretching the label to the next scheduled check would not be."""
    rows = {pid: i for i, pid in enumerate(series.patient_ids)}
    times = series.times
    for condition, alert_condition in _EVIDENCE.items():
        entry = outcome.by_label.get(condition.value)
        if entry is None:
            continue
        key, side, limit = _LIMIT_OF[alert_condition]
        taken = sampled(ward, key, times, glucose_every_s)
        for label in ward.labels:
            if label.condition is not condition or label.patient_id not in rows:
                continue
            row = rows[label.patient_id]
            inside = taken[row] & (times >= label.onset) & (times < label.offset + grace_s)
            values = series.values[key][row]
            if not _beyond(values[inside], side, limit).any():
                entry.unmeasured += 1


@dataclass(frozen=True)
class DelayParts:
    """A detection delay in three parts (seconds): the physiology (onset until the patient's
    value first crossed the limit), the measurement (until a sample the ward takes showed it)
    and the detector (from that sample to the alert: persistence, confirmation, ticks)."""

    physiology: float
    measurement: float
    detector: float


def delay_parts(
    entry: ConditionScore, ward: Ward, series: VitalSeries, glucose_every_s: int | None = None
) -> list[DelayParts]:
    """The parts of each detection of ``entry`` made by an alert with a limit (others, such as
    NEWS2 or a baseline deviation, have no single crossing and are left out)."""
    rows = {pid: i for i, pid in enumerate(series.patient_ids)}
    times = series.times
    out: list[DelayParts] = []
    for label, alert in entry.found:
        if alert is None or alert.condition not in _LIMIT_OF:
            continue
        key, side, limit = _LIMIT_OF[alert.condition]
        row = rows[label.patient_id]
        inside = (times >= label.onset) & (times <= alert.at)
        beyond = inside & _beyond(series.values[key][row], side, limit)
        if not beyond.any():
            continue
        crossed = float(times[np.argmax(beyond)])
        shown_mask = beyond & sampled(ward, key, times, glucose_every_s)[row]
        shown = float(times[np.argmax(shown_mask)]) if shown_mask.any() else alert.at
        out.append(DelayParts(crossed - label.onset, shown - crossed, alert.at - shown))
    return out


def finders(entry: ConditionScore) -> list[str]:
    """The alerts that found ``entry``'s labels, each with how often a ward samples its metric:
    the most the measurement interval can add to a detection by it."""
    out: list[str] = []
    for _, alert in entry.found:
        if alert is None:
            continue
        metric = BY_NAME[alert.condition].metric
        every = CADENCE_S.get(metric or "", 0)
        out.append(f"{alert.condition} (sampled every {every} s)" if every else alert.condition)
    return sorted(set(out))
