"""``nabd device add|assign|unassign|list|show``: devices and who wears them (nabd.care.devices).

See docs/care.md: a device is registered by its Bluetooth address, assigned to one admitted
patient at a time, and registered to the gateway of its patient's bed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers
from nabd.app.commands.care_shell import add_common, at, print_table, read_text, run

if TYPE_CHECKING:
    from nabd.care.devices import Device
    from nabd.care.store import Conn

KINDS = ("heart_rate_strap", "pulse_oximeter", "thermometer", "bp_cuff", "glucose_meter",
         "scale", "ghs")  # fmt: skip
"""Shown in --help; nabd.care.values.DEVICE_KINDS is the rule (a test keeps them equal)."""


def register(subparsers: Subparsers) -> None:
    """Add ``nabd device`` and its subcommands."""
    device = subparsers.add_parser("device", help="devices and assignments (care operations)")
    commands = device.add_subparsers(title="device commands", metavar="COMMAND", required=True)

    add = commands.add_parser(
        "add",
        help="register a device by its Bluetooth address",
        description="Register a device. Repeating it with the same fields changes nothing; the "
        "same id or address with other fields is refused.",
    )
    add.add_argument("device", metavar="DEVICE", help="device id, e.g. strap-12 (lower case)")
    add.add_argument("--kind", required=True, metavar="KIND", help=" | ".join(KINDS))
    add.add_argument("--address", required=True, help="Bluetooth address AA:BB:CC:DD:EE:FF")
    add.add_argument("--serial")
    add.add_argument("--model")
    add.add_argument(
        "--manufacturer", help="as the device reports it (Device Information); checked by ingest"
    )
    add.add_argument("--gateway", metavar="GATEWAY", help="default: its patient's bed's gateway")
    add_common(add, writes=True)
    add.set_defaults(handler=_add)

    assign = commands.add_parser(
        "assign",
        help="assign a device to an admitted patient",
        description="The device measures PATIENT from --from (default now) until unassigned or "
        "discharged. Readings it sent since --from while assigned to nobody are re-attributed.",
    )
    assign.add_argument("device", metavar="DEVICE")
    assign.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    assign.add_argument(
        "--from",
        dest="start",
        metavar="TIME",
        help="ISO 8601 with offset, e.g. 2026-12-06T09:30+01:00 (not in the future)",
    )
    add_common(assign, writes=True)
    assign.set_defaults(handler=_assign)

    unassign = commands.add_parser("unassign", help="end a device's current assignment now")
    unassign.add_argument("device", metavar="DEVICE")
    add_common(unassign, writes=True)
    unassign.set_defaults(handler=_unassign)

    bulk = commands.add_parser(
        "import",
        help="register devices from a CSV file, all or nothing",
        description="Register every row's device, or none: every bad row is reported by its "
        "line number. Header: id,kind,address[,serial][,model][,manufacturer][,gateway].",
    )
    bulk.add_argument("file", type=Path, metavar="FILE.csv", help="'-' for stdin")
    add_common(bulk, writes=True)
    bulk.set_defaults(handler=_import)

    listing = commands.add_parser("list", help="devices with patient, gateway, last seen, battery")
    listing.add_argument("--gateway", metavar="GATEWAY")
    add_common(listing, writes=False)
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one device and its assignment history")
    show.add_argument("device", metavar="DEVICE")
    add_common(show, writes=False)
    show.set_defaults(handler=_show)


def _add(args: argparse.Namespace) -> int:
    from nabd.care.devices import add_device
    from nabd.care.values import DeviceSpec

    def action(conn: Conn) -> int:
        spec = DeviceSpec.parse(device_id=args.device, kind=args.kind, address=args.address,
                                serial=args.serial, model=args.model,
                                manufacturer=args.manufacturer)  # fmt: skip
        added = add_device(conn, spec, gateway=args.gateway, by=args.by)
        print(f"device {spec.id} ({spec.kind}, {spec.address}): "
              + ("added" if added else "registered already; unchanged"))  # fmt: skip
        return 0

    return run(args, action)


def _assign(args: argparse.Namespace) -> int:
    from nabd.care.devices import assign
    from nabd.care.values import parse_time

    def action(conn: Conn) -> int:
        start = None if args.start is None else parse_time(args.start)
        a = assign(conn, args.device, args.patient, start=start, by=args.by)
        verb = "assigned to" if a.changed else "already assigned to"
        print(f"device {a.device_id}: {verb} {a.patient_id} since {at(a.start)}, "
              f"gateway {a.gateway_id or 'none'}")  # fmt: skip
        if a.gateway_id is None:
            print(
                f"nabd: warning: device {a.device_id} has no gateway: its readings are refused "
                "until its patient's bed has one (`nabd ward add-beds --gateway`)",
                file=sys.stderr,
            )
        return 0

    return run(args, action)


def _unassign(args: argparse.Namespace) -> int:
    from nabd.care.devices import unassign

    def action(conn: Conn) -> int:
        patient = unassign(conn, args.device, by=args.by)
        shown = f"no longer assigned to {patient}" if patient else "was assigned to nobody"
        print(f"device {args.device.strip()}: {shown}")
        return 0

    return run(args, action)


def _line(d: Device) -> str:
    battery = "-" if d.battery_level is None else f"{d.battery_level:.0f}%"
    flag = "  ! not as registered" if d.identity_mismatch else ""
    return (
        f"{d.id:<20} {d.kind:<16} {d.address or '-':<17} {d.patient_id or '-':<16} "
        f"{d.gateway_id or '-':<16} {at(d.last_seen_at):<21} {battery:>7}  {d.connection or '-'}"
        f"{flag}"
    )


def _reported(d: Device) -> str:
    r = d.reported
    if r is None:
        return "- (not read yet)"
    parts = (("manufacturer", r.manufacturer), ("model", r.model), ("serial", r.serial),
             ("firmware", r.firmware))  # fmt: skip
    said = ", ".join(f"{label} {value}" for label, value in parts if value is not None)
    return f"{said or 'no strings'} (since {at(r.at)})"


def _identity_warning(d: Device) -> str:
    return (
        f"nabd: warning: device {d.id} {d.identity_mismatch} (since "
        f"{at(d.identity_mismatch_since)}): check that the device worn is the one registered, "
        "then swap it or correct the registration"
    )


def _list(args: argparse.Namespace) -> int:
    from nabd.care.devices import list_devices

    def action(conn: Conn) -> int:
        header = (f"{'DEVICE':<20} {'KIND':<16} {'ADDRESS':<17} {'PATIENT':<16} {'GATEWAY':<16} "
                  f"{'LAST SEEN':<21} {'BATTERY':>7}  CONNECTION")  # fmt: skip
        print_table(header, map(_line, list_devices(conn, gateway=args.gateway)))
        return 0

    return run(args, action)


def _show(args: argparse.Namespace) -> int:
    from nabd.care.devices import show_device

    def action(conn: Conn) -> int:
        d = show_device(conn, args.device)
        battery = "-" if d.battery_level is None else f"{d.battery_level:.0f}%"
        for label, value in (
            ("device", d.id), ("kind", d.kind), ("address", d.address or "-"),
            ("serial", d.serial or "-"), ("model", d.model or "-"),
            ("manufacturer", d.manufacturer or "-"), ("reported", _reported(d)),
            ("registered", at(d.registered_at)), ("gateway", d.gateway_id or "-"),
            ("connection", d.connection or "-"), ("last seen", at(d.last_seen_at)),
            ("battery", battery), ("patient", d.patient_id or "-"),
        ):  # fmt: skip
            print(f"{label:<13}{value}")
        if d.identity_mismatch:
            print(f"{'identity':<13}NOT AS REGISTERED: {d.identity_mismatch}")
            print(_identity_warning(d), file=sys.stderr)
        print("assignments:" if d.history else "assignments: none")
        for h in d.history:
            ended = "" if h.ended_by is None else f", ended by {h.ended_by}"
            print(f"  {h.patient_id:<16} {at(h.start)} to {at(h.end) if h.end else 'now':<21} "
                  f"by {h.assigned_by}{ended}")  # fmt: skip
        return 0

    return run(args, action)


def _import(args: argparse.Namespace) -> int:
    from nabd.care.imports import DEVICE_COLUMNS, import_devices, read_rows

    def action(conn: Conn) -> int:
        rows = read_rows(read_text(args.file), DEVICE_COLUMNS)
        for line, outcome in import_devices(conn, rows, by=args.by):
            print(f"line {line}: {outcome}")
        return 0

    return run(args, action)
