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

    provision = commands.add_parser(
        "provision",
        help="broker account, certificate and edge.toml for a gateway, in files only it reads",
        description="Register the gateway (if new), give it a broker account and client "
        "certificate on the local stack, and write into --out everything its agent needs: "
        "CA, certificate, key, broker password and an edge.toml listing the devices the "
        "registry has on it (files 0600, folder 0700). Provision again to refresh the devices.",
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
    provision.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="local stack state folder (default: $NABD_STATE_DIR, else <checkout>/.state/stack)",
    )
    add_common(provision, writes=True)
    provision.set_defaults(handler=_provision)


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


def _provision(args: argparse.Namespace) -> int:
    from nabd.app.stack.env import EDGE, MQTT_CA_FILE, MQTT_HOST, MQTT_PORT, mqtt_vars
    from nabd.app.stack.errors import StackError
    from nabd.app.stack.lifecycle import add_gateway as add_account
    from nabd.app.stack.lifecycle import environment
    from nabd.app.stack.settings import StackSettings
    from nabd.care.gateways import add_gateway
    from nabd.care.provisioning import (
        BUNDLE_FILES,
        BrokerAccess,
        edge_toml,
        gateway_devices,
        record_provisioning,
        write_bundle,
    )
    from nabd.care.values import parse_actor, parse_id

    def action(conn: Conn) -> int:
        gateway, actor = parse_id("gateway", args.gateway), parse_actor(args.by)
        add_gateway(conn, gateway, ward=args.ward, by=actor)
        devices = gateway_devices(conn, gateway)  # refused before any account or file is made
        settings = StackSettings(
            **({} if args.state_dir is None else {"state_dir": args.state_dir})
        )
        try:
            add_account(settings, gateway)
            env = environment(settings, gateway)
            names = mqtt_vars(EDGE)
            host = args.broker_host or env[MQTT_HOST]
            broker = BrokerAccess(host, int(env[MQTT_PORT]), env[names["username"]])
            toml = edge_toml(gateway, devices, broker, data_dir=args.data_dir,
                             bumble_transport=args.bumble)  # fmt: skip
            files = {
                BUNDLE_FILES["ca"]: Path(env[MQTT_CA_FILE]).read_bytes(),
                BUNDLE_FILES["cert"]: Path(env[names["cert_file"]]).read_bytes(),
                BUNDLE_FILES["key"]: Path(env[names["key_file"]]).read_bytes(),
                BUNDLE_FILES["password"]: env[names["password"]].encode(),
                BUNDLE_FILES["config"]: toml.encode(),
            }
            write_bundle(args.out, files)
        except (StackError, OSError) as exc:
            return fail(exc)
        record_provisioning(conn, gateway, devices, by=actor)
        config = args.out / BUNDLE_FILES["config"]
        print(f"gateway {gateway}: {len(devices)} device(s) in {config}; "
              f"start it with `nabd edge run --config {config}`")  # fmt: skip
        return 0

    return run(args, action)
