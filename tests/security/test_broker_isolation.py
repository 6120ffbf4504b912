"""A gateway reads nobody else's data, alerts, acks, commands or configurations, whatever it
subscribes to, and cannot subscribe beyond its own ack, command and config topics at all: no
wildcard, no other gateway's topic, no ``$share`` group (joining ingest's group would take every
other observation away from ingest: the broker hands it the message, refuses delivery by ACL and
drops it).

(Publishing under another gateway's id, plaintext, anonymous and foreign-CA clients, and
revocation without a broker restart are proven in ``tests/stack/test_stack_mosquitto.py``;
client ids and removal in ``test_broker_sessions.py``; docs/security.md lists which test proves
which claim.) "Not delivered" is checked with a sentinel: the gateway's own ack, published after
every foreign message was acknowledged by the broker (Mosquitto routes a message to its
subscribers before it sends the PUBACK, on one thread), must be the first message the gateway
receives.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from tests.mqtt.broker_kit import ACCEPTED, NOT_AUTHORIZED, Peer
from tests.security.fuzz_budget import examples as fuzz_examples

pytestmark = pytest.mark.integration

N_OBSERVATIONS = 60

FILTERS = [
    "#",
    f"{topics.ROOT}/#",
    f"{topics.ROOT}/gw/+/obs",
    f"{topics.ROOT}/gw/+/status",
    f"{topics.ROOT}/gw/+/ack",
    f"{topics.ROOT}/gw/+/cmd",
    f"{topics.ROOT}/gw/+/config",
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
        assert ingest.publish(topics.gateway_config(other), b"config of another") in ACCEPTED
        analytics = peer(nabd_stack.service("analytics"))
        assert analytics.publish(topics.alerts("ward-a"), b"alert of a ward") in ACCEPTED
        sentinel = secrets.token_bytes(8)
        assert ingest.publish(topics.ack(me), sentinel) in ACCEPTED
        message = snoop.next_message()
        assert (message.topic, message.payload) == (topics.ack(me), sentinel)
    finally:
        for p in peers:
            p.close()


# -- Subscriptions are refused at SUBACK, not only filtered at delivery (issue 17, item 2) -----

_LEVEL = st.sampled_from(
    ["nabd", "v1", "gw", "ward", "obs", "status", "ack", "cmd", "config", "alerts", "+"]
)


def _filters(me: str, other: str) -> st.SearchStrategy[str]:
    """Valid topic filters a hostile gateway might try: wildcards anywhere they are legal,
    every gateway's and ward's topics, and any of them inside any ``$share`` group."""
    ids = st.sampled_from([me, other, "+", "ward-a"])
    levels = st.lists(st.one_of(_LEVEL, ids, st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True)))
    plain = st.builds(
        lambda parts, tail: "/".join(parts + tail) or "#",
        levels,
        st.sampled_from([[], ["#"]]),
    )
    gateway_topics = st.builds(
        lambda gw, leaf: f"{topics.ROOT}/gw/{gw}/{leaf}",
        ids,
        st.sampled_from(["obs", "status", "ack", "cmd", "config", "+", "#"]),
    )
    share_group = st.one_of(
        st.just(topics.INGEST_SHARE_GROUP), st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
    )
    inner = st.one_of(plain, gateway_topics, st.just(topics.ALL_ALERTS))
    shared = st.builds(lambda group, f: f"$share/{group}/{f}", share_group, inner)
    system = st.sampled_from(["$SYS/#", "$CONTROL/dynamic-security/v1/response", "$CONTROL/#"])
    return st.one_of(plain, gateway_topics, shared, system)


def test_a_gateway_may_subscribe_to_its_own_ack_cmd_and_config_topics_only(
    nabd_stack: RunningStack,
) -> None:
    tag = secrets.token_hex(3)
    me, other = f"gw-sub-{tag}", f"gw-sub-other-{tag}"
    nabd_stack.add_gateway(other)
    gateway = Peer(nabd_stack, nabd_stack.add_gateway(me)).connected()
    allowed = {topics.ack(me), topics.commands(me), topics.gateway_config(me)}
    try:
        for own in sorted(allowed):
            assert gateway.suback(own) == 1

        @settings(max_examples=fuzz_examples(150), deadline=None)
        @given(_filters(me, other))
        def refused_unless_own(topic_filter: str) -> None:
            code = gateway.suback(topic_filter)
            assert code == (1 if topic_filter in allowed else NOT_AUTHORIZED), topic_filter

        refused_unless_own()
        for topic_filter in FILTERS:  # the named examples, whatever Hypothesis drew
            assert gateway.suback(topic_filter) == NOT_AUTHORIZED, topic_filter
        assert gateway.client.is_connected()  # refused, not disconnected
    finally:
        gateway.close()


def test_only_the_server_writes_a_gateways_config(nabd_stack: RunningStack) -> None:
    """A gateway cannot give itself (or another) devices, nor can any service but ingest."""
    tag = secrets.token_hex(3)
    me, other = f"gw-cfg-{tag}", f"gw-cfg-other-{tag}"
    peers = [
        Peer(nabd_stack, nabd_stack.add_gateway(me)).connected(),
        Peer(nabd_stack, nabd_stack.add_gateway(other)).connected(),
        Peer(nabd_stack, nabd_stack.service("analytics")).connected(),
        Peer(nabd_stack, nabd_stack.service("ingest")).connected(),
    ]
    gateway, another, analytics, ingest = peers
    try:
        for writer in (gateway, another, analytics):
            assert writer.publish(topics.gateway_config(me), b"{}") == NOT_AUTHORIZED
        assert ingest.publish(topics.gateway_config(me), b"") in ACCEPTED  # clears the retained
    finally:
        for p in peers:
            p.close()


def test_a_gateway_joining_ingests_shared_group_takes_no_observation_away(
    nabd_stack: RunningStack,
) -> None:
    """Publish N from gateway A while gateway B tries to join the group: ingest gets all N.
    The group name is this test's own, so other tests' ingest sessions are not members."""
    tag = secrets.token_hex(3)
    group = f"ingest-{tag}"
    sender, thief = f"gw-send-{tag}", f"gw-thief-{tag}"
    peers: list[Peer] = []
    try:
        ingest = Peer(nabd_stack, nabd_stack.service("ingest")).connected()
        peers.append(ingest)
        ingest.subscribe(topics.shared(group, topics.ALL_OBSERVATIONS))
        bad = Peer(nabd_stack, nabd_stack.add_gateway(thief)).connected()
        peers.append(bad)
        for attempt in (
            topics.shared(group, topics.ALL_OBSERVATIONS),
            topics.shared(group, topics.observations(sender)),
            topics.shared(topics.INGEST_SHARE_GROUP, topics.ALL_OBSERVATIONS),
            topics.shared(group, topics.observations(thief)),
        ):
            assert bad.suback(attempt) == NOT_AUTHORIZED, attempt
        good = Peer(nabd_stack, nabd_stack.add_gateway(sender)).connected()
        peers.append(good)
        sent = [secrets.token_bytes(8) for _ in range(N_OBSERVATIONS)]
        for payload in sent:
            assert good.publish(topics.observations(sender), payload) in ACCEPTED
        received = [ingest.next_message().payload for _ in sent]
        assert received == sent
        assert bad.messages.empty()
    finally:
        for p in peers:
            p.close()
