"""``nabd evaluate``: run simulated wards through the analytics engine and score its alerts.

Builds a ward with ``nabd.simulators`` (patients, scenarios, ground-truth labels), feeds it
through the same engine ``nabd analytics run`` uses, and prints per condition the sensitivity
(labelled episodes found) and the detection delay, and per alert condition the false alerts per
patient-day (see ``nabd.app.evaluation`` for the matching rules). AF on real RR
intervals (MIT-BIH AF database) is ``bench/af_eval.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import RefusedError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from nabd.analytics.adherence import MonthlySummary
    from nabd.app.evaluation import Outcome
    from nabd.simulators.series import VitalSeries
    from nabd.simulators.ward import Ward


def register(subparsers: Subparsers) -> None:
    """Add ``nabd evaluate``."""
    evaluate = subparsers.add_parser(
        "evaluate",
        help="score the analytics alerts against simulated wards' (or home patients') ground truth",
        description="Simulate a ward (nabd.simulators), replay it through the analytics engine "
        "and report per condition the sensitivity, the detection delay and the false alerts "
        "per patient-day; with --setting home, simulate patients at home on care plans, judge "
        "their spot measurements and adherence, and report per scenario the sensitivity and "
        "delay and per rule the false alerts per patient-month.",
    )
    evaluate.add_argument(
        "--setting",
        choices=("ward", "home"),
        default="ward",
        help="ward: continuous monitoring through the engine (default); home: patients on care "
        "plans measuring a few times a day, judged by the home rules",
    )
    evaluate.add_argument("--patients", type=int, default=30, help="patients (default 30)")
    evaluate.add_argument(
        "--hours", type=float, default=None, help="ward: simulated hours (default 12)"
    )
    evaluate.add_argument(
        "--days", type=int, default=None, help="home: simulated days (default 30)"
    )
    evaluate.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    evaluate.add_argument(
        "--tick", type=int, default=None, help="ward: seconds between engine ticks (default 5)"
    )
    evaluate.add_argument(
        "--ack-after",
        type=float,
        default=None,
        help="ward: seconds after which the simulated nurse acknowledges an alert (default 120)",
    )
    evaluate.add_argument(
        "--grace",
        type=float,
        default=None,
        help="seconds after a label's end an alert still counts for it (default 300 on a ward, "
        "86400 at home)",
    )
    evaluate.add_argument(
        "--summary-csv",
        metavar="FILE",
        default=None,
        help="home: also write each patient's adherence summary for the period as CSV",
    )
    evaluate.add_argument(
        "--glucose-every",
        type=int,
        default=None,
        metavar="S",
        help="measure every patient's glucose every S seconds (a what-if: glucose watched for "
        "all) instead of by cohort: a CGM every 300 s for the insulin-treated, capillary "
        "checks before meals and at bedtime for other diabetics, none otherwise",
    )
    evaluate.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    only = {
        "ward": ("--hours", "--tick", "--ack-after", "--glucose-every"),
        "home": ("--days", "--summary-csv"),
    }
    for setting, options in only.items():
        for option in options:
            given = getattr(args, option[2:].replace("-", "_")) is not None
            if given and args.setting != setting:
                return fail(UsageError(f"{option} applies to --setting {setting} only"))
    if args.setting == "home":
        return _evaluate_home(args)
    for name, default in (("hours", 12.0), ("grace", 300.0), ("tick", 5), ("ack_after", 120.0)):
        if getattr(args, name) is None:
            setattr(args, name, default)

    from nabd.app.evaluation import count_unmeasured, replay, score
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.ward import build_ward

    bad = _bad(
        ("--patients", args.patients, args.patients >= 1, "at least 1"),
        ("--hours", args.hours, args.hours > 0, "more than 0"),
        ("--tick", args.tick, args.tick >= 1, "at least 1"),
        (
            "--glucose-every",
            args.glucose_every if args.glucose_every is not None else 300,
            args.glucose_every is None or args.glucose_every >= 1,
            "at least 1",
        ),
    )
    if bad:
        return fail(bad)
    started = time.perf_counter()
    seconds = args.hours * 3600
    try:
        ward = build_ward(args.patients, seed=args.seed, duration_s=seconds)
        series = ward.simulate(ward.times(1.0))
    except SimulatorError as exc:
        return fail(exc)
    every = args.glucose_every
    alerts = replay(
        ward, series, tick_s=args.tick, ack_after_s=args.ack_after, glucose_every_s=every
    )
    outcome = score(
        ward.labels, alerts, patients=args.patients, seconds=seconds, grace_s=args.grace
    )
    print(
        f"ward: {args.patients} patients x {args.hours:g} h (seed {args.seed}), "
        f"engine tick {args.tick} s, glucose {_glucose_watch(ward, every)}, "
        f"{outcome.alerts} alerts raised, {time.perf_counter() - started:.0f} s"
    )
    if ward.unplaced:
        print(f"not dealt (nobody in the cohort): {', '.join(ward.unplaced)}")
    count_unmeasured(outcome, ward, series, args.grace, every)
    _print_found(outcome, "condition", 24, lambda seconds: f"{seconds:.0f} s")
    _print_measurement(outcome, ward, series, every)
    print(f"\n{'false alerts':<24} {'count':>6} {'per patient-day':>16}")
    for name, count in sorted(outcome.false_by_alert.items(), key=lambda kv: -kv[1]):
        print(f"{name:<24} {count:>6} {count / outcome.patient_days:>16.2f}")
    total = sum(outcome.false_by_alert.values())
    print(f"{'all':<24} {total:>6} {outcome.false_per_patient_day:>16.2f}")
    if outcome.not_evaluated:
        skipped = ", ".join(f"{k} ({v})" for k, v in sorted(outcome.not_evaluated.items()))
        print(f"\nnot evaluated (no detector in analytics, or ingest's business): {skipped}")
    return 0


def _evaluate_home(args: argparse.Namespace) -> int:

    from nabd.app.home_evaluation import evaluate_home
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.home import build_home

    days = 30 if args.days is None else args.days
    grace = 86400.0 if args.grace is None else args.grace
    bad = _bad(
        ("--patients", args.patients, args.patients >= 1, "at least 1"),
        ("--days", days, days >= 1, "at least 1"),
        ("--grace", grace, grace >= 0, "0 or more"),
    )
    if bad:
        return fail(bad)
    started = time.perf_counter()
    try:
        cohort = build_home(args.patients, days=days, seed=args.seed)
    except SimulatorError as exc:
        return fail(exc)
    result = evaluate_home(cohort, grace_s=grace)
    outcome = result.outcome
    months = outcome.patient_days / 30.0
    print(
        f"home: {args.patients} patients x {days} d (seed {args.seed}), "
        f"{outcome.alerts} alerts raised, {time.perf_counter() - started:.1f} s"
    )
    _print_found(outcome, "scenario", 30, lambda seconds: f"{seconds / 3600:.1f} h")
    print(f"\n{'alerts by rule':<30} {'raised':>6} {'false':>6} {'false per patient-month':>24}")
    for name, count in sorted(result.raised_by_rule.items()):
        false = outcome.false_by_alert.get(name, 0)
        print(f"{name:<30} {count:>6} {false:>6} {false / months:>24.3f}")
    total = sum(outcome.false_by_alert.values())
    print(f"{'all':<30} {outcome.alerts:>6} {total:>6} {total / months:>24.3f}")
    _print_summary(result.summary)
    if args.summary_csv is not None:
        from nabd.app.home_report import adherence_csv

        text = adherence_csv(result.summary, cohort.patient_ids, cohort.plans)
        try:
            Path(args.summary_csv).write_text(text, encoding="utf-8")
        except OSError as exc:
            return fail(RefusedError(f"cannot write {args.summary_csv}: {exc.strerror}"))
        print(f"adherence summary: {args.summary_csv} ({len(cohort.patient_ids)} rows)")
    return 0


def _bad(*checks: tuple[str, float, bool, str]) -> UsageError | None:
    """One line per option that failed its check (``option value: should be ...``)."""
    lines = [f"{option} {value:g}: should be {accepted}" for option, value, ok, accepted in checks
             if not ok]  # fmt: skip
    return UsageError("\n".join(lines)) if lines else None


def _print_found(
    outcome: Outcome, heading: str, width: int, duration: Callable[[float], str]
) -> None:
    """Per label condition: labels, found, sensitivity, median and worst detection delay, and
    where conditions have a target delay (the ward's), the target and how many met it."""
    import numpy as np

    targets = any(np.isfinite(e.target_s) for e in outcome.by_label.values())
    extra = f" {'target':>8} {'in target':>9}" if targets else ""
    print(f"{heading:<{width}} {'labels':>6} {'found':>6} {'sensitivity':>11} "
          f"{'median delay':>12} {'max delay':>10}{extra}")  # fmt: skip
    for name, entry in sorted(outcome.by_label.items()):
        delays = entry.delays
        median = duration(float(np.median(delays))) if delays else "-"
        worst = duration(max(delays)) if delays else "-"
        if targets:
            goal = duration(entry.target_s) if np.isfinite(entry.target_s) else "-"
            extra = f" {goal:>8} {entry.within_target:>9}"
        print(
            f"{name:<{width}} {entry.labels:>6} {entry.detected:>6} {entry.sensitivity:>11.0%} "
            f"{median:>12} {worst:>10}{extra}"
        )


def _print_summary(summary: MonthlySummary) -> None:
    """The cohort's adherence: what the monthly report will show per patient."""
    import numpy as np

    days = summary.days_with_data
    tir = summary.time_in_range[~np.isnan(summary.time_in_range)]
    planned = int(summary.planned.sum())
    print(
        f"\nadherence: days with data median {np.median(days):.0f}/{summary.days} "
        f"(>= 16 days: {int((days >= 16).sum())} of {days.size} patients); "
        f"measurements taken {int(summary.taken.sum())}/{planned} "
        f"({summary.taken.sum() / max(planned, 1):.0%})"
    )
    if tir.size:
        print(f"glucose readings in range, median per patient: {np.median(tir):.0%} "
              f"({tir.size} patients)")  # fmt: skip


def _glucose_watch(ward: Ward, every: int | None) -> str:
    """How the ward watches glucose: everyone every ``every`` s, or per cohort (counts)."""
    if every:
        return f"every {every} s for all"
    from collections import Counter

    from nabd.simulators.cohort import monitor_of

    count = Counter(monitor_of(p).value for p in ward.profiles)
    return (
        f"by cohort (CGM every 300 s: {count['cgm']} insulin-treated, capillary before meals "
        f"and at bedtime: {count['capillary']}, none: {count['none']})"
    )


def _print_measurement(
    outcome: Outcome, ward: Ward, series: VitalSeries, every: int | None
) -> None:
    """Episodes no scheduled measurement could show, and each clinical condition's delay split
    into physiology, measurement interval and detector (``nabd.app.evaluation.delay_parts``)."""
    import numpy as np

    from nabd.app.evaluation import CLINICAL, delay_parts, finders

    for name, entry in sorted(outcome.by_label.items()):
        if entry.unmeasured:
            print(
                f"{name}: {entry.unmeasured} of {entry.labels} episodes had no scheduled "
                "measurement beyond the limit: no detector could see them"
            )
    print("\ndelay split of clinical conditions (median of detections by an alert with a limit):")
    clinical = {c.value for c in CLINICAL}
    for name, entry in sorted(outcome.by_label.items()):
        if name not in clinical:
            continue
        parts = delay_parts(entry, ward, series, every)
        if not np.median(entry.delays or [0]) > 0:
            continue
        if not parts:
            found_by = ", ".join(finders(entry))
            print(f"  {name:<22} found by {found_by}: no single limit to split at")
            continue
        physiology = np.median([p.physiology for p in parts])
        measured = np.median([p.measurement for p in parts])
        detector = np.median([p.detector for p in parts])
        print(
            f"  {name:<22} {len(parts)} of {entry.detected}: onset->limit crossed "
            f"{physiology:.0f} s, ->first sample showing it {measured:.0f} s, "
            f"->alert {detector:.0f} s"
        )
