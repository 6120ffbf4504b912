"""Evaluating the home rules on simulated home patients (``nabd evaluate --setting home``).

A cohort from :func:`nabd.simulators.home.build_home` (plans, spot readings, labels) is judged
by the home rules of the analytics core, all readings of the period at once. The rules are
causal (a reading's level uses only earlier readings, ``nabd.analytics.spot``), so this is what
judging each reading on arrival gives. Levels become alert episodes
(:func:`~nabd.analytics.spot.episodes`) and are scored with the ward's
:func:`~nabd.app.evaluation.score` under :data:`HOME_RULES`; adherence alerts are raised at the
end of the last missed window.

Sensitivity is per labelled scenario; false alerts are alerts no label explains, per alert
condition, reported per patient-month (30 days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.analytics.adherence import MonthlySummary, Schedule, adherence, monthly_summary
from nabd.analytics.alerts import AlertEventKind
from nabd.analytics.arrays import NS_PER_S, Int8Array
from nabd.analytics.glucose import GlucoseLimits, glucose_levels, time_in_range
from nabd.analytics.home_bp import BloodPressureLimits, home_bp
from nabd.analytics.ring import Window
from nabd.analytics.spot import episodes, window_of
from nabd.analytics.spot_spo2 import Spo2Limits, spo2_spot
from nabd.analytics.weight import WeightLimits, weight_gain
from nabd.app.evaluation import Outcome, RaisedAlert, Rules, score
from nabd.contract.careplan import MeasurementKind
from nabd.simulators.home import HomeCohort
from nabd.simulators.labels import Condition
from nabd.simulators.timebase import DAY_S

__all__ = ["HOME_RULES", "PHYSIOLOGICAL", "HomeResult", "evaluate_home", "home_alerts"]

PHYSIOLOGICAL: Final = frozenset(
    {"weight_gain", "bp_severe", "bp_low", "bp_mean_high", "glucose_low", "glucose_high",
     "spo2_low"}
)  # fmt: skip
"""Alert conditions of the home rules that are about the patient (adherence is not)."""

HOME_RULES: Final = Rules(
    matches=MappingProxyType(
        {
            Condition.HEART_FAILURE_DECOMPENSATION: frozenset({"weight_gain"}),
            Condition.HYPERTENSIVE_EPISODE: frozenset({"bp_severe", "bp_mean_high"}),
            Condition.NOCTURNAL_HYPOGLYCAEMIA: frozenset({"glucose_low"}),
            Condition.COPD_EXACERBATION: frozenset({"spo2_low"}),
            Condition.NON_ADHERENCE: frozenset(f"adherence_{kind}" for kind in MeasurementKind),
        }
    ),
    clinical=frozenset(
        {
            Condition.HEART_FAILURE_DECOMPENSATION,
            Condition.HYPERTENSIVE_EPISODE,
            Condition.NOCTURNAL_HYPOGLYCAEMIA,
            Condition.COPD_EXACERBATION,
        }
    ),
    physiological=PHYSIOLOGICAL.__contains__,
    not_evaluated=frozenset(),
)
_KINDS: Final = MappingProxyType(
    {
        "raised": AlertEventKind.RAISED,
        "worsened": AlertEventKind.WORSENED,
        "resolved": AlertEventKind.RESOLVED,
    }
)
_ADHERENCE_METRIC: Final[Mapping[MeasurementKind, str]] = MappingProxyType(
    {
        MeasurementKind.WEIGHT: "body_weight",
        MeasurementKind.BLOOD_PRESSURE: "systolic_bp",
        MeasurementKind.GLUCOSE: "glucose",
        MeasurementKind.SPO2: "spo2",
    }
)


@dataclass(frozen=True)
class HomeResult:
    """The scored outcome, every alert event, and the cohort's glucose time in range."""

    outcome: Outcome
    alerts: list[RaisedAlert]
    summary: MonthlySummary
    """Per patient: days with data, occasions taken and planned, glucose time in range."""
    raised_by_rule: dict[str, int]
    """Alerts raised per alert condition (explained or not)."""


def _window(cohort: HomeCohort, metric: str) -> Window:
    r = cohort.readings[metric]
    times = np.round(r.time * NS_PER_S).astype(np.int64)
    return window_of(len(cohort.patient_ids), r.row, times, r.value)


def _events(cohort: HomeCohort, condition: str, level: Int8Array, window: Window,
            out: list[RaisedAlert]) -> None:  # fmt: skip
    """Append the episodes of one rule as alerts; a resolution closes the open alert."""
    found = episodes(level, window)
    open_at: dict[int, int] = {}
    for row, at_ns, kind in zip(found.row.tolist(), found.time.tolist(), found.kind.tolist(),
                                strict=True):  # fmt: skip
        at = at_ns / NS_PER_S
        pid = cohort.patient_ids[row]
        if kind == "resolved":
            for i in range(open_at.pop(row, len(out)), len(out)):
                a = out[i]
                if a.patient_id == pid and a.condition == condition and a.resolved_at is None:
                    out[i] = RaisedAlert(a.patient_id, a.condition, a.at, a.kind, at)
            continue
        out.append(RaisedAlert(pid, condition, at, _KINDS[kind]))
        open_at.setdefault(row, len(out) - 1)


def home_alerts(cohort: HomeCohort) -> tuple[list[RaisedAlert], MonthlySummary]:
    """Every alert event the home rules raise on the cohort, and its summary for the period."""
    plans = cohort.plans
    offsets = np.zeros(len(plans), np.int64)  # simulated patients live at UTC+0
    out: list[RaisedAlert] = []
    weight = _window(cohort, "body_weight")
    _events(cohort, "weight_gain", weight_gain(weight, WeightLimits.of(plans), offsets).level,
            weight, out)  # fmt: skip
    sbp, dbp = _window(cohort, "systolic_bp"), _window(cohort, "diastolic_bp")
    bp = home_bp(sbp, dbp, BloodPressureLimits.of(plans))
    for name, level in (("bp_severe", bp.severe), ("bp_low", bp.low),
                        ("bp_mean_high", bp.mean_high)):  # fmt: skip
        _events(cohort, name, level, sbp, out)
    glucose = _window(cohort, "glucose")
    limits = GlucoseLimits.of(plans)
    found = glucose_levels(glucose, limits)
    _events(cohort, "glucose_low", found.low, glucose, out)
    _events(cohort, "glucose_high", found.high, glucose, out)
    spo2 = _window(cohort, "spo2")
    _events(cohort, "spo2_low", spo2_spot(spo2, Spo2Limits.of(plans)).level, spo2, out)
    first_day = int(cohort.start // DAY_S)
    now = round(cohort.end * NS_PER_S)
    judged = []
    for kind, metric in _ADHERENCE_METRIC.items():
        one = adherence(_window(cohort, metric), Schedule.of(plans, kind), offsets,
                        first_day=first_day, days=cohort.days, now=now)  # fmt: skip
        _events(cohort, f"adherence_{kind}", one.level, one.occasions, out)
        judged.append(one)
    in_range = time_in_range(glucose, limits, offsets, first_day=first_day,
                             days=cohort.days, period_days=cohort.days)  # fmt: skip
    readings = [weight, sbp, glucose, spo2]
    summary = monthly_summary(readings, judged, in_range, offsets, first_day=first_day,
                              days=cohort.days)  # fmt: skip
    return sorted(out, key=lambda a: (a.at, a.patient_id, a.condition)), summary


def evaluate_home(cohort: HomeCohort, *, grace_s: float = DAY_S) -> HomeResult:
    """Judge and score the cohort; ``grace_s`` after a label's end an alert still counts."""
    alerts, summary = home_alerts(cohort)
    outcome = score(cohort.labels, alerts, patients=len(cohort.patient_ids),
                    seconds=cohort.days * DAY_S, grace_s=grace_s, rules=HOME_RULES)  # fmt: skip
    raised: dict[str, int] = {}
    for alert in alerts:
        if alert.kind is AlertEventKind.RAISED:
            raised[alert.condition] = raised.get(alert.condition, 0) + 1
    return HomeResult(outcome, alerts, summary, raised)
