"""``nabd careplan set|show``: care plans of patients at home (nabd.care.careplans).

``set`` starts a plan from the programmes' defaults (``--programme``) or changes the stored
one (``--set SECTION.FIELD=VALUE``, repeatable), validated by the contract's model and audited
with ``--by`` and ``--reason``. ``show`` prints the plan for people: the schedule, the
thresholds, and what differs from the programmes' defaults. See docs/home-monitoring.md.
"""

from __future__ import annotations

import argparse
from datetime import time
from typing import TYPE_CHECKING, Any

from nabd.app.commands import Subparsers
from nabd.app.commands.care_shell import add_common, at, run

if TYPE_CHECKING:
    from nabd.care.careplans import StoredPlan
    from nabd.care.store import Conn

_SECTIONS = ("weight", "blood_pressure", "glucose", "spo2", "adherence", "gateway")


def register(subparsers: Subparsers) -> None:
    """Add ``nabd careplan`` and its subcommands."""
    group = subparsers.add_parser("careplan", help="care plans of patients at home")
    commands = group.add_subparsers(title="careplan commands", metavar="COMMAND", required=True)

    setting = commands.add_parser(
        "set",
        help="set a patient's programmes and per-patient thresholds (audited)",
        description="Set an admitted patient's care plan. --programme starts from the "
        "programmes' defaults (heart_failure, hypertension, diabetes, copd); without it the "
        "stored plan is changed. --set SECTION.FIELD=VALUE overrides one value, e.g. "
        "--set weight.dry_weight_kg=78.5 or --set timezone=Africa/Tunis (null clears an "
        "optional threshold). Setting the same plan again changes nothing.",
    )
    setting.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    setting.add_argument(
        "--programme", action="append", metavar="NAME", help="repeatable, or 'a,b'"
    )
    setting.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="SECTION.FIELD=VALUE"
    )
    setting.add_argument("--reason", help="why (recorded in the audit log)")
    add_common(setting, writes=True)
    setting.set_defaults(handler=_set)

    show = commands.add_parser("show", help="a patient's care plan, for people")
    show.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    add_common(show, writes=False)
    show.set_defaults(handler=_show)


def _set(args: argparse.Namespace) -> int:
    from nabd.care.careplans import set_plan

    def action(conn: Conn) -> int:
        stored, changed = set_plan(conn, args.patient, programmes=args.programme,
                                   settings=args.settings, by=args.by,
                                   reason=args.reason)  # fmt: skip
        programmes = "+".join(p.value for p in stored.plan.programmes)
        if changed:
            print(f"{stored.patient_id}: care plan version {stored.version} ({programmes}) set")
        else:
            print(f"{stored.patient_id}: care plan version {stored.version} unchanged")
        return 0

    return run(args, action)


def _show(args: argparse.Namespace) -> int:
    from nabd.care.careplans import show_plan

    def action(conn: Conn) -> int:
        for line in describe(show_plan(conn, args.patient)):
            print(line)
        return 0

    return run(args, action)


def _clock(t: time) -> str:
    """A slot's local time, to the minute unless it has seconds."""
    return f"{t:%H:%M}" if t.second == 0 else f"{t:%H:%M:%S}"


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def describe(stored: StoredPlan) -> list[str]:
    """The plan as ``show`` prints it."""
    from nabd.care.careplans import differences

    plan = stored.plan
    lines = [
        f"patient      {stored.patient_id}",
        f"programmes   {', '.join(p.value for p in plan.programmes)}",
        f"time zone    {plan.timezone}",
        f"version      {stored.version}, set {at(stored.set_at)} by {stored.set_by}"
        + (f" ({stored.reason})" if stored.reason else ""),
        "schedule (local time, every day)",
    ]
    for slot in sorted(plan.schedule, key=lambda s: (s.start, s.kind)):
        lines.append(
            f"  {slot.kind.value:<15} {slot.name:<10} {_clock(slot.start)}-{_clock(slot.end)}"
        )
    dumped = plan.model_dump(mode="json")
    for section in _SECTIONS:
        values = ", ".join(f"{k} {_value(v)}" for k, v in dumped[section].items())
        lines.append(f"{section:<15}{values}")
    changed = differences(plan, stored.defaults)
    lines.append("differs from the programmes' defaults:" + ("" if changed else " nothing"))
    for path, default, value in changed:
        if path == "schedule":
            lines.append("  schedule (see above)")
        else:
            lines.append(f"  {path}: {_value(value)} (default {_value(default)})")
    return lines
