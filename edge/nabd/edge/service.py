"""Running the agent as a service: configuration in, signals handled, exit status out.

``nabd edge run`` calls :func:`serve`. SIGTERM (systemd's stop) and SIGINT end the agent cleanly:
readings already received are committed, ``offline`` is published, the outbox is closed. Bad
configuration exits with status 1 and one line saying which field is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from nabd.edge.agent import Agent
from nabd.edge.config import load_config
from nabd.edge.settings import read_settings, resolve

__all__ = ["load_agent", "serve"]

log = logging.getLogger(__name__)


def load_agent(config_path: Path) -> Agent:
    """An agent from the file and the environment; raises ``EdgeConfigError``."""
    config = load_config(config_path)
    gateway_id, broker = resolve(config, read_settings())
    return Agent(config, gateway_id, broker)


def serve(agent: Agent) -> int:
    """Run ``agent`` until SIGTERM or SIGINT; returns the exit status."""
    asyncio.run(_serve(agent))
    return 0


async def _serve(agent: Agent) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
