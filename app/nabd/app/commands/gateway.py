"""``nabd gateway add|list|provision``: gateways in the registry (nabd.care, docs/care.md).

``add`` records that a gateway exists and on which ward, so beds and devices can name it.
``provision`` also gives it a broker account and certificate on the local stack (as
``nabd stack gateway add``) and writes the folder the gateway starts from
(:mod:`nabd.care.provisioning`): this module composes the two, which know nothing of each other.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.care_shell import add_common, at, run

if TYPE_CHECKING:
    from nabd.app.stack.settings import StackSettings
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

    show = commands.add_parser("show", help="a gateway: state, beds, devices")
    show.add_argument("gateway", metavar="GATEWAY")
    add_common(show, writes=False)
    show.set_defaults(handler=_show)

    seen = commands.add_parser(
        "seen",
        help="devices a gateway reports that are not registered to it (to pick from)",
        description="Devices in the gateway's latest status that the registry does not have on "
        "it, strongest signal first; a discovered device's address is shown when its id has "
        "the discovery form (ble-f0f1f2f3f405).",
    )
    seen.add_argument("gateway", metavar="GATEWAY")
    add_common(seen, writes=False)
    seen.set_defaults(handler=_seen)

    revoke = commands.add_parser(
        "revoke",
        help="revoke a gateway: its broker account goes, its connection ends at once",
        description="Remove the gateway's broker account on the local stack (the broker drops "
        "its connection on reload; a hospital's own broker: remove it from its ACL) and mark it "
        "revoked in the registry. Repeating it changes nothing.",
    )
    revoke.add_argument("gateway", metavar="GATEWAY")
    _state_dir(revoke)
    add_common(revoke, writes=True)
    revoke.set_defaults(handler=_revoke)

    provision = commands.add_parser(
        "provision",
        help="broker account, certificate and edge.toml for a gateway, in files only it reads",
        description="Register the gateway (if new), give it a broker account and client "
        "certificate on the local stack, and write into --out everything its agent needs: "
        "CA, certificate and key (its identity on the gateway listener) and an edge.toml "
        "listing the devices the registry has on it as an offline fallback (files 0600, folder "
        "0700); the running agent gets its devices from the server, live.",
    )
    provision.add_argument("gateway", metavar="GATEWAY")
    provision.add_argument("--out", required=True, type=Path, metavar="DIR")
    provision.add_argument("--ward", metavar="WARD", help="the ward it serves (if new)")
    provision.add_argument(
        "--broker-host", help="the broker's name as the gateway reaches it (default: the stack's)"
    )
    provision.add_argument(
        "--data-dir", default="/var/lib/nabd-edge", help="the agent's data folder on the gateway"
    )
    provision.add_argument(
        "--bumble", metavar="TRANSPORT", help="drive the radio with bumble on TRANSPORT"
    )
    _state_dir(provision)
    add_common(provision, writes=True)
    provision.set_defaults(handler=_provision)


def _state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="local stack state folder (default: $NABD_STATE_DIR, else <checkout>/.state/stack)",
    )


def _stack_settings(args: argparse.Namespace) -> StackSettings:
    from nabd.app.stack.settings import StackSettings

    state = {} if args.state_dir is None else {"state_dir": args.state_dir}
    return StackSettings(**state)


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
        if not rows:
            print("none")
        return 0

    return run(args, action)


def _provision(args: argparse.Namespace) -> int:
    from nabd.app.gateway_bundle import bundle_files
    from nabd.app.stack.errors import StackError
    from nabd.care.gateways import add_gateway
    from nabd.care.provisioning import (
        BUNDLE_FILES,
        gateway_devices,
        record_provisioning,
        write_bundle,
    )
    from nabd.care.values import parse_actor, parse_id

    def action(conn: Conn) -> int:
        gateway, actor = parse_id("gateway", args.gateway), parse_actor(args.by)
        add_gateway(conn, gateway, ward=args.ward, by=actor)
        devices = gateway_devices(conn, gateway)  # may be none: the server sends the list
        try:
            files = bundle_files(_stack_settings(args), gateway, devices,
                                 broker_host=args.broker_host, data_dir=args.data_dir,
                                 bumble=args.bumble)  # fmt: skip
            write_bundle(args.out, files)
        except (StackError, OSError) as exc:
            return fail(exc)
        record_provisioning(conn, gateway, devices, by=actor)
        config = args.out / BUNDLE_FILES["config"]
        print(f"gateway {gateway}: {len(devices)} device(s) in {config}; "
              f"start it with `nabd edge run --config {config}`")  # fmt: skip
        return 0

    return run(args, action)


def _show(args: argparse.Namespace) -> int:
    from nabd.care.devices import list_devices
    from nabd.care.gateways import show_gateway

    def action(conn: Conn) -> int:
        detail = show_gateway(conn, args.gateway)
        devices = list_devices(conn, gateway=detail.gateway.id)
        g = detail.gateway
        state = "revoked " + at(g.revoked_at) if g.revoked_at else g.last_status or "-"
        pending = "-" if detail.outbox_pending is None else str(detail.outbox_pending)
        for label, value in (
            ("gateway", g.id), ("ward", g.ward_id or "-"), ("state", state),
            ("last seen", at(g.last_seen_at)), ("status at", at(detail.status_at)),
            ("software", detail.software_version or "-"), ("outbox", pending),
            ("beds", ", ".join(detail.beds) or "-"), ("registered", at(g.registered_at)),
        ):  # fmt: skip
            print(f"{label:<11}{value}")
        print("devices:" if devices else "devices:   none")
        for d in devices:
            battery = "-" if d.battery_level is None else f"{d.battery_level:.0f}%"
            print(f"  {d.id:<20} {d.kind:<16} {d.address or '-':<17} {d.patient_id or '-':<16} "
                  f"{d.connection or '-':<10} {battery}")  # fmt: skip
        return 0

    return run(args, action)


def _seen(args: argparse.Namespace) -> int:
    from nabd.care.gateways import heard_devices, seen_devices

    def action(conn: Conn) -> int:
        rows = seen_devices(conn, args.gateway)
        print(
            f"{'DEVICE':<24} {'ADDRESS':<17} {'STATE':<10} {'RSSI':>5} {'BATTERY':>7}  REGISTERED"
        )
        for s in rows:
            rssi = "-" if s.rssi_dbm is None else str(s.rssi_dbm)
            battery = "-" if s.battery_percent is None else f"{s.battery_percent}%"
            where = "no" if s.registered_to is None else f"to {s.registered_to}"
            print(f"{s.device_id:<24} {s.address or '-':<17} {s.state:<10} {rssi:>5} "
                  f"{battery:>7}  {where}")  # fmt: skip
        if not rows:
            print("none")
        heard = heard_devices(conn, args.gateway)
        if heard:
            print("\nheard advertising, not read (register one with `nabd device add`):")
            print(f"{'ADDRESS':<17} {'RSSI':>5}  {'SERVICES':<28} REGISTERED AS")
            for h in heard:
                rssi = "-" if h.rssi_dbm is None else str(h.rssi_dbm)
                services = ",".join(h.services) or "-"
                print(f"{h.address:<17} {rssi:>5}  {services:<28} {h.registered_as or '-'}")
        return 0

    return run(args, action)


def _revoke(args: argparse.Namespace) -> int:
    from nabd.app.stack.errors import StackError
    from nabd.app.stack.lifecycle import environment, remove_gateway
    from nabd.care.gateways import revoke_gateway, show_gateway
    from nabd.care.values import parse_actor, parse_id

    def action(conn: Conn) -> int:
        gateway, actor = parse_id("gateway", args.gateway), parse_actor(args.by)
        show_gateway(conn, gateway)  # an unknown gateway is refused before the broker is touched
        settings = _stack_settings(args)
        try:
            environment(settings, gateway)  # raises if it has no account (revoked already)
        except StackError:
            had_account = False
        else:
            had_account = True
        if had_account:
            try:
                remove_gateway(settings, gateway)  # the broker drops its connection on reload
            except StackError as exc:
                return fail(exc)
        revoked = revoke_gateway(conn, gateway, by=actor)
        account = "broker account removed" if had_account else "no broker account on this stack"
        shown = f"revoked at {at(revoked)}" if revoked else "revoked already"
        print(f"gateway {gateway}: {shown}; {account}")
        return 0

    return run(args, action)
