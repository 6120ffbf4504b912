"""How every Nabd component opens its MQTT session: one construction of the paho-mqtt 2.x client.

Edge agents, ingest workers, the analytics service's alert publisher, the load simulator and the
tests' kits speak to the same broker under the same rules: MQTT v5; the contract's TLS policy
(:func:`nabd.contract.tls.client_context`: the deployment's CA only, a client certificate, TLS
1.2 or later); a password account whose username the broker's ACL keys on; a client id chosen by
the caller (the key of a persistent session). Those rules are written once, in
:func:`build_client`. What rightly differs between users is stated as values, not as copied
set-up code:

* :class:`Reconnect`, the bounds of paho's exponential backoff when paho's own network thread
  reconnects (edge, ingest, analytics); None leaves paho's default (the simulator reconnects
  by itself);
* :class:`Session`, how a connection treats the session the broker keeps for the client id:
  clean start (always, first connection of the process only, never), the MQTT v5 Session
  Expiry Interval and Receive Maximum, and the keepalive.

:func:`start` connects in the background on paho's network thread (``connect_async`` +
``loop_start``); :func:`connect` connects at once, for a caller that drives the network loop
itself. paho is not part of the contract (any language must be able to implement that), so it
lives here, one layer above it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nabd.contract.tls import client_context
from nabd.mqtt.buffered import BufferedClient
from nabd.mqtt.errors import MqttSetupError

__all__ = [
    "Broker",
    "BrokerAccount",
    "BrokerSettings",
    "CleanStart",
    "Credentials",
    "Endpoint",
    "Reconnect",
    "Session",
    "build_client",
    "connect",
    "connect_properties",
    "start",
]

_PORT_MAX: Final = 65535
_EXPIRY_MAX: Final = 2**32 - 1
"""The largest Session Expiry Interval MQTT v5 can say (it means "never expires")."""
_PAHO_DEFAULT_MAX_DELAY: Final = 120


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker listens (its TLS listener) and the CA that signed its certificate."""

    host: str
    port: int
    ca_file: Path

    def __post_init__(self) -> None:
        if not self.host:
            raise MqttSetupError("host", "must not be empty")
        if not 1 <= self.port <= _PORT_MAX:
            raise MqttSetupError("port", f"must be in 1..{_PORT_MAX}, got {self.port}")


class Endpoint(Protocol):
    """Anything that says where the broker listens (a :class:`Broker`, the edge's settings)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def ca_file(self) -> Path: ...


class Credentials(Protocol):
    """Anything that holds one client's login: the stack's accounts, a gateway's settings."""

    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str | None: ...
    @property
    def cert_file(self) -> Path: ...
    @property
    def key_file(self) -> Path: ...


class BrokerSettings(Protocol):
    """The broker fields every service's settings class carries (``NABD_MQTT_*`` and the
    service's own ``NABD_<SERVICE>_MQTT_*`` variables)."""

    @property
    def mqtt_host(self) -> str: ...
    @property
    def mqtt_port(self) -> int: ...
    @property
    def mqtt_ca_file(self) -> Path: ...
    @property
    def mqtt_username(self) -> str: ...
    @property
    def mqtt_password(self) -> str: ...
    @property
    def mqtt_cert_file(self) -> Path: ...
    @property
    def mqtt_key_file(self) -> Path: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerAccount:
    """Where the broker listens and who this client is to it: the CA that signed the broker's
    certificate, the client's own certificate and key, its username and password."""

    host: str
    port: int
    ca_file: Path
    username: str
    password: str | None = field(repr=False)
    """``None`` for a certificate-bound account (the stack's gateway listener)."""
    cert_file: Path
    key_file: Path

    def __post_init__(self) -> None:
        Broker(self.host, self.port, self.ca_file)  # the same checks
        if not self.username:
            raise MqttSetupError("username", "must not be empty (the broker's ACL keys on it)")

    @classmethod
    def of(cls, endpoint: Endpoint, credentials: Credentials) -> BrokerAccount:
        """The account of ``credentials`` on the broker at ``endpoint``."""
        return cls(
            host=endpoint.host,
            port=endpoint.port,
            ca_file=Path(endpoint.ca_file),
            username=credentials.username,
            password=credentials.password,
            cert_file=Path(credentials.cert_file),
            key_file=Path(credentials.key_file),
        )

    @classmethod
    def from_settings(cls, settings: BrokerSettings) -> BrokerAccount:
        """The account a service's validated settings name (ingest, the analytics service)."""
        return cls(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            ca_file=Path(settings.mqtt_ca_file),
            username=settings.mqtt_username,
            password=settings.mqtt_password,
            cert_file=Path(settings.mqtt_cert_file),
            key_file=Path(settings.mqtt_key_file),
        )


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Bounds, in whole seconds, of paho's exponential backoff between reconnection attempts."""

    min_s: int = 1
    max_s: int = _PAHO_DEFAULT_MAX_DELAY

    def __post_init__(self) -> None:
        if not 1 <= self.min_s <= self.max_s:
            raise MqttSetupError(
                "reconnect", f"need 1 <= min_s <= max_s, got {self.min_s} and {self.max_s}"
            )

    @classmethod
    def between(cls, min_s: float, max_s: float) -> Reconnect:
        """From a service's backoff settings in (fractional) seconds: paho counts whole ones,
        so each bound is rounded and at least 1 s (and the maximum at least the minimum)."""
        low = max(1, round(min_s))
        return cls(low, max(low, round(max_s)))


class CleanStart(enum.Enum):
    """Whether a CONNECT asks the broker to discard the session it keeps for the client id."""

    ALWAYS = True
    """Every connection starts afresh (a publisher with nothing to resume; ending a session)."""
    FIRST_ONLY = mqtt.MQTT_CLEAN_START_FIRST_ONLY
    """The process's first connection starts afresh, its reconnections resume (the edge agent:
    acks for an earlier boot are stale, acks sent while the link was down are not)."""
    NEVER = False
    """Always resume (an ingest worker: the broker queues observations for it while it is away)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """How a connection treats the broker's session for the client id, and its keepalive."""

    clean_start: CleanStart
    expiry_s: int | None = None
    """MQTT v5 Session Expiry Interval; None sends none (the session ends with the connection)."""
    receive_maximum: int | None = None
    """MQTT v5 Receive Maximum (unacknowledged QoS 1 messages the broker may send); None: 65535."""
    keepalive_s: int = 60

    def __post_init__(self) -> None:
        if self.expiry_s is not None and not 0 <= self.expiry_s <= _EXPIRY_MAX:
            raise MqttSetupError("expiry_s", f"must be in 0..{_EXPIRY_MAX}, got {self.expiry_s}")
        if self.receive_maximum is not None and not 1 <= self.receive_maximum <= _PORT_MAX:
            raise MqttSetupError(
                "receive_maximum", f"must be in 1..{_PORT_MAX}, got {self.receive_maximum}"
            )
        if not 0 <= self.keepalive_s <= _PORT_MAX:
            raise MqttSetupError(
                "keepalive_s", f"must be in 0..{_PORT_MAX}, got {self.keepalive_s}"
            )


def build_client(
    account: BrokerAccount, client_id: str, *, reconnect: Reconnect | None = None
) -> BufferedClient:
    """A paho MQTT v5 client for ``account`` under ``client_id``, not yet connected; it reads
    the socket in large chunks and can acknowledge many messages at once
    (:mod:`nabd.mqtt.buffered`).

    Raises ``OSError`` or ``ssl.SSLError`` when a TLS file is missing or unreadable (as
    :func:`~nabd.contract.tls.client_context` does): each component words that for its users.
    """
    if not client_id:
        raise MqttSetupError("client_id", "must not be empty (it keys the broker's session)")
    client = BufferedClient(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.tls_set_context(client_context(account.ca_file, account.cert_file, account.key_file))
    client.username_pw_set(account.username, account.password)
    if reconnect is not None:
        client.reconnect_delay_set(min_delay=reconnect.min_s, max_delay=reconnect.max_s)
    return client


def connect_properties(session: Session) -> Properties | None:
    """The CONNECT properties ``session`` asks for; None when it asks for none."""
    if session.expiry_s is None and session.receive_maximum is None:
        return None
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if session.expiry_s is not None:
        properties.SessionExpiryInterval = session.expiry_s
    if session.receive_maximum is not None:
        properties.ReceiveMaximum = session.receive_maximum
    return properties


def start(client: mqtt.Client, account: BrokerAccount, session: Session) -> None:
    """Connect in the background on paho's network thread, which retries until the broker
    answers and reconnects after a loss (within the client's :class:`Reconnect` bounds)."""
    client.connect_async(
        account.host,
        account.port,
        keepalive=session.keepalive_s,
        clean_start=session.clean_start.value,
        properties=connect_properties(session),
    )
    client.loop_start()


def connect(client: mqtt.Client, account: BrokerAccount, session: Session) -> None:
    """Connect now (TCP and TLS handshake in this thread); the caller drives the network loop.

    Raises ``OSError`` or ``ssl.SSLError`` when the broker cannot be reached.
    """
    client.connect(
        account.host,
        account.port,
        keepalive=session.keepalive_s,
        clean_start=session.clean_start.value,
        properties=connect_properties(session),
    )
