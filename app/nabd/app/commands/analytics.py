"""``nabd analytics run``: the analytics service, scoring every patient, until SIGTERM or Ctrl-C.

Reads ``MonitorSettings`` from the environment (``eval "$(nabd stack env)"`` locally). Several
may run at once (``--worker-id`` names each; the default is unique): they share the wards by
leases in the database (docs/reliability.md). SIGTERM and
SIGINT finish the tick under way (its transaction commits or rolls back as a whole), flush the
alert messages already queued (bounded by ``NABD_ANALYTICS_SHUTDOWN_TIMEOUT_S``) and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import from_validation


def register(subparsers: Subparsers) -> None:
    """Add ``nabd analytics`` and its subcommands."""
    analytics = subparsers.add_parser(
        "analytics", help="the analytics (scoring and alerts) service"
    )
    commands = analytics.add_subparsers(
        title="analytics commands", metavar="COMMAND", required=True
    )
    run = commands.add_parser(
        "run",
        help="score every patient and raise alerts until SIGTERM",
        description="Fold committed observations into per-patient windows, score NEWS2 and the "
        "detectors every tick, keep the alert lifecycle in the database and publish alerts on "
        "the ward topics. Settings come from NABD_* variables (see docs/analytics.md).",
    )
    run.add_argument(
        "--tick", type=float, help="longest seconds between ticks (default: $NABD_ANALYTICS_TICK_S)"
    )
    run.add_argument(
        "--worker-id",
        help="this worker's name among several sharing the wards (default: "
        "$NABD_ANALYTICS_WORKER_ID, else host-pid-random; must be unique)",
    )
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nabd.analytics.service.errors import MonitorError
    from nabd.analytics.service.service import MonitorService
    from nabd.analytics.service.settings import MonitorSettings

    overrides: dict[str, object] = {}
    if args.tick is not None:
        overrides["tick_s"] = args.tick
    if args.worker_id is not None:
        overrides["worker_id"] = args.worker_id
    try:
        settings = MonitorSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        return fail(from_validation(exc, {"tick_s": "--tick", "worker_id": "--worker-id"}))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await MonitorService(settings).run(stop)

    try:
        asyncio.run(main())
    except MonitorError as exc:
        return fail(exc)
    return 0
