"""One tick: score every patient, run the detectors, step the alert lifecycle.

:meth:`Engine.detect` turns the ward state into the ``(patients, conditions)`` arrays of what is
active and how severe, with one call of each scoring-core function for the whole ward:

* **NEWS2** from each patient's latest values, each counted only while not stale (its metric's
  ``stale_after_s``), the nurses' consciousness and oxygen entries while valid, a value a nurse
  measured (counted respiratory rate, spot SpO2, pulse, systolic pressure, temperature) while
  valid and fresher than the device's, and the clinician's Scale 2 flag. A stale or missing
  parameter makes the score incomplete, never normal. The ``news2`` condition is a latch on
  "risk at least low-medium"; it clears only when the score is low *and* every parameter that
  was present while it fired is present again (a parameter that scored 3 and then went missing
  is no evidence of recovery);
* **hard limits** per metric (heart rate: the strap's, else the oximeter's pulse rate);
* **hypoglycaemia** from each patient's newest glucose reading while current, a CGM's once
  below a level for 15 min (:mod:`nabd.analytics.glucose`);
* **technical**: no data, stale data, sensor off (latched, see ``EngineConfig.sensor_off``),
  low battery, gateway offline, device disconnected (a device's Bluetooth link down for more
  than ``EngineConfig.link_grace_s``, per device), every tick; flatline with the window
  detectors;
* **window detectors** (desaturation, AF, flatline) every ``window_every_s``;
* **per-minute medians, baselines and trends** every ``slow_every_s`` (they change slowly);
  either group may judge the ward in cohorts, a few at each run
  (``nabd.analytics.service.cohorts``).

Between runs, a detector's last verdict stands. :meth:`Engine.alerts` then steps the
:class:`~nabd.analytics.service.lifecycle.AlertBook` with the nurses' actions. No step loops over
patients; the only Python loops are over metrics, conditions and (few) events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics import af, baseline, trend
from nabd.analytics.alerts import HIGH, LOW, MEDIUM
from nabd.analytics.arrays import (
    NEVER,
    BoolArray,
    FloatArray,
    IntArray,
    masked_median,
    pad_rows,
    seconds_to_ns,
)
from nabd.analytics.desaturation import Desaturation
from nabd.analytics.glucose import ward_hypoglycaemia
from nabd.analytics.latch import Latch
from nabd.analytics.limits import LimitState
from nabd.analytics.news2 import MISSING, PARAMETER_NAMES, PARAMETERS, News2, score
from nabd.analytics.service.cohorts import Cadence, cohort_step
from nabd.analytics.service.conditions import BY_NAME, CONDITIONS, NAMES, column
from nabd.analytics.service.config import (
    CONTINUOUS_METRICS,
    LIMIT_METRICS,
    MINUTE_METRICS,
    EngineConfig,
)
from nabd.analytics.service.lifecycle import AlertBook, NurseAction, Transition
from nabd.analytics.service.readings_delay import ReadingsDelay
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import Samples, metric_index
from nabd.analytics.service.state import (
    BATTERY_WINDOW_S,
    MANUAL_METRICS,
    IngestCount,
    WardState,
)
from nabd.analytics.technical import (
    BatteryState,
    data_flow,
    flatline_walk,
    gateway_offline,
    links_down,
)
from nabd.contract.alert_text import render
from nabd.contract.catalogue import METRICS
from nabd.contract.payloads import MAX_MESSAGE_CHARS, AlertFacts

__all__ = ["Detection", "Engine", "facts", "message"]

_NEWS2_PARTS: Final = PARAMETERS
_PART_NAMES: Final = tuple(PARAMETER_NAMES[p] for p in PARAMETERS)
_MISSING_OR_STALE: Final = (*_PART_NAMES, *(f"{name} (stale)" for name in _PART_NAMES))
_DEVICE_KEY: Final = {"temperature": "body_temperature"}
"""NEWS2 parameters measured by devices, by catalogue key where the names differ."""
_DEVICE_PART: Final = ("respiration_rate", "spo2", "systolic_bp", "heart_rate", "body_temperature")
_GLUCOSE_INDEX: Final = metric_index("glucose")
_SENSOR_METRICS: Final = ("spo2", "pulse_rate", "heart_rate")
_STREAMED: Final = ("heart_rate", "pulse_rate", "spo2", "rr_interval")
"""Metrics a device streams live, a sample a second: how late they arrive is the pipeline's
delay (respiration rate comes once a minute, spot measurements when taken or uploaded)."""
_STREAMED_INDEX: Final = np.array([metric_index(k) for k in _STREAMED], dtype=np.int64)
_FLATLINE_METRICS: Final = ("heart_rate", "pulse_rate", "rr_interval")
_BASELINE_SIDES: Final = {"heart_rate": "both", "spo2": "below", "respiration_rate": "both"}
_TREND_SIDES: Final = {"heart_rate": "both", "spo2": "falling", "respiration_rate": "both"}


@dataclass
class Detection:
    """One tick's verdicts, ``(patients, conditions)``, and the values behind the messages.

    Messages are formatted only for the few cells with an event (:func:`message`), from
    ``value`` and the per-condition masks and numbers kept here.
    """

    now: int
    active: BoolArray
    priority: npt.NDArray[np.int8]
    value: FloatArray
    """Per cell, the number the condition's message shows (NaN: none)."""
    news2: News2
    masks: dict[str, tuple[BoolArray, tuple[str, ...]]] = field(default_factory=dict)
    """Per condition, ``(patients, k)`` flags and the names of the k things they flag."""
    numbers: dict[str, FloatArray] = field(default_factory=dict)
    """Per condition, a second number per patient (a baseline, a z-score)."""
    items: dict[str, tuple[IntArray, npt.NDArray[np.str_]]] = field(default_factory=dict)
    """Per condition, the things it names that vary per patient (the devices whose link is
    down): their rows and names."""
    limits: dict[str, FloatArray] = field(default_factory=dict)
    """Per condition with a limit, the limit in force per patient."""
    since: dict[str, IntArray] = field(default_factory=dict)
    """Per latched condition, when its current breach began per patient (NEVER: none)."""


def message(found: Detection, row: int, condition: str) -> str:
    """The stored default rendering of one cell's alert: its facts in English (readers render
    the facts in their own language, :func:`nabd.contract.alert_text.render`)."""
    return render(facts(found, row, condition), "en")[:MAX_MESSAGE_CHARS]


_BASELINE_NUMBERS: Final = frozenset(
    {"heart_rate_deviation", "spo2_deviation", "respiration_rate_deviation", "desaturation"}
)


def facts(found: Detection, row: int, condition: str) -> AlertFacts:
    """What raised one cell's alert, as data (:class:`~nabd.contract.payloads.AlertFacts`),
    for each reader to render in its own language (:mod:`nabd.contract.alert_text`)."""
    spec = BY_NAME[condition]

    def number(table: dict[str, FloatArray]) -> float | None:
        value = float(table[condition][row]) if condition in table else math.nan
        return value if math.isfinite(value) else None

    value = float(found.value[row, column(condition)])
    items: tuple[str, ...] = ()
    if condition in found.masks:
        flags, names = found.masks[condition]
        items = tuple(name for name, on in zip(names, flags[row], strict=True) if on)
    if condition in found.items:
        rows, things = found.items[condition]
        items = tuple(sorted(things[rows == row].tolist()))
    since = int(found.since[condition][row]) if condition in found.since else NEVER
    duration = (found.now - since) / 1e9 if since != NEVER else None
    risk: str | None = None
    missing: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    if condition == "news2":
        flags, _ = found.masks["news2"]  # missing, then stale, in PARAMETERS order
        parts = len(_NEWS2_PARTS)
        missing = tuple(_NEWS2_PARTS[i] for i in np.flatnonzero(flags[row, :parts]))
        stale = tuple(_NEWS2_PARTS[i] for i in np.flatnonzero(flags[row, parts:]))
        items = ()
        complete = bool(found.news2.complete[row])
        risk = str(found.news2.risk[row]) if complete and found.news2.risk[row] else None
    if condition == "device_disconnected":
        value, duration = math.nan, value * 60 if math.isfinite(value) else None
    baseline = number(found.numbers) if condition in _BASELINE_NUMBERS else None
    limit = number(found.limits) if condition != "hypoglycaemia" else number(found.numbers)
    return AlertFacts(
        condition=condition,
        value=value if math.isfinite(value) else None,
        unit=METRICS[spec.metric].unit if spec.metric is not None else None,
        limit=limit,
        baseline=baseline,
        duration_s=duration,
        items=tuple(dict.fromkeys(items)),
        risk=risk,
        missing=missing,
        stale=stale,
    )


class Engine:
    """The ward state, every detector's state and the alert book, advanced tick by tick."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.state = WardState(self.config)
        self.book = AlertBook(self.config.policy)
        self.started_at = NEVER
        self._limits = {key: LimitState.initial(0) for key in LIMIT_METRICS}
        self._news2 = Latch.initial(0)
        self._news2_seen = np.zeros((0, len(_NEWS2_PARTS)), dtype=np.bool_)
        self._sensor = Latch.initial(0)
        self._battery = BatteryState.initial(0)
        self._baselines = {key: baseline.BaselineState.initial(0) for key in MINUTE_METRICS}
        self._trends = {key: trend.TrendState.initial(0) for key in MINUTE_METRICS}
        self._desaturation = Desaturation(0, self.config.desaturation)
        self._desat_in_event = np.zeros(0, dtype=np.bool_)
        self._desat_current = np.zeros(0)
        self._desat_baseline = np.zeros(0)
        self._af = af.AfState.initial(0)
        self._window_active = np.zeros((0, 3), dtype=np.bool_)
        self._slow: dict[str, FloatArray] = {}
        self._slow_numbers: dict[str, FloatArray] = {}
        self._slow_active = np.zeros((0, len(CONDITIONS)), dtype=np.bool_)
        self._window_cadence = Cadence(self.config.window_every_s, self.config.window_cohorts)
        self._slow_cadence = Cadence(self.config.slow_every_s, self.config.slow_cohorts)
        self.delay = ReadingsDelay(self.config.readings_delay)
        """How late the freshest readings arrive (:meth:`arrived`); excuses that much silence."""
        self._last_minute = NEVER
        self._minute_done = np.zeros(0, dtype=np.int64)
        """Per patient, the start of the last minute summarised into its minute rings."""

    @property
    def patients(self) -> int:
        return self.state.patients

    # ---- inputs ------------------------------------------------------------------------------

    def apply(self, registry: Registry) -> list[str]:
        """Apply a registry snapshot; grow every detector for new admissions."""
        new = self.state.apply(registry)
        if new:
            self._grow(self.state.patients)
        return new

    def ingest(self, samples: Samples) -> IngestCount:
        return self.state.ingest(samples)

    def arrived(self, now: int, samples: Samples, away: IntArray | None = None) -> None:
        """``samples`` reached the service at ``now`` (a tick's fetch, not a warm-up read back
        from the database): how late they are is the pipeline's delay.

        Only readings streamed live count (:data:`_STREAMED`: a sample a second), and none of
        the rows ``away`` (patients at home): a cuff or a meter uploading the records it stored,
        or a home gateway sending its day, is late by design, not because the pipeline is."""
        live = np.isin(samples.metric, _STREAMED_INDEX)
        if away is not None and away.size:
            live &= ~np.isin(samples.row, away)
        self.delay.observe(now, samples.time[live])

    def warm_minutes(self, samples: Samples, upto: int, rows: IntArray | None = None) -> None:
        """Refill the per-minute rings (service start) from medians read back from the database.

        ``samples`` holds one median per (patient, metric, minute start); heart rate takes the
        strap's median where there is one, else the oximeter's pulse rate, as
        :meth:`WardState.summarise_minute` does. Minutes before ``upto`` are then complete
        (for ``rows`` only, when given: patients adopted while the others run).
        """
        pulse, strap = metric_index("pulse_rate"), metric_index("heart_rate")
        for key, ring in self.state.minutes.items():
            wanted = samples.metric == metric_index(key)
            if key == "heart_rate":  # strap first: of equal times the ring keeps the first
                order = np.argsort(np.where(samples.metric == strap, 0, 1), kind="stable")
                wanted = (samples.metric[order] == strap) | (samples.metric[order] == pulse)
                picked = order[wanted]
            else:
                picked = np.flatnonzero(wanted)
            ring.push(samples.row[picked], samples.time[picked], samples.value[picked])
        minute = seconds_to_ns(60)
        if rows is None:
            self._last_minute = upto - upto % minute
            self._minute_done[:] = self._last_minute
        else:  # patients adopted later (a ward taken over): the others' minutes are theirs
            self._minute_done[rows] = upto - upto % minute

    def _grow(self, n: int) -> None:
        self._limits = {key: s.grow(n) for key, s in self._limits.items()}
        self._news2 = self._news2.grow(n)
        self._news2_seen = pad_rows(self._news2_seen, n, fill=False, order="F")
        self._sensor = self._sensor.grow(n)
        self._battery = self._battery.grow(n)
        self._baselines = {key: s.grow(n) for key, s in self._baselines.items()}
        self._trends = {key: s.grow(n) for key, s in self._trends.items()}
        self._desaturation.grow(n)
        self._desat_in_event = pad_rows(self._desat_in_event, n, fill=False)
        self._desat_current = pad_rows(self._desat_current, n, fill=np.nan)
        self._desat_baseline = pad_rows(self._desat_baseline, n, fill=np.nan)
        self._minute_done = pad_rows(self._minute_done, n, fill=self._last_minute)
        self._af = self._af.grow(n)
        self._window_active = pad_rows(self._window_active, n, fill=False, order="F")
        self._slow_active = pad_rows(self._slow_active, n, fill=False, order="F")
        self._slow = {key: pad_rows(v, n, fill=np.nan) for key, v in self._slow.items()}
        self._slow_numbers = {
            key: pad_rows(v, n, fill=np.nan) for key, v in self._slow_numbers.items()
        }
        self.book.grow(n)

    # ---- detection ---------------------------------------------------------------------------

    def detect(self, now: int) -> Detection:
        """Score every patient at ``now`` (int ns) and say which conditions are active."""
        if self.started_at == NEVER:
            self.started_at = now
        n, conditions = self.patients, len(CONDITIONS)
        # Silence is judged from here: ``now`` less the pipeline's delay while readings arrive
        # late (nabd.analytics.service.readings_delay); a value that late is still current.
        heard = now - self.delay.allowance_ns(now)
        fresh = self._fresh(heard)
        found = Detection(
            now=now,
            active=np.zeros((n, conditions), dtype=np.bool_, order="F"),
            priority=np.broadcast_to(
                np.array([c.priority for c in CONDITIONS], dtype=np.int8), (n, conditions)
            ).copy(order="F"),
            value=np.full((n, conditions), np.nan, order="F"),
            news2=self._news2_score(now, fresh),
        )
        self._news2_condition(now, found)
        self._hard_limits(now, fresh, found)
        self._glucose(now, found)
        self._technical(now, heard, found)
        run, rows = self._window_cadence.due(now, n)
        if run:
            self._windows(now, rows)
        self._apply_windows(fresh, found)
        run, rows = self._slow_cadence.due(now, n)
        if run:
            self._slow_detectors(now, rows)
        found.active |= self._slow_active
        for key, values in self._slow.items():
            found.value[:, column(key)] = values
        found.numbers.update(self._slow_numbers)
        found.active &= self.state.monitored[:, None]
        return found

    def discharge(self, found: Detection, patient_ids: Sequence[str]) -> list[Transition]:
        """Patients discharged since the registry was read: stop watching them now (the next
        registry snapshot leaves them out anyway), so this tick raises nothing for them, and
        drop their open alerts, which the discharge resolved in the database (migration 0032).
        Return the ``resolved`` transitions to publish."""
        rows = self.state.index.rows(list(patient_ids))
        rows = rows[rows >= 0]
        if rows.size == 0:
            return []
        self.state.monitored[rows] = False
        found.active[rows] = False
        return self.book.close_rows(rows.tolist(), found.now, "discharged")

    def release(self, patient_ids: Sequence[str]) -> IntArray:
        """Stop watching these patients without a word (their ward went to another worker):
        their rows are retired, their open alerts forgotten unwritten. Return the rows."""
        rows = self.state.index.retire(patient_ids)
        if rows.size:
            self.state.monitored[rows] = False
            self.book.forget_rows(rows.tolist())
        return rows

    def alerts(self, found: Detection, actions: Sequence[NurseAction] = ()) -> list[Transition]:
        """Step the alert lifecycle with a detection and the nurses' pending actions."""
        return self.book.step(found.now, found.active, found.priority, actions)

    def _fresh(self, now: int) -> dict[str, FloatArray]:
        """Each windowed metric's current value, NaN when missing or stale at ``now`` (the
        tick's, less the pipeline's delay: a heart rate that reached us 30 s late on an
        overloaded server is still the current one, and its limits still apply).

        The current value is the newest clean sample, or for metrics with ``confirm_samples``
        k > 1 the median of the newest k (a slowly sampled metric keeps its newest value until
        the next sample, so time persistence cannot stop one artefact; a median of three can).
        """
        out: dict[str, FloatArray] = {}
        st = self.state
        for key in st.rings:
            index = metric_index(key)
            limit = seconds_to_ns(self.config.expectations[key].stale_after_s)
            recent = st.clean_time[:, index] >= now - limit  # NEVER is never recent
            value = st.clean_value[:, index]
            k = self.config.confirm_samples.get(key, 1)
            if k > 1 and recent.any():
                window = st.rings[key].window(since=now - limit, columns=k)
                value, _ = masked_median(window.values, window.valid)
            out[key] = np.where(recent, value, np.nan)
        strap = out["heart_rate"]
        out["pulse"] = np.where(np.isnan(strap), out["pulse_rate"], strap)
        return out

    def _news2_score(self, now: int, fresh: dict[str, FloatArray]) -> News2:
        st = self.state
        acvpu = np.where(st.consciousness_until > now, st.consciousness, "")
        oxygen = np.where(st.oxygen_until > now, st.on_oxygen, np.nan)
        pulse_at = np.maximum(
            st.clean_time[:, metric_index("heart_rate")],
            st.clean_time[:, metric_index("pulse_rate")],
        )
        return score(
            self._freshest(now, "respiration_rate", fresh["respiration_rate"]),
            self._freshest(now, "spo2", fresh["spo2"]),
            oxygen,
            self._freshest(now, "body_temperature", fresh["body_temperature"]),
            self._freshest(now, "systolic_bp", fresh["systolic_bp"]),
            self._freshest(now, "pulse_rate", fresh["pulse"], pulse_at),
            acvpu,
            scale2=st.scale2,
        )

    def _news2_measured(self) -> BoolArray:
        """``(patients, 7)``: which NEWS2 parameters a device has ever measured, so that a
        missing one is named "stale" (measured, now too old to score) rather than missing."""
        measured = self.state.clean_time != NEVER
        columns = {key: measured[:, metric_index(key)] for key in _DEVICE_PART}
        none = np.zeros(measured.shape[0], dtype=np.bool_)
        pulse = columns["heart_rate"] | measured[:, metric_index("pulse_rate")]
        columns["heart_rate"] = pulse
        return np.stack([columns.get(_DEVICE_KEY.get(p, p), none) for p in _NEWS2_PARTS], axis=1)

    def _freshest(
        self, now: int, key: str, device: FloatArray, device_at: IntArray | None = None
    ) -> FloatArray:
        """The freshest valid value of a NEWS2 parameter: the device's while not stale, unless a
        nurse measured one later that is still valid (its ``valid_until``); else the nurse's
        while valid. NEWS2 scores the observations taken, by whatever means (RCP NEWS2, 2017);
        a counted respiratory rate is the one nurses are trained on. ``device_at``: when the
        device's value was measured (default: the metric's newest clean sample)."""
        st = self.state
        column = MANUAL_METRICS.index(key)
        valid = st.manual_until[:, column] > now
        if device_at is None:
            device_at = st.clean_time[:, metric_index(key)]
        newer = np.isnan(device) | (st.manual_at[:, column] > device_at)
        return np.where(valid & newer, st.manual_value[:, column], device)

    def _news2_condition(self, now: int, found: Detection) -> None:
        news = found.news2
        present = np.stack([getattr(news, p) != MISSING for p in _NEWS2_PARTS]).T  # column-major
        # Chart 3 in numbers (the same as news.risk, without comparing strings per patient).
        level = np.select(
            [news.total >= 7, news.total >= 5, news.single_parameter_3],
            [HIGH, MEDIUM, LOW],
            default=-1,
        ).astype(np.int8)
        breach = level >= 0
        kept = ~_any_column(~present & self._news2_seen)
        latch = self._news2.step(
            now,
            breach=breach,
            recovered=~breach & kept,
            persist_ns=seconds_to_ns(self.config.news2.persist_s),
            clear_ns=seconds_to_ns(self.config.news2.clear_s),
        )
        self._news2_seen = np.where(
            breach[:, None], present, self._news2_seen & latch.active[:, None]
        )
        self._news2 = latch
        col = column("news2")
        found.active[:, col] = latch.active
        found.since["news2"] = latch.breach_since
        found.priority[:, col] = np.maximum(level, LOW)
        found.value[:, col] = np.where(news.scored, news.total, np.nan)  # no score: no number
        stale = ~present & self._news2_measured()
        found.masks["news2"] = (np.hstack([~present & ~stale, stale]), _MISSING_OR_STALE)

    def _hard_limits(self, now: int, fresh: dict[str, FloatArray], found: Detection) -> None:
        names = {
            "heart_rate": "heart_rate",
            "spo2": "spo2",
            "respiration_rate": "respiration_rate",
            "systolic_bp": "systolic_bp",
            "body_temperature": "temperature",
        }
        for key in LIMIT_METRICS:
            value = fresh["pulse"] if key == "heart_rate" else fresh[key]
            state = self._limits[key]
            if not _idle(state, value):
                state = state.step(now, value, self.state.thresholds[key])
                self._limits[key] = state
            limits = self.state.thresholds[key]
            for side, latch in (("high", state.high), ("low", state.low)):
                name = f"{names[key]}_{side}"
                if name in NAMES:
                    found.active[:, column(name)] = latch.active
                    found.value[:, column(name)] = value
                    found.limits[name] = limits.high if side == "high" else limits.low
                    found.since[name] = latch.breach_since

    def _glucose(self, now: int, found: Detection) -> None:
        st, col = self.state, column("hypoglycaemia")
        newest = st.clean_value[:, _GLUCOSE_INDEX]
        with np.errstate(invalid="ignore"):
            low = bool((newest < self.config.glucose.level_1).any())
        verdict = ward_hypoglycaemia(  # the readings' window only when someone is low
            now,
            newest,
            st.clean_time[:, _GLUCOSE_INDEX],
            self.config.glucose,
            recent=st.glucose.window() if low else None,
        )
        level_2 = verdict.level == 2
        found.active[:, col] = verdict.active
        found.priority[:, col] = np.where(level_2, HIGH, MEDIUM)
        found.value[:, col] = verdict.value
        found.numbers["hypoglycaemia"] = np.where(
            level_2, self.config.glucose.level_2, self.config.glucose.level_1
        )

    def _links(self, now: int, found: Detection) -> None:
        """Devices whose Bluetooth link the gateway reports down for longer than the grace."""
        st = self.state
        down, patients = links_down(
            now, st.link_row, st.link_down_since, self.patients, self.config.link_grace_s
        )
        col = column("device_disconnected")
        found.active[:, col] = patients
        minutes = np.full(self.patients, np.nan)
        if down.any():
            since = np.full(self.patients, np.iinfo(np.int64).max)
            np.minimum.at(since, st.link_row[down], st.link_down_since[down])
            minutes[patients] = (now - since[patients]) / 60e9
        found.value[:, col] = minutes
        found.items["device_disconnected"] = (st.link_row[down], st.link_device[down])

    def _technical(self, now: int, heard: int, found: Detection) -> None:
        st, cfg = self.state, self.config
        seen_any = _any_column(st.latest_time != NEVER)
        since = np.maximum(st.admitted_at, self.started_at)
        waited = since <= now - seconds_to_ns(cfg.no_data_grace_s)
        found.active[:, column("no_data")] = st.has_device & ~seen_any & waited
        keys = list(CONTINUOUS_METRICS)
        idx = [metric_index(k) for k in keys]
        limits = np.array([cfg.expectations[k].stale_after_s for k in keys])
        flow = data_flow(heard, st.latest_time[:, idx], limits)
        stale = flow.stale & st.has_device[:, None]
        found.active[:, column("stale_data")] = _any_column(stale)
        found.masks["stale_data"] = (stale, tuple(keys))
        found.since["stale_data"] = _silent_since(st.latest_time[:, idx], stale)
        sensors = [metric_index(k) for k in _SENSOR_METRICS]
        zero = np.array([cfg.expectations[k].zero_means_off for k in _SENSOR_METRICS])
        sensor_limits = np.array([cfg.expectations[k].stale_after_s for k in _SENSOR_METRICS])
        times = st.latest_time[:, sensors]
        off = st.latest_contact_lost[:, sensors] | (zero & (st.latest_value[:, sensors] == 0))
        off &= ~data_flow(heard, times, sensor_limits).stale  # a stale "off" is stale data
        off &= times != NEVER
        breach = _any_column(off)
        self._sensor = self._sensor.step(
            now,
            breach=breach,
            recovered=~breach & _any_column(times != NEVER),
            persist_ns=seconds_to_ns(cfg.sensor_off.persist_s),
            clear_ns=seconds_to_ns(cfg.sensor_off.clear_s),
        )
        found.active[:, column("sensor_off")] = self._sensor.active
        found.since["sensor_off"] = self._sensor.breach_since
        found.masks["sensor_off"] = (off, _SENSOR_METRICS)
        battery = self._battery_level(now)
        self._battery = self._battery.step(now, battery, config=cfg.battery)
        found.active[:, column("low_battery")] = self._battery.latch.active
        found.value[:, column("low_battery")] = battery
        # A gateway nobody has recorded a status for is not called offline: until ingest records
        # it, a silent gateway shows as stale data, not as a flood of "offline" alerts.
        seen = np.where(st.gateway_last_seen == NEVER, now, st.gateway_last_seen)
        offline = gateway_offline(
            now, st.gateway_online, seen, st.gateway_of, cfg.gateway_timeout_s
        )
        found.active[:, column("gateway_offline")] = offline
        heard = np.r_[st.gateway_last_seen, NEVER][st.gateway_of]  # -1 (no gateway): NEVER
        found.since["gateway_offline"] = np.where(offline, heard, NEVER)
        self._links(now, found)

    def _battery_level(self, now: int) -> FloatArray:
        """Lowest of the registry's device levels and the lowest recent battery reading."""
        st = self.state
        recent = st.battery_low_time >= now - seconds_to_ns(BATTERY_WINDOW_S)
        reading = np.where(recent, st.battery_low, np.nan)
        level: FloatArray = np.fmin(st.battery, reading)
        return level

    def _windows(self, now: int, rows: IntArray | None = None) -> None:
        """Desaturation, AF and flatline: the detectors that read whole windows.

        ``rows``: the cohort judged at this run (None: everyone, see ``cohorts``).
        """
        rings, cfg = self.state.rings, self.config
        sel = slice(None) if rows is None else rows
        tick = self._desaturation.step_ring(now, rings["spo2"], rows=rows)
        self._desat_in_event[sel] = tick.in_event
        self._desat_current[sel] = tick.current
        self._desat_baseline[sel] = tick.baseline
        assessed = af.assess_ring(now, rings["rr_interval"], cfg.af, rows)
        self._af = cohort_step(self._af, rows, lambda s: s.step(now, assessed, cfg.af))
        flat = np.stack(
            [flatline_walk(now, rings[k], cfg.expectations[k], rows) for k in _FLATLINE_METRICS]
        ).T  # column-major, as the table it goes into
        self._window_active[sel] = flat

    def _apply_windows(self, fresh: dict[str, FloatArray], found: Detection) -> None:
        col = column("desaturation")
        found.active[:, col] = self._desat_in_event
        found.value[:, col] = self._desat_current
        found.numbers["desaturation"] = self._desat_baseline
        col = column("atrial_fibrillation")
        found.active[:, col] = self._af.latch.active
        found.priority[:, col] = np.where(fresh["pulse"] >= self.config.af_fast_rate, HIGH, MEDIUM)
        found.value[:, col] = fresh["pulse"]
        found.active[:, column("flatline")] = _any_column(self._window_active)
        found.masks["flatline"] = (self._window_active, _FLATLINE_METRICS)

    def _slow_detectors(self, now: int, rows: IntArray | None = None) -> None:
        """Per-minute medians, then baselines and trends on them (of the cohort ``rows``)."""
        minute = seconds_to_ns(60)
        current = now - now % minute
        cohort = np.arange(self.patients) if rows is None else rows
        due = cohort[self._minute_done[cohort] < current]  # NEVER: never summarised
        if due.size:
            everyone = due.size == self.patients
            self.state.summarise_minute(current - minute, current, None if everyone else due)
            self._minute_done[due] = current
            self._last_minute = max(self._last_minute, current)
        sel = slice(None) if rows is None else rows
        fresh = rows is None
        active = self._fresh_slow_active() if fresh else self._slow_active.copy(order="F")
        for key in MINUTE_METRICS:
            window = self.state.minutes[key].window(rows=rows)
            cfg = self.config.baselines[key]
            scored = baseline.score(window, now, cfg)
            state = cohort_step(self._baselines[key], rows, lambda s: s.step(now, scored, cfg))  # noqa: B023 - called at once
            self._baselines[key] = state
            on = state.low.active if _BASELINE_SIDES[key] == "below" else state.active
            active[sel, column(f"{key}_deviation")] = on[sel]
            self._slow_row(f"{key}_deviation", rows, scored.current, scored.baseline)
            self._trend(now, key, active, rows)
        self._slow_active = active

    def _fresh_slow_active(self) -> BoolArray:
        return np.zeros((self.patients, len(CONDITIONS)), dtype=np.bool_, order="F")

    def _slow_row(
        self, name: str, rows: IntArray | None, value: FloatArray, number: FloatArray | None
    ) -> None:
        """Store a slow detector's per-patient numbers for the messages (a cohort's rows)."""
        if rows is None:
            self._slow[name] = value
            if number is not None:
                self._slow_numbers[name] = number
            return
        self._slow.setdefault(name, np.full(self.patients, np.nan))[rows] = value
        if number is not None:
            self._slow_numbers.setdefault(name, np.full(self.patients, np.nan))[rows] = number

    def _trend(self, now: int, key: str, active: BoolArray, rows: IntArray | None) -> None:
        cfg = self.config.trends[key]
        if not (np.isfinite(cfg.rise_per_h) or np.isfinite(cfg.fall_per_h)):
            return
        ring = self.state.minutes[key]
        columns = min(ring.capacity, int(cfg.window_s // 60) + 1)
        slope = trend.trend(ring.window(columns=columns, rows=rows), now, cfg)
        state = cohort_step(self._trends[key], rows, lambda s: s.step(now, slope, cfg))
        self._trends[key] = state
        on = state.low.active if _TREND_SIDES[key] == "falling" else state.active
        sel = slice(None) if rows is None else rows
        active[sel, column(f"{key}_trend")] = on[sel]
        self._slow_row(f"{key}_trend", rows, slope.slope_per_h, None)


def _idle(state: LimitState, value: FloatArray) -> bool:
    """A step would change nothing: no value anywhere and no clock running.

    With every value missing a limit step only resets running clocks (a missing value is
    evidence of neither breach nor recovery), so when none runs the state is already the
    result. Skipping saves a ward-wide pass for metrics nobody measures (often temperature and
    blood pressure between rounds).
    """
    if not np.isnan(value).all():
        return False
    return all(
        (latch.breach_since == NEVER).all()
        and (latch.recovered_since == NEVER).all()
        and not latch.fired.any()
        and not latch.cleared.any()
        for latch in (state.low, state.high)
    )


def _any_column(mask: BoolArray) -> BoolArray:
    """``mask.any(axis=1)`` for a few columns: one OR per column (a loop over metrics, not
    patients), several times faster than a reduction over short rows."""
    result = np.zeros(mask.shape[0], dtype=np.bool_)
    for i in range(mask.shape[1]):
        result |= mask[:, i]
    return result


def _silent_since(newest: IntArray, stale: BoolArray) -> IntArray:
    """Per patient, the newest sample time of the metric silent longest among the ``stale``
    ones (NEVER: none stale): when the silence ``stale_data`` names began, so its alert says
    for how long and, once data is back, after how long."""
    none = np.iinfo(np.int64).max
    since = np.where(stale, newest, none).min(axis=1, initial=none)
    result: IntArray = np.where(since == none, NEVER, since)
    return result
