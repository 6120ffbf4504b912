"""``nabd consent record|withdraw|show|policy``: patients' consents (nabd.care.consents).

Every change is audited. See docs/consent.md.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers
from nabd.app.commands.care_shell import add_common, at, print_table, run

if TYPE_CHECKING:
    from datetime import datetime

    from nabd.care.consents import Consent
    from nabd.care.store import Conn

_SCOPES = (
    "remote-monitoring (readings from the patient's devices) or fhir-sharing (the record "
    "served by the FHIR API)"
)
_TIME = "ISO 8601 with offset, e.g. 2026-12-06T09:30+01:00 (default now, not in the future)"


def register(subparsers: Subparsers) -> None:
    """Add ``nabd consent`` and its subcommands."""
    consent = subparsers.add_parser("consent", help="patients' consents (care operations)")
    commands = consent.add_subparsers(title="consent commands", metavar="COMMAND", required=True)

    record = commands.add_parser(
        "record",
        help="record a patient's consent to a programme",
        description="Record that PATIENT consented to --scope, having been shown version "
        "--text-version of its text, collected by --collected-by (audited as them).",
    )
    record.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    record.add_argument("--scope", required=True, help=_SCOPES)
    record.add_argument("--text-version", required=True, metavar="VERSION")
    record.add_argument("--collected-by", required=True, metavar="NAME")
    record.add_argument("--at", metavar="TIME", help=f"when it was given: {_TIME}")
    add_common(record, writes=False)
    record.set_defaults(handler=_record)

    withdraw = commands.add_parser(
        "withdraw",
        help="record a withdrawal; remote-monitoring: the gateway stops reading the devices",
        description="Record that PATIENT withdrew their consent to --scope. Withdrawing "
        "remote-monitoring takes the patient's devices out of their gateway's list (the gateway "
        "disconnects them within seconds), ingest refuses their later readings and their open "
        "alerts are closed; withdrawing fhir-sharing stops the FHIR API and `nabd fhir export` "
        "serving their record.",
    )
    withdraw.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    withdraw.add_argument("--scope", required=True, help=_SCOPES)
    withdraw.add_argument("--at", metavar="TIME", help=f"when it was withdrawn: {_TIME}")
    add_common(withdraw, writes=True)
    withdraw.set_defaults(handler=_withdraw)

    show = commands.add_parser("show", help="a patient's consents and whether they are read")
    show.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    add_common(show, writes=False)
    show.set_defaults(handler=_show)

    policy = commands.add_parser(
        "policy",
        help="show or set whether collection and FHIR sharing require a recorded consent",
        description="Without --required, show the policy. With it, set it (audited): 'on' "
        "means a patient's readings are collected only while a consent to remote-monitoring "
        "covers them, and the FHIR API serves their record only while a consent to "
        "fhir-sharing is in force; 'off' (the default) does both unless the patient withdrew.",
    )
    policy.add_argument("--required", choices=("on", "off"))
    policy.add_argument("--by", metavar="NAME", help="who sets it (needed with --required)")
    add_common(policy, writes=False)
    policy.set_defaults(handler=_policy)


def _time(value: str | None) -> datetime | None:
    from nabd.care.values import parse_time

    return None if value is None else parse_time(value)


def _record(args: argparse.Namespace) -> int:
    from nabd.care.consents import record_consent

    def action(conn: Conn) -> int:
        done = record_consent(
            conn,
            args.patient,
            scope=args.scope,
            text_version=args.text_version,
            collected_by=args.collected_by,
            at=_time(args.at),
        )
        c = done.consent
        what = f"{c.patient_id}: consent to {c.scope} (text {c.text_version})"
        if not done.changed:
            print(f"{what} recorded already at {at(c.collected_at)}; nothing changed")
        else:
            print(f"{what} recorded, given at {at(c.collected_at)} to {c.collected_by}")
        return 0

    return run(args, action)


def _withdraw(args: argparse.Namespace) -> int:
    from nabd.care.consents import withdraw_consent

    def action(conn: Conn) -> int:
        when = _time(args.at)
        done = withdraw_consent(conn, args.patient, scope=args.scope, by=args.by, at=when)
        what = f"{done.patient_id}: consent to {done.scope}"
        if not done.changed:
            print(f"{what} withdrawn already at {at(done.at)}; nothing changed")
            return 0
        print(f"{what} withdrawn at {at(done.at)}")
        for device, gateway in done.released:
            print(f"  device {device}: removed from gateway {gateway}'s list, no longer read")
        return 0

    return run(args, action)


def _line(c: Consent) -> str:
    withdrawn = "-" if c.withdrawn_at is None else f"{at(c.withdrawn_at)} by {c.withdrawn_by}"
    return (
        f"{c.scope:<18} {c.text_version:<10} {at(c.collected_at):<21} {c.collected_by:<20} "
        f"{withdrawn}"
    )


def _show(args: argparse.Namespace) -> int:
    from nabd.care.consents import consents_of

    def action(conn: Conn) -> int:
        c = consents_of(conn, args.patient)
        required = "required" if c.policy.required else "not required"
        state = "yes" if c.collecting else "no"
        print(f"patient     {c.patient_id}")
        print(f"policy      consent {required} (for collection and FHIR sharing)")
        print(f"collecting  {state}")
        print(f"sharing     {'yes' if c.sharing else 'no'} (FHIR API)")
        header = f"{'SCOPE':<18} {'TEXT':<10} {'GIVEN':<21} {'COLLECTED BY':<20} WITHDRAWN"
        print_table(header, map(_line, c.records))
        return 0

    return run(args, action)


def _policy(args: argparse.Namespace) -> int:
    from nabd.care.consents import COLLECTION_SCOPE, policy, set_policy
    from nabd.care.errors import CareInputError, Why

    def action(conn: Conn) -> int:
        if args.required is not None:
            if args.by is None:
                raise CareInputError("--required needs --by NAME: who sets it (audited)",
                                     Why.BAD_USAGE, detail="--by")  # fmt: skip
            changed = set_policy(conn, required=args.required == "on", by=args.by)
            if not changed:
                print("consent policy unchanged")
        p = policy(conn)
        required = "required" if p.required else "not required"
        print(
            f"consent to {COLLECTION_SCOPE} {required} for collection, and to fhir-sharing "
            f"for the FHIR API (set {at(p.updated_at)} by {p.updated_by})"
        )
        return 0

    return run(args, action)
