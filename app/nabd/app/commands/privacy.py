"""``nabd privacy``: data protection (docs/privacy.md).

``retention`` (:mod:`nabd.app.commands.privacy_retention`) decides and applies how long each class
of personal data is kept; ``access-log`` (:mod:`nabd.app.commands.privacy_access`) lists who read
a patient's identity (docs/patient-rights.md).
"""

from __future__ import annotations

from nabd.app.commands import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add ``nabd privacy`` and its subcommand groups."""
    privacy = subparsers.add_parser(
        "privacy", help="data protection: retention of personal data, identity access log"
    )
    commands = privacy.add_subparsers(title="privacy commands", metavar="COMMAND", required=True)

    from nabd.app.commands.privacy_access import add_commands
    from nabd.app.commands.privacy_retention import register_under

    register_under(commands)
    add_commands(commands)
