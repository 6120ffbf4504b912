"""Evaluating the engine on simulated wards: sensitivity, false alerts, detection delay.

A simulated ward (:func:`nabd.simulators.ward.build_ward`) gives patients, the scenarios they live
through and the ground-truth labels. :func:`replay` feeds its series through the same
:class:`~nabd.analytics.service.engine.Engine` the service runs, tick by tick, as devices would send
them (cadences in :data:`CADENCE_S`; RR intervals beat by beat; a disconnect drops the device's
samples; contact loss is sent flagged; unflagged motion spikes are sent as they are), and keeps
every alert raised. :func:`score` matches alerts to labels:

* a label is **detected** when an alert of one of its matching conditions (:data:`MATCHES`) was
  raised or worsened in ``[onset, offset + grace)`` for that patient, or was already open at
  onset; its **delay** is from onset to that alert (0 when already open);
* an alert is **false** when no label of its patient, on a condition it matches, covers its
  raise time (``[onset, offset + grace)``); false alerts are counted per alert condition and
  divided by patient-days simulated. Labels that expect no alert (``stable``, ``artefact``)
  have no matching conditions, so any alert during them is false.

Conditions the engine does not watch (glucose; clock drift, duplicates and garbled payloads,
which are ingest's business) are listed as not evaluated rather than scored as missed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.analytics.alerts import AlertEventKind
from nabd.analytics.arrays import NEVER
from nabd.analytics.service.conditions import BY_NAME, Kind
from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.engine import Engine
from nabd.analytics.service.lifecycle import NurseAction
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import Samples, metric_index
from nabd.simulators.devices import Device, device_of
from nabd.simulators.labels import Condition, Label
from nabd.simulators.series import VitalSeries
from nabd.simulators.ward import Ward

__all__ = [
    "CADENCE_S",
    "MATCHES",
    "NOT_EVALUATED",
    "WARD_RULES",
    "Outcome",
    "RaisedAlert",
    "Rules",
    "replay",
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
        Condition.DEVICE_DISCONNECTED: frozenset({"stale_data", "no_data"}),
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

NOT_EVALUATED: Final = frozenset(
    {
        Condition.HYPOGLYCAEMIA,  # no glucose detector yet
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


def registry_of(ward: Ward) -> Registry:
    """The ward's patients as the service's registry: admitted at the start, one gateway."""
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
    )


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


def _batches(ward: Ward, series: VitalSeries, tick_s: int) -> Iterator[tuple[int, Samples]]:
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
    for first in range(0, steps, tick_s):
        last = min(first + tick_s, steps)
        parts: list[Samples] = []
        for key, every in CADENCE_S.items():
            cols = np.arange(first, last)
            cols = cols[cols % every == 0]
            if key not in series.values or cols.size == 0:
                continue
            drop = dropped.get(device_of(key), no_drop)[:, cols]
            values = series.values[key][:, cols]
            lost = series.contact_lost[key][:, cols]
            send = ~drop & (~np.isnan(values) | lost)
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
) -> list[RaisedAlert]:
    """Feed the simulated ward through the engine; return the alerts it raised.

    A simulated nurse acknowledges every alert ``ack_after_s`` after it was raised (or last
    worsened), as a ward would; without it, latched alerts would stay open for ever.
    """
    engine = Engine(config)
    engine.apply(registry_of(ward))
    ids = [p.patient_id for p in ward.profiles]
    raised: list[RaisedAlert] = []
    open_at: dict[tuple[int, str], int] = {}
    to_ack: list[tuple[int, uuid.UUID]] = []
    for now, batch in _batches(ward, series, tick_s):
        engine.ingest(batch)
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
        entry = by_label.setdefault(label.condition.value, ConditionScore())
        entry.labels += 1
        delay = _delay(label, alerts, wanted, grace_s)
        if delay is not None:
            entry.detected += 1
            entry.delays.append(delay)
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
) -> float | None:
    best: float | None = None
    for alert in alerts:
        if alert.patient_id != label.patient_id or alert.condition not in wanted:
            continue
        still_open = alert.resolved_at is None or alert.resolved_at > label.onset
        if alert.at < label.onset and still_open:
            return 0.0
        if label.onset <= alert.at < label.offset + grace_s:
            delay = alert.at - label.onset
            best = delay if best is None else min(best, delay)
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
