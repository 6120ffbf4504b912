"""``nabd.mqtt.buffered``: paho reading its socket in large chunks must hand over exactly the
packets that were sent, however the stream is cut, and batched PUBACKs must acknowledge exactly
the messages named.

The first tests feed a stream of MQTT v5 PUBLISH packets to the client through a fake socket
that returns it in chunks cut at random places (hypothesis), so packet headers, remaining-length
bytes and payloads are split every possible way. The others run against the real broker."""

from __future__ import annotations

import itertools
import struct
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nabd.contract import topics
from nabd.mqtt.buffered import BufferedClient
from nabd.mqtt.client import (
    Broker,
    BrokerAccount,
    CleanStart,
    Session,
    build_client,
    connect_properties,
)
from tests.mqtt.broker_kit import BrokerUnderTest, Peer

TOPIC = "nabd/v1/gw/gw-x/obs"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(mid: int, payload: bytes, topic: str = TOPIC) -> bytes:
    """An MQTT v5 PUBLISH, QoS 1, no properties (what the broker sends a subscriber)."""
    name = topic.encode()
    body = struct.pack("!H", len(name)) + name + struct.pack("!H", mid) + b"\x00" + payload
    return b"\x32" + _varint(len(body)) + body


class _ChunkedSocket:
    """Returns a byte stream in the given chunks, one per ``recv``, then "nothing yet"."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)
        self.reads = 0

    def recv(self, bufsize: int) -> bytes:
        if not self._chunks:
            raise BlockingIOError
        self.reads += 1
        chunk = self._chunks.pop(0)
        if len(chunk) > bufsize:  # a socket never returns more than asked
            self._chunks.insert(0, chunk[bufsize:])
            chunk = chunk[:bufsize]
        return chunk

    def pending(self) -> int:
        return 0

    closed = False

    def close(self) -> None:
        self.closed = True


def _client() -> tuple[BufferedClient, list[mqtt.MQTTMessage]]:
    client = BufferedClient(
        CallbackAPIVersion.VERSION2, client_id="t", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.manual_ack_set(True)  # no PUBACK written to the fake socket
    received: list[mqtt.MQTTMessage] = []
    client.on_message = lambda _c, _u, message: received.append(message)
    return client, received


payloads = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.integers(120, 20_000).map(lambda n: bytes([n % 251]) * n),  # 1-3 length bytes
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(payloads, st.data())
def test_every_packet_arrives_whole_and_in_order_however_the_stream_is_cut(
    sent: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(_publish(mid, p) for mid, p in enumerate(sent, start=1))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=40)))
    bounds = [0, *cuts, len(stream)]
    sock = _ChunkedSocket([stream[a:b] for a, b in itertools.pairwise(bounds)])
    client, received = _client()
    client._sock = sock  # type: ignore[assignment]
    while sock._chunks or client.buffered():
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    assert [m.payload for m in received] == sent
    assert [m.mid for m in received] == list(range(1, len(sent) + 1))
    assert {m.topic for m in received} == {TOPIC}


def test_one_wake_up_reads_every_waiting_packet_each_in_one_read() -> None:
    sent = [bytes([i]) * (30 + i * 10) for i in range(100)]
    packets = [_publish(mid, p) for mid, p in enumerate(sent, start=1)]
    sock = _ChunkedSocket([packets[0] + packets[1], *packets[2:]])  # as TLS records arrive
    client, received = _client()
    client._sock = sock  # type: ignore[assignment]
    assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS  # one call: what select woke us for
    assert [m.payload for m in received] == sent
    assert sock.reads == 99  # paho alone: three or more reads per packet, a select after each


def test_closing_the_socket_drops_what_that_connection_left_unread() -> None:
    first = _publish(1, b"a" * 50)
    sock = _ChunkedSocket([first + first[:10]])  # one packet and the start of a second
    client, received = _client()
    client._sock = sock  # type: ignore[assignment]
    client.loop_read()
    assert len(received) == 1
    client._chunk_pos -= 10  # as if the partial packet were still in the buffer
    assert client.buffered() == 10
    client._sock_close()
    assert client.buffered() == 0
    assert client._sock is None
    assert sock.closed


# -- against the real broker ----------------------------------------------------------------


def _account(broker: BrokerUnderTest) -> BrokerAccount:
    return BrokerAccount.of(
        Broker(broker.mqtt_host, broker.mqtt_port, broker.ca_file), broker.ingest
    )


class _Receiver:
    """A BufferedClient with manual acknowledgement, a persistent session, counting its reads."""

    def __init__(self, broker: BrokerUnderTest, client_id: str) -> None:
        self.account = _account(broker)
        self.client_id = client_id
        self.messages: list[mqtt.MQTTMessage] = []
        self.reads = 0
        self.subscribed = threading.Event()

    def run(self) -> BufferedClient:
        client = build_client(self.account, self.client_id)
        client.manual_ack_set(True)
        original = client._sock_recv
        outer = self

        def counting(bufsize: int) -> bytes:
            before = client.buffered()
            data = original(bufsize)
            if before == 0 and data:
                outer.reads += 1
            return data

        client._sock_recv = counting  # type: ignore[method-assign]
        client.on_message = lambda _c, _u, m: self.messages.append(m)
        client.on_subscribe = lambda *_a: self.subscribed.set()
        session = Session(clean_start=CleanStart.NEVER, expiry_s=600)
        client.connect(
            self.account.host,
            self.account.port,
            keepalive=30,
            clean_start=session.clean_start.value,
            properties=connect_properties(session),
        )
        client.subscribe(topics.ALL_OBSERVATIONS, qos=1)
        client.loop_start()
        assert self.subscribed.wait(10)
        return client

    def wait_for(self, n: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.messages) >= n, f"received {len(self.messages)} of {n}"


def _end(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _forget(broker: BrokerUnderTest, client_id: str) -> None:
    client = build_client(_account(broker), client_id)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.connect(
        broker.mqtt_host, broker.mqtt_port, clean_start=True, properties=props, keepalive=30
    )
    client.loop_start()
    time.sleep(0.2)
    _end(client)


@pytest.mark.integration
@pytest.mark.broker
def test_a_backlog_from_the_broker_arrives_whole_in_few_reads_and_ack_many_settles_it(
    broker_under_test: BrokerUnderTest, tmp_path: Path
) -> None:
    """The broker sends a queued backlog as fast as acknowledgements free its window: every
    message arrives, identical, in order, in at most one socket read each. What
    ``ack_many`` acknowledged is settled: after a reconnection the broker sends again exactly
    the messages left unacknowledged, marked as duplicates."""
    broker = broker_under_test
    client_id = f"nabd-ingest-buffered-{uuid.uuid4().hex[:8]}"
    receiver = _Receiver(broker, client_id)
    _end(receiver.run())  # the session now exists and queues for us
    publisher = Peer(broker, broker.gateway, port=broker.gateway.port).connected()
    topic = topics.observations(broker.gateway_id)
    sent = [f"{i:05d}".encode() * (1 + i % 7 * 60) for i in range(300)]  # 5 B .. 1.8 KiB
    try:
        for payload in sent:
            assert publisher.publish(topic, payload) in {0x00, 0x10}
    finally:
        publisher.close()

    keep = 250  # acknowledged as they come (the broker sends at most 100 unacknowledged)
    client = receiver.run()
    try:
        acked = 0
        deadline = time.monotonic() + 30
        while acked < keep and time.monotonic() < deadline:
            upto = min(len(receiver.messages), keep)
            client.ack_many(m.mid for m in receiver.messages[acked:upto])
            acked = upto
            time.sleep(0.02)
        receiver.wait_for(len(sent))
        assert [m.payload for m in receiver.messages] == sent
        control = 4  # CONNACK, SUBACK and what else the session brings
        assert receiver.reads <= len(sent) + control, f"{receiver.reads} reads, {len(sent)} sent"
    finally:
        _end(client)

    again = _Receiver(broker, client_id)
    client = again.run()
    try:
        again.wait_for(len(sent) - keep)
        time.sleep(0.5)  # nothing more comes
        assert [m.payload for m in again.messages] == sent[keep:]
        assert all(m.dup for m in again.messages)
        client.ack_many(m.mid for m in again.messages)
        time.sleep(0.3)
    finally:
        _end(client)
        _forget(broker, client_id)


class _EndsWhenCompared(threading.Thread):
    """A network thread that ends at the worst moment: while ``loop_stop`` compares it with the
    calling thread, it does what paho's ``_thread_main`` does as it ends (``_thread = None``)."""

    def __init__(self, client: BufferedClient) -> None:
        super().__init__(target=lambda: None)
        self.client = client

    def __ne__(self, other: object) -> bool:
        self.client._thread = None
        return other is not self


def test_loop_stop_survives_the_network_thread_ending_during_it() -> None:
    """paho 2.2's ``loop_stop`` reads ``self._thread`` twice; the thread ending in between
    raised ``AttributeError`` and failed a clean analytics shutdown once in a full test run."""
    client = BufferedClient(
        CallbackAPIVersion.VERSION2, client_id="stop", protocol=MQTTProtocolVersion.MQTTv5
    )
    thread = _EndsWhenCompared(client)
    thread.start()
    client._thread = thread
    assert client.loop_stop() == mqtt.MQTT_ERR_SUCCESS
    after: threading.Thread | None = client._thread  # widened: the stop cleared it
    assert after is None
    assert not thread.is_alive()
    assert client.loop_stop() == mqtt.MQTT_ERR_INVAL  # stopped already: as paho answers
