"""Benchmark of the analytics engine: samples scored per second and tick time, vectorised
(``nabd.analytics.service.engine``) against a straightforward per-patient Python implementation of
the same per-second logic, measured in the same run.

Usage (from the repository root)::

    .venv/bin/python bench/analytics_bench.py [--sizes 1000,10000,100000] [--ticks 10]

Each patient sends, every second, a heart rate, a pulse rate, an SpO2 and an RR interval (four
samples); 2 % are tachycardic, 1 % desaturated, 1 % have the oximeter probe off, 1 % send nothing.
One *tick* folds one second of samples into the ring buffers (``ingest``) and runs the per-second
path: NEWS2 from the latest values with staleness, hard limits with persistence and hysteresis,
the NEWS2 latch, no data / stale data / sensor off / low battery / gateway offline, and the alert
lifecycle for every patient x condition (``detect`` + ``alerts``). The window detectors
(desaturation, AF, flatline) and the per-minute ones (medians, baselines) run on their own
cadence and are timed separately (a second table): one run over the whole ward, one run of one
cohort (``window_cohorts`` 10, ``slow_cohorts`` 60: what one tick pays when the work is spread),
and the same arithmetic written per patient in plain Python (:class:`PerPatientDetectors`,
checked to give the engine's results on the first size, timed on 1 000 patients and scaled).
A third table sets the window detectors against their whole-window computations as first written
(``nabd.analytics.reference``; same verdicts checked on the first size) and against the same
skipping detectors run on windows copied out of the rings into time order (*copied*, as the
fourth session left them), in µs per patient per second at the default 1-s cadence, and each
size ends with what one core pays per second with everything at a 1-s cadence (ingest, tick,
window detectors, a 1/60 per-minute cohort), before, copied and after, and how many patients
that fits. The machine is shared: the load average is printed,
before and after are timed in turns (best of 5), and only their ratio is meant to travel.

The per-patient implementation (:class:`PerPatient`) is the same per-second logic written the
plain way: a dict of deques per patient, a loop over patients and conditions, NEWS2 by banding
scalars. Before timing, both are run side by side on the first size for 600 simulated seconds
and must raise, escalate, latch and resolve exactly the same alerts at the same ticks; otherwise
the benchmark stops (a speed ratio between two different computations would mean nothing).
Only the per-patient tick is timed at the larger sizes (one tick at 100 000 patients, as it takes
seconds).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from nabd.analytics import af, baseline, reference
from nabd.analytics import news2 as chart
from nabd.analytics.alerts import CRITICAL, LOW
from nabd.analytics.arrays import NEVER, masked_median
from nabd.analytics.desaturation import Desaturation
from nabd.analytics.ring import Window
from nabd.analytics.service.conditions import CONDITIONS, NAMES
from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.engine import _FLATLINE_METRICS, Engine
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import Samples, metric_index
from nabd.analytics.technical import flatline, flatline_walk

S = 1_000_000_000
T0 = 1_750_000_000 * S
FEED = ("heart_rate", "pulse_rate", "spo2", "rr_interval")
FAST = (
    "news2",
    "heart_rate_high",
    "heart_rate_low",
    "spo2_low",
    "respiration_rate_high",
    "respiration_rate_low",
    "systolic_bp_high",
    "systolic_bp_low",
    "temperature_high",
    "temperature_low",
    "no_data",
    "stale_data",
    "sensor_off",
    "low_battery",
    "gateway_offline",
)


# ---- the ward: patients and one second of samples ------------------------------------------


@dataclass
class Ward:
    n: int
    rng: np.random.Generator
    hr: np.ndarray = field(init=False)
    spo2: np.ndarray = field(init=False)
    probe_off: np.ndarray = field(init=False)
    silent: np.ndarray = field(init=False)
    battery: np.ndarray = field(init=False)
    scale2: np.ndarray = field(init=False)
    episodic: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        kind = self.rng.random(self.n)
        self.hr = self.rng.normal(76, 9, self.n)
        self.hr[kind < 0.02] = 142.0
        self.spo2 = np.full(self.n, 97.0)
        self.spo2[(kind >= 0.02) & (kind < 0.03)] = 88.0
        self.probe_off = (kind >= 0.03) & (kind < 0.04)
        self.silent = (kind >= 0.04) & (kind < 0.05)
        self.episodic = (kind >= 0.05) & (kind < 0.07)  # tachycardic 100 s out of every 250
        self.battery = np.where(self.rng.random(self.n) < 0.01, 12.0, 80.0)
        self.scale2 = self.rng.random(self.n) < 0.05

    def registry(self) -> Registry:
        return Registry(
            patient=np.array([f"p{i:06d}" for i in range(self.n)]),
            ward=np.array([f"w{i % 20}" for i in range(self.n)]),
            scale2=self.scale2,
            admitted_at=np.full(self.n, T0 - 3600 * S),
            gateway=np.array([f"g{i // 20}" for i in range(self.n)]),
            battery=self.battery,
            gateway_id=np.array([f"g{i}" for i in range((self.n + 19) // 20)]),
            gateway_online=np.ones((self.n + 19) // 20, dtype=np.bool_),
            gateway_last_seen=np.full((self.n + 19) // 20, T0 + 10**6 * S),
        )

    def second(self, now: int) -> Samples:
        """One second of samples of every patient that sends, in arrival (shuffled) order."""
        rows = np.flatnonzero(~self.silent)
        k = rows.shape[0]
        noise = self.rng.normal(0, 1.5, (4, k)).round()
        episode = (now - T0) // S % 250 < 100
        base = np.where(self.episodic[rows] & episode, 150.0, self.hr[rows])
        hr = np.clip(base + noise[0], 30, 220).round()
        spo2 = np.where(self.probe_off[rows], 0.0, np.clip(self.spo2[rows] + noise[2] / 2, 70, 100))
        values = np.concatenate([hr, hr + noise[1], spo2.round(), 60.0 / hr])
        metric = np.repeat([metric_index(m) for m in FEED], k)
        lost = np.concatenate([np.zeros(2 * k, bool), self.probe_off[rows], np.zeros(k, bool)])
        order = self.rng.permutation(4 * k)
        return Samples(
            row=np.tile(rows, 4)[order],
            metric=metric[order],
            time=np.full(4 * k, now - S // 2, dtype=np.int64),
            value=values[order],
            contact_lost=lost[order],
            doubtful=np.zeros(4 * k, dtype=np.bool_),
        )


def vectorised(ward: Ward) -> Engine:
    # Window and per-minute detectors on their own (long) cadence: timed separately.
    engine = Engine(EngineConfig(window_every_s=1e9, slow_every_s=1e9))
    engine.apply(ward.registry())
    return engine


# ---- the same per-second logic, one patient at a time -----------------------------------------


class Latch:
    __slots__ = ("active", "breach_since", "recovered_since")

    def __init__(self) -> None:
        self.active = False
        self.breach_since = NEVER
        self.recovered_since = NEVER

    def step(self, now: int, breach: bool, recovered: bool, persist: int, clear: int) -> None:
        self.breach_since = (
            (now if self.breach_since == NEVER else self.breach_since) if breach else NEVER
        )
        if not self.active and breach and self.breach_since <= now - persist:
            self.active = True
        if self.active and recovered:
            self.recovered_since = now if self.recovered_since == NEVER else self.recovered_since
            if self.recovered_since <= now - clear:
                self.active = False
                self.recovered_since = NEVER
        else:
            self.recovered_since = NEVER


class Cell:
    __slots__ = ("acknowledged", "active_since", "inactive_since", "latched", "level",
                 "notified_at", "open", "priority", "worst")  # fmt: skip

    def __init__(self) -> None:
        self.open = False
        self.priority = -1
        self.worst = -1
        self.level = 0
        self.acknowledged = False
        self.latched = False
        self.notified_at = NEVER
        self.active_since = NEVER
        self.inactive_since = NEVER


LIMITED = ("heart_rate", "spo2", "respiration_rate", "systolic_bp", "body_temperature")


class Patient:
    def __init__(self, cfg: EngineConfig, admitted: int, battery: float, scale2: bool) -> None:
        self.rings: dict[str, deque[tuple[int, float]]] = {
            k: deque(maxlen=c) for k, c in cfg.capacities.items()
        }
        self.newest: dict[str, tuple[int, float, bool]] = {}
        self.limits = {k: (Latch(), Latch()) for k in LIMITED}
        self.news2 = Latch()
        self.news2_seen = [False] * 7
        self.sensor = Latch()
        self.battery_latch = Latch()
        self.cells = [Cell() for _ in NAMES]
        self.admitted = admitted
        self.battery = battery
        self.scale2 = scale2


def _band(bands: chart.Bands, value: float) -> int:
    units = math.floor(value * 10**bands.decimals + 0.5)
    for _, high, score in bands.bands:
        top = None if high is None else round(high * 10**bands.decimals)
        if top is None or units <= top:
            return score
    raise AssertionError("bands are open at the top")


def news2_scalar(
    vitals: tuple[float, float, float, float, float], scale2: bool
) -> tuple[int, str, list[bool]]:
    """NEWS2 of (RR, SpO2, temperature, systolic, pulse) with consciousness and oxygen missing
    (no nurse entries in this ward)."""
    rr, spo2, temp, sbp, hr = vitals
    subs: list[int | None] = [
        None if math.isnan(rr) else _band(chart.RESPIRATION_RATE, rr),
        None,
        None,  # air or oxygen: no entry
        None if math.isnan(sbp) else _band(chart.SYSTOLIC_BP, sbp),
        None if math.isnan(hr) else _band(chart.HEART_RATE, hr),
        None,  # consciousness: no entry
        None if math.isnan(temp) else _band(chart.TEMPERATURE, temp),
    ]
    if not math.isnan(spo2):
        if not scale2:
            subs[1] = _band(chart.SPO2_SCALE_1, spo2)
        else:  # oxygen unknown: known only where both Scale 2 rows agree
            air = _band(chart.SPO2_SCALE_2_ON_AIR, spo2)
            oxy = _band(chart.SPO2_SCALE_2_ON_OXYGEN, spo2)
            subs[1] = air if air == oxy else None
    present = [s is not None for s in subs]
    total = sum(s for s in subs if s is not None)
    risk = "low"
    for lowest, name in chart.AGGREGATE_RISK:
        if total >= lowest:
            risk = name
    if risk == "low" and any(s == 3 for s in subs):
        risk = "low-medium"
    return total, risk, present


class PerPatient:
    """The per-second logic of :class:`~nabd.analytics.service.engine.Engine`, per patient."""

    def __init__(self, ward: Ward, registry: Registry, cfg: EngineConfig) -> None:
        self.cfg = cfg
        self.patients = [
            Patient(
                cfg,
                int(registry.admitted_at[i]),
                float(registry.battery[i]),
                bool(registry.scale2[i]),
            )
            for i in range(ward.n)
        ]
        self.keys = {metric_index(k): k for k in FEED}
        self.started = NEVER
        self.stale = {k: round(e.stale_after_s * S) for k, e in cfg.expectations.items()}
        self.policy = cfg.policy

    def ingest(self, samples: Samples) -> None:
        for row, metric, t, value, lost in zip(
            samples.row.tolist(), samples.metric.tolist(), samples.time.tolist(),
            samples.value.tolist(), samples.contact_lost.tolist(), strict=True,
        ):  # fmt: skip
            p = self.patients[row]
            key = self.keys[metric]
            old = p.newest.get(key)
            if old is None or t >= old[0]:
                p.newest[key] = (t, value, lost)
            zero_off = self.cfg.expectations[key].zero_means_off and value == 0
            if math.isnan(value) or lost or zero_off:
                continue
            ring = p.rings[key]
            if not ring or t > ring[-1][0]:
                ring.append((t, value))

    def _fresh(self, p: Patient, key: str, now: int) -> float:
        ring = p.rings.get(key)
        if not ring:
            return math.nan
        t, v = ring[-1]
        if t < now - self.stale[key]:
            return math.nan
        k = self.cfg.confirm_samples.get(key, 1)
        if k > 1:  # the median of the newest k that are not stale
            recent = [x for s, x in list(ring)[-k:] if s >= now - self.stale[key]]
            return float(statistics.median(recent))
        return float(v)

    def tick(self, now: int) -> list[tuple[int, str, str]]:
        if self.started == NEVER:
            self.started = now
        events: list[tuple[int, str, str]] = []
        for row, p in enumerate(self.patients):
            active, priority = self._detect(p, now)
            events += [(row, NAMES[c], kind) for c, kind in self._alerts(p, now, active, priority)]
        return events

    def _detect(self, p: Patient, now: int) -> tuple[list[bool], list[int]]:
        cfg = self.cfg
        active = [False] * len(NAMES)
        priority = [c.priority for c in CONDITIONS]
        strap = self._fresh(p, "heart_rate", now)
        pulse = strap if not math.isnan(strap) else self._fresh(p, "pulse_rate", now)
        values = {
            "heart_rate": pulse,
            "spo2": self._fresh(p, "spo2", now),
            "respiration_rate": self._fresh(p, "respiration_rate", now),
            "systolic_bp": self._fresh(p, "systolic_bp", now),
            "body_temperature": self._fresh(p, "body_temperature", now),
        }
        vitals = (values["respiration_rate"], values["spo2"], values["body_temperature"],
                  values["systolic_bp"], pulse)  # fmt: skip
        _, risk, present = news2_scalar(vitals, p.scale2)
        level = {"low": -1, "low-medium": 0, "medium": 1, "high": 2}[risk]
        kept = all(now_ or not seen for now_, seen in zip(present, p.news2_seen, strict=True))
        p.news2.step(now, level >= 0, level < 0 and kept,
                     round(cfg.news2.persist_s * S), round(cfg.news2.clear_s * S))  # fmt: skip
        p.news2_seen = present if level >= 0 else [s and p.news2.active for s in p.news2_seen]
        active[0], priority[0] = p.news2.active, max(level, LOW)
        names = {"heart_rate": "heart_rate", "spo2": "spo2", "respiration_rate": "respiration_rate",
                 "systolic_bp": "systolic_bp", "body_temperature": "temperature"}  # fmt: skip
        for key, (low_latch, high_latch) in p.limits.items():
            lim, value = cfg.limits[key], values[key]
            known = not math.isnan(value)
            persist, clear = round(lim.persist_s * S), round(lim.clear_s * S)
            low_latch.step(now, known and value <= lim.low, known and value > lim.low + lim.margin,
                           persist, clear)  # fmt: skip
            high_latch.step(now, known and value >= lim.high,
                            known and value < lim.high - lim.margin, persist, clear)  # fmt: skip
            for side, latch in (("high", high_latch), ("low", low_latch)):
                name = f"{names[key]}_{side}"
                if name in NAMES:
                    active[NAMES.index(name)] = latch.active
        seen = bool(p.newest)
        since = max(p.admitted, self.started)
        active[NAMES.index("no_data")] = not seen and since <= now - round(cfg.no_data_grace_s * S)
        stale = False
        for key in ("heart_rate", "pulse_rate", "spo2", "rr_interval", "respiration_rate"):
            newest = p.newest.get(key)
            stale |= newest is not None and newest[0] < now - self.stale[key]
        active[NAMES.index("stale_data")] = stale
        off = any_seen = False
        for key in ("spo2", "pulse_rate", "heart_rate"):
            newest = p.newest.get(key)
            if newest is None:
                continue
            any_seen = True
            flagged = newest[2] or (cfg.expectations[key].zero_means_off and newest[1] == 0)
            off |= flagged and newest[0] >= now - self.stale[key]
        p.sensor.step(now, off, not off and any_seen, round(cfg.sensor_off.persist_s * S),
                      round(cfg.sensor_off.clear_s * S))  # fmt: skip
        active[NAMES.index("sensor_off")] = p.sensor.active
        b = cfg.battery
        known = not math.isnan(p.battery)
        p.battery_latch.step(now, known and p.battery <= b.low_at, known and p.battery >= b.ok_at,
                             round(b.persist_s * S), round(b.clear_s * S))  # fmt: skip
        active[NAMES.index("low_battery")] = p.battery_latch.active
        return active, priority

    def _alerts(
        self, p: Patient, now: int, active: list[bool], priority: list[int]
    ) -> list[tuple[int, str]]:
        policy, out = self.policy, []
        for c, cell in enumerate(p.cells):
            on, level = active[c], priority[c] if active[c] else LOW
            if on:
                cell.active_since = now if cell.active_since == NEVER else cell.active_since
                cell.inactive_since = NEVER
            else:
                cell.active_since = NEVER
                cell.inactive_since = now if cell.inactive_since == NEVER else cell.inactive_since
            if cell.latched and on:
                cell.latched = False
                out.append((c, "unlatched"))
            if (
                cell.open
                and not on
                and cell.inactive_since <= now - int(policy.resolve_after_ns[c])
            ):
                held = (
                    policy.latch_priority is not None
                    and not cell.acknowledged
                    and (cell.priority >= policy.latch_priority)
                )
                if not held:
                    cell.__init__()  # type: ignore[misc]
                    cell.inactive_since = now
                    out.append((c, "resolved"))
                elif not cell.latched:
                    cell.latched = True
                    out.append((c, "latched"))
            opened = False
            if not cell.open and on and cell.active_since <= now - int(policy.raise_after_ns[c]):
                cell.open, cell.priority, cell.worst, cell.level = True, level, level, 0
                cell.acknowledged, cell.notified_at, opened = False, now, True
                out.append((c, "raised"))
            if cell.open and on and not opened and level > cell.worst:
                cell.worst, cell.priority = level, max(cell.priority, level)
                cell.acknowledged, cell.notified_at = False, now
                out.append((c, "worsened"))
            wait = int(policy.escalate_after_ns[min(max(cell.priority, LOW), CRITICAL)])
            sounding = cell.open and (on or cell.latched) and not opened
            if (
                sounding
                and not cell.acknowledged
                and cell.level < policy.max_level
                and cell.notified_at <= now - wait
            ):
                cell.level += 1
                cell.priority = min(cell.priority + 1, CRITICAL)
                cell.notified_at = now
                out.append((c, "escalated"))
        return out


# ---- the window and per-minute detectors, one patient at a time --------------------------------

MINUTES = 360
"""Six hours of per-minute medians, the baselines' history."""


def fill_minutes(engine: Engine, now: int, rng: np.random.Generator) -> None:
    """Six hours of per-minute medians for every patient (what a running service has)."""
    n = engine.patients
    first = now - now % (60 * S) - MINUTES * 60 * S
    starts = first + np.arange(MINUTES, dtype=np.int64) * 60 * S
    for key, ring in engine.state.minutes.items():
        centre = {"heart_rate": 76.0, "spo2": 97.0, "respiration_rate": 16.0}[key]
        values = (centre + rng.normal(0, 1.5, (n, MINUTES))).round(1)
        ring.push(np.repeat(np.arange(n), MINUTES), np.tile(starts, n), values.reshape(-1))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


class PerPatientDetectors:
    """The window and per-minute detectors' arithmetic written the plain way: for each patient,
    lists out of its windows, ``statistics.median``, sorted lists and loops. It reads the same
    samples as the engine (its ring buffers, row by row, oldest first) so the outputs can be
    compared; latches are left out (they are a few comparisons per patient either way)."""

    def __init__(self, engine: Engine, patients: range) -> None:
        self.cfg = engine.config
        rows = np.arange(patients.start, patients.stop)
        self.rows = {k: self._rows(ring, rows) for k, ring in engine.state.rings.items()}
        self.minutes = {k: self._rows(ring, rows) for k, ring in engine.state.minutes.items()}

    @staticmethod
    def _rows(ring: object, rows: np.ndarray) -> list[list[tuple[int, float]]]:
        """The patients' samples as Python lists (only the sampled ones: lists of tuples of a
        whole 100 000-patient ward would take tens of GB)."""
        window = ring.window(rows=rows)  # type: ignore[attr-defined]
        return [
            list(zip(t[v].tolist(), x[v].tolist(), strict=True))
            for t, x, v in zip(window.times, window.values, window.valid, strict=True)
        ]

    def windows(self, now: int, patients: range) -> list[tuple[float, bool, bool]]:
        """Per patient: desaturation baseline, AF verdict, heart-rate flatline."""
        out = []
        for p in patients:
            spo2 = self.rows["spo2"][p]
            recent = [v for t, v in spo2 if now - 120 * S <= t <= now]
            rolling = _median(recent) if len(recent) >= 30 else math.nan
            out.append((rolling, self._af(self.rows["rr_interval"][p], now), self._flat(p, now)))
        return out

    def _af(self, rr: list[tuple[int, float]], now: int) -> bool:
        cfg = self.cfg.af
        last = rr[-cfg.beats :]
        if len(last) < cfg.beats or any(t < now - 300 * S or t > now for t, _ in last):
            return False
        x = [v for _, v in last]
        order = sorted(range(len(x)), key=x.__getitem__)
        dropped = set(order[: cfg.trim]) | set(order[-cfg.trim :])
        kept = [i not in dropped for i in range(len(x))]
        steps = [(x[i + 1] - x[i]) ** 2 for i in range(len(x) - 1) if kept[i] and kept[i + 1]]
        values = [v for v, k in zip(x, kept, strict=True) if k]
        nrmssd = math.sqrt(sum(steps) / max(len(steps), 1)) / (sum(values) / len(values))
        turns = sum(
            (x[i] > x[i - 1] and x[i] > x[i + 1]) or (x[i] < x[i - 1] and x[i] < x[i + 1])
            for i in range(1, len(x) - 1)
        )
        low, high = min(values), max(values)
        width = high - low if high > low else 1.0
        counts = [0] * cfg.bins
        for v in values:
            counts[min(max(math.floor((v - low) / width * cfg.bins), 0), cfg.bins - 1)] += 1
        entropy = -sum(c / len(values) * math.log(c / len(values)) for c in counts if c)
        band = cfg.tpr_band
        return (
            nrmssd > cfg.nrmssd_min
            and band[0] < turns / len(x) < band[1]
            and entropy / math.log(cfg.bins) > cfg.entropy_min
        )

    def _flat(self, p: int, now: int) -> bool:
        values = [v for t, v in self.rows["heart_rate"][p] if now - 300 * S <= t <= now]
        return len(values) >= 10 and max(values) - min(values) <= 0.0

    def minutes_and_baselines(self, now: int, patients: range) -> list[float]:
        """Per patient: the minute medians of the last minute, then each metric's baseline z."""
        start = now - now % (60 * S) - 60 * S
        out = []
        for p in patients:
            for key in ("heart_rate", "spo2", "respiration_rate", "pulse_rate"):
                _median([v for t, v in self.rows[key][p] if start <= t < start + 60 * S])
            for key, history in self.minutes.items():
                cfg = self.cfg.baselines[key]
                cut = now - round(cfg.recent_s * S)
                old = [v for t, v in history[p] if now - round(cfg.history_s * S) <= t < cut]
                new = [v for t, v in history[p] if cut <= t <= now]
                level = _median(old)
                mad = _median([abs(v - level) for v in old])
                spread = max(1.4826 * mad, cfg.min_scale)
                out.append((_median(new) - level) / spread if old and new else math.nan)
        return out


# ---- checks and measurements --------------------------------------------------------------


def check_same_alerts(n: int, seconds: int = 600) -> dict[str, int]:
    """Run both implementations side by side; fail unless they raise the same alerts."""
    ward = Ward(n, np.random.default_rng(7))
    engine = vectorised(ward)
    plain = PerPatient(ward, ward.registry(), engine.config)
    count: dict[str, int] = {}
    for second in range(seconds):
        now = T0 + second * S
        batch = ward.second(now)
        engine.ingest(batch)
        plain.ingest(batch)
        mine = sorted((t.row, t.condition, t.kind.value) for t in engine.alerts(engine.detect(now)))
        theirs = sorted(plain.tick(now))
        if mine != theirs:
            sys.exit(f"the implementations disagree at {second} s:\n{mine[:5]}\n{theirs[:5]}")
        for _, _, kind in mine:
            count[kind] = count.get(kind, 0) + 1
    return count


def measure_vectorised(ward: Ward, ticks: int) -> dict[str, float]:
    """Median ingest and tick times in steady state (the detectors: :func:`measure_detectors`)."""
    engine = vectorised(ward)
    for second in range(40):  # warm: windows filled, latches and alerts in steady state
        engine.ingest(ward.second(T0 + second * S))
        engine.alerts(engine.detect(T0 + second * S))
    ingest, tick = [], []
    samples = 0
    for second in range(40, 40 + ticks):
        now = T0 + second * S
        batch = ward.second(now)
        samples = len(batch)
        gc.collect()
        started = time.perf_counter()
        engine.ingest(batch)
        ingest.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.alerts(engine.detect(now))
        tick.append(time.perf_counter() - started)
    return {
        "samples": samples,
        "ingest_ms": statistics.median(ingest) * 1e3,
        "tick_ms": statistics.median(tick) * 1e3,
        "tick_max_ms": max(tick) * 1e3,
        "rate": samples / statistics.median(i + t for i, t in zip(ingest, tick, strict=True)),
    }


def _best_ms(run: object, repeats: int = 3) -> float:
    """Fastest of ``repeats`` runs, in ms (the machine is shared: the minimum is the cost)."""
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best * 1e3


def _best_in_turns_ms(*runs: object, repeats: int = 5) -> list[float]:
    """Fastest of ``repeats`` runs of each, taken in turns, so that a burst of load from
    other jobs falls on all alike."""
    best = [math.inf] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            best[i] = min(best[i], _best_ms(run, repeats=1))
    return best


def measure_detectors(n: int, plain_patients: int, check: bool) -> dict[str, float]:
    """One run of the window detectors and of the per-minute ones over the whole ward, one run
    of a cohort of each (``WINDOW_COHORTS``, ``SLOW_COHORTS``), and the per-patient Python
    implementation on ``plain_patients`` of them, scaled to ``n`` (it is linear in patients)."""
    ward = Ward(n, np.random.default_rng(11))
    engine = vectorised(ward)
    warm = 200  # the SpO2 baseline (120 s), 128 RR intervals, and the flatline's 10 points
    for second in range(warm):
        engine.ingest(ward.second(T0 + second * S))
    now = T0 + warm * S
    fill_minutes(engine, now, np.random.default_rng(12))
    engine.detect(now)  # first run of both groups: every detector's state exists
    window_rows = np.flatnonzero(np.arange(n) % WINDOW_COHORTS == 0)
    slow_rows = np.flatnonzero(np.arange(n) % SLOW_COHORTS == 0)
    before = reference.ReferenceDesaturation(n, engine.config.desaturation)
    windowed = Desaturation(n, engine.config.desaturation)
    after_ms, before_ms, windowed_ms = _best_in_turns_ms(
        lambda: engine._windows(now),
        lambda: windows_before(engine, before, now),
        lambda: windows_copied(engine, windowed, now),
    )
    result = {
        "window_ms": after_ms,
        "window_before_ms": before_ms,
        "window_copied_ms": windowed_ms,
        "af_lazy_ms": _best_ms(lambda: af.assess_ring(now, engine.state.rings["rr_interval"])),
        "af_full_ms": _best_ms(lambda: af_in_full(engine, now)),
        "window_cohort_ms": _best_ms(lambda: engine._windows(now, window_rows)),
        "slow_ms": _best_ms(lambda: engine._slow_detectors(now + 60 * S), repeats=1),
        "slow_cohort_ms": _best_ms(lambda: engine._slow_detectors(now + 120 * S, slow_rows), 1),
    }
    sample = range(min(plain_patients, n))
    plain = PerPatientDetectors(engine, sample)
    started = time.perf_counter()
    verdicts = plain.windows(now, sample)
    result["plain_window_ms"] = (time.perf_counter() - started) * 1e3 * n / len(sample)
    started = time.perf_counter()
    plain.minutes_and_baselines(now + 180 * S, sample)
    result["plain_slow_ms"] = (time.perf_counter() - started) * 1e3 * n / len(sample)
    if check:
        _check_detectors(engine, now, verdicts, plain, sample)
        _check_before(engine, now)
    return result


def windows_before(engine: Engine, desaturation: Desaturation, now: int) -> object:
    """``Engine._windows`` over the whole ward as it was before the detectors skipped work:
    the same calls with ``nabd.analytics.reference``'s whole-window computations."""
    rings, cfg = engine.state.rings, engine.config
    tick = desaturation.step(now, rings["spo2"].window())
    rr = rings["rr_interval"].window(columns=cfg.af.beats)
    assessed = reference.af_assess(now, rr, cfg.af)
    latch = engine._af.step(now, assessed, cfg.af)
    flat = np.stack(
        [reference.flatline(now, rings[k].stored(), cfg.expectations[k]) for k in _FLATLINE_METRICS]
    ).T
    return tick, latch, flat


def af_in_full(engine: Engine, now: int) -> object:
    """``af.assess_ring``'s work if no window could be left out (a ward where every rhythm
    passes the turning-point and RMSSD tests, as in AF): every statistic of every ready
    window, copied from the ring block by block. The benchmark's ward has no AF."""
    ring, cfg = engine.state.rings["rr_interval"], engine.config.af
    ready = np.flatnonzero(af.assess_ring(now, ring, cfg).ready)
    return [
        af._features(ring.newest_values(ready[i : i + af._BLOCK], cfg.beats), cfg, lazy=False)
        for i in range(0, ready.size, af._BLOCK)
    ]


def windows_copied(engine: Engine, desaturation: Desaturation, now: int) -> object:
    """``Engine._windows`` as the fourth session left it: the detectors skipping work, on
    windows copied out of the rings into time order (``af.assess``, ``Desaturation.step``)."""
    rings, cfg = engine.state.rings, engine.config
    tick = desaturation.step(now, rings["spo2"].window())
    rr = rings["rr_interval"].window(columns=cfg.af.beats)
    assessed = af.assess(now, rr, cfg.af)
    latch = engine._af.step(now, assessed, cfg.af)
    flat = np.stack(
        [flatline_walk(now, rings[k], cfg.expectations[k]) for k in _FLATLINE_METRICS]
    ).T
    return tick, latch, flat


def _check_before(engine: Engine, now: int) -> None:
    """Before and after must give the same verdicts, or their ratio means nothing."""
    rings, cfg = engine.state.rings, engine.config
    fresh, old = (
        Desaturation(engine.patients, cfg.desaturation),
        reference.ReferenceDesaturation(engine.patients, cfg.desaturation),
    )
    spo2 = rings["spo2"].window()
    a, b = fresh.step(now, spo2), old.step(now, spo2)
    same = all(
        np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True)
        for k in ("current", "baseline", "in_event", "events_in_window", "events_per_hour")
    )
    ring_tick = Desaturation(engine.patients, cfg.desaturation).step_ring(now, rings["spo2"])
    same &= all(
        np.array_equal(getattr(a, k), getattr(ring_tick, k), equal_nan=True)
        for k in ("current", "baseline", "in_event", "events_in_window", "events_per_hour")
    )
    rr = rings["rr_interval"].window(columns=cfg.af.beats)
    new_af, old_af = af.assess(now, rr, cfg.af), reference.af_assess(now, rr, cfg.af)
    same &= all(
        np.array_equal(getattr(new_af.features, k), getattr(old_af.features, k))
        for k in ("nrmssd", "tpr", "entropy", "irregular")
    )
    lazy = af.assess_ring(now, rings["rr_interval"], cfg.af)
    same &= np.array_equal(lazy.ready, old_af.ready)
    same &= np.array_equal(lazy.irregular, old_af.irregular)
    for key in _FLATLINE_METRICS:
        window: Window = rings[key].stored()
        walked = flatline_walk(now, rings[key], cfg.expectations[key])
        same &= np.array_equal(walked, reference.flatline(now, window, cfg.expectations[key]))
    if not same:
        sys.exit("the window detectors disagree with their reference: the ratio means nothing")


def _check_detectors(
    engine: Engine,
    now: int,
    verdicts: list[tuple[float, bool, bool]],
    plain: PerPatientDetectors,
    sample: range,
) -> None:
    """The per-patient arithmetic must give what the engine gives, or the ratio means nothing."""
    rings, cfg = engine.state.rings, engine.config
    spo2 = rings["spo2"].window()
    recent = spo2.valid & (spo2.times >= now - 120 * S) & (spo2.times <= now)
    rolling, count = masked_median(spo2.values, recent)
    rolling = np.where(count >= 30, rolling, np.nan)
    irregular = af.assess(now, rings["rr_interval"].window(columns=cfg.af.beats), cfg.af)
    flat = flatline(now, rings["heart_rate"].window(), cfg.expectations["heart_rate"])
    mine = [(float(rolling[p]), bool(irregular.irregular[p]), bool(flat[p])) for p in sample]
    same = all(
        (a[0] == b[0] or (math.isnan(a[0]) and math.isnan(b[0]))) and a[1:] == b[1:]
        for a, b in zip(mine, verdicts, strict=True)
    )
    later = now + 180 * S
    z = []
    for key in engine.state.minutes:
        scored = baseline.score(engine.state.minutes[key].window(), later, cfg.baselines[key])
        z.append(np.where(scored.ready, scored.z, np.nan)[: len(sample)])
    theirs = np.array(plain.minutes_and_baselines(later, sample)).reshape(len(sample), -1).T
    ready = ~np.isnan(np.array(z))
    close = np.allclose(np.array(z)[ready], theirs[ready], rtol=1e-9, atol=1e-9)
    if not (same and close and ready.any()):
        sys.exit("the per-patient detectors disagree with the engine: the ratio would mean nothing")


def measure_plain(ward: Ward, ticks: int) -> float:
    """Median seconds of one per-patient tick (ingest included)."""
    plain = PerPatient(ward, ward.registry(), EngineConfig())
    times = []
    for second in range(ticks):
        now = T0 + second * S
        batch = ward.second(now)
        started = time.perf_counter()
        plain.ingest(batch)
        plain.tick(now)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(n: int, ticks: int, plain_ticks: int) -> dict[str, float]:
    result = measure_vectorised(Ward(n, np.random.default_rng(11)), ticks)
    gc.collect()
    plain = measure_plain(Ward(n, np.random.default_rng(11)), plain_ticks)
    vectorised_s = result["samples"] / result["rate"]
    return {
        **result,
        "plain_ms": plain * 1e3,
        "plain_rate": result["samples"] / plain,
        "ratio": plain / vectorised_s,
        "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }


WINDOW_COHORTS = 10
"""At 100 000 patients, e.g. ``window_every_s=10, window_cohorts=10``: a tenth every second."""
SLOW_COHORTS = 60
"""``slow_cohorts=60``: a sixtieth of the ward's per-minute detectors every second."""


def detectors_table(sizes: list[int], per_second: dict[int, dict[str, float]]) -> None:
    """The detectors' table, then the window detectors before and after they skipped work
    (µs per patient per second at the default 1-s cadence, best of 5 taken in turns, the same
    run) and what
    a 1-s cadence of everything costs one core."""
    print(f"\n{'patients':>9} {'window ms':>9} {'1/' + str(WINDOW_COHORTS) + ' ms':>8} "
          f"{'plain ms':>9} {'ratio':>6} {'minute ms':>9} {'1/' + str(SLOW_COHORTS) + ' ms':>8} "
          f"{'plain ms':>9} {'ratio':>6}  load")  # fmt: skip
    rows = {}
    for n in sizes:
        r = measure_detectors(n, plain_patients=1000, check=n == min(sizes))
        rows[n] = r
        print(f"{n:>9} {r['window_ms']:>9.0f} {r['window_cohort_ms']:>8.1f} "
              f"{r['plain_window_ms']:>9.0f} {r['plain_window_ms'] / r['window_ms']:>6.0f} "
              f"{r['slow_ms']:>9.0f} {r['slow_cohort_ms']:>8.1f} {r['plain_slow_ms']:>9.0f} "
              f"{r['plain_slow_ms'] / r['slow_ms']:>6.0f}  {_load()}", flush=True)  # fmt: skip
        gc.collect()
    print("\nwindow detectors (desaturation, AF, flatline) at a 1-s cadence, µs per patient per "
          "second, best of 5 taken in turns: before (whole windows, the reference), copied "
          "(skipping work on windows copied into time order), after (reading the rings):"
          )  # fmt: skip
    print(f"{'patients':>9} {'before':>8} {'copied':>8} {'after':>8} {'before/after':>12} "
          f"{'copied/after':>12}")  # fmt: skip
    for n, r in rows.items():
        us = {k: r[k] * 1e3 / n for k in ("window_before_ms", "window_copied_ms", "window_ms")}
        print(f"{n:>9} {us['window_before_ms']:>8.1f} {us['window_copied_ms']:>8.1f} "
              f"{us['window_ms']:>8.1f} {r['window_before_ms'] / r['window_ms']:>11.1f}x "
              f"{r['window_copied_ms'] / r['window_ms']:>11.1f}x")  # fmt: skip
    for n, r in rows.items():
        print(f"AF at {n} patients: {r['af_lazy_ms']:.0f} ms this ward (no AF), "
              f"{r['af_full_ms']:.0f} ms if every window went through every statistic "
              f"(a ward all in AF: +{r['af_full_ms'] - r['af_lazy_ms']:.0f} ms)")  # fmt: skip
    for n, r in rows.items():
        if n in per_second:
            _budget(n, r, per_second[n])


def _budget(n: int, detectors: dict[str, float], second: dict[str, float]) -> None:
    """One core's second at ``n`` patients with everything at a 1-s cadence: ingest, the
    per-second tick, the window detectors over the whole ward, a 1/60 per-minute cohort."""
    fixed = second["ingest_ms"] + second["tick_ms"] + detectors["slow_cohort_ms"]
    for label, window in (
        ("before", "window_before_ms"),
        ("copied", "window_copied_ms"),
        ("after", "window_ms"),
    ):
        total = fixed + detectors[window]
        print(f"1-s cadence of everything at {n} patients, {label}: ingest "
              f"{second['ingest_ms']:.0f} + tick {second['tick_ms']:.0f} + window detectors "
              f"{detectors[window]:.0f} + per-minute cohort {detectors['slow_cohort_ms']:.0f} = "
              f"{total:.0f} ms of one core per second, about {n * 1000 / total:,.0f} patients "
              f"per core")  # fmt: skip


def _load() -> str:
    """The 1-minute load average: absolute times on a shared machine are only comparable
    within one run."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--no-detectors", action="store_true", help="skip the detectors' table")
    parser.add_argument("--only-detectors", action="store_true", help="only the detectors' table")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    print(f"load average {_load()} on {os.cpu_count()} cores")
    if args.only_detectors:  # the per-second path only for the budget (no per-patient loop)
        rng = np.random.default_rng(11)
        detectors_table(sizes, {n: measure_vectorised(Ward(n, rng), args.ticks) for n in sizes})
        print(f"total {time.perf_counter() - started:.0f} s")
        return 0
    events = check_same_alerts(min(sizes))
    print(f"same alerts from both implementations over 600 s of {min(sizes)} patients: "
          f"{events}")  # fmt: skip
    print(f"{'patients':>9} {'samples/tick':>12} {'ingest ms':>9} {'tick ms':>8} {'max ms':>7} "
          f"{'samples/s':>11} {'plain ms':>9} {'plain/s':>9} {'ratio':>6} "
          f"{'RSS GB':>6}")  # fmt: skip
    per_second = {}
    for n in sizes:
        plain_ticks = 10 if n <= 1000 else (3 if n <= 10_000 else 1)
        r = measure(n, args.ticks, plain_ticks)
        per_second[n] = r
        print(f"{n:>9} {r['samples']:>12.0f} {r['ingest_ms']:>9.1f} {r['tick_ms']:>8.1f} "
              f"{r['tick_max_ms']:>7.1f} {r['rate']:>11,.0f} {r['plain_ms']:>9.0f} "
              f"{r['plain_rate']:>9,.0f} {r['ratio']:>6.0f} {r['rss_gb']:>6.1f}",
              flush=True)  # fmt: skip
    if not args.no_detectors:
        detectors_table(sizes, per_second)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
