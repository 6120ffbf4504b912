"""The ``nabd`` console script: one argparse parser, one subcommand group per module.

Adding a group (``nabd db ...``) is one line in :data:`COMMAND_GROUPS` and a module with a
``register`` function (see :mod:`nabd.app.commands`); this file never grows per command.

Whatever a handler raises is reported in people's words by
:func:`nabd.app.commands.problems.report` (exit 2 for usage errors, 1 for refusals, never a
traceback), and a bad option or argument is one line naming it, exit 2 (:class:`Parser`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Final, NoReturn

COMMAND_GROUPS: Final = (
    "nabd.app.commands.stack",
    "nabd.app.commands.db",
    "nabd.app.commands.ingest",
    "nabd.app.commands.edge",
    "nabd.app.commands.dashboards",
    "nabd.app.commands.fhir",
    "nabd.app.commands.analytics",
    "nabd.app.commands.alerts",
    "nabd.app.commands.nurse",
    "nabd.app.commands.ward",
    "nabd.app.commands.patient",
    "nabd.app.commands.careplan",
    "nabd.app.commands.device",
    "nabd.app.commands.gateway",
    "nabd.app.commands.consent",
    "nabd.app.commands.web",
    "nabd.app.commands.audit",
    "nabd.app.commands.backup",
    "nabd.app.commands.privacy",
    "nabd.app.commands.report",
    "nabd.app.commands.evaluate",
    "nabd.app.commands.simulate",
    "nabd.app.commands.demo",
)
"""Modules that each register one subcommand group, in the order ``--help`` lists them."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``nabd demo: error: argument --speed: ...``, then where
    to find the usage (instead of the whole usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options plus every registered group."""
    parser = Parser(
        prog="nabd",
        description="Nabd: self-hosted remote patient monitoring.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only warnings and errors on stderr"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_GROUPS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``nabd`` command; return its exit status (2 for a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="nabd: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from nabd.app.commands.problems import report  # noqa: PLC0415

        return report(error)


if __name__ == "__main__":
    sys.exit(main())
