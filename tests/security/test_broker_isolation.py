"""A gateway reads nobody else's data, alerts, acks or commands, whatever it subscribes to.

(Publishing under another gateway's id, plaintext, anonymous and foreign-CA clients, and
revocation without a broker restart are proven in ``tests/stack/test_stack_mosquitto.py``;
docs/security.md lists which test proves which claim.) "Not delivered" is checked with a
sentinel: the gateway's own ack, published after every foreign message was acknowledged by the
broker (Mosquitto routes a message to its subscribers before it sends the PUBACK, on one
thread), must be the first message the gateway receives.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from tests.stack.test_stack_mosquitto import ACCEPTED, Peer

pytestmark = pytest.mark.integration

FILTERS = [
    "#",
    f"{topics.ROOT}/#",
    f"{topics.ROOT}/gw/+/obs",
    f"{topics.ROOT}/gw/+/status",
    f"{topics.ROOT}/gw/+/ack",
    f"{topics.ROOT}/gw/+/cmd",
    f"{topics.ROOT}/ward/+/alerts",
    topics.shared(topics.INGEST_SHARE_GROUP, topics.ALL_OBSERVATIONS),
]


@pytest.mark.parametrize("topic_filter", FILTERS)
def test_a_gateway_subscribing_widely_gets_only_its_own_messages(
    nabd_stack: RunningStack, topic_filter: str
) -> None:
    tag = secrets.token_hex(3)
    me, other = f"gw-me-{tag}", f"gw-other-{tag}"
    peers: list[Peer] = []

    def peer(creds: Any) -> Peer:
        peers.append(Peer(nabd_stack, creds).connected())
        return peers[-1]

    try:
        snoop = peer(nabd_stack.add_gateway(me))
        _, mid = snoop.client.subscribe(topic_filter, qos=1)
        assert mid is not None
        snoop._wait_ack(mid)  # granted or refused: either way nothing foreign may arrive
        snoop.subscribe(topics.ack(me))
        victim = peer(nabd_stack.add_gateway(other))
        assert victim.publish(topics.observations(other), b"obs of another") in ACCEPTED
        assert victim.publish(topics.status(other), b"status of another") in ACCEPTED
        ingest = peer(nabd_stack.service("ingest"))
        assert ingest.publish(topics.ack(other), b"ack of another") in ACCEPTED
        analytics = peer(nabd_stack.service("analytics"))
        assert analytics.publish(topics.alerts("ward-a"), b"alert of a ward") in ACCEPTED
        sentinel = secrets.token_bytes(8)
        assert ingest.publish(topics.ack(me), sentinel) in ACCEPTED
        message = snoop.next_message()
        assert (message.topic, message.payload) == (topics.ack(me), sentinel)
    finally:
        for p in peers:
            p.close()
