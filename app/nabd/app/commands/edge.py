"""``nabd edge``: the gateway agent (BLE devices -> durable outbox -> MQTT).

The handlers import :mod:`nabd.edge` (bleak, paho-mqtt) only when they run, so ``nabd --help``
works with the base install alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nabd.app.commands import Subparsers, fail


def _run(args: argparse.Namespace) -> int:
    from nabd.edge.errors import EdgeError
    from nabd.edge.service import load_agent, serve

    try:
        agent = load_agent(args.config)
    except EdgeError as error:
        return fail(error)
    return serve(agent)


def _check(args: argparse.Namespace) -> int:
    from nabd.edge.errors import EdgeError
    from nabd.edge.service import load_agent

    try:
        agent = load_agent(args.config)
    except EdgeError as error:
        return fail(error)
    config, broker = agent.config, agent.broker
    lines = [
        f"gateway    {agent.gateway_id}" + (f" (site {config.site})" if config.site else ""),
        f"broker     {broker.host}:{broker.port} as {broker.username} (TLS, client certificate)",
        f"bluetooth  {config.ble.backend}"
        + (f" on {config.ble.transport}" if config.ble.transport else ""),
        f"outbox     {config.outbox_path}",
        f"discovery  {'on' if config.discovery.enabled else 'off'}",
    ]
    lines += [
        f"device     {d.id} {d.address}" + (f" patient {d.patient}" if d.patient else "")
        for d in config.devices
    ]
    print("\n".join(lines))
    return 0


def _status(args: argparse.Namespace) -> int:
    from nabd.edge.config import load_config
    from nabd.edge.errors import EdgeError

    try:
        path = load_config(args.config).status_path
        text = path.read_text(encoding="utf-8")
    except EdgeError as error:
        return fail(error)
    except OSError as error:
        return fail(OSError(f"no status report yet ({error.strerror}: {path})"))
    sys.stdout.write(text + "\n")
    return 0


def register(subparsers: Subparsers) -> None:
    """Add ``nabd edge`` and its actions to the CLI."""
    edge = subparsers.add_parser(
        "edge",
        help="the gateway agent: BLE health devices to MQTT, through a durable outbox",
        description="Read standard BLE health devices, keep every reading in a local outbox "
        "until ingest confirms it, and publish it over MQTT (TLS).",
    )
    actions = edge.add_subparsers(title="actions", metavar="ACTION", required=True)
    for name, handler, text in (
        ("run", _run, "run the agent until SIGTERM or Ctrl-C"),
        ("check", _check, "validate the configuration and environment, print the summary"),
        ("status", _status, "print the agent's latest status report (devices, outbox, events)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--config", type=Path, required=True, metavar="FILE", help="the gateway's TOML file"
        )
        action.set_defaults(handler=handler)
