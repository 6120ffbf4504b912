"""The sender over a real outbox, publishing into a list: batching, acks, stale acks, re-sends.

(With the real broker, the same behaviour is checked end to end in ``test_edge_delivery``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nabd.contract import topics
from nabd.contract.payloads import (
    ACK_SCHEMA,
    IngestAck,
    ObservationBatch,
    Reading,
    parse_batch,
    to_json,
)
from nabd.edge.config import OutboxConfig
from nabd.edge.outbox import OutboxLimits
from nabd.edge.outbox_thread import OutboxThread
from nabd.edge.runtime import Runtime
from nabd.edge.sender import Sender

GATEWAY = "gw-sender"
BOOT = str(uuid.uuid4())
DEADLINE = 5.0


def _readings(count: int) -> list[Reading]:
    at = datetime.now(UTC) - timedelta(seconds=5)
    return [
        Reading(
            device_id="hr-01", seq=i, metric="heart_rate", value=70.0, unit="/min", received_at=at
        )
        for i in range(count)
    ]


def _ack(*seqs: int, boot: str = BOOT, gateway: str = GATEWAY) -> bytes:
    return to_json(IngestAck(schema=ACK_SCHEMA, gateway_id=gateway, boot_id=boot, committed=seqs))


class Harness:
    def __init__(self, outbox: OutboxThread, sender: Sender, connected: asyncio.Event) -> None:
        self.outbox = outbox
        self.sender = sender
        self.connected = connected
        self.published: list[ObservationBatch] = []

    async def wait_published(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE):
            while len(self.published) < count:  # noqa: ASYNC110 (a list, no event)
                await asyncio.sleep(0.01)

    async def pending(self) -> int:
        return len(await self.outbox.call(self.outbox.outbox.after, 0, 10_000))

    async def wait_pending(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE):
            while await self.pending() != count:  # noqa: ASYNC110 (polls the database)
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _sender(tmp_path: Path, **options: float) -> AsyncIterator[Harness]:
    outbox = await OutboxThread.open(
        tmp_path / "o.sqlite3", OutboxLimits(10_000, timedelta(days=1))
    )
    connected = asyncio.Event()
    harness: Harness

    def publish(topic: str, payload: bytes) -> None:
        assert topic == topics.observations(GATEWAY)
        harness.published.append(parse_batch(payload))

    config = OutboxConfig.model_validate(
        {"batch_max_readings": 3, "batch_linger_s": 0.01, "ack_timeout_s": 30.0, **options}
    )
    sender = Sender(
        outbox,
        publish=publish,
        connected=connected,
        gateway_id=GATEWAY,
        boot_id=BOOT,
        config=config,
        runtime=Runtime(),
    )
    harness = Harness(outbox, sender, connected)
    task = asyncio.create_task(sender.run())
    try:
        yield harness
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await outbox.close()


def test_nothing_is_sent_while_disconnected_then_batches_go_in_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with _sender(tmp_path) as h:
            await h.outbox.call(h.outbox.outbox.append, _readings(7))
            h.sender.wake()
            await asyncio.sleep(0.1)
            assert h.published == []
            h.connected.set()
            h.sender.wake()
            await h.wait_published(3)
            assert [b.batch_seq for b in h.published] == [0, 1, 2]
            assert [len(b.readings) for b in h.published] == [3, 3, 1]
            assert {(b.gateway_id, b.boot_id) for b in h.published} == {(GATEWAY, BOOT)}
            assert [r.seq for b in h.published for r in b.readings] == list(range(7))

    asyncio.run(scenario())


def test_only_a_matching_ack_removes_readings_and_only_its_batch(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with _sender(tmp_path) as h:
            h.connected.set()
            await h.outbox.call(h.outbox.outbox.append, _readings(6))
            h.sender.wake()
            await h.wait_published(2)
            for stale in (
                _ack(0, boot=str(uuid.uuid4())),  # an earlier boot of this gateway
                _ack(0, gateway="gw-other"),
                b'{"schema": "nabd.ack/1"}',  # malformed
            ):
                h.sender.on_ack(stale)
            await asyncio.sleep(0.1)
            assert await h.pending() == 6
            h.sender.on_ack(_ack(1))
            await h.wait_pending(3)
            left = await h.outbox.call(h.outbox.outbox.after, 0, 100)
            assert [s.reading.seq for s in left] == [0, 1, 2]  # batch 0's readings

    asyncio.run(scenario())


def test_an_unacknowledged_batch_is_sent_again_with_the_same_identity(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with _sender(tmp_path, ack_timeout_s=0.2) as h:
            h.connected.set()
            await h.outbox.call(h.outbox.outbox.append, _readings(2))
            h.sender.wake()
            await h.wait_published(3)
            assert {b.batch_seq for b in h.published} == {0}
            assert {b.readings for b in h.published} == {h.published[0].readings}
            h.sender.on_ack(_ack(0))
            await h.wait_pending(0)
            sent = len(h.published)
            await asyncio.sleep(0.4)
            assert len(h.published) == sent  # acknowledged: no more re-sends

    asyncio.run(scenario())
