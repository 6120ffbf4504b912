"""``nabd stack``: run, stop and inspect the local PostgreSQL + TimescaleDB and Mosquitto.

The handlers import :mod:`nabd.app.stack.lifecycle` (psycopg, cryptography) only when they run,
so that ``nabd --help`` works with the base install alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Handler, Subparsers, fail
from nabd.app.stack.env import render_exports
from nabd.app.stack.errors import StackError
from nabd.app.stack.settings import StackSettings

if TYPE_CHECKING:
    from nabd.app.stack.lifecycle import StackStatus

NOT_RUNNING = 3
"""``stack status`` exit code when a server is down (as ``pg_ctl status`` and LSB scripts do)."""


def _settings(args: argparse.Namespace) -> StackSettings:
    return StackSettings() if args.state_dir is None else StackSettings(state_dir=args.state_dir)


def _guarded(action: Handler) -> Handler:
    """Turn the stack's own errors into a one-line message and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except StackError as exc:
            return fail(exc)

    return run


def _describe(status: StackStatus) -> str:
    def line(service: str, running: bool, port: int, extra: str) -> str:
        state = "running" if running else "stopped"
        return f"{service:<10} {state:<8} 127.0.0.1:{port:<6} {extra}".rstrip()

    ts = status.timescaledb
    features = (
        f"timescaledb {ts.version} (license {ts.license}; compression "
        f"{'yes' if ts.compression else 'no'}, continuous aggregates "
        f"{'yes' if ts.continuous_aggregates else 'no'}, background jobs "
        f"{'yes' if ts.background_jobs else 'no'})"
        if ts is not None
        else ""
    )
    gateways = ", ".join(status.gateways) or "none"
    nodes = [f"{'ha node':<10} {node}" for node in status.cluster]
    listener = "" if status.gateway_port is None else f"; gateways 127.0.0.1:{status.gateway_port}"
    return "\n".join(
        [
            line("postgres", status.postgres.running, status.postgres.port, features),
            line("mosquitto", status.mosquitto.running, status.mosquitto.port, f"TLS{listener}"),
            *nodes,
            f"{'gateways':<10} {gateways}",
            f"{'state':<10} {status.state_dir}",
        ]
    )


def _up(args: argparse.Namespace) -> int:
    from nabd.app.stack.lifecycle import up

    print(_describe(up(_settings(args), want_ha=args.ha)))
    print('nabd: ready; load the variables with: eval "$(nabd stack env)"', file=sys.stderr)
    return 0


def _down(args: argparse.Namespace) -> int:
    from nabd.app.stack.lifecycle import down

    down(_settings(args))
    return 0


def _status(args: argparse.Namespace) -> int:
    from nabd.app.stack.lifecycle import status

    result = status(_settings(args))
    print(_describe(result))
    return 0 if result.running else NOT_RUNNING


def _env(args: argparse.Namespace) -> int:
    from nabd.app.stack.lifecycle import environment

    sys.stdout.write(render_exports(environment(_settings(args), args.gateway)))
    return 0


def _gateway_add(args: argparse.Namespace) -> int:
    from nabd.app.stack.lifecycle import add_gateway, add_gateways

    if len(args.gateway_ids) == 1:
        add_gateway(_settings(args), args.gateway_ids[0])
    else:
        add_gateways(_settings(args), args.gateway_ids)
    return 0


def _gateway_remove(args: argparse.Namespace) -> int:
    from nabd.app.stack.lifecycle import remove_gateway

    remove_gateway(_settings(args), args.gateway_id)
    return 0


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="state folder (default: $NABD_STATE_DIR, else <checkout>/.state/stack)",
    )
    return common


def _help(parser: argparse.ArgumentParser) -> Handler:
    def show(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _register_gateway(actions: Subparsers, common: argparse.ArgumentParser) -> None:
    gateway = actions.add_parser("gateway", help="add or remove a gateway's broker account")
    gateway.set_defaults(handler=_help(gateway))
    verbs = gateway.add_subparsers(title="actions", metavar="ACTION")
    add = verbs.add_parser(
        "add",
        parents=[common],
        help="create accounts and client certificates (a running broker gets them at once)",
    )
    add.add_argument(
        "gateway_ids", metavar="ID", nargs="+", help="gateway id, also its MQTT username"
    )
    add.set_defaults(handler=_guarded(_gateway_add))
    remove = verbs.add_parser(
        "remove",
        parents=[common],
        help="revoke a gateway: disconnected, session discarded, certificate revoked (no restart)",
    )
    remove.add_argument("gateway_id", metavar="ID")
    remove.set_defaults(handler=_guarded(_gateway_remove))


def register(subparsers: Subparsers) -> None:
    """Add ``nabd stack`` and its actions to the CLI."""
    stack = subparsers.add_parser(
        "stack",
        help="local PostgreSQL + TimescaleDB and Mosquitto (TLS) for development and tests",
        description=(
            "Run a private PostgreSQL cluster with TimescaleDB and a TLS-only Mosquitto from a "
            "state folder, on free 127.0.0.1 ports, beside the machine's own services."
        ),
    )
    stack.set_defaults(handler=_help(stack))
    common = _common()
    actions = stack.add_subparsers(title="actions", metavar="ACTION")
    up = actions.add_parser(
        "up",
        parents=[common],
        help="create what is missing, start what is stopped, wait until ready",
    )
    up.add_argument(
        "--ha",
        action="store_true",
        help=(
            "a new stack runs two PostgreSQL servers under Patroni with one local etcd "
            "(automatic failover; Debian packages patroni and etcd-server)"
        ),
    )
    up.set_defaults(handler=_guarded(_up))
    for name, handler, text in (
        ("down", _down, "stop every server (PostgreSQL with -m fast)"),
        ("status", _status, "show each server, its port and TimescaleDB's features"),
    ):
        actions.add_parser(name, parents=[common], help=text).set_defaults(
            handler=_guarded(handler)
        )
    env = actions.add_parser(
        "env", parents=[common], help="print `export NAME=value` lines (includes secrets)"
    )
    env.add_argument(
        "--gateway", metavar="ID", default=None, help="print one gateway's variables instead"
    )
    env.set_defaults(handler=_guarded(_env))
    _register_gateway(actions, common)
