"""``nabd ingest run``: one ingest worker, MQTT to TimescaleDB, until SIGTERM or Ctrl-C.

Reads ``IngestSettings`` from the environment (``eval "$(nabd stack env)"`` locally); options
override it. Logs are JSON lines on stderr. SIGTERM and SIGINT flush what the worker holds,
acknowledge it and exit 0 (1 if the last flush could not commit within the shutdown timeout:
what it held stays unacknowledged and the broker delivers it again).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import from_validation

_OPTIONS = {"worker_id": "--worker-id", "metrics_port": "--metrics-port"}
"""Settings given as options, named as typed (the others are NABD_* variables)."""


def register(subparsers: Subparsers) -> None:
    """Add ``nabd ingest`` and its subcommands."""
    ingest = subparsers.add_parser("ingest", help="the MQTT to TimescaleDB ingest service")
    commands = ingest.add_subparsers(title="ingest commands", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run one ingest worker until SIGTERM",
        description="Consume observation batches from the broker (shared subscription), store "
        "them in the database, acknowledge what is committed. Settings come from NABD_* "
        "variables (see docs/ingest.md).",
    )
    run.add_argument(
        "--worker-id",
        help="stable worker name; its MQTT session is nabd-ingest-<id> (default: "
        "$NABD_INGEST_WORKER_ID, else 1)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus /metrics on this port (default: $NABD_INGEST_METRICS_PORT; none)",
    )
    run.set_defaults(handler=_run)
    _register_dead_letters(commands)
    reattribute = commands.add_parser(
        "reattribute",
        help="move readings stored for nobody to the patient an assignment now names",
        description="Readings of a device that was assigned to nobody at their sample time are "
        "in unattributed_observation. Once an assignment covering them exists, this moves them "
        "to observation under its patient, exactly once, in one transaction, with a hand-off "
        "journal entry for analytics. The ingest service also does it every "
        "NABD_INGEST_REATTRIBUTE_INTERVAL_S.",
    )
    reattribute.add_argument("--device", help="only this device's readings (default: all)")
    _database_option(reattribute)
    reattribute.set_defaults(handler=_reattribute)
    retire = commands.add_parser(
        "retire",
        help="end a stopped worker's broker session for good (scaling down)",
        description="A stopped worker's persistent session keeps receiving its share of the "
        "shared subscription until it expires; those readings arrive late, when gateways send "
        "them again. Retiring a worker you will not restart ends its session at once. Stop the "
        "worker first.",
    )
    retire.add_argument(
        "--worker-id", help="the worker to retire (default: $NABD_INGEST_WORKER_ID, else 1)"
    )
    retire.set_defaults(handler=_retire)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="a login in the nabd_ingest group (default: $NABD_INGEST_DATABASE_URL)",
    )


def _register_dead_letters(commands: Subparsers) -> None:
    from nabd.app.commands import ingest_dead_letters

    ingest_dead_letters.register(commands, _database_option)


def _reattribute(args: argparse.Namespace) -> int:
    from nabd.app.commands.ingest_dead_letters import operator_writer
    from nabd.ingest.errors import IngestError

    try:
        with operator_writer(args) as (writer, _):
            done = writer.reattribute(args.device)
    except (IngestError, ValueError) as exc:
        return fail(exc)
    print(
        f"moved {done.moved} readings, {done.stored} newly stored"
        + (f" for {', '.join(done.patients)}" if done.patients else "")
        + (f" (journal entry {done.commit_seq})" if done.commit_seq is not None else "")
    )
    return 0


def _retire(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nabd.ingest.consumer import end_session
    from nabd.ingest.settings import IngestSettings

    overrides: dict[str, object] = {}
    if args.worker_id is not None:
        overrides["worker_id"] = args.worker_id
    try:
        settings = IngestSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        return fail(from_validation(exc, _OPTIONS))
    if not end_session(settings):
        return fail(ValueError(f"the broker did not accept {settings.client_id}'s connection"))
    print(f"{settings.client_id}: broker session ended")
    return 0


def _json_logs() -> None:
    from nabd.ingest.logs import JsonFormatter

    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nabd.ingest.errors import IngestError
    from nabd.ingest.service import IngestService
    from nabd.ingest.settings import IngestSettings

    overrides: dict[str, object] = {}
    if args.worker_id is not None:
        overrides["worker_id"] = args.worker_id
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    try:
        settings = IngestSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        return fail(from_validation(exc, _OPTIONS))
    _json_logs()
    service = IngestService(settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Stopping takes locks the interrupted code may hold: do it from another thread.
        threading.Thread(target=service.stop, name="ingest-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return service.run()
    except IngestError as exc:
        return fail(exc)
