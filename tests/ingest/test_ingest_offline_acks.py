"""An ``IngestAck`` published while the broker is unreachable is kept and sent on reconnection.

Regression: paho gives a QoS 1 publish made while disconnected ``rc`` NO_CONN (it keeps the
message and sends it on reconnect), and its ``is_published()`` raises for that ``rc``. The worker
checked its previous acks with it at every flush, so the first flush after a broker crash
(``kill -9``) killed ``nabd ingest run``. Found by the fault suite (tests/faults).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.ingest.acks import ingest_acks
from nabd.ingest.consumer import Consumer, Delivery
from nabd.ingest.validate import BatchId
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    forget_session,
    worker_settings,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration


def _ignore(delivery: Delivery) -> None:
    del delivery


def test_acks_published_while_disconnected_are_sent_after_connecting(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Callable[[str], FakeGateway]
) -> None:
    gateway = gateways(f"gw-offline-{token()}")
    boot = str(uuid.uuid4())
    worker_id = f"offline-{token()}"
    consumer = Consumer(worker_settings(nabd_stack, ingest_db, worker_id), _ignore)
    try:
        # Not connected yet: both publishes are queued by paho; checking the first one while
        # publishing the second used to raise RuntimeError.
        consumer.publish_acks(ingest_acks([BatchId(gateway.gateway_id, boot, 0)]))
        consumer.publish_acks(ingest_acks([BatchId(gateway.gateway_id, boot, 1)]))
        consumer.start()
        wait_until(lambda: sorted(gateway.acked()) == [(boot, 0), (boot, 1)], "both acks sent")
        consumer.publish_acks([])  # the delivered ones are recognised as published
    finally:
        consumer.stop(5.0)
        forget_session(nabd_stack, worker_id)
