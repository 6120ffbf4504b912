"""Helpers of the care-operations tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import psycopg

from nabd.edge.agent import Agent
from nabd.edge.config import load_config
from nabd.edge.settings import EdgeSettings, resolve
from nabd.edge.status import DeviceState
from tests.edge.agent_harness import eventually

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]
Run: TypeAlias = Callable[..., tuple[int, str, str]]
"""``run(*args)`` -> (exit status, stdout, stderr) of ``nabd ARGS`` as the care login."""


def token() -> str:
    """A short random suffix: tests share the module's database."""
    return secrets.token_hex(3)


def agent_from(config_path: Path) -> Agent:
    """The production agent from a provisioned ``edge.toml`` alone (no NABD_* variables)."""
    config = load_config(config_path)
    gateway_id, broker = resolve(config, EdgeSettings.model_construct())
    return Agent(config, gateway_id, broker)


async def serving(agent: Agent, device: str) -> None:
    """Wait until the agent is connected to ``device`` (listed to it live, no restart)."""
    await eventually(
        lambda: device in agent.devices and agent.devices[device].state is DeviceState.CONNECTED,
        f"gateway {agent.gateway_id} connected to {device} (no restart)",
    )
