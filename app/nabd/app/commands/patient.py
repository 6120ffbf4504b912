"""``nabd patient admit|list|show|transfer|discharge``: admissions (nabd.care.patients), and
``export|rectify|erase`` (patients' rights, :mod:`nabd.app.commands.patient_rights`).

``admit`` prints only the new pseudonymous patient id on stdout (so a script can capture it);
the MRN, name and birth date stay in the identity schema. ``list`` and ``show`` read names
through the database's identity reader, which records each one as an access by the OS user
(``nabd privacy access-log``). See docs/care.md and docs/patient-rights.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, os_user, patient_rights
from nabd.app.commands.care_shell import add_common, at, print_table, read_text, run

if TYPE_CHECKING:
    from nabd.care.patients import Patient
    from nabd.care.store import Conn


def register(subparsers: Subparsers) -> None:
    """Add ``nabd patient`` and its subcommands."""
    patient = subparsers.add_parser("patient", help="admissions (care operations)")
    commands = patient.add_subparsers(title="patient commands", metavar="COMMAND", required=True)

    admit = commands.add_parser(
        "admit",
        help="admit a patient to a bed; prints the new pseudonymous id",
        description="Admit a person to a free bed. An MRN that is admitted already is refused "
        "(transfer or discharge that admission instead).",
    )
    admit.add_argument("--ward", required=True, metavar="WARD")
    admit.add_argument("--bed", required=True, metavar="BED")
    admit.add_argument("--mrn", required=True, help="the hospital's medical record number")
    admit.add_argument("--name", required=True, help="'Given Family' or 'FAMILY, Given'")
    admit.add_argument("--birth-date", metavar="YYYY-MM-DD")
    add_common(admit, writes=True)
    admit.set_defaults(handler=_admit)

    listing = commands.add_parser("list", help="admitted patients by ward and bed")
    listing.add_argument("--ward", metavar="WARD")
    listing.add_argument("--all", action="store_true", help="include discharged patients")
    add_common(listing, writes=False)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one admission: identity, bed, devices, alerts")
    show.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    add_common(show, writes=False)
    show.set_defaults(handler=_show)

    transfer = commands.add_parser(
        "transfer",
        help="move a patient to another bed; their devices follow to its gateway",
    )
    transfer.add_argument("patient", metavar="PATIENT")
    transfer.add_argument("--ward", required=True, metavar="WARD")
    transfer.add_argument("--bed", required=True, metavar="BED")
    add_common(transfer, writes=True)
    transfer.set_defaults(handler=_transfer)

    bulk = commands.add_parser(
        "import",
        help="admit a ward's patients from a CSV file, all or nothing",
        description="Admit every row's patient, or none: every bad row is reported by its line "
        "number. Header: ward,bed,mrn,name[,birth_date].",
    )
    bulk.add_argument("file", type=Path, metavar="FILE.csv", help="'-' for stdin")
    add_common(bulk, writes=True)
    bulk.set_defaults(handler=_import)

    discharge = commands.add_parser(
        "discharge",
        help="discharge a patient: ends device assignments, closes open alerts",
        description="Discharge a patient now: their device assignments end and their open "
        "alerts close with reason 'discharged'. Repeating it changes nothing.",
    )
    discharge.add_argument("patient", metavar="PATIENT")
    add_common(discharge, writes=True)
    discharge.set_defaults(handler=_discharge)

    patient_rights.register(commands)


def _admit(args: argparse.Namespace) -> int:
    from nabd.care.patients import admit
    from nabd.care.values import Admission

    def action(conn: Conn) -> int:
        admission = Admission.parse(
            ward=args.ward, bed=args.bed, mrn=args.mrn, name=args.name, birth_date=args.birth_date
        )
        print(admit(conn, admission, by=args.by))
        return 0

    return run(args, action)


def _line(p: Patient) -> str:
    return (
        f"{p.id:<16} {p.ward_id:<12} {p.bed_id or '-':<6} {p.mrn or '-':<14} "
        f"{at(p.admitted_at):<21} {at(p.discharged_at):<21} {p.name}"
    )


def _list(args: argparse.Namespace) -> int:
    from nabd.care.patients import list_patients

    def action(conn: Conn) -> int:
        rows = list_patients(conn, ward=args.ward, include_discharged=args.all, reader=os_user())
        header = (f"{'PATIENT':<16} {'WARD':<12} {'BED':<6} {'MRN':<14} {'ADMITTED':<21} "
                  f"{'DISCHARGED':<21} NAME")  # fmt: skip
        print_table(header, map(_line, rows))
        return 0

    return run(args, action)


def _show(args: argparse.Namespace) -> int:
    from nabd.care.patients import show_patient

    def action(conn: Conn) -> int:
        p = show_patient(conn, args.patient, reader=os_user())
        born = "-" if p.birth_date is None else p.birth_date.isoformat()
        print(f"patient     {p.id}")
        print(f"name        {p.name}")
        print(f"mrn         {p.mrn or '-'}")
        print(f"born        {born}")
        print(f"ward, bed   {p.ward_id}, {p.bed_id or '-'}")
        print(f"admitted    {at(p.admitted_at)}")
        print(f"discharged  {at(p.discharged_at)}")
        print(f"devices     {', '.join(p.devices) or '-'}")
        print(f"open alerts {p.open_alerts}")
        return 0

    return run(args, action)


def _transfer(args: argparse.Namespace) -> int:
    from nabd.care.patients import transfer

    def action(conn: Conn) -> int:
        moved = transfer(conn, args.patient, ward=args.ward, bed=args.bed, by=args.by)
        where = f"ward {args.ward.strip()}, bed {args.bed.strip()}"
        print(f"{args.patient.strip()}: " + (f"now in {where}" if moved else f"in {where} already"))
        return 0

    return run(args, action)


def _discharge(args: argparse.Namespace) -> int:
    from nabd.care.patients import discharge

    def action(conn: Conn) -> int:
        d = discharge(conn, args.patient, by=args.by)
        if not d.changed:
            print(f"{d.patient_id}: discharged already at {at(d.at)}; nothing changed")
            return 0
        ended = ", ".join(d.devices) or "none"
        print(f"{d.patient_id}: discharged at {at(d.at)}; device assignments ended: {ended}")
        return 0

    return run(args, action)


def _import(args: argparse.Namespace) -> int:
    from nabd.care.imports import PATIENT_COLUMNS, import_patients, read_rows

    def action(conn: Conn) -> int:
        rows = read_rows(read_text(args.file), PATIENT_COLUMNS)
        for line, patient in import_patients(conn, rows, by=args.by):
            print(f"line {line}: {patient}")
        return 0

    return run(args, action)
