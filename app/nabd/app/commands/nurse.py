"""``nabd nurse record`` and ``nabd nurse scale``: what NEWS2 needs that no device measures.

NEWS2 needs the patient's level of consciousness (ACVPU) and whether they breathe air or
supplemental oxygen, and a respiratory rate that most wards have no device for; without them the
score is incomplete (never assumed normal). A nurse records them at the bedside round (``--rr``:
breaths counted over a full minute), and the spot values she measured with the ward's own
instruments on a bed without a connected one (``--spo2``, ``--pulse``, ``--bp SYS/DIA``,
``--temp``). A measured value is scored while valid unless a device measured one since (the
freshest value counts). Each entry holds for ``--valid-for`` minutes (default 240, the 4-hourly
round of a NEWS2 of 1-4, RCP NEWS2 2017 chart 4; a local policy) and is written with the nurse's
name and an audit-log entry; values outside the plausibility ranges
(``nabd.analytics.service.actions.MANUAL_RANGES``) are refused.

``nabd nurse scale`` sets which SpO2 scale a patient is scored on: Scale 1, or Scale 2 for
confirmed hypercapnic respiratory failure with a prescribed 88-92 % target, a decision of a
competent clinical decision-maker (RCP NEWS2, 2017). It holds until changed (or discharge); the
database's trigger (migration 0031) audits each change with the name given in ``--by``.

The database URL is ``--database-url``, else ``NABD_CLINICAL_DATABASE_URL``, else
``NABD_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError

_NO_DATABASE = (
    "no database: set NABD_CLINICAL_DATABASE_URL (or NABD_DATABASE_URL) or pass --database-url"
)

ACVPU = ("A", "C", "V", "P", "U")
OXYGEN = {"on": "oxygen", "off": "air"}


def register(subparsers: Subparsers) -> None:
    """Add ``nabd nurse`` and its subcommands."""
    nurse = subparsers.add_parser(
        "nurse",
        help="nurses' NEWS2 entries (consciousness, oxygen, RR, spot vitals) and SpO2 scale",
    )
    commands = nurse.add_subparsers(title="nurse commands", metavar="COMMAND", required=True)
    record = commands.add_parser(
        "record",
        help="record a patient's consciousness (ACVPU), oxygen, counted respiratory rate and/or "
        "spot SpO2, pulse, blood pressure and temperature, for NEWS2",
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
        "--rr",
        type=int,
        metavar="N",
        help="respiratory rate counted over a full minute, breaths/min (0-150)",
    )
    record.add_argument("--spo2", type=int, metavar="PCT", help="spot SpO2 measured, %% (50-100)")
    record.add_argument(
        "--pulse", type=int, metavar="N", help="pulse measured or counted, beats/min (20-250)"
    )
    record.add_argument(
        "--bp",
        metavar="SYS/DIA",
        help="blood pressure measured, mmHg, e.g. 128/76 (systolic 40-300, diastolic 20-200)",
    )
    record.add_argument(
        "--temp", metavar="C", help="body temperature measured, °C, one decimal (25.0-45.0)"
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

    scale = commands.add_parser(
        "scale",
        help="score a patient's SpO2 on NEWS2 Scale 1 or Scale 2 (a clinician's decision)",
        description="Set the NEWS2 SpO2 scale a patient is scored on, from the analytics "
        "service's next registry refresh (seconds) until changed. Scale 2 is ONLY for patients "
        "with confirmed hypercapnic respiratory failure and a prescribed target saturation of "
        "88-92 %, decided by a competent clinical decision-maker (RCP NEWS2, 2017); on Scale 2 "
        "a saturation of 88-92 % scores 0. Every other patient is scored on Scale 1. Each "
        "change is audited with the name given in --by; setting the scale the patient already "
        "has changes nothing.",
    )
    scale.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    scale.add_argument(
        "scale",
        type=int,
        choices=(1, 2),
        metavar="{1,2}",
        help="1: Scale 1 (the default); 2: Scale 2, only for confirmed hypercapnic "
        "respiratory failure, decided by a competent clinical decision-maker",
    )
    scale.add_argument(
        "--by", required=True, metavar="NAME", help="the clinician who decided it (audited)"
    )
    scale.add_argument(
        "--database-url", help="default: $NABD_CLINICAL_DATABASE_URL, else $NABD_DATABASE_URL"
    )
    scale.set_defaults(handler=_scale)


def _url(args: argparse.Namespace) -> str | None:
    """``--database-url``, else the clinical login's, else the owner's."""
    url: str | None = (
        args.database_url
        or os.environ.get("NABD_CLINICAL_DATABASE_URL")
        or os.environ.get("NABD_DATABASE_URL")
    )
    return url


def _record(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.analytics.service.actions import record_entries
    from nabd.analytics.service.errors import MonitorError

    url = _url(args)
    if url is None:
        return fail(UsageError(_NO_DATABASE))
    entries = _entries(args)
    if isinstance(entries, UsageError):
        return fail(entries)
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


def _entries(args: argparse.Namespace) -> dict[str, str] | UsageError:
    """The entries given on the command line, by ``nurse_entry`` parameter (values checked by
    ``record_entries``)."""
    entries: dict[str, str] = {}
    if args.acvpu is not None:
        entries["consciousness"] = args.acvpu
    if args.oxygen is not None:
        entries["supplemental_oxygen"] = OXYGEN[args.oxygen]
    if args.rr is not None:
        entries["respiration_rate"] = str(args.rr)
    if args.spo2 is not None:
        entries["spo2"] = str(args.spo2)
    if args.pulse is not None:
        entries["pulse_rate"] = str(args.pulse)
    if args.bp is not None:
        systolic, slash, diastolic = args.bp.partition("/")
        if not slash:
            return UsageError(f"--bp {args.bp!r}: give SYSTOLIC/DIASTOLIC in mmHg, e.g. 128/76")
        entries["systolic_bp"], entries["diastolic_bp"] = systolic.strip(), diastolic.strip()
    if args.temp is not None:
        entries["body_temperature"] = args.temp.strip()
    return entries


def _scale(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.analytics.service.actions import set_news2_scale
    from nabd.analytics.service.errors import MonitorError

    url = _url(args)
    if url is None:
        return fail(UsageError(_NO_DATABASE))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            changed = set_news2_scale(conn, args.patient, args.scale == 2, clinician=args.by)
    except (MonitorError, psycopg.Error) as exc:
        return fail(exc)
    if changed:
        print(f"{args.patient}: NEWS2 SpO2 Scale {args.scale}, set by {args.by.strip()}")
    else:
        print(f"{args.patient}: already on NEWS2 SpO2 Scale {args.scale}; nothing changed")
    return 0
