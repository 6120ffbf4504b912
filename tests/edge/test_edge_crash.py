"""``kill -9`` of the agent process loses nothing that was in the outbox.

The agent runs as the service does (``nabd edge run --config``, in a subprocess), reads a
virtual strap over the bumble backend, and cannot reach the broker, so every reading stays in
its outbox. After SIGKILL, the outbox is read as it is on disk; a second agent process with
the same data folder (and no Bluetooth at all: its controller is unreachable) must deliver every
one of those readings to ingest, then empty the outbox.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import pytest

from nabd.app.stack.testing import RunningStack
from tests.edge.agent_harness import gateway_env, write_config
from tests.edge.ingest_peer import IngestPeer
from tests.edge.tcp_relay import free_port
from tests.edge.virtual_peripherals import VirtualWorld

pytestmark = pytest.mark.integration

HR: Final = "F0:00:00:00:00:21"
DEADLINE: Final = 20.0
Identity = tuple[str, int, str]


def _outbox(path: Path) -> set[Identity]:
    """The identities stored in the outbox (its WAL included), read as another process would."""
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT device_id, seq, metric FROM reading").fetchall()
    return {(str(d), int(s), str(m)) for d, s, m in rows}


async def _outbox_reaches(
    path: Path, what: str, check: Callable[[set[Identity]], bool]
) -> set[Identity]:
    try:
        async with asyncio.timeout(DEADLINE):
            while True:
                found = await asyncio.to_thread(_outbox, path)
                if check(found):
                    return found
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out: {what}") from None


async def _agent(config: Path, env: Mapping[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nabd.app.cli",
            "edge",
            "run",
            "--config",
            str(config),
            env={**os.environ, **env},
            stdout=out,
            stderr=out,
        )


def test_kill_9_loses_nothing_that_was_in_the_outbox(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-crash"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)
    outbox = tmp_path / "data" / "outbox.sqlite3"
    sent = 30

    async def scenario() -> tuple[set[Identity], int | None]:
        async with VirtualWorld.running() as world:
            strap = await world.add("heart_rate", HR, "strap")
            first = write_config(
                tmp_path, transport=world.transport_spec, devices={"hr-01": HR}, name="first.toml"
            )
            unreachable = gateway_env(nabd_stack, gateway, creds, port=free_port())
            process = await _agent(first, unreachable, tmp_path / "first.log")
            try:
                await strap.wait_subscribed()
                for i in range(sent):
                    await strap.send_heart_rate(100 + i)
                stored = await _outbox_reaches(
                    outbox,
                    "every heart rate stored",
                    lambda ids: sum(m == "heart_rate" for _, _, m in ids) >= sent,
                )
            finally:
                process.send_signal(signal.SIGKILL)
                async with asyncio.timeout(DEADLINE):
                    await process.wait()
        after_kill = await asyncio.to_thread(_outbox, outbox)
        assert after_kill >= stored
        second = write_config(
            tmp_path,
            transport=f"tcp-client:127.0.0.1:{free_port()}",  # no Bluetooth this time
            devices={"hr-01": HR},
            name="second.toml",
        )
        process = await _agent(
            second, gateway_env(nabd_stack, gateway, creds), tmp_path / "second.log"
        )
        try:
            await asyncio.to_thread(
                ingest.wait_until,
                lambda: after_kill <= set(ingest.identities()),
                "everything from the outbox delivered",
            )
            await _outbox_reaches(outbox, "outbox emptied", lambda ids: not ids)
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(DEADLINE):
                code = await process.wait()
        return after_kill, code

    try:
        kept, exit_code = asyncio.run(scenario())
    finally:
        ingest.close()
    assert exit_code == 0  # SIGTERM is a clean stop
    heart_rates = {(d, s) for d, s, m in kept if m == "heart_rate"}
    assert len(heart_rates) == sent  # all of them were on disk at the kill
    values = [v for _, m, v in ingest.readings_of("hr-01") if m == "heart_rate"]
    assert values == [float(100 + i) for i in range(sent)]
    boots = {b.boot_id for b in ingest.batches}
    assert len(boots) == 1  # only the second process ever reached the broker
    assert min(b.batch_seq for b in ingest.batches) == 0
