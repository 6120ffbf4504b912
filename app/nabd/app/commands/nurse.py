"""``nabd nurse record``: what a nurse observes that no device measures, for NEWS2.

NEWS2 needs the patient's level of consciousness (ACVPU) and whether they breathe air or
supplemental oxygen; without them the score is incomplete (never assumed normal). A nurse
records them at the bedside round; each entry holds for ``--valid-for`` minutes (default 240,
the 4-hourly round of a NEWS2 of 1-4) and is written with the nurse's name and an audit-log
entry. The database URL is ``--database-url``, else ``NABD_CLINICAL_DATABASE_URL``, else
``NABD_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os

from nabd.app.commands import Subparsers, fail

ACVPU = ("A", "C", "V", "P", "U")
OXYGEN = {"on": "oxygen", "off": "air"}


def register(subparsers: Subparsers) -> None:
    """Add ``nabd nurse`` and its subcommands."""
    nurse = subparsers.add_parser("nurse", help="nurses' NEWS2 entries (consciousness, oxygen)")
    commands = nurse.add_subparsers(title="nurse commands", metavar="COMMAND", required=True)
    record = commands.add_parser(
        "record",
        help="record a patient's consciousness (ACVPU) and/or oxygen, for NEWS2",
        description="Record what a nurse observed at the bedside; the analytics service uses it "
        "for NEWS2 from its next registry refresh (seconds) until it expires.",
    )
    record.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    record.add_argument(
        "--acvpu",
        choices=ACVPU,
        help="A alert, C new confusion, V responds to voice, P to pain, U unresponsive",
    )
    record.add_argument(
        "--oxygen", choices=tuple(OXYGEN), help="on: supplemental oxygen; off: room air"
    )
    record.add_argument(
        "--valid-for",
        type=float,
        default=240.0,
        metavar="MIN",
        help="minutes the entry holds (default 240, at most 1440)",
    )
    record.add_argument("--by", required=True, metavar="NURSE", help="who observed it (audited)")
    record.add_argument(
        "--database-url", help="default: $NABD_CLINICAL_DATABASE_URL, else $NABD_DATABASE_URL"
    )
    record.set_defaults(handler=_record)


def _record(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.app.monitor.actions import record_entries
    from nabd.app.monitor.errors import MonitorError

    url = (
        args.database_url
        or os.environ.get("NABD_CLINICAL_DATABASE_URL")
        or os.environ.get("NABD_DATABASE_URL")
    )
    if url is None:
        return fail(ValueError("no database: set NABD_DATABASE_URL or pass --database-url"))
    entries = {}
    if args.acvpu is not None:
        entries["consciousness"] = args.acvpu
    if args.oxygen is not None:
        entries["supplemental_oxygen"] = OXYGEN[args.oxygen]
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            record_entries(
                conn, args.patient, entries, valid_for_s=args.valid_for * 60, nurse=args.by
            )
    except (MonitorError, psycopg.Error) as exc:
        return fail(exc)
    shown = ", ".join(f"{k} {v}" for k, v in entries.items())
    print(f"{args.patient}: {shown} for {args.valid_for:g} min, by {args.by.strip()}")
    return 0
