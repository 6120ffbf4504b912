"""Just enough MQTT 3.1.1 on a socket for the stack to talk to its own broker.

The stack checks that the broker accepts clients, sends the dynamic-security plugin its
commands and ends stored sessions. Hand-written packets keep ``nabd[stack]`` free of an MQTT
client library; only what these three uses need is here (QoS 0 publish, one subscription).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from nabd.app.stack.ports import LOCALHOST
from nabd.contract.tls import client_context

CONNACK: Final = 0x20
PUBLISH: Final = 0x30
SUBACK: Final = 0x90
_DISCONNECT: Final = b"\xe0\x00"
_KEEPALIVE_S: Final = 30


@dataclass(frozen=True)
class ProbeCredentials:
    """What a client presents: CA to trust, its certificate and key, username and password."""

    ca: Path
    cert: Path
    key: Path
    username: str
    password: str


class WireError(ConnectionError):
    """The broker closed the connection or answered with something unexpected."""


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _remaining_length(len(body)) + body


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    """CONNECT, protocol level 4, flags username|password|clean session: nothing is stored."""
    body = _utf8("MQTT") + bytes([4, 0xC2]) + _KEEPALIVE_S.to_bytes(2, "big")
    return _packet(0x10, body + _utf8(client_id) + _utf8(username) + _utf8(password))


def subscribe_packet(packet_id: int, topic_filter: str) -> bytes:
    """SUBSCRIBE to one filter at QoS 0."""
    return _packet(0x82, packet_id.to_bytes(2, "big") + _utf8(topic_filter) + b"\x00")


def publish_packet(topic: str, payload: bytes) -> bytes:
    """PUBLISH at QoS 0, not retained."""
    return _packet(PUBLISH, _utf8(topic) + payload)


def _exactly(sock: ssl.SSLSocket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise WireError("the broker closed the connection")
        data += chunk
    return data


def read_packet(sock: ssl.SSLSocket) -> tuple[int, bytes]:
    """The next packet: its type (high nibble of the first byte) and its body."""
    first = _exactly(sock, 1)[0]
    length, shift = 0, 0
    while True:
        digit = _exactly(sock, 1)[0]
        length += (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    return first & 0xF0, _exactly(sock, length)


def publish_payload(body: bytes) -> tuple[str, bytes]:
    """Topic and payload of a QoS 0 PUBLISH body."""
    size = int.from_bytes(body[:2], "big")
    return body[2 : 2 + size].decode(), body[2 + size :]


@contextlib.contextmanager
def session(
    port: int, creds: ProbeCredentials, client_id: str, timeout: float
) -> Iterator[tuple[int, ssl.SSLSocket]]:
    """A TLS connection that has sent CONNECT and read the CONNACK: yields the CONNACK return
    code (0 = accepted) and the socket; sends DISCONNECT on the way out."""
    context = client_context(creds.ca, creds.cert, creds.key)
    with (
        socket.create_connection((LOCALHOST, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=LOCALHOST) as tls,
    ):
        tls.sendall(connect_packet(client_id, creds.username, creds.password))
        kind, body = read_packet(tls)
        if kind != CONNACK or len(body) != 2:
            raise WireError(f"expected CONNACK, got packet type {kind >> 4}")
        try:
            yield body[1], tls
        finally:
            with contextlib.suppress(OSError):
                tls.sendall(_DISCONNECT)
