"""``nabd privacy retention show|set|apply``: how long each class of personal data is kept.

Part of the ``privacy`` group (:mod:`nabd.app.commands.privacy`). They act on the database at
``NABD_DATABASE_URL`` as its owner: only the owner may drop chunks and shorten the audit log.
``apply --every SECONDS`` is the scheduled job: one long-running process beside the database
(docs/privacy.md, "Retention") rather than a TimescaleDB job, which the Apache build lacks.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import RefusedError, UsageError

if TYPE_CHECKING:
    from nabd.app.privacy.store import ClassReport, Connection

log = logging.getLogger(__name__)
_MIN_EVERY_S = 60.0


def register_under(commands: Subparsers) -> None:
    """Add ``retention`` under ``nabd privacy``."""
    retention = commands.add_parser(
        "retention",
        help="how long each class of personal data is kept, and deleting what is older",
        description="A period per data class (observations, news2_scores, alerts, "
        "nurse_entries, dead_letters, ingest_bookkeeping, audit_log, identity). A class with no "
        "period set is kept for ever (the default). docs/privacy.md explains each class.",
    )
    verbs = retention.add_subparsers(title="actions", metavar="ACTION", required=True)
    show = verbs.add_parser("show", help="every class, its tables, floor and period")
    show.set_defaults(handler=_show)
    setting = verbs.add_parser(
        "set",
        help="set a class's period in days (or `forever`); audited",
        description="Record how long CLASS is kept: whole DAYS, at least the class's floor "
        "(see `show`), or `forever`. The change is written to the audit log with --by. Nothing "
        "is deleted until `apply` runs.",
    )
    setting.add_argument("data_class", metavar="CLASS")
    setting.add_argument("days", metavar="DAYS", help="whole days, or forever")
    setting.add_argument("--by", required=True, metavar="NAME", help="who decides (audited)")
    setting.set_defaults(handler=_set)
    applying = verbs.add_parser(
        "apply",
        help="delete what the periods no longer cover (--dry-run: only report it)",
        description="For each class with a period: drop the hypertables' chunks wholly older "
        "than the cutoff, delete older rows of plain tables in batches, and remove the audit "
        "log's oldest rows behind a recorded head (the chain still verifies). --dry-run reports "
        "rows, chunks and the oldest row kept, and changes nothing.",
    )
    applying.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    applying.add_argument(
        "--every",
        type=float,
        metavar="SECONDS",
        help=f"keep running, one apply every SECONDS (at least {_MIN_EVERY_S:.0f}); default: once",
    )
    applying.add_argument(
        "--by",
        default="retention-policy",
        metavar="NAME",
        help="who the audit log names for removed audit rows and erased identities "
        "(retention-policy)",
    )
    applying.set_defaults(handler=_apply)
    for parser in (show, setting, applying):
        parser.add_argument("--database-url", help="owner's URL; default: $NABD_DATABASE_URL")


def _connect(args: argparse.Namespace) -> Connection:
    import psycopg
    from pydantic import ValidationError

    from nabd.app.commands.db import DbSettings

    try:
        url = str(args.database_url or DbSettings().database_url)
    except ValidationError as exc:
        raise UsageError("no database: set NABD_DATABASE_URL or pass --database-url") from exc
    return psycopg.connect(url, autocommit=True)


def _show(args: argparse.Namespace) -> int:
    from nabd.app.privacy.retention import CLASSES, describe_period
    from nabd.app.privacy.store import policies

    with _connect(args) as conn:
        found = policies(conn)
    print("class\tperiod\tfloor\tset by\ttables")
    for cls in CLASSES:
        policy = found.get(cls.key)
        period = describe_period(None if policy is None else policy.days, decided=bool(policy))
        who = "-" if policy is None else f"{policy.set_by} {policy.set_at:%Y-%m-%d}"
        tables = ", ".join(t.name for t in cls.tables)
        print(f"{cls.key}\t{period}\t{cls.floor_days} d\t{who}\t{tables}")
    print(
        "dead letters are also deleted by ingest after NABD_INGEST_DEAD_LETTER_RETENTION_DAYS"
        " (30 by default): the shorter of the two wins"
    )
    return 0


def _set(args: argparse.Namespace) -> int:
    from nabd.app.privacy.retention import RetentionError, data_class, describe_period, parse_days
    from nabd.app.privacy.store import set_policy

    try:
        cls = data_class(args.data_class)
        days = parse_days(cls, args.days)
    except RetentionError as exc:
        return fail(UsageError(str(exc)))
    with _connect(args) as conn:
        try:
            set_policy(conn, cls, days, args.by)
        except RetentionError as exc:
            return fail(UsageError(str(exc)))
    print(
        f"{cls.key}: {describe_period(days, decided=True)} (audited as {args.by});"
        " `nabd privacy retention apply --dry-run` shows what would go"
    )
    return 0


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print(reports: list[ClassReport], *, dry_run: bool) -> None:
    if not reports:
        print("no class has a period: everything is kept (`nabd privacy retention set`)")
        return
    verb = "would go" if dry_run else "removed"
    print(f"class\tdays\tcutoff\ttable\trows {verb}\tchunks {verb}\toldest kept")
    for report in reports:
        for t in report.tables:
            rows = "-" if t.rows is None else str(t.rows)
            chunks = "-" if t.chunks is None else str(t.chunks)
            print(
                f"{report.key}\t{report.days}\t{_when(report.cutoff)}\t{t.table}\t{rows}"
                f"\t{chunks}\t{_when(t.oldest_kept)}"
            )


def _apply(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.app.privacy import store

    if args.every is not None and (args.dry_run or args.every < _MIN_EVERY_S):
        raise UsageError(
            f"--every {args.every}: at least {_MIN_EVERY_S:.0f} seconds, and not with --dry-run"
        )
    while True:
        try:
            with _connect(args) as conn:
                now = datetime.now(UTC)
                if args.dry_run:
                    _print(store.plan(conn, now), dry_run=True)
                    return 0
                _print(store.apply(conn, now, args.by), dry_run=False)
        except store.ApplyBusy as exc:
            if args.every is None:
                return fail(RefusedError(str(exc)))
            log.warning("retention: %s; trying again later", exc)
        except psycopg.OperationalError as error:
            if args.every is None:
                return fail(error)
            first = str(error).strip().splitlines()[0]
            log.warning("retention: database unavailable, trying again later: %s", first)
        if args.every is None:
            return 0
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:  # Ctrl-C between runs: a normal stop
            return 0
