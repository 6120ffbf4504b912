"""``nabd ingest dead-letters list|show|replay|purge``: the operator's side of ``dead_letter``.

Part of the ``nabd ingest`` group (registered by :mod:`nabd.app.commands.ingest`). Every command
connects as the ingest login (``--database-url``, else ``NABD_INGEST_DATABASE_URL``): replay runs
the same validation and write path as the service, with the same privileges (migration 0009).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError

if TYPE_CHECKING:
    from nabd.ingest.dead_letters import DeadLetter
    from nabd.ingest.writer import Writer

OPERATOR_WORKER_ID = "operator"
"""The ``worker_id`` of hand-off journal entries written by these commands."""

_CATEGORIES = (
    "topic",
    "payload",
    "gateway_mismatch",
    "unregistered_device",
    "database",
    "internal",
    "no_consent",
)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def register(
    commands: Subparsers, database_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``dead-letters`` and its subcommands to the ``nabd ingest`` group."""
    group = commands.add_parser(
        "dead-letters",
        help="list, show, replay and purge messages ingest could not store",
        description="Dead letters are messages ingest could not store as observations, kept "
        "whole with the reason (docs/ingest.md). They are deleted after "
        "NABD_INGEST_DEAD_LETTER_RETENTION_DAYS (30) by the ingest service.",
    )
    sub = group.add_subparsers(title="dead-letter commands", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="dead letters, oldest first")
    listing.add_argument("--since", type=_since, help="ISO 8601 time with offset, or 30m, 6h, 2d")
    listing.add_argument("--reason", choices=_CATEGORIES, help="only this category")
    listing.add_argument("--pending", action="store_true", help="only those not replayed")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.set_defaults(handler=_list)

    showing = sub.add_parser("show", help="one dead letter with its bytes, rendered safely")
    showing.add_argument("id", type=int)
    showing.set_defaults(handler=_show)

    replay = sub.add_parser(
        "replay",
        help="run dead letters through validation and the write path again",
        description="Stored (or found stored already): marked replayed. Refused again: kept, "
        "with the new reason. Idempotent; one transaction per dead letter.",
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", type=int, nargs="*", default=[], metavar="ID")
    which.add_argument("--reason", choices=_CATEGORIES, help="every pending one of a category")
    replay.set_defaults(handler=_replay)

    purge = sub.add_parser("purge", help="delete dead letters older than some days")
    purge.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    purge.set_defaults(handler=_purge)

    for parser in (listing, showing, replay, purge):
        database_option(parser)


def _since(text: str) -> datetime:
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time or a duration: {text!r}") from exc
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset (Z or +hh:mm)")
    return when


def _url(args: argparse.Namespace) -> str:
    url = args.database_url or os.environ.get("NABD_INGEST_DATABASE_URL")
    if not url:
        raise UsageError("no database: set NABD_INGEST_DATABASE_URL or pass --database-url")
    return str(url)


@contextlib.contextmanager
def operator_writer(args: argparse.Namespace) -> Iterator[tuple[Writer, dict[str, int]]]:
    """A connected :class:`~nabd.ingest.writer.Writer` as the ingest login, and the metric ids."""
    from nabd.ingest.writer import Writer

    writer = Writer(_url(args), OPERATOR_WORKER_ID)
    ids = writer.connect()
    try:
        yield writer, ids
    finally:
        writer.close()


_HEADER: Final = f"{'id':>8}  {'received':<24}  {'reason':<19}  {'gateway':<16}  state  detail"


def _line(d: DeadLetter) -> str:
    state = "replayed" if d.replayed_at is not None else "pending"
    tries = f" ({d.replay_attempts} replays)" if d.replay_attempts else ""
    where = f" [{d.field}]" if d.field else ""
    return (
        f"{d.id:>8}  {d.received_at:%Y-%m-%d %H:%M:%S%z}  {d.category or '-':<19}  "
        f"{d.gateway_id or '-':<16}  {state}{tries}  {d.reason}{where}"
    )


def _list(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.ingest.dead_letters import list_dead_letters

    try:
        with psycopg.connect(_url(args)) as conn:
            letters = list_dead_letters(
                conn,
                since=args.since,
                category=args.reason,
                pending_only=args.pending,
                limit=args.limit,
            )
    except (psycopg.Error, ValueError) as exc:
        return fail(exc)
    print(_HEADER)
    for d in letters:
        print(_line(d))
    if not letters:
        print("none")
    return 0


def _show(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.ingest.dead_letters import render_payload, show

    try:
        with psycopg.connect(_url(args)) as conn:
            found = show(conn, args.id)
    except (psycopg.Error, ValueError) as exc:
        return fail(exc)
    if found is None:
        return fail(LookupError(f"no dead letter {args.id}"))
    d, payload = found
    print(_line(d))
    print(f"topic: {render_payload(d.topic.encode())}")
    print(f"payload ({d.size} bytes):")
    print(render_payload(payload))
    return 0


def _replay(args: argparse.Namespace) -> int:
    import psycopg
    import pydantic

    from nabd.ingest.dead_letters import list_dead_letters, replay
    from nabd.ingest.errors import IngestError
    from nabd.ingest.settings import SampleTimeSettings

    refused = 0
    try:
        window = SampleTimeSettings().window  # judged as the worker judged it (its environment)
        with operator_writer(args) as (writer, ids):
            letters = list(args.ids)
            if args.reason:
                with psycopg.connect(_url(args)) as conn:
                    pending = list_dead_letters(
                        conn, category=args.reason, pending_only=True, limit=1_000_000
                    )
                letters = [d.id for d in pending]
            for letter in letters:
                result = replay(writer, ids, letter, window)
                detail = f": {result.category}: {result.reason}" if result.reason else ""
                rows = f" ({result.rows} readings)" if result.rows else ""
                print(f"{result.id}: {result.outcome}{rows}{detail}")
                refused += result.outcome in ("refused", "missing")
    except (IngestError, psycopg.Error, pydantic.ValidationError, ValueError) as exc:
        return fail(exc)
    return 1 if refused else 0


def _purge(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.ingest.dead_letters import purge

    if args.older_than < 0:
        return fail(UsageError(f"--older-than {args.older_than:g}: should be at least 0 (days)"))
    try:
        with psycopg.connect(_url(args)) as conn:
            gone = purge(conn, args.older_than)
    except (psycopg.Error, ValueError) as exc:
        return fail(exc)
    print(f"deleted {gone} dead letters older than {args.older_than:g} days")
    return 0
