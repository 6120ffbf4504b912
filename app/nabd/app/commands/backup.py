"""``nabd backup``: encrypted backups of the local stack's database and point-in-time restore.

``run`` takes a backup (the first one also sets up the encrypted repository and continuous WAL
archiving), ``list`` shows what the repository holds, ``restore --to TIME`` rebuilds the cluster
as it was at TIME. The work is pgBackRest's (:mod:`nabd.app.stack.backup`); the handlers import
it only when they run.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers
from nabd.app.commands.problems import UsageError
from nabd.app.stack.settings import StackSettings

if TYPE_CHECKING:
    from nabd.app.stack.backup import BackupSet

LATEST = "latest"
_TIME_HELP = (
    f"an ISO 8601 time with its UTC offset, e.g. 2026-12-06T13:45:00Z, or {LATEST!r}"
    " (everything archived)"
)


def _settings(args: argparse.Namespace) -> StackSettings:
    return StackSettings() if args.state_dir is None else StackSettings(state_dir=args.state_dir)


def restore_time(text: str) -> datetime | None:
    """``--to``: an aware ISO 8601 time, or ``latest`` (``None``: the end of the archived WAL);
    a time without offset is refused, not guessed."""
    if text == LATEST:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--to {text!r} is not a time: give {_TIME_HELP}") from None
    if value.tzinfo is None:
        raise UsageError(f"--to {text!r} has no UTC offset: give {_TIME_HELP}")
    return value


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def _line(backup: BackupSet) -> str:
    return (
        f"{backup.label:<28} {backup.kind:<5} {backup.started:%Y-%m-%d %H:%M:%S}Z"
        f" -> {backup.stopped:%H:%M:%S}Z  database {_size(backup.database_bytes)},"
        f" stored {_size(backup.repository_bytes)}  WAL {backup.wal_start}..{backup.wal_stop}"
    )


def _run(args: argparse.Namespace) -> int:
    from nabd.app.stack import backup

    made = backup.run(_settings(args), args.type)
    print(_line(made))
    return 0


def _list(args: argparse.Namespace) -> int:
    from nabd.app.stack import backup

    found = backup.catalogue(_settings(args))
    if found is None or not found.backups:
        print("no backup yet: `nabd backup run` takes the first")
        return 0
    lines = [_line(b) for b in found.backups]
    lines.append(
        f"archived WAL {found.wal_first}..{found.wal_last}; repository encrypted with"
        f" {found.cipher}; restorable to any time from"
        f" {found.backups[0].stopped:%Y-%m-%d %H:%M:%S}Z to the last archived WAL"
    )
    print("\n".join(lines))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from nabd.app.stack import backup

    target = restore_time(args.to)
    done = backup.restore(_settings(args), target)
    aside = f"; the replaced cluster is kept in {done.set_aside}" if done.set_aside else ""
    point = "the end of the archived WAL" if done.target is None else done.target.isoformat()
    print(f"restored to {point} in {done.seconds:.1f} s; the stack is running{aside}")
    return 0


def register(subparsers: Subparsers) -> None:
    """Add ``nabd backup`` and its actions."""
    group = subparsers.add_parser(
        "backup",
        help="encrypted backups of the local stack's database, point-in-time restore",
        description="pgBackRest backups of the stack's PostgreSQL into <state>/backup, encrypted"
        " (AES-256-CBC, passphrase in the state file), with continuous WAL archiving once the"
        " first backup is taken.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="state folder (default: $NABD_STATE_DIR, else <checkout>/.state/stack)",
    )
    actions = group.add_subparsers(title="actions", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        parents=[common],
        help="take a backup (the first sets up the repository and WAL archiving)",
    )
    run.add_argument(
        "--type",
        choices=("full", "diff", "incr"),
        default="incr",
        help="full, differential or incremental (default; full when there is none yet)",
    )
    run.set_defaults(handler=_run)
    listing = actions.add_parser("list", parents=[common], help="the backups and archived WAL")
    listing.set_defaults(handler=_list)
    restore = actions.add_parser(
        "restore",
        parents=[common],
        help="rebuild the stopped cluster as it was at a time, then start the stack",
        description="Replace the stack's cluster (stop it first: `nabd stack down`; a data"
        " folder still there is moved aside, never deleted) by the newest backup before TIME"
        " plus the archived WAL up to TIME, then start the stack.",
    )
    restore.add_argument("--to", required=True, metavar="TIME", help=_TIME_HELP)
    restore.set_defaults(handler=_restore)
