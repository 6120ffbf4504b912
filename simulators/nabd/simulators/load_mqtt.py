"""Thousands of MQTT sessions from one thread: paho clients on one ``selectors`` loop.

Each virtual gateway logs in with its *own* account (on the stack's gateway listener its client
certificate is its account; a password only for a broker that wants one), because the
broker's ACL lets a gateway publish on its own topic only: sharing a connection between
gateways is not allowed. paho's ``loop_start()`` would cost a thread per client; instead every
client's socket is registered with one selector (paho's external event loop API:
``on_socket_open`` / ``_close`` / ``_register_write`` / ``_unregister_write``,
``loop_read``, ``loop_write``, ``loop_misc``), so one thread drives 1000 TLS sessions.

Everything here runs in the caller's thread: callbacks fire inside :meth:`MqttFleet.poll`. TLS
sockets may hold decrypted bytes the selector cannot see, so a read drains ``pending()``. A lost
session is reconnected after :data:`RECONNECT_S` (its unacknowledged QoS 1 messages are resent by
paho on the new session). Each client is built by :mod:`nabd.mqtt.client`, as for every
component. Connecting is sequential and blocking (paho does the TLS handshake inside
``connect``): a few milliseconds per gateway on a local broker.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import selectors
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from nabd.contract import topics
from nabd.mqtt.client import Broker, BrokerAccount, CleanStart, Session, build_client, connect
from nabd.simulators.errors import LoadError

__all__ = ["RECONNECT_S", "Broker", "GatewayAccount", "MqttFleet", "socket_limit"]

log = logging.getLogger(__name__)

QOS: Final = 1
RECONNECT_S: Final = 1.0
_MISC_EVERY_S: Final = 1.0

PubackHandler = Callable[[int, int, float, int], None]
"""(gateway index, batch_seq, when, reason code)."""
AckHandler = Callable[[int, bytes, float], None]
"""(gateway index, payload of a message on the gateway's ack topic, when)."""


@dataclass(frozen=True, slots=True)
class GatewayAccount:
    """One gateway's credentials; its username is its gateway id (the stack's gateway listener
    takes the certificate's instead); ``password`` ``None``: a certificate-bound account."""

    gateway_id: str
    password: str | None = field(repr=False)
    cert_file: Path
    key_file: Path

    @property
    def username(self) -> str:
        return self.gateway_id


@dataclass(eq=False)
class _Session:
    index: int
    account: GatewayAccount
    broker: BrokerAccount
    client: mqtt.Client
    connected: bool = False
    reconnect_at: float | None = None
    inflight: dict[int, int] = field(default_factory=dict)
    """paho message id -> batch_seq, until the PUBACK."""


class MqttFleet:
    """One paho client per account, all on one selector; see the module docstring."""

    def __init__(
        self,
        broker: Broker,
        accounts: Sequence[GatewayAccount],
        *,
        on_puback: PubackHandler,
        on_ack: AckHandler | None = None,
        keepalive: int = 60,
    ) -> None:
        self.broker = broker
        self.keepalive = keepalive
        self.disconnects = 0
        self.refusals: list[str] = []
        self._on_puback = on_puback
        self._on_ack = on_ack
        self._selector = selectors.DefaultSelector()
        self._closing = False
        self._next_misc = time.monotonic() + _MISC_EVERY_S
        self._mqtt_session = Session(clean_start=CleanStart.FIRST_ONLY, keepalive_s=keepalive)
        self.sessions = [
            self._session(i, account, topics.gateway_client_id(account.gateway_id))
            for i, account in enumerate(accounts)
        ]

    # ---- Set-up -----------------------------------------------------------------------------

    def _session(self, index: int, account: GatewayAccount, client_id: str) -> _Session:
        broker = BrokerAccount.of(self.broker, account)
        try:
            client = build_client(broker, client_id)
        except (OSError, ssl.SSLError) as exc:
            raise LoadError(f"TLS files of gateway {account.gateway_id}: {exc}") from exc
        session = _Session(index, account, broker, client)
        client.user_data_set(session)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = self._published
        client.on_message = self._message
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._done_writing
        return session

    def connect_all(self, timeout: float) -> int:
        """Connect every session (sequentially) and wait until the broker accepted them all or
        ``timeout`` passed; returns how many are connected."""
        deadline = time.monotonic() + timeout
        for session in self.sessions:
            self._connect(session)
            self.poll(0.0)
        while self.connected_count < len(self.sessions) and time.monotonic() < deadline:
            self.poll(0.05)
        return self.connected_count

    def _connect(self, session: _Session) -> None:
        try:
            if session.reconnect_at is None:
                connect(session.client, session.broker, self._mqtt_session)
            else:
                session.client.reconnect()
            session.reconnect_at = None
        except (OSError, ssl.SSLError) as exc:
            log.info("gateway %s: connect failed: %s", session.account.gateway_id, exc)
            session.reconnect_at = time.monotonic() + RECONNECT_S

    @property
    def connected_count(self) -> int:
        return sum(s.connected for s in self.sessions)

    def is_connected(self, index: int) -> bool:
        return self.sessions[index].connected

    @property
    def awaiting_puback(self) -> int:
        return sum(len(s.inflight) for s in self.sessions)

    # ---- Publishing ---------------------------------------------------------------------------

    def publish(self, index: int, topic: str, payload: bytes, batch_seq: int) -> bool:
        """Queue one QoS 1 message of gateway ``index``; False if its session is down."""
        session = self.sessions[index]
        if not session.connected:
            return False
        info = session.client.publish(topic, payload, qos=QOS)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        session.inflight[info.mid] = batch_seq
        return True

    # ---- The loop ---------------------------------------------------------------------------

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` for network events and handle them (callbacks fire here)."""
        for key, mask in self._selector.select(timeout):
            session: _Session = key.data
            if mask & selectors.EVENT_READ:
                self._read(session)
            if mask & selectors.EVENT_WRITE and session.client.socket() is not None:
                session.client.loop_write()
        now = time.monotonic()
        if now >= self._next_misc:
            self._next_misc = now + _MISC_EVERY_S
            for session in self.sessions:
                if session.client.socket() is not None:
                    session.client.loop_misc()
                elif self._due(session, now):
                    self._connect(session)

    def _due(self, session: _Session, now: float) -> bool:
        """Whether a lost session should be reconnected now."""
        return (
            not self._closing and session.reconnect_at is not None and session.reconnect_at <= now
        )

    @staticmethod
    def _read(session: _Session) -> None:
        client = session.client
        rc = client.loop_read()
        sock = client.socket()
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and isinstance(sock, ssl.SSLSocket):
            if not sock.pending():
                break
            rc = client.loop_read()
            sock = client.socket()

    def close(self, timeout: float = 5.0) -> None:
        """Disconnect every session cleanly (within ``timeout``), then drop what is left."""
        self._closing = True
        for session in self.sessions:
            session.reconnect_at = None
            if session.connected:
                session.client.disconnect()
        deadline = time.monotonic() + timeout
        while self._selector.get_map() and time.monotonic() < deadline:
            self.poll(0.05)
        for key in list(self._selector.get_map().values()):
            with contextlib.suppress(OSError):
                key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    # ---- paho callbacks -------------------------------------------------------------------

    def _connected(
        self,
        client: mqtt.Client,
        session: _Session,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self.refusals.append(f"{session.account.gateway_id}: {reason}")
            return
        session.connected = True
        if self._on_ack is not None:
            client.subscribe(topics.ack(session.account.gateway_id), qos=QOS)

    def _disconnected(
        self,
        client: mqtt.Client,
        session: _Session,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if session.connected:
            self.disconnects += 1
        session.connected = False
        session.reconnect_at = time.monotonic() + RECONNECT_S

    def _published(
        self,
        client: mqtt.Client,
        session: _Session,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        batch_seq = session.inflight.pop(mid, None)
        if batch_seq is not None:
            self._on_puback(session.index, batch_seq, time.time(), reason.value)

    def _message(self, client: mqtt.Client, session: _Session, message: mqtt.MQTTMessage) -> None:
        if self._on_ack is not None:
            self._on_ack(session.index, bytes(message.payload), time.time())

    def _socket_open(self, client: mqtt.Client, session: _Session, sock: Any) -> None:
        self._selector.register(sock, selectors.EVENT_READ, session)

    def _socket_close(self, client: mqtt.Client, session: _Session, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _want_write(self, client: mqtt.Client, session: _Session, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, session)

    def _done_writing(self, client: mqtt.Client, session: _Session, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ, session)


def socket_limit() -> int:
    """How many sockets this process may open (the soft ``RLIMIT_NOFILE``)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
