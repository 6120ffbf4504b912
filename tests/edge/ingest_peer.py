"""The ingest side of the edge tests: a real MQTT client with the ingest service's account.

There is no ingest service in these tests; this peer plays it on the real broker: it receives a
gateway's observation batches, validates them with the contract, records them, and (when told
to) publishes the contract's ``IngestAck`` for them, as ingest does after its database commit.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt

from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from nabd.contract.payloads import (
    ACK_SCHEMA,
    GatewayStatus,
    IngestAck,
    ObservationBatch,
    parse,
    parse_batch,
    to_json,
)
from tests.stack_kit import stack_client

DEADLINE: Final = 20.0
Identity = tuple[str, int, str]


class IngestPeer:
    """Receives one gateway's batches; acknowledges them while ``acking`` is true."""

    def __init__(self, stack: RunningStack, gateway_id: str, *, acking: bool = True) -> None:
        self.gateway_id = gateway_id
        self.acking = acking
        self.batches: list[ObservationBatch] = []
        self.statuses: list[GatewayStatus] = []
        self._changed = threading.Condition()
        creds = stack.service("ingest")
        self._client = stack_client(stack, creds, f"test-ingest-{uuid.uuid4().hex[:8]}")
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect(stack.mqtt_host, stack.mqtt_port, keepalive=30)
        self._client.loop_start()
        self._client.subscribe(
            [(topics.observations(gateway_id), 1), (topics.status(gateway_id), 1)]
        )
        assert self._subscribed.wait(DEADLINE), "no SUBACK"

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == topics.status(self.gateway_id):
            if message.payload:
                status = parse(GatewayStatus, bytes(message.payload))
                with self._changed:
                    self.statuses.append(status)
                    self._changed.notify_all()
            return
        batch = parse_batch(bytes(message.payload))
        with self._changed:
            self.batches.append(batch)
            acking = self.acking
            self._changed.notify_all()
        if acking:
            self.ack(batch)

    def ack(self, *batches: ObservationBatch) -> None:
        """Publish the ``IngestAck`` for ``batches`` (one boot)."""
        ack = IngestAck(
            schema=ACK_SCHEMA,
            gateway_id=self.gateway_id,
            boot_id=batches[0].boot_id,
            committed=tuple(sorted({b.batch_seq for b in batches})),
        )
        self._client.publish(topics.ack(self.gateway_id), to_json(ack), qos=1)

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        with self._changed:
            assert self._changed.wait_for(condition, timeout=DEADLINE), f"timed out: {what}"

    def identities(self) -> Counter[Identity]:
        """How many times each reading identity arrived, over every distinct batch."""
        counts: Counter[Identity] = Counter()
        with self._changed:
            seen: set[tuple[str, int]] = set()
            for batch in self.batches:
                if (batch.boot_id, batch.batch_seq) in seen:
                    continue  # a re-send of a batch already counted
                seen.add((batch.boot_id, batch.batch_seq))
                counts.update((r.device_id, r.seq, r.metric) for r in batch.readings)
        return counts

    def readings_of(self, device_id: str) -> list[tuple[int, str, float | None]]:
        with self._changed:
            rows = {
                (r.seq, r.metric, r.value)
                for batch in self.batches
                for r in batch.readings
                if r.device_id == device_id
            }
        return sorted(rows, key=lambda row: (row[0], row[1]))
