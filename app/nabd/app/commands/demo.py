"""``nabd demo``: a simulated ward end to end on this machine, with a live nurse's view.

Brings the local stack up if needed, admits a ward (``--patients`` beds, a scenario each), and
runs the real components as subprocesses: virtual BLE devices (bumble), one edge agent per
gateway (bleak over the virtual link), ingest and analytics. It ends after ``--duration``
seconds (default: ``--hours`` simulated at ``--speed``) or on Ctrl-C, and prints a summary;
the exit status is 1 if the database does not hold exactly the readings the devices delivered.
See docs/demo.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import from_validation

_OPTIONS = {"duration_s": "--duration", "ward_id": "--ward"}
"""DemoOptions fields whose option is not the field's name with dashes."""


def _scenarios(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nabd.app.demo.run import run_demo
    from nabd.app.demo.settings import DEFAULT_ROSTER, DemoOptions
    from nabd.app.stack.errors import StackError

    try:
        options = DemoOptions(
            patients=args.patients,
            speed=args.speed,
            hours=args.hours,
            duration_s=args.duration,
            seed=args.seed,
            scenarios=args.scenarios or DEFAULT_ROSTER,
            per_gateway=args.per_gateway,
            ward_id=args.ward,
            export_dir=args.export_dir,
            work_dir=args.work_dir,
            state_dir=args.state_dir,
            headless=args.headless,
            round_hours=args.round_hours,
            **({"nurse": args.nurse} if args.nurse else {}),
        )
    except ValidationError as error:
        return fail(from_validation(error, _OPTIONS))
    try:
        status, _ = run_demo(options)
    except StackError as error:
        return fail(error)
    return status


def register(subparsers: Subparsers) -> None:
    """Add ``nabd demo``."""
    demo = subparsers.add_parser(
        "demo",
        help="a simulated ward end to end, with a live nurse's view (the main job)",
        description="Starts the local stack if needed, admits a simulated ward and runs virtual "
        "BLE devices, edge agents, ingest and analytics as real processes, showing the ward "
        "live; Ctrl-C stops everything and prints a summary.",
    )
    demo.add_argument("--patients", type=int, default=12, help="beds (default 12)")
    demo.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per second (default 60)"
    )
    demo.add_argument(
        "--hours", type=float, default=12.0, help="simulated hours to play (default 12)"
    )
    demo.add_argument(
        "--duration", type=float, default=None, help="wall seconds to run (overrides --hours)"
    )
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--scenarios",
        type=_scenarios,
        default=None,
        help="scenario of each bed, comma-separated, cycled (e.g. stable,sepsis,bradycardia)",
    )
    demo.add_argument("--per-gateway", type=int, default=4, help="beds per gateway (default 4)")
    demo.add_argument("--ward", default="demo", help="ward id (default demo)")
    demo.add_argument(
        "--export-dir",
        type=Path,
        default=Path("demo-dashboards"),
        help="where the Grafana provisioning files go (default ./demo-dashboards)",
    )
    demo.add_argument("--work-dir", type=Path, default=None, help="logs, outboxes (default: temp)")
    demo.add_argument("--state-dir", type=Path, default=None, help="the stack's state folder")
    demo.add_argument(
        "--headless", action="store_true", help="progress lines instead of the live view"
    )
    demo.add_argument("--nurse", default=None, help="who acknowledges from the view ($USER)")
    demo.add_argument(
        "--round-hours",
        type=float,
        default=4.0,
        help="a simulated nurse records ACVPU, air and a counted RR for every bed this often, "
        "in simulated hours (default 4; 0: no rounds)",
    )
    demo.set_defaults(handler=_run)
