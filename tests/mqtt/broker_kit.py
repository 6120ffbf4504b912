"""An MQTT v5 test client for any broker, and the broker a broker-facing test runs against.

``Peer`` is one client on its own network thread with events to wait on (CONNACK, SUBACK,
PUBACK, the next message): no sleeps. It needs only an :class:`Endpoint` (host, services' port,
CA), so the same tests run against the suite's own Mosquitto or against any broker given with
``--broker-url`` (:class:`BrokerUnderTest`, docs/broker-cluster.md).
"""

from __future__ import annotations

import contextlib
import os
import queue
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from nabd.app.stack.accounts import RESERVED
from nabd.app.stack.env import EDGE, GATEWAY_ID, MQTT_CA_FILE, MQTT_GATEWAY_PORT, mqtt_vars
from nabd.app.stack.testing import MqttCredentials, RunningStack


class Endpoint(Protocol):
    """Where a broker's services' listener is, and the CA that signed its certificate."""

    @property
    def mqtt_host(self) -> str: ...

    @property
    def mqtt_port(self) -> int: ...

    @property
    def ca_file(self) -> Path: ...


DEADLINE = 5.0
NOT_AUTHORIZED = 0x87
ACCEPTED = {0x00, 0x10}
"""PUBACK codes for an accepted publish: 0x10 is "accepted, but no subscriber matched"."""


def own_client_id(creds: MqttCredentials | None) -> str:
    """A gateway's one client id (its username, its certificate's common name); any fresh id
    for a service (services are not bound)."""
    if creds is not None and creds.username not in RESERVED:
        return creds.username
    return f"test-{uuid.uuid4().hex[:12]}"


class Peer:
    """One MQTT v5 client on its own network thread, with events to wait on."""

    def __init__(
        self,
        stack: Endpoint,
        creds: MqttCredentials | None,
        *,
        use_tls: bool = True,
        client_cert: tuple[Path, Path] | None = None,
        present_cert: bool = True,
        client_id: str | None = None,
        port: int | None = None,
    ) -> None:
        self._stack = stack
        self.port = port or (creds.port if creds is not None else stack.mqtt_port)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or own_client_id(creds),
            protocol=mqtt.MQTTv5,
        )
        if use_tls:
            context = ssl.create_default_context(cafile=str(stack.ca_file))
            cert = client_cert or ((creds.cert_file, creds.key_file) if creds else None)
            if cert is not None and present_cert:
                context.load_cert_chain(str(cert[0]), str(cert[1]))
            self.client.tls_set_context(context)
        if creds is not None:
            self.client.username_pw_set(creds.username, creds.password)
        self.connack: ReasonCode | None = None
        self.session_present: bool | None = None
        self.answered = threading.Event()
        self.closed = threading.Event()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._acks: dict[int, list[ReasonCode]] = {}
        self._acked = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_publish = lambda _c, _u, mid, code, _p: self._ack(mid, [code])
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self._ack(mid, codes)

    def _on_connect(self, _c: Any, _u: Any, flags: Any, code: ReasonCode, _p: Any) -> None:
        self.connack = code
        self.session_present = bool(flags.session_present)
        self.answered.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _code: Any, _p: Any) -> None:
        self.client.loop_stop()  # from its own thread: ends the loop, no reconnect attempts
        self.closed.set()
        self.answered.set()

    def _ack(self, mid: int, codes: list[ReasonCode]) -> None:
        with self._acked:
            self._acks[mid] = codes
            self._acked.notify_all()

    def _wait_ack(self, mid: int) -> list[ReasonCode]:
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self._acks, timeout=DEADLINE)
            return self._acks.pop(mid)

    def connect(self, **options: Any) -> ReasonCode | None:
        """The CONNACK's reason code, or ``None`` if the broker hung up without one.

        ``options`` go to paho's ``connect`` (``clean_start``, ``properties``)."""
        try:
            self.client.connect(self._stack.mqtt_host, self.port, keepalive=30, **options)
        except (OSError, ssl.SSLError):
            return None
        if self.closed.is_set():  # refused while sending CONNECT, before any network thread
            return None
        self.client.loop_start()
        assert self.answered.wait(DEADLINE), "neither CONNACK nor disconnect"
        return self.connack

    def connected(self, **options: Any) -> Peer:
        code = self.connect(**options)
        assert code is not None
        assert code.value == 0, str(code)
        return self

    def subscribe(self, topic_filter: str) -> None:
        assert self.suback(topic_filter) == 1  # granted QoS 1

    def suback(self, topic_filter: str) -> int:
        """Subscribe at QoS 1 and return the SUBACK's reason code (0x87: not authorised)."""
        _, mid = self.client.subscribe(topic_filter, qos=1)
        assert mid is not None
        (code,) = self._wait_ack(mid)
        return int(code.value)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        (code,) = self._wait_ack(info.mid)
        return int(code.value)

    def next_message(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=DEADLINE)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def peers(endpoint: Endpoint) -> Iterator[Callable[..., Peer]]:
    """A factory of connected-or-not clients of ``endpoint``, all closed on exit (a test's
    ``peer`` fixture)."""
    made: list[Peer] = []

    def make(creds: MqttCredentials | None, **options: Any) -> Peer:
        made.append(Peer(endpoint, creds, **options))
        return made[-1]

    try:
        yield make
    finally:
        for p in made:
            p.close()


# -- the broker under test -------------------------------------------------------------------

SCHEMES: Final = ("mqtts",)
"""Nabd speaks TLS only (docs/security.md): a plain ``mqtt://`` URL is refused."""


class BrokerUrlError(ValueError):
    """``--broker-url`` or its variables are not usable; the message says what to give."""


@dataclass(frozen=True)
class BrokerUnderTest:
    """A broker and the two accounts the broker-facing tests need: a service with ingest's
    rights, and one gateway (its client id is ``nabd-edge-<id>``, its certificate's CN)."""

    mqtt_host: str
    mqtt_port: int
    ca_file: Path
    ingest: MqttCredentials = field(repr=False)
    gateway_id: str
    gateway: MqttCredentials = field(repr=False)
    external: bool
    """True when given with ``--broker-url`` (not the suite's own Mosquitto)."""

    @classmethod
    def of_stack(cls, stack: RunningStack, gateway_id: str) -> BrokerUnderTest:
        """The suite's own Mosquitto, with a gateway account made for the tests."""
        return cls(
            stack.mqtt_host,
            stack.mqtt_port,
            stack.ca_file,
            stack.service("ingest"),
            gateway_id,
            stack.add_gateway(gateway_id),
            external=False,
        )

    @classmethod
    def from_url(cls, url: str, env: dict[str, str] | None = None) -> BrokerUnderTest:
        """A broker given as ``mqtts://host:port`` (its services' listener), with the accounts
        from the variables ``nabd stack env`` prints for a deployment: ``NABD_MQTT_CA_FILE``,
        ``NABD_INGEST_MQTT_*``, ``NABD_GATEWAY_ID``, ``NABD_EDGE_MQTT_*`` and, when gateways
        have their own listener, ``NABD_MQTT_GATEWAY_PORT``."""
        env = dict(os.environ) if env is None else env
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname or parts.port is None:
            raise BrokerUrlError(
                f"--broker-url {url!r}: give mqtts://HOST:PORT (TLS only, port required)"
            )
        missing = [
            name
            for name in (MQTT_CA_FILE, GATEWAY_ID, *_needed(INGEST), *_needed(EDGE))
            if not env.get(name)
        ]
        if missing:
            raise BrokerUrlError(
                f"--broker-url needs these variables too: {', '.join(missing)} "
                "(docs/broker-cluster.md#running-the-broker-tests-against-another-broker)"
            )
        gateway_port = int(env.get(MQTT_GATEWAY_PORT) or parts.port)
        return cls(
            parts.hostname,
            parts.port,
            Path(env[MQTT_CA_FILE]),
            _credentials(env, INGEST, parts.port),
            env[GATEWAY_ID],
            _credentials(env, EDGE, gateway_port),
            external=True,
        )


INGEST: Final = "ingest"


def _needed(component: str) -> list[str]:
    names = mqtt_vars(component)
    needed = [names["username"], names["cert_file"], names["key_file"]]
    return needed if component == EDGE else [*needed, names["password"]]


def _credentials(env: dict[str, str], component: str, port: int) -> MqttCredentials:
    names = mqtt_vars(component)
    return MqttCredentials(
        username=env[names["username"]],
        password=env.get(names["password"]) or None,
        cert_file=Path(env[names["cert_file"]]),
        key_file=Path(env[names["key_file"]]),
        port=port,
    )
