"""``nabd ward add|list|beds|add-beds``: wards and their beds (nabd.care.wards, docs/care.md)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers
from nabd.app.commands.care_shell import add_common, print_table, run

if TYPE_CHECKING:
    from nabd.care.store import Conn


def register(subparsers: Subparsers) -> None:
    """Add ``nabd ward`` and its subcommands."""
    ward = subparsers.add_parser("ward", help="wards and their beds (care operations)")
    commands = ward.add_subparsers(title="ward commands", metavar="COMMAND", required=True)

    add = commands.add_parser(
        "add",
        help="register a ward",
        description="Register a ward. Repeating it with the same name changes nothing.",
    )
    add.add_argument("ward", metavar="WARD", help="ward id, e.g. icu-2 (lower case)")
    add.add_argument("--name", required=True, help="the ward's name as people say it")
    add_common(add, writes=True)
    add.set_defaults(handler=_add)

    listing = commands.add_parser("list", help="wards with their beds and admitted patients")
    add_common(listing, writes=False)
    listing.set_defaults(handler=_list)

    beds = commands.add_parser("beds", help="a ward's beds, their gateway and patient")
    beds.add_argument("ward", metavar="WARD")
    add_common(beds, writes=False)
    beds.set_defaults(handler=_beds)

    add_beds = commands.add_parser(
        "add-beds",
        help="add beds to a ward (optionally served by a gateway)",
        description="Add beds to a ward. A bed's gateway is the one its patient's devices are "
        "registered to. Beds that exist with the same gateway are left alone.",
    )
    add_beds.add_argument("ward", metavar="WARD")
    add_beds.add_argument("beds", metavar="BED", nargs="+", help="bed labels, e.g. 1 2 3 or B-4")
    add_beds.add_argument("--gateway", metavar="GATEWAY", help="the gateway serving these beds")
    add_common(add_beds, writes=True)
    add_beds.set_defaults(handler=_add_beds)

    set_gateway = commands.add_parser(
        "set-gateway",
        help="have a gateway serve beds (moves their patients' devices to it)",
        description="Have GATEWAY (or none) serve these beds, adding missing ones. The devices "
        "worn by the beds' patients now are registered to it, so its readings of them are "
        "accepted from then on. Beds it serves already are left alone.",
    )
    set_gateway.add_argument("ward", metavar="WARD")
    set_gateway.add_argument("beds", metavar="BED", nargs="+")
    which = set_gateway.add_mutually_exclusive_group(required=True)
    which.add_argument("--gateway", metavar="GATEWAY")
    which.add_argument("--no-gateway", action="store_true", help="no gateway serves them")
    add_common(set_gateway, writes=True)
    set_gateway.set_defaults(handler=_set_gateway)


def _set_gateway(args: argparse.Namespace) -> int:
    from nabd.care.wards import set_bed_gateway

    def action(conn: Conn) -> int:
        gateway = None if args.no_gateway else args.gateway
        added, moved = set_bed_gateway(conn, args.ward, args.beds, gateway=gateway, by=args.by)
        print(
            f"ward {args.ward.strip()}: gateway {gateway or 'none'}; beds added: "
            f"{', '.join(added) or 'none'}; beds moved: {', '.join(moved) or 'none'}"
        )
        return 0

    return run(args, action)


def _add(args: argparse.Namespace) -> int:
    from nabd.care.wards import add_ward

    def action(conn: Conn) -> int:
        added = add_ward(conn, args.ward, args.name, by=args.by)
        print(f"ward {args.ward.strip()}: " + ("added" if added else "exists already; unchanged"))
        return 0

    return run(args, action)


def _list(args: argparse.Namespace) -> int:
    from nabd.care.wards import list_wards

    def action(conn: Conn) -> int:
        print_table(
            f"{'WARD':<20} {'BEDS':>4} {'ADMITTED':>8}  NAME",
            (f"{w.id:<20} {w.beds:>4} {w.admitted:>8}  {w.name}" for w in list_wards(conn)),
        )
        return 0

    return run(args, action)


def _beds(args: argparse.Namespace) -> int:
    from nabd.care.wards import list_beds

    def action(conn: Conn) -> int:
        print_table(
            f"{'BED':<12} {'GATEWAY':<24} PATIENT",
            (
                f"{b.id:<12} {b.gateway_id or '-':<24} {b.patient_id or '-'}"
                for b in list_beds(conn, args.ward)
            ),
        )
        return 0

    return run(args, action)


def _add_beds(args: argparse.Namespace) -> int:
    from nabd.care.wards import add_beds

    def action(conn: Conn) -> int:
        new = add_beds(conn, args.ward, args.beds, gateway=args.gateway, by=args.by)
        added = ", ".join(new) if new else "none (all existed already)"
        print(f"ward {args.ward.strip()}: beds added: {added}")
        return 0

    return run(args, action)
