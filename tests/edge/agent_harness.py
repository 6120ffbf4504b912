"""Building and running a real edge agent for the tests: configuration, credentials, lifetime.

The agent under test is the production one (``nabd.edge.agent.Agent``, or ``nabd edge run`` in a
subprocess), configured with the bumble backend on the virtual world's controller and the
session broker's TLS listener (or a relay in front of it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final

from nabd.app.stack.testing import MqttCredentials, RunningStack
from nabd.edge.agent import Agent
from nabd.edge.config import load_config
from nabd.edge.settings import EdgeSettings, resolve
from nabd.edge.status import DeviceHealth, DeviceState

DEADLINE: Final = 20.0
STOP_DEADLINE: Final = 15.0


def write_config(
    folder: Path,
    *,
    transport: str,
    devices: Mapping[str, str],
    outbox: Mapping[str, Any] | None = None,
    ble: Mapping[str, Any] | None = None,
    name: str = "edge.toml",
    status_interval_s: float = 0.5,
) -> Path:
    """A gateway TOML file in ``folder`` (data in ``folder/data``); ``devices`` maps device id
    to address."""
    outbox_options = {
        "batch_linger_s": 0.05,
        "ack_timeout_s": 10.0,
        **(outbox or {}),
    }
    ble_options = {
        "backend": "bumble",
        "transport": transport,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.5,
        "connect_timeout_s": 10.0,
        **(ble or {}),
    }
    lines = ['data_dir = "data"', 'site = "test-ward"', "", "[broker]", "reconnect_max_s = 1"]
    lines += ["", "[ble]"] + [f"{key} = {_toml(value)}" for key, value in ble_options.items()]
    lines += ["", "[outbox]"] + [f"{key} = {_toml(value)}" for key, value in outbox_options.items()]
    lines += ["", "[status]", f"interval_s = {status_interval_s!r}"]
    for device_id, address in devices.items():
        lines += ["", "[[devices]]", f'id = "{device_id}"', f'address = "{address}"']
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def gateway_env(
    stack: RunningStack, gateway_id: str, creds: MqttCredentials, port: int | None = None
) -> dict[str, str]:
    """The variables ``nabd stack env --gateway`` prints, optionally with another broker port."""
    return {
        "NABD_GATEWAY_ID": gateway_id,
        "NABD_MQTT_HOST": stack.mqtt_host,
        "NABD_MQTT_PORT": str(port or creds.port),
        "NABD_MQTT_CA_FILE": str(stack.ca_file),
        "NABD_EDGE_MQTT_USERNAME": creds.username,
        "NABD_EDGE_MQTT_CERT_FILE": str(creds.cert_file),
        "NABD_EDGE_MQTT_KEY_FILE": str(creds.key_file),
    }


def make_agent(config_path: Path, env: Mapping[str, str]) -> Agent:
    """The production agent, from the file and these variables (not the test's environment)."""
    settings = EdgeSettings(
        gateway_id=env["NABD_GATEWAY_ID"],
        mqtt_host=env["NABD_MQTT_HOST"],
        mqtt_port=int(env["NABD_MQTT_PORT"]),
        mqtt_ca_file=Path(env["NABD_MQTT_CA_FILE"]),
        edge_mqtt_username=env["NABD_EDGE_MQTT_USERNAME"],
        edge_mqtt_password=env.get("NABD_EDGE_MQTT_PASSWORD"),
        edge_mqtt_cert_file=Path(env["NABD_EDGE_MQTT_CERT_FILE"]),
        edge_mqtt_key_file=Path(env["NABD_EDGE_MQTT_KEY_FILE"]),
    )
    config = load_config(config_path)
    gateway_id, broker = resolve(config, settings)
    return Agent(config, gateway_id, broker)


@contextlib.asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    """Run ``agent`` in this event loop; stop it cleanly (with a deadline) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield agent
    finally:
        stop.set()
        async with asyncio.timeout(STOP_DEADLINE):
            await task


async def eventually(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Wait (polling the event loop) until ``condition`` holds, or fail after ``deadline``."""
    try:
        async with asyncio.timeout(deadline):
            # Polling on purpose: the agent's state has no event to wait on.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {deadline} s: {what}") from None


async def pending(agent: Agent) -> int:
    """Readings in the agent's outbox."""
    assert agent.reporter is not None, "the agent is not running"
    return (await agent.reporter.report()).outbox.pending


async def until(
    check: Callable[[], Awaitable[bool]], what: str, deadline: float = DEADLINE
) -> None:
    """Like :func:`eventually`, for a condition that must be awaited."""
    try:
        async with asyncio.timeout(deadline):
            while not await check():  # noqa: ASYNC110 (polling, as above)
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {deadline} s: {what}") from None


def state_of(agent: Agent, device_id: str) -> DeviceState | None:
    health: DeviceHealth | None = agent.devices.get(device_id)
    return None if health is None else health.state
