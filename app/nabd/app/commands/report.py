"""``nabd report adherence --month YYYY-MM [--csv FILE]``: the monthly adherence report of the
patients at home, from the stored readings (nabd.app.adherence_report, docs/home-monitoring.md).

Printed for people by default: per patient, days with data out of the month's days, scheduled
measurements taken out of planned, and the glucose readings in range; ``--csv FILE`` writes the
same per patient as CSV (``-``: stdout). The database URL is ``--database-url``, else
``NABD_DATABASE_URL``: a login that reads ``observation``, ``patient`` and ``care_plan`` (the
owner, or one in ``nabd_dashboards``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from nabd.app.commands import Subparsers
from nabd.app.commands.problems import RefusedError, UsageError


def register(subparsers: Subparsers) -> None:
    """Add ``nabd report`` and its subcommands."""
    group = subparsers.add_parser("report", help="reports from the stored data")
    commands = group.add_subparsers(title="reports", metavar="REPORT", required=True)
    adherence = commands.add_parser(
        "adherence",
        help="patients at home: days with data, measurements taken vs planned, per month",
        description="Per patient with a care plan during the month: days with at least one "
        "reading, scheduled measurements taken in their windows out of planned, and the share "
        "of glucose readings in range.",
    )
    adherence.add_argument("--month", required=True, metavar="YYYY-MM")
    adherence.add_argument("--csv", type=Path, metavar="FILE", help="write CSV ('-': stdout)")
    adherence.add_argument("--database-url", help="default: $NABD_DATABASE_URL")
    adherence.set_defaults(handler=_adherence)


def _share(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


def _adherence(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.app.adherence_report import month_report, parse_month
    from nabd.app.home_report import adherence_csv

    try:
        month = parse_month(args.month)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    url = args.database_url or os.environ.get("NABD_DATABASE_URL")
    if not url:
        raise UsageError("no database: set NABD_DATABASE_URL or pass --database-url")
    with psycopg.connect(url) as conn:
        report = month_report(conn, month)
    s = report.summary
    if args.csv is not None:
        text = adherence_csv(s, report.patient_ids, report.plans)
        if str(args.csv) == "-":
            sys.stdout.write(text)
        else:
            try:
                args.csv.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise RefusedError(f"cannot write {args.csv}: {exc.strerror}") from None
            print(f"{args.csv}: {len(report.patient_ids)} patient(s), {month:%Y-%m}")
        return 0
    print(f"adherence {month:%Y-%m}: {len(report.patient_ids)} patient(s) at home")
    print(f"{'PATIENT':<16} {'PROGRAMMES':<26} {'DAYS WITH DATA':<15} {'TAKEN/PLANNED':<19} "
          "GLUCOSE IN RANGE")  # fmt: skip
    share = s.taken_share
    for row, (pid, plan) in enumerate(zip(report.patient_ids, report.plans, strict=True)):
        programmes = "+".join(p.value for p in plan.programmes)
        days = f"{int(s.days_with_data[row])}/{s.days}"
        taken = f"{int(s.taken[row])}/{int(s.planned[row])} ({_share(float(share[row]))})"
        print(f"{pid:<16} {programmes:<26} {days:<15} {taken:<19} "
              f"{_share(float(s.time_in_range[row]))}")  # fmt: skip
    if not report.patient_ids:
        print("none")
    return 0
