"""The capacity benchmark's gateways on the wire: MQTT v5 over TLS, QoS 1, with little Python.

Why not :class:`nabd.simulators.load_mqtt.MqttFleet` (paho): the load generator shares the
machine with the server it measures, and at 7 000 beds its two processes took 53 % of a core
(py-spy: paho's packet objects, reason codes and properties per PUBACK, two ``epoll_ctl`` per
message), CPU taken from the server. What the broker sees is the same: one TLS session per
gateway with the gateway's own certificate, its client id and username, a clean start, QoS 1
PUBLISH packets on the gateway's topic, PUBACKs back. Here a PUBLISH is a few ``bytes`` joined
and one ``send``; a PUBACK is two bytes read from a buffer.

Only what the benchmark needs (MQTT 5.0, OASIS standard, 2019): CONNECT / CONNACK (its Receive
Maximum is honoured), PUBLISH QoS 1 / PUBACK, PINGREQ when a session has sent nothing for a
while, DISCONNECT. A session the broker drops is not reconnected: its later batches are not
published, so the step says the generators did not keep pace (and ``disconnects`` says why).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["LeanFleet", "connect_packet", "decode_varint", "publish_packet", "varint"]

_CONNECT, _CONNACK, _PUBLISH_QOS1, _PUBACK = 0x10, 0x20, 0x32, 0x40
_PINGREQ: Final = b"\xc0\x00"
_DISCONNECT: Final = b"\xe0\x00"
_RECEIVE_MAXIMUM_PROPERTY: Final = 0x21
_IDLE_PING_S: Final = 20.0
_NO_PROPERTIES: Final = b"\x00"

PubackHandler = Callable[[int, int, float, int], None]
"""(gateway index, batch_seq, when, reason code)."""


def varint(n: int) -> bytes:
    """MQTT's Variable Byte Integer (MQTT 5.0 section 1.5.5): 7 bits a byte, low first."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"{n} does not fit a Variable Byte Integer")
    out = bytearray()
    while True:
        n, low = divmod(n, 128)
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def decode_varint(buf: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """The integer at ``at`` and the offset after it; ``None`` if ``buf`` ends inside it."""
    value, shift = 0, 0
    for i in range(at, min(at + 4, len(buf))):
        value |= (buf[i] & 0x7F) << shift
        if not buf[i] & 0x80:
            return value, i + 1
        shift += 7
    if len(buf) >= at + 4:
        raise ValueError("malformed Variable Byte Integer (more than 4 bytes)")
    return None


def _text(s: str) -> bytes:
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def connect_packet(
    client_id: str, username: str | None, password: str | None, keepalive: int
) -> bytes:
    """CONNECT, protocol 5, clean start, no properties (section 3.1)."""
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = (
        _text("MQTT")
        + bytes([5, flags])
        + keepalive.to_bytes(2, "big")
        + _NO_PROPERTIES
        + _text(client_id)
        + (_text(username) if username is not None else b"")
        + (_text(password) if password is not None else b"")
    )
    return bytes([_CONNECT]) + varint(len(body)) + body


def publish_packet(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    """PUBLISH at QoS 1 (section 3.3); ``topic`` already length-prefixed (:func:`_text`)."""
    size = len(topic) + 3 + len(payload)
    return b"".join(
        (b"\x32", varint(size), topic, packet_id.to_bytes(2, "big"), _NO_PROPERTIES, payload)
    )


@dataclass(frozen=True, slots=True)
class Account:
    """One gateway's session: who it says it is and the TLS files that prove it."""

    gateway_id: str
    client_id: str
    topic: str
    password: str | None
    cert_file: Path
    key_file: Path


@dataclass(eq=False)
class _Session:
    index: int
    account: Account
    sock: ssl.SSLSocket
    topic: bytes
    connected: bool = False
    receive_maximum: int = 65_535
    next_id: int = 1
    inflight: dict[int, int] = field(default_factory=dict)
    """packet id -> batch_seq, until the PUBACK."""
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    last_sent: float = 0.0


class LeanFleet:
    """One TLS session per account, all on one selector, driven from the caller's thread."""

    def __init__(
        self,
        host: str,
        port: int,
        ca_file: Path,
        on_puback: PubackHandler,
        *,
        keepalive: int = 60,
    ) -> None:
        self.host, self.port, self.ca_file = host, port, ca_file
        self.keepalive = keepalive
        self.disconnects = 0
        self.refusals: list[str] = []
        self._on_puback = on_puback
        self._selector = selectors.DefaultSelector()
        self.sessions: list[_Session] = []
        self._next_ping = time.monotonic() + _IDLE_PING_S

    def connect_all(self, accounts: Sequence[Account], timeout: float) -> int:
        """Open every session (TLS handshake here, sequentially) and wait up to ``timeout``
        for the CONNACKs; returns how many the broker accepted."""
        from nabd.contract.tls import client_context  # noqa: PLC0415

        deadline = time.monotonic() + timeout
        for account in accounts:
            context = client_context(self.ca_file, account.cert_file, account.key_file)
            raw = socket.create_connection((self.host, self.port), timeout=timeout)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = context.wrap_socket(raw, server_hostname=self.host)
            sock.sendall(
                connect_packet(
                    account.client_id, account.gateway_id, account.password, self.keepalive
                )
            )
            sock.setblocking(False)
            session = _Session(len(self.sessions), account, sock, _text(account.topic))
            session.last_sent = time.monotonic()
            self.sessions.append(session)
            self._selector.register(sock, selectors.EVENT_READ, session)
            self.poll(0.0)
        while self.connected_count < len(self.sessions) and time.monotonic() < deadline:
            if len(self.refusals) + self.connected_count >= len(self.sessions):
                break
            self.poll(0.05)
        return self.connected_count

    @property
    def connected_count(self) -> int:
        return sum(s.connected for s in self.sessions)

    @property
    def awaiting_puback(self) -> int:
        return sum(len(s.inflight) for s in self.sessions if s.connected)

    def publish(self, index: int, payload: bytes, batch_seq: int) -> bool:
        """Send one QoS 1 message of gateway ``index``; False if its session is down or has
        as many messages awaiting PUBACK as the broker's Receive Maximum allows."""
        s = self.sessions[index]
        if not s.connected or len(s.inflight) >= s.receive_maximum:
            return False
        packet_id = s.next_id
        while packet_id in s.inflight:  # ids are 1..65535, reused only once acknowledged
            packet_id = packet_id % 65_535 + 1
        s.next_id = packet_id % 65_535 + 1
        s.inflight[packet_id] = batch_seq
        self._send(s, publish_packet(s.topic, packet_id, payload))
        return True

    def _send(self, s: _Session, data: bytes) -> None:
        s.last_sent = time.monotonic()
        if s.outbox:
            s.outbox += data
            return
        try:
            s.sock.send(data)  # all or nothing: no partial writes on an SSL socket
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            s.outbox += data
            self._selector.modify(s.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, s)
        except OSError:
            self._lost(s)

    def _flush(self, s: _Session) -> None:
        try:
            s.sock.send(bytes(s.outbox))
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            self._lost(s)
            return
        s.outbox.clear()
        self._selector.modify(s.sock, selectors.EVENT_READ, s)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` for network events and handle them (PUBACKs fire here)."""
        for key, mask in self._selector.select(timeout):
            s: _Session = key.data
            if mask & selectors.EVENT_READ:
                self._read(s)
            if mask & selectors.EVENT_WRITE and s.outbox:
                self._flush(s)
        now = time.monotonic()
        if now >= self._next_ping:
            self._next_ping = now + _IDLE_PING_S
            for s in self.sessions:
                if s.connected and now - s.last_sent >= _IDLE_PING_S:
                    self._send(s, _PINGREQ)

    def _read(self, s: _Session) -> None:
        while True:
            try:
                data = s.sock.recv(65_536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            except OSError:
                self._lost(s)
                return
            if not data:
                self._lost(s)
                return
            s.inbox += data
            if not s.sock.pending():
                break
        self._packets(s)

    def _packets(self, s: _Session) -> None:
        buf, at = s.inbox, 0
        when = time.time()
        while len(buf) - at >= 2:
            head = decode_varint(buf, at + 1)
            if head is None:
                break
            size, start = head
            if len(buf) < start + size:
                break
            kind, body = buf[at] & 0xF0, buf[start : start + size]
            at = start + size
            if kind == _PUBACK:
                batch_seq = s.inflight.pop(int.from_bytes(body[:2], "big"), None)
                if batch_seq is not None:
                    self._on_puback(s.index, batch_seq, when, body[2] if size > 2 else 0)
            elif kind == _CONNACK:
                self._connack(s, bytes(body))
            elif kind == 0xE0:  # the broker's DISCONNECT
                self._lost(s)
                return
        del buf[:at]

    def _connack(self, s: _Session, body: bytes) -> None:
        if body[1] != 0:
            self.refusals.append(f"{s.account.gateway_id}: CONNACK reason code {body[1]:#04x}")
            self._lost(s)
            return
        s.connected = True
        head = decode_varint(body, 2)
        if head is None:
            return
        length, at = head
        end = at + length
        while at < end:  # properties (section 3.2.2.3); only Receive Maximum matters here
            prop = body[at]
            if prop == _RECEIVE_MAXIMUM_PROPERTY:
                s.receive_maximum = int.from_bytes(body[at + 1 : at + 3], "big")
                return
            at += 1 + _property_size(prop, body, at + 1)

    def _lost(self, s: _Session) -> None:
        if s.connected:
            self.disconnects += 1
        s.connected = False
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(s.sock)
        with contextlib.suppress(OSError):
            s.sock.close()

    def close(self) -> None:
        """DISCONNECT every session (normal disconnection: the broker keeps no will)."""
        for s in self.sessions:
            if s.connected:
                with contextlib.suppress(OSError):
                    s.sock.setblocking(True)
                    s.sock.sendall(_DISCONNECT)
                s.connected = False
            with contextlib.suppress(OSError):
                s.sock.close()
        self._selector.close()


_FIXED: Final = {
    0x01: 1, 0x17: 1, 0x19: 1, 0x24: 1, 0x25: 1, 0x28: 1, 0x29: 1, 0x2A: 1,  # bytes
    0x13: 2, 0x21: 2, 0x22: 2,  # two-byte integers
    0x02: 4, 0x11: 4, 0x18: 4, 0x27: 4,  # four-byte integers
}  # fmt: skip
"""Property identifiers with a fixed size (MQTT 5.0 section 2.2.2.2)."""


def _property_size(prop: int, body: bytes, at: int) -> int:
    """Size of a property's value at ``at``: fixed, a Variable Byte Integer, a string or binary
    (two-byte length), or a string pair (two of them)."""
    if prop in _FIXED:
        return _FIXED[prop]
    if prop == 0x0B:  # Subscription Identifier
        head = decode_varint(body, at)
        return 0 if head is None else head[1] - at
    first = 2 + int.from_bytes(body[at : at + 2], "big")
    if prop == 0x26:  # User Property: a pair of strings
        return first + 2 + int.from_bytes(body[at + first : at + first + 2], "big")
    return first
