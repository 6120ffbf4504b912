"""Helpers of the care tests that run a production edge agent from a provisioned folder: build
it from its ``edge.toml`` alone, and wait until it reads or releases a device."""

from __future__ import annotations

from pathlib import Path

from nabd.edge.agent import Agent
from nabd.edge.config import load_config
from nabd.edge.settings import EdgeSettings, resolve
from nabd.edge.status import DeviceState
from tests.edge.agent_harness import eventually

__all__ = ["agent_from", "released", "serving"]


def agent_from(config_path: Path) -> Agent:
    """The production agent from the provisioned file alone (no NABD_* variables)."""
    config = load_config(config_path)
    gateway_id, broker = resolve(config, EdgeSettings.model_construct())
    return Agent(config, gateway_id, broker)


async def serving(agent: Agent, device: str) -> None:
    """Until the agent is connected to ``device`` (it learnt it from its list, no restart)."""
    await eventually(
        lambda: device in agent.devices and agent.devices[device].state is DeviceState.CONNECTED,
        f"gateway {agent.gateway_id} connected to {device} (no restart)",
    )


async def released(agent: Agent, device: str) -> None:
    """Until the agent no longer reads ``device``."""
    await eventually(
        lambda: device not in agent.devices, f"gateway {agent.gateway_id} released {device}"
    )
