"""``nabd audit verify``: check the audit log's hash chain (exit 1 at the first broken link)."""

from __future__ import annotations

import argparse

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError


def register(subparsers: Subparsers) -> None:
    """Add ``nabd audit`` and its subcommands."""
    audit = subparsers.add_parser("audit", help="the hash-chained audit log of clinical actions")
    commands = audit.add_subparsers(title="audit commands", metavar="COMMAND", required=True)
    verify = commands.add_parser(
        "verify",
        help="check the hash chain; exit 1 and name the first broken row if tampered with",
        description="Recompute every audit_log row's hash in seq order and check that each row "
        "links to the previous one. Prints the head (seq and hash) of an intact chain: keep it "
        "elsewhere, since rows cut from the end cannot be seen by the chain itself.",
    )
    verify.add_argument(
        "--database-url", help="a URL that may read audit_log; default: $NABD_DATABASE_URL"
    )
    verify.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    import psycopg
    from pydantic import ValidationError

    from nabd.app.audit.chain import Break
    from nabd.app.audit.store import verify_database
    from nabd.app.commands.db import DbSettings

    try:
        url = args.database_url or DbSettings().database_url
    except ValidationError:
        return fail(UsageError("no database: set NABD_DATABASE_URL or pass --database-url"))
    try:
        result = verify_database(url)
    except psycopg.Error as error:
        return fail(error)
    if isinstance(result, Break):
        return fail(ValueError(f"audit chain broken: {result}"))
    head = f"head seq={result.head_seq} hash={result.head_hash.hex()}" if result.rows else "empty"
    print(f"audit chain intact: {result.rows} row(s), {head}")
    return 0
