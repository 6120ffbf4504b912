"""``nabd patient export|rectify|erase``: a patient's rights (docs/patient-rights.md).

- ``export`` writes a subject-access copy of one admission into a folder: ``bundle.json`` (a
  FHIR R4 collection Bundle: identity, devices, readings, NEWS2 scores, nurses' entries, alerts)
  and ``summary.html`` (the same, readable, in French, English or Arabic, with the list of who
  viewed the identity). It reads clinical data, so it needs the owner's login
  (``NABD_DATABASE_URL``); the export is itself recorded as an access and in the audit log.
- ``rectify`` changes identity fields (audited: which fields, never the values).
- ``erase`` deletes a discharged patient's identity for good, after ``--yes``, and says what
  pseudonymous data remains and why.

Registered by :mod:`nabd.app.commands.patient` into the ``patient`` group.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail, os_user
from nabd.app.commands.care_shell import at, run
from nabd.app.commands.files import written_whole
from nabd.app.commands.problems import UsageError

if TYPE_CHECKING:
    from nabd.care.rights import Erasure
    from nabd.care.store import Conn

__all__ = ["register"]

BUNDLE: str = "bundle.json"
SUMMARY: str = "summary.html"


def register(commands: Subparsers) -> None:
    """Add ``export``, ``rectify`` and ``erase`` to the ``patient`` group."""
    export = commands.add_parser(
        "export",
        help="subject access: write a patient's data as a FHIR Bundle and a readable summary",
        description=f"Write {BUNDLE} (FHIR R4 collection: identity, devices, readings, NEWS2, "
        f"nurses' entries, alerts) and {SUMMARY} (the same for a person to read, in --lang, with "
        "who viewed the identity) into the folder --out. Needs a login that reads clinical "
        "data (the owner's). The export is recorded as an access and in the audit log.",
    )
    export.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id, or an MRN")
    export.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="folder to write into (created if missing)")  # fmt: skip
    export.add_argument("--lang", choices=("fr", "en", "ar"), default="fr",
                        help="the summary's language (default fr; ar: right to left)")  # fmt: skip
    export.add_argument("--by", default=os_user(), metavar="NAME",
                        help="who exports (recorded); default: the OS user")  # fmt: skip
    export.add_argument("--base-url", metavar="URL",
                        help="fullUrl base of the Bundle's entries (default "
                        "$NABD_FHIR_PUBLIC_URL, else the identifier system base)")  # fmt: skip
    _owner_option(export)
    export.set_defaults(handler=_export)

    rectify = commands.add_parser(
        "rectify",
        help="correct a patient's identity fields (audited without the values)",
        description="Set the given identity fields. The audit log records which fields "
        "changed, never their old or new values.",
    )
    rectify.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id, or an MRN")
    rectify.add_argument("--given", metavar="NAME", help="given name(s); '' for none")
    rectify.add_argument("--family", metavar="NAME", help="family name")
    rectify.add_argument("--birth-date", metavar="YYYY-MM-DD")
    rectify.add_argument("--mrn", help="the hospital's medical record number")
    rectify.add_argument("--by", required=True, metavar="NAME",
                         help="who does it (recorded in the audit log)")  # fmt: skip
    _owner_option(rectify)
    rectify.set_defaults(handler=_rectify)

    erase = commands.add_parser(
        "erase",
        help="erase a discharged patient's identity for good (needs --yes)",
        description="Delete the name, MRN and birth date of a discharged admission; the "
        "pseudonymous clinical data stay for their retention period and then name nobody. "
        "Cannot be undone. An admitted patient is refused: discharge first.",
    )
    erase.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id, or an MRN")
    erase.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    erase.add_argument("--by", required=True, metavar="NAME",
                       help="who does it (recorded in the audit log)")  # fmt: skip
    _owner_option(erase)
    erase.set_defaults(handler=_erase)


def _owner_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: $NABD_DATABASE_URL (the owner's login)")


# ---- export -------------------------------------------------------------------------------------


def _owner_url(args: argparse.Namespace, why: str) -> str:
    """``--database-url``, else ``NABD_DATABASE_URL``: these commands need the owner's login
    (never ``NABD_CARE_DATABASE_URL``: the care role may not read clinical data or change an
    identity); a UsageError saying ``why`` if neither is set."""
    url = args.database_url or os.environ.get("NABD_DATABASE_URL")
    if not url:
        raise UsageError(
            f"no database: {why}, so set NABD_DATABASE_URL (the owner's login) or pass "
            "--database-url"
        )
    args.database_url = url
    return str(url)


def _export(args: argparse.Namespace) -> int:
    url = _owner_url(args, "the export reads clinical data")

    def action(conn: Conn) -> int:
        from nabd.care.rights import resolve_patient

        return _write_export(args, url, resolve_patient(conn, args.patient))

    return run(args, action)


def _write_export(args: argparse.Namespace, url: str, patient_id: str) -> int:
    """The Bundle in one snapshot, the access and audit entry committed with it, then the
    summary with the access log that now includes this export."""
    import psycopg
    from psycopg.rows import dict_row

    from nabd.care.rights import access_log
    from nabd.interop.fhir import bundle, query, subject_access, subject_summary
    from nabd.interop.fhir.errors import FhirError
    from nabd.interop.fhir.settings import FhirSettings

    settings = FhirSettings(database_url=url)
    base_url = args.base_url or settings.public_url or settings.system_base
    now = datetime.now(UTC)
    tally = subject_access.SubjectTally()
    reader = query.Reader("export", args.by, f"nabd patient export --lang {args.lang}")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        with (
            psycopg.connect(url, row_factory=dict_row) as data,
            written_whole(args.out / BUNDLE) as out,
        ):
            data.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            data.execute("SET LOCAL TimeZone = 'UTC'")
            count = bundle.write_collection(
                out,
                subject_access.resources(data, patient_id, reader=reader, systems=settings.systems,
                                         period_s=settings.summary_period_s, now=now,
                                         tally=tally),
                base_url=base_url, bundle_id=str(uuid.uuid4()), timestamp=now,
            )  # fmt: skip
            query.audit(data, actor=args.by, action="subject_access_export",
                        subject=f"patient:{patient_id}",
                        details={"resources": count, "lang": args.lang})  # fmt: skip
        with psycopg.connect(url, autocommit=True) as conn:
            accesses = [
                subject_summary.AccessLine(a.at, a.channel, a.actor, a.what)
                for a in access_log(conn, [patient_id])
            ]
        page = subject_summary.render(tally, accesses, lang=args.lang, now=now)
        with written_whole(args.out / SUMMARY) as out:
            out.write(page)
    except (FhirError, OSError) as exc:
        return fail(exc)
    print(f"{patient_id}: exported {count} resources to {args.out / BUNDLE} "
          f"and the summary to {args.out / SUMMARY}")  # fmt: skip
    return 0


# ---- rectify and erase --------------------------------------------------------------------------


def _rectify(args: argparse.Namespace) -> int:
    from nabd.care.rights import IdentityChange, rectify_identity, resolve_patient

    _owner_url(args, "rectifying changes an identity")

    def action(conn: Conn) -> int:
        change = IdentityChange.parse(
            mrn=args.mrn, given=args.given, family=args.family, birth_date=args.birth_date
        )
        pid = resolve_patient(conn, args.patient)
        changed = rectify_identity(conn, pid, change, by=args.by)
        if not changed:
            print(f"{pid}: the identity holds these values already; nothing changed")
        else:
            print(f"{pid}: rectified {', '.join(changed)} (audited without the values)")
        return 0

    return run(args, action)


def _erase(args: argparse.Namespace) -> int:
    from nabd.care.rights import erase_identity, resolve_patient

    if not args.yes:
        return fail(UsageError(
            "erasing an identity cannot be undone: add --yes to confirm "
            f"(`nabd patient erase {args.patient} --by NAME --yes`)"
        ))  # fmt: skip

    _owner_url(args, "erasing deletes an identity")

    def action(conn: Conn) -> int:
        erased = erase_identity(conn, resolve_patient(conn, args.patient), by=args.by)
        _print_erasure(erased, _vacuum(conn))
        return 0

    return run(args, action)


def _vacuum(conn: Conn) -> bool:
    """VACUUM the identity table if this login owns it, so the deleted row's bytes leave its
    pages now rather than at the next autovacuum; ``False`` if it may not."""
    owns = conn.execute(
        """SELECT pg_has_role(tableowner, 'USAGE') FROM pg_tables
           WHERE schemaname = 'identity' AND tablename = 'patient_identity'"""
    ).fetchone()
    if not (owns and owns[0]):
        return False
    conn.execute("VACUUM identity.patient_identity")
    return True


def _print_erasure(erased: Erasure, vacuumed: bool) -> None:
    fields = ", ".join(erased.fields)
    print(f"{erased.patient_id}: identity erased at {at(erased.at)} ({fields}); "
          "the audit log records the erasure, not the data")  # fmt: skip
    print("What remains (pseudonymous: it names nobody now):")
    for name, count in erased.remains.items():
        print(f"  {name:<20} {'not readable by this login' if count is None else count}")
    print("Why: clinical records are kept for their legal retention period (see "
          "`nabd privacy retention` and docs/privacy.md), then removed by its job.")  # fmt: skip
    if not vacuumed:
        print("Note: the database owner's VACUUM (or autovacuum) clears the deleted row from "
              "the table's pages; backups taken before now keep it until they expire.",
              file=sys.stderr)  # fmt: skip
    else:
        print("The table was vacuumed; backups taken before now keep the identity until they "
              "expire (docs/patient-rights.md).")  # fmt: skip
