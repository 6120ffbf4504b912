"""What the care command groups (``nabd ward|patient|device|gateway``) share: the database URL,
one connection per command, and turning a :class:`nabd.care.errors.CareError` into one line on
stderr with exit status 2 (a value that can never be right) or 1 (refused by the registry's
state). Output goes to stdout only once the operation succeeded.

The database URL is ``--database-url``, else ``NABD_CARE_DATABASE_URL`` (a login in the
``nabd_care`` role), else ``NABD_DATABASE_URL`` (the owner's).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import fail

if TYPE_CHECKING:
    from nabd.care.store import Conn

__all__ = ["add_common", "at", "read_text", "run"]


def add_common(parser: argparse.ArgumentParser, *, writes: bool) -> None:
    """``--by`` (who does it, audited) on commands that write, ``--database-url`` on all."""
    if writes:
        parser.add_argument(
            "--by", required=True, metavar="NAME", help="who does it (recorded in the audit log)"
        )
    parser.add_argument(
        "--database-url", help="default: $NABD_CARE_DATABASE_URL, else $NABD_DATABASE_URL"
    )


def run(args: argparse.Namespace, action: Callable[[Conn], int]) -> int:
    """Run ``action`` on a connection to the care database; map errors to exit statuses."""
    import psycopg

    from nabd.care.errors import CareError, CareInputError

    url = (
        args.database_url
        or os.environ.get("NABD_CARE_DATABASE_URL")
        or os.environ.get("NABD_DATABASE_URL")
    )
    if not url:
        print(
            "nabd: error: no database: set NABD_CARE_DATABASE_URL or NABD_DATABASE_URL, "
            "or pass --database-url",
            file=sys.stderr,
        )
        return 2
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            return action(conn)
    except CareInputError as exc:
        print(f"nabd: error: {exc}", file=sys.stderr)
        return 2
    except CareError as exc:
        return fail(exc)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return fail(RuntimeError(f"cannot reach the database: {first}"))
    except psycopg.Error as exc:
        reason = exc.diag.message_primary or type(exc).__name__
        return fail(RuntimeError(f"the database refused: {reason}"))


def print_table(header: str, lines: Iterable[str]) -> None:
    """A listing as every table-printing command prints it: the header, a line per row, and
    ``none`` when there is no row (so an empty answer is never silence)."""
    print(header)
    empty = True
    for line in lines:
        print(line)
        empty = False
    if empty:
        print("none")


def at(value: datetime | None) -> str:
    """A time as the care commands print it: UTC, to the second, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def read_text(path: Path) -> str:
    """A file a person named (``-`` for stdin), as text; refused as a usage error
    (:class:`~nabd.care.errors.CareInputError`) when it cannot be read."""
    from nabd.care.errors import CareInputError, Why

    try:
        if str(path) == "-":
            return sys.stdin.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CareInputError(f"cannot read {path}: {exc}", Why.BAD_FILE, detail=str(exc)) from exc
