"""What Nabd needs from its MQTT v5 broker, checked against the broker itself.

By default the suite's own Mosquitto; with ``--broker-url mqtts://HOST:PORT`` any other broker
(a clustered EMQX, HiveMQ or VerneMQ, docs/broker-cluster.md) set up with Nabd's accounts and
ACL, so a candidate can be accepted by running these instead of by reading its manual. Each
test names the Nabd behaviour that depends on the feature:

* shared subscriptions: ingest workers share the gateways' stream (``$share/nabd-ingest/...``);
* persistent sessions: ingest (and the gateways) restart without losing what was queued;
* session expiry: a retired worker's session ends instead of queueing forever;
* retained messages: the per-gateway device lists (``.../config``) reach a gateway that
  connects later;
* ACL per client: a gateway publishes and reads only its own topics;
* TLS with client certificates: the gateway listener takes a gateway's certificate as its
  identity, and a gateway cannot hold a session under another client id.

"Not delivered" is checked with a sentinel: the same publisher then publishes an allowed
message, and the subscriber's next message must be the sentinel (per-publisher order).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nabd.contract import topics
from tests.mqtt.broker_kit import ACCEPTED, DEADLINE, BrokerUnderTest, Peer, peers

pytestmark = [pytest.mark.integration, pytest.mark.broker]

SHARED_MESSAGES = 40
OFFLINE_MESSAGES = 5
SHORT_EXPIRY_S = 1
EXPIRY_MARGIN_S = 3.0
"""Brokers end expired sessions on a periodic sweep: this long after the expiry it is gone."""


@pytest.fixture
def peer(broker_under_test: BrokerUnderTest) -> Iterator[Any]:
    """A factory of connected-or-not clients, all closed at the end of the test."""
    with peers(broker_under_test) as make:
        yield make


def _payload() -> bytes:
    return uuid.uuid4().bytes


def _session(expiry_s: int) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = expiry_s
    return properties


def _drain(peers: list[Peer], wanted: set[bytes]) -> list[set[bytes]]:
    """What each peer receives of ``wanted`` until all of it has arrived (or the deadline)."""
    got: list[set[bytes]] = [set() for _ in peers]
    deadline = time.monotonic() + DEADLINE * 2
    while set().union(*got) < wanted and time.monotonic() < deadline:
        for index, p in enumerate(peers):
            while not p.messages.empty():
                payload = bytes(p.messages.get_nowait().payload)
                if payload in wanted:
                    got[index].add(payload)
        time.sleep(0.01)
    return got


def test_a_shared_subscription_gives_each_message_to_exactly_one_worker(
    broker_under_test: BrokerUnderTest, peer: Any
) -> None:
    group = f"nabd-conformance-{uuid.uuid4().hex[:8]}"  # no other worker of the stack shares it
    workers = [peer(broker_under_test.ingest).connected() for _ in range(2)]
    for worker in workers:
        worker.subscribe(topics.shared(group, topics.ALL_OBSERVATIONS))
    gateway = peer(broker_under_test.gateway).connected()
    sent = {_payload() for _ in range(SHARED_MESSAGES)}
    for payload in sent:
        assert gateway.publish(topics.observations(broker_under_test.gateway_id), payload) == 0
    first, second = _drain(workers, sent)
    assert first | second == sent  # every batch delivered
    assert not first & second  # to one worker only
    assert first, "one worker got nothing: the stream is not shared"
    assert second, "one worker got nothing: the stream is not shared"


def test_a_persistent_session_receives_what_was_published_while_it_was_away(
    broker_under_test: BrokerUnderTest, peer: Any
) -> None:
    client_id = f"nabd-ingest-conformance-{uuid.uuid4().hex[:8]}"
    worker = peer(broker_under_test.ingest, client_id=client_id)
    worker.connected(clean_start=False, properties=_session(300))
    worker.subscribe(topics.ALL_OBSERVATIONS)
    worker.close()  # a normal disconnect: the session stays for 300 s
    gateway = peer(broker_under_test.gateway).connected()
    sent = {_payload() for _ in range(OFFLINE_MESSAGES)}
    for payload in sent:
        assert gateway.publish(topics.observations(broker_under_test.gateway_id), payload) == 0
    back = peer(broker_under_test.ingest, client_id=client_id)
    back.connected(clean_start=False, properties=_session(300))
    assert back.session_present
    (received,) = _drain([back], sent)
    assert received == sent
    back.close()
    peer(broker_under_test.ingest, client_id=client_id).connected(
        clean_start=True, properties=_session(0)
    )  # the session ends with this connection


def test_an_expired_session_is_gone(broker_under_test: BrokerUnderTest, peer: Any) -> None:
    client_id = f"nabd-ingest-conformance-{uuid.uuid4().hex[:8]}"
    worker = peer(broker_under_test.ingest, client_id=client_id)
    worker.connected(clean_start=False, properties=_session(SHORT_EXPIRY_S))
    worker.subscribe(topics.ALL_OBSERVATIONS)
    worker.close()
    time.sleep(SHORT_EXPIRY_S + EXPIRY_MARGIN_S)  # the expiry itself is what is tested
    back = peer(broker_under_test.ingest, client_id=client_id)
    back.connected(clean_start=False, properties=_session(0))
    assert back.session_present is False


def test_a_retained_device_list_reaches_a_gateway_that_subscribes_later(
    broker_under_test: BrokerUnderTest, peer: Any
) -> None:
    config = topics.gateway_config(broker_under_test.gateway_id)
    server = peer(broker_under_test.ingest).connected()
    payload = _payload()
    assert server.publish(config, payload, retain=True) in ACCEPTED
    try:
        gateway = peer(broker_under_test.gateway).connected()
        gateway.subscribe(config)
        message = gateway.next_message()
        assert (message.payload, message.retain) == (payload, True)
    finally:
        assert server.publish(config, b"", retain=True) in ACCEPTED  # cleared again


def test_a_gateway_reads_and_writes_only_its_own_topics(
    broker_under_test: BrokerUnderTest, peer: Any
) -> None:
    ingest = peer(broker_under_test.ingest).connected()
    ingest.subscribe(topics.ALL_OBSERVATIONS)
    gateway = peer(broker_under_test.gateway).connected()
    other = "gw-conformance-other"
    assert gateway.publish(topics.observations(other), b"forged") >= 0x80
    assert gateway.suback(topics.ALL_OBSERVATIONS) >= 0x80
    assert gateway.suback(topics.commands(other)) >= 0x80
    sentinel = _payload()
    own = topics.observations(broker_under_test.gateway_id)
    assert gateway.publish(own, sentinel) in ACCEPTED
    while (message := ingest.next_message()).topic != own:  # other gateways may be sending
        assert message.topic != topics.observations(other)
    assert message.payload == sentinel  # the forged batch never arrived


def test_a_gateway_is_its_certificate_and_its_one_client_id(
    broker_under_test: BrokerUnderTest, peer: Any
) -> None:
    gateway = broker_under_test.gateway
    without_cert = peer(gateway, present_cert=False).connect()
    assert without_cert is None or without_cert.value >= 0x80
    plain = peer(gateway, use_tls=False).connect()
    assert plain is None or plain.value >= 0x80
    itself = peer(gateway).connected()  # its own id and certificate: accepted
    other_id = f"{topics.GATEWAY_CLIENT_PREFIX}gw-conformance-not-me"
    posing = peer(gateway, client_id=other_id).connect()
    # Refused, or given its own id back (Mosquitto's use_username_as_clientid), which takes
    # over its own session: either way it holds no session under another gateway's id.
    refused = posing is None or posing.value >= 0x80
    assert refused or itself.closed.wait(DEADLINE)
