"""The agent stops when asked, even if its Bluetooth stack fails at that very moment.

A failing stack is retried forever, so a cancellation that the stack's cleanup turns into an
ordinary error (a nested TaskGroup failing as it is cancelled, a transport that raises on
close) must still end the retry loop: otherwise ``nabd edge run`` ignores SIGTERM and has to be
killed, which the demo's shutdown met when the virtual radio went away first.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

import pytest

import nabd.edge.agent as agent_module
from nabd.app.stack.testing import RunningStack
from nabd.edge.ble.backend import OpenBackend
from nabd.edge.errors import BleTransportError
from tests.edge.agent_harness import STOP_DEADLINE, gateway_env, make_agent, write_config

pytestmark = pytest.mark.integration

OPENING: Final = 0.5


class _StackThatMasksCancellation:
    """A Bluetooth stack whose opening never completes and which, when cancelled, raises its
    own error instead of the cancellation (as bumble's cleanup can when its controller is gone)."""

    def __init__(self, *_: object) -> None:
        pass

    async def __aenter__(self) -> OpenBackend:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            raise BleTransportError("the controller went away while closing") from exc
        raise BleTransportError("never opens")

    async def __aexit__(self, *_: object) -> None:
        return None


def test_stop_is_not_swallowed_by_a_failing_stack(
    nabd_stack: RunningStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_module, "open_backend", _StackThatMasksCancellation)
    creds = nabd_stack.add_gateway("gw-stop-01")
    devices = {"hr-stop": "F0:00:00:00:00:31"}
    config = write_config(tmp_path, transport="tcp-client:127.0.0.1:9", devices=devices)
    agent = make_agent(config, gateway_env(nabd_stack, "gw-stop-01", creds))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await asyncio.sleep(OPENING)  # the stack is "opening" now
        stop.set()
        async with asyncio.timeout(STOP_DEADLINE):
            await task

    asyncio.run(scenario())
