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

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError


def register(subparsers: Subparsers) -> None:
    """Add ``nabd evaluate``."""
    evaluate = subparsers.add_parser(
        "evaluate",
        help="score the analytics alerts against simulated wards' ground truth",
        description="Simulate a ward (nabd.simulators), replay it through the analytics engine "
        "and report per condition the sensitivity, the detection delay and the false alerts "
        "per patient-day.",
    )
    evaluate.add_argument("--patients", type=int, default=30, help="patients (default 30)")
    evaluate.add_argument("--hours", type=float, default=12.0, help="simulated hours (default 12)")
    evaluate.add_argument("--seed", type=int, default=1, help="ward seed (default 1)")
    evaluate.add_argument(
        "--tick", type=int, default=5, help="seconds between engine ticks (default 5)"
    )
    evaluate.add_argument(
        "--ack-after",
        type=float,
        default=120.0,
        help="seconds after which the simulated nurse acknowledges an alert (default 120)",
    )
    evaluate.add_argument(
        "--grace",
        type=float,
        default=300.0,
        help="seconds after a label's end an alert still counts for it (default 300)",
    )
    evaluate.add_argument(
        "--glucose-every",
        type=int,
        default=None,
        metavar="S",
        help="measure glucose every S seconds (a what-if: a continuous glucose monitor, 300) "
        "instead of the ward's capillary checks before meals and at bedtime",
    )
    evaluate.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from nabd.app.evaluation import (
        CLINICAL,
        count_unmeasured,
        delay_parts,
        finders,
        replay,
        score,
    )
    from nabd.simulators.errors import SimulatorError
    from nabd.simulators.ward import build_ward

    bad = [
        f"{option} {value:g}: should be {accepted}"
        for option, value, ok, accepted in (
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
        if not ok
    ]
    if bad:
        return fail(UsageError("\n".join(bad)))
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
    glucose = f"every {every} s" if every else "before meals and at bedtime"
    print(
        f"ward: {args.patients} patients x {args.hours:g} h (seed {args.seed}), "
        f"engine tick {args.tick} s, glucose {glucose}, {outcome.alerts} alerts raised, "
        f"{time.perf_counter() - started:.0f} s"
    )
    count_unmeasured(outcome, ward.labels, series, args.grace, every)
    print(f"{'condition':<24} {'labels':>6} {'found':>6} {'sensitivity':>11} "
          f"{'median delay':>12} {'max delay':>10} {'target':>8} {'in target':>9}")  # fmt: skip
    for name, entry in sorted(outcome.by_label.items()):
        delays = entry.delays
        median = f"{np.median(delays):.0f} s" if delays else "-"
        worst = f"{max(delays):.0f} s" if delays else "-"
        target = f"{entry.target_s:.0f} s" if np.isfinite(entry.target_s) else "-"
        print(
            f"{name:<24} {entry.labels:>6} {entry.detected:>6} {entry.sensitivity:>11.0%} "
            f"{median:>12} {worst:>10} {target:>8} {entry.within_target:>9}"
        )
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
        parts = delay_parts(entry, series, every)
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
    print(f"\n{'false alerts':<24} {'count':>6} {'per patient-day':>16}")
    for name, count in sorted(outcome.false_by_alert.items(), key=lambda kv: -kv[1]):
        print(f"{name:<24} {count:>6} {count / outcome.patient_days:>16.2f}")
    total = sum(outcome.false_by_alert.values())
    print(f"{'all':<24} {total:>6} {outcome.false_per_patient_day:>16.2f}")
    if outcome.not_evaluated:
        skipped = ", ".join(f"{k} ({v})" for k, v in sorted(outcome.not_evaluated.items()))
        print(f"\nnot evaluated (no detector in analytics, or ingest's business): {skipped}")
    return 0
