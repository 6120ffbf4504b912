"""``nabd privacy access-log PATIENT``: who read a patient's identity, when, and how.

The database records every identity read (migration 0085, ``identity.read_identities``): the
nurse station's pages, the FHIR API's Patient reads, exports and the care commands. This lists
them for one admission (a pseudonymous id) or for every admission of a person (an MRN), as a
table or as CSV. See docs/patient-rights.md.

:mod:`nabd.app.commands.privacy` makes the ``privacy`` group and calls :func:`add_commands`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers
from nabd.app.commands.care_shell import add_common, at, print_table, run

if TYPE_CHECKING:
    from nabd.care.store import Conn

__all__ = ["add_commands"]


def add_commands(commands: Subparsers) -> None:
    """Add ``access-log`` to a ``privacy`` group."""
    log = commands.add_parser(
        "access-log",
        help="who read a patient's identity: when, who, through which channel, what",
        description="List every recorded read of a patient's identity (nurse station pages, "
        "FHIR API, exports, care commands), oldest first. An identical read within 5 minutes "
        "of a recorded one is not recorded again.",
    )
    log.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id, or an MRN")
    log.add_argument("--format", choices=("table", "csv"), default="table")
    add_common(log, writes=False)
    log.set_defaults(handler=_access_log)


def _access_log(args: argparse.Namespace) -> int:
    from nabd.care.rights import access_log, resolve_patients

    def action(conn: Conn) -> int:
        entries = access_log(conn, resolve_patients(conn, args.patient))
        if args.format == "csv":
            out = csv.writer(sys.stdout, lineterminator="\n")
            out.writerow(["at", "patient", "channel", "actor", "what", "login"])
            for e in entries:
                out.writerow([e.at.isoformat(), e.patient_id, e.channel, e.actor, e.what,
                              e.login])  # fmt: skip
            return 0
        header = f"{'AT':<21} {'PATIENT':<16} {'CHANNEL':<8} {'WHO':<20} WHAT"
        print_table(header, (f"{at(e.at):<21} {e.patient_id:<16} {e.channel:<8} "
                             f"{e.actor:<20} {e.what}" for e in entries))  # fmt: skip
        return 0

    return run(args, action)
