"""``nabd alerts list|ack|silence``: what nurses and operators do with alerts.

``ack`` and ``silence`` need the nurse's name (``--by``): the alert row records it and so does the
hash-chained audit log. The database URL is ``--database-url``, else ``NABD_CLINICAL_DATABASE_URL``
(a login in the ``nabd_clinical`` group), else ``NABD_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail

if TYPE_CHECKING:
    from nabd.app.monitor.actions import AlertRow


def register(subparsers: Subparsers) -> None:
    """Add ``nabd alerts`` and its subcommands."""
    alerts = subparsers.add_parser("alerts", help="list, acknowledge and silence alerts")
    commands = alerts.add_subparsers(title="alerts commands", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        help="default: $NABD_CLINICAL_DATABASE_URL, else $NABD_DATABASE_URL",
    )
    listing = commands.add_parser("list", parents=[common], help="open alerts, most urgent first")
    listing.add_argument("--ward", help="only this ward")
    listing.add_argument("--patient", help="only this patient")
    listing.add_argument("--all", action="store_true", help="include resolved alerts")
    listing.add_argument("--limit", type=int, default=200)
    listing.set_defaults(handler=_list)
    ack = commands.add_parser("ack", parents=[common], help="acknowledge a raised alert")
    ack.add_argument("alert_id", type=uuid.UUID, metavar="ALERT_ID")
    ack.add_argument("--by", required=True, metavar="NURSE", help="who acknowledges (audited)")
    ack.set_defaults(handler=_ack)
    silence = commands.add_parser("silence", parents=[common], help="silence an open alert")
    silence.add_argument("alert_id", type=uuid.UUID, metavar="ALERT_ID")
    silence.add_argument("--by", required=True, metavar="NURSE", help="who silences (audited)")
    silence.add_argument(
        "--minutes", type=float, default=2.0, help="how long (default 2, at most 60)"
    )
    silence.set_defaults(handler=_silence)


def _url(args: argparse.Namespace) -> str | None:
    return (
        args.database_url
        or os.environ.get("NABD_CLINICAL_DATABASE_URL")
        or os.environ.get("NABD_DATABASE_URL")
    )


def _line(row: AlertRow) -> str:
    flags = []
    if row.latched:
        flags.append("latched")
    if row.silenced_until is not None:
        flags.append(f"silenced until {row.silenced_until:%H:%M:%S}")
    if row.acknowledged_by:
        flags.append(f"by {row.acknowledged_by}")
    extra = f" ({', '.join(flags)})" if flags else ""
    return (
        f"{row.alert_id}  {row.priority:<8} {row.state:<12} L{row.escalation_level} "
        f"{row.ward_id}/{row.patient_id}  {row.condition} [{row.kind}]  "
        f"{row.raised_at:%Y-%m-%d %H:%M:%S}  {row.message}{extra}"
    )


def _list(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.app.monitor.actions import list_alerts

    url = _url(args)
    if url is None:
        return fail(ValueError("no database: set NABD_DATABASE_URL or pass --database-url"))
    try:
        with psycopg.connect(url) as conn:
            rows = list_alerts(
                conn,
                ward=args.ward,
                patient=args.patient,
                include_resolved=args.all,
                limit=args.limit,
            )
    except psycopg.Error as exc:
        return fail(exc)
    for row in rows:
        print(_line(row))
    if not rows:
        print("no alerts")
    return 0


def _act(args: argparse.Namespace, silence: bool) -> int:
    import psycopg

    from nabd.app.monitor import actions
    from nabd.app.monitor.errors import MonitorError

    url = _url(args)
    if url is None:
        return fail(ValueError("no database: set NABD_DATABASE_URL or pass --database-url"))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if silence:
                row = actions.silence(conn, args.alert_id, args.by, args.minutes * 60)
            else:
                row = actions.acknowledge(conn, args.alert_id, args.by)
    except (MonitorError, psycopg.Error) as exc:
        return fail(exc)
    print(_line(row))
    return 0


def _ack(args: argparse.Namespace) -> int:
    return _act(args, silence=False)


def _silence(args: argparse.Namespace) -> int:
    return _act(args, silence=True)
