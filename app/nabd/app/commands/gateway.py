"""``nabd gateway add|list``: gateways in the registry (nabd.care.gateways, docs/care.md).

The gateway's broker account and certificate are the deployment's (``nabd stack gateway add``
locally); this records that it exists and on which ward, so beds and devices can name it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers
from nabd.app.commands.care_shell import add_common, at, run

if TYPE_CHECKING:
    from nabd.care.store import Conn


def register(subparsers: Subparsers) -> None:
    """Add ``nabd gateway`` and its subcommands."""
    gateway = subparsers.add_parser("gateway", help="gateways in the registry (care operations)")
    commands = gateway.add_subparsers(title="gateway commands", metavar="COMMAND", required=True)
    add = commands.add_parser(
        "add",
        help="register a gateway (its broker account is made separately)",
        description="Register a gateway so beds and devices can name it. Repeating it with the "
        "same ward changes nothing.",
    )
    add.add_argument("gateway", metavar="GATEWAY", help="gateway id, as its broker login")
    add.add_argument("--ward", metavar="WARD", help="the ward it serves")
    add_common(add, writes=True)
    add.set_defaults(handler=_add)

    listing = commands.add_parser("list", help="gateways, their state and number of devices")
    add_common(listing, writes=False)
    listing.set_defaults(handler=_list)


def _add(args: argparse.Namespace) -> int:
    from nabd.care.gateways import add_gateway

    def action(conn: Conn) -> int:
        added = add_gateway(conn, args.gateway, ward=args.ward, by=args.by)
        shown = "added" if added else "exists already; unchanged"
        print(f"gateway {args.gateway.strip()}: {shown}")
        return 0

    return run(args, action)


def _list(args: argparse.Namespace) -> int:
    from nabd.care.gateways import list_gateways

    def action(conn: Conn) -> int:
        rows = list_gateways(conn)
        print(f"{'GATEWAY':<24} {'WARD':<16} {'STATE':<8} {'LAST SEEN':<21} DEVICES")
        for g in rows:
            state = "revoked" if g.revoked_at else g.last_status or "-"
            print(
                f"{g.id:<24} {g.ward_id or '-':<16} {state:<8} {at(g.last_seen_at):<21} {g.devices}"
            )
        return 0

    return run(args, action)
