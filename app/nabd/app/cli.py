"""The ``nabd`` console script: one argparse parser, one subcommand group per module.

Adding a group (``nabd db ...``) is one line in :data:`COMMAND_GROUPS` and a module with a
``register`` function (see :mod:`nabd.app.commands`); this file never grows per command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Final

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
    "nabd.app.commands.web",
    "nabd.app.commands.audit",
    "nabd.app.commands.evaluate",
    "nabd.app.commands.simulate",
    "nabd.app.commands.demo",
)
"""Modules that each register one subcommand group, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options plus every registered group."""
    parser = argparse.ArgumentParser(
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
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
