"""``nabd alerts list|ack|silence|limits``: what nurses and operators do with alerts.

``ack`` and ``silence`` need the nurse's name (``--by``): the alert row records it and so does the
hash-chained audit log. The database URL is ``--database-url``, else ``NABD_CLINICAL_DATABASE_URL``
(a login in the ``nabd_clinical`` group), else ``NABD_DATABASE_URL``. ``limits set|clear`` change
a ward's or a patient's alarm limits, audited with ``--by``
(see ``nabd.analytics.service.alarm_limits``).
"""

from __future__ import annotations

import argparse
import math
import os
import uuid
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import RefusedError, UsageError

_NO_DATABASE = (
    "no database: set NABD_CLINICAL_DATABASE_URL (or NABD_DATABASE_URL) or pass --database-url"
)

if TYPE_CHECKING:
    import psycopg

    from nabd.analytics.service.actions import AlertRow


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
    _register_limits(commands, common)


def _register_limits(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """``nabd alerts limits show|set|clear``: per-ward and per-patient alarm limits."""
    limits = commands.add_parser("limits", help="alarm limits per ward and per patient")
    actions = limits.add_subparsers(title="limits commands", metavar="COMMAND", required=True)
    scope = argparse.ArgumentParser(add_help=False)
    where = scope.add_mutually_exclusive_group(required=True)
    where.add_argument("--ward", help="every patient of this ward")
    where.add_argument("--patient", help="this patient only (replaces the ward's limits)")
    show = actions.add_parser(
        "show", parents=[common], help="the limits in force (defaults and overrides)"
    )
    show.add_argument("--ward", help="this ward's limits")
    show.add_argument("--patient", help="this patient's limits")
    show.set_defaults(handler=_limits_show)
    metrics = ("heart_rate", "spo2", "respiration_rate", "systolic_bp", "body_temperature")
    change = actions.add_parser(
        "set",
        parents=[common, scope],
        help="override a metric's low and/or high limit (audited)",
        description="A side not given keeps its current limit; 'off' switches it off.",
    )
    change.add_argument("metric", choices=metrics, metavar="METRIC", help=", ".join(metrics))
    change.add_argument("--low", type=_limit, help="alarm at or below this value, or 'off'")
    change.add_argument("--high", type=_limit, help="alarm at or above this value, or 'off'")
    change.add_argument("--by", required=True, metavar="NAME", help="who decides (audited)")
    change.set_defaults(handler=_limits_set)
    clear = actions.add_parser(
        "clear",
        parents=[common, scope],
        help="remove an override: back to the ward's limits or the defaults (audited)",
    )
    clear.add_argument("metric", choices=metrics, metavar="METRIC", help=", ".join(metrics))
    clear.add_argument("--by", required=True, metavar="NAME", help="who decides (audited)")
    clear.set_defaults(handler=_limits_clear)


def _limit(text: str) -> str:
    """Checked when the command runs (the side tells 'off' which infinity it means)."""
    if text != "off":
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'off'") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError("a limit is a finite number, or 'off'")
    return text


def _url(args: argparse.Namespace) -> str | None:
    return (
        args.database_url
        or os.environ.get("NABD_CLINICAL_DATABASE_URL")
        or os.environ.get("NABD_DATABASE_URL")
    )


_HEADER = (
    f"{'alert':<36}  {'priority':<8} {'state':<12} lvl {'ward/patient':<24}  condition [kind]  "
    "raised at  message"
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
        f"{row.alert_id}  {row.priority:<8} {row.state:<12} L{row.escalation_level:<2} "
        f"{row.ward_id + '/' + row.patient_id:<24}  {row.condition} [{row.kind}]  "
        f"{row.raised_at:%Y-%m-%d %H:%M:%S}  {row.message}{extra}"
    )


def _list(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.analytics.service.actions import list_alerts

    url = _url(args)
    if url is None:
        return fail(UsageError(_NO_DATABASE))
    try:
        with psycopg.connect(url) as conn:
            rows = list_alerts(
                conn,
                ward=args.ward,
                patient=args.patient,
                include_resolved=args.all,
                limit=args.limit,
            )
            if not rows:
                _known(conn, "patient", args.patient)
                _known(conn, "ward", args.ward)
    except psycopg.Error as exc:
        return fail(exc)
    print(_HEADER)
    for row in rows:
        print(_line(row))
    if not rows:
        print("none")
    return 0


_KNOWN = {
    "patient": "SELECT 1 FROM patient WHERE id = %s",
    "ward": "SELECT 1 FROM ward WHERE id = %s",
}


def _known(conn: psycopg.Connection[tuple[object, ...]], table: str, key: str | None) -> None:
    """Refuse a filter naming a patient or ward the registry does not know (an empty list
    would read as "no alerts for them")."""
    if key is None:
        return
    query = _KNOWN[table]
    if conn.execute(query, (key,)).fetchone() is None:
        raise RefusedError(f"no {table} {key!r}: unknown to the registry")


def _act(args: argparse.Namespace, silence: bool) -> int:
    import psycopg

    from nabd.analytics.service import actions
    from nabd.analytics.service.errors import MonitorError

    url = _url(args)
    if url is None:
        return fail(UsageError(_NO_DATABASE))
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


def _side(text: str | None, off: float) -> float:
    from nabd.analytics.service.alarm_limits import KEEP

    if text is None:
        return KEEP
    return off if text == "off" else float(text)


def _shown(value: float) -> str:
    return "off" if value in (float("inf"), float("-inf")) else f"{value:g}"


def _side_text(value: float | None) -> str:
    """An override's side: '-' when it keeps the level above."""
    return "-" if value is None else _shown(value)


def _limits_show(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.analytics.service import alarm_limits
    from nabd.analytics.service.config import LIMIT_METRICS

    url = _url(args)
    if url is None:
        return fail(UsageError(_NO_DATABASE))
    try:
        with psycopg.connect(url) as conn:
            rows = alarm_limits.show_limits(conn, ward=args.ward, patient=args.patient)
            _known(conn, "ward", args.ward)
            ward = args.ward
            if args.patient is not None:
                found = conn.execute(
                    "SELECT ward_id FROM patient WHERE id = %s", (args.patient,)
                ).fetchone()
                if found is None:
                    raise RefusedError(f"no patient {args.patient!r}: unknown to the registry")
                ward = found[0]
    except psycopg.Error as exc:
        return fail(exc)
    if ward is not None:
        print(f"in force for {'patient ' + args.patient if args.patient else 'ward ' + ward}:")
        for metric in LIMIT_METRICS:
            low, high = alarm_limits.effective(rows, metric, ward, args.patient)
            print(f"  {metric:<18} low {_shown(low):>6}  high {_shown(high):>6}")
    print("overrides (- keeps the level above; none: the defaults apply):")
    print(f"  {'scope':<24} {'metric':<18} {'low':>10}  {'high':>11}  set by, at")
    for row in rows:
        scope = f"ward {row.ward_id}" if row.ward_id else f"patient {row.patient_id}"
        print(f"  {scope:<24} {row.metric:<18} low {_side_text(row.low):>6}  "
              f"high {_side_text(row.high):>6}  "
              f"by {row.set_by} at {row.set_at:%Y-%m-%d %H:%M:%S}")  # fmt: skip
    if not rows:
        print("  none")
    return 0


def _limits_change(args: argparse.Namespace, clear: bool) -> int:
    import psycopg

    from nabd.analytics.service import alarm_limits
    from nabd.analytics.service.errors import MonitorError

    url = _url(args)
    if url is None:
        return fail(UsageError(_NO_DATABASE))
    try:
        scope = alarm_limits.Scope(ward=args.ward, patient=args.patient)
        with psycopg.connect(url, autocommit=True) as conn:
            if clear:
                row = alarm_limits.clear_limit(conn, scope, args.metric, nurse=args.by)
            else:
                low, high = _side(args.low, float("-inf")), _side(args.high, float("inf"))
                row = alarm_limits.set_limit(
                    conn, scope, args.metric, low=low, high=high, nurse=args.by
                )
    except (MonitorError, psycopg.Error) as exc:
        return fail(exc)
    if row is None:
        print(f"{scope.subject}: no override of {args.metric}; nothing changed")
        return 0
    print(f"{scope.subject} {row.metric}: low {_side_text(row.low)}, "
          f"high {_side_text(row.high)} (by {row.set_by})")  # fmt: skip
    return 0


def _limits_set(args: argparse.Namespace) -> int:
    return _limits_change(args, clear=False)


def _limits_clear(args: argparse.Namespace) -> int:
    return _limits_change(args, clear=True)
