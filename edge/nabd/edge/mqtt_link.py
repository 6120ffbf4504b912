"""The gateway's MQTT session: TLS, its own credentials, MQTT v5, QoS 1, status and last will.

paho-mqtt runs the session on its own network thread, reconnecting by itself (with a capped
delay) for as long as the agent runs, also when the broker is unreachable at start. Its callbacks
are handed to the asyncio loop with ``call_soon_threadsafe``; the agent never blocks on paho.

On every (re)connection the session subscribes to the gateway's ack and config topics (the
broker then sends the retained configuration, docs/contract.md) and publishes the
latest retained ``online`` :class:`~nabd.contract.payloads.GatewayStatus` (the agent then
publishes a fresh one, and more with :meth:`MqttLink.publish_status`); the ``offline`` one is
registered as the last will, so the broker announces a gateway that vanishes, and published
explicitly on a clean stop. The first connection of a process starts a clean session (acks for
an earlier boot are stale); reconnections resume it, so acks sent while the link was down arrive
(``session_expiry_s``).

The client itself (TLS policy, credentials, MQTT v5) is built by :mod:`nabd.mqtt.client`, as
for every component.

A PUBACK only means the broker took the message; the outbox waits for ingest's ``IngestAck``. A
refused publish (PUBACK reason code >= 0x80, e.g. "not authorized") is logged: it points at a
broker ACL that does not match the gateway id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from nabd.contract import topics
from nabd.edge.errors import EdgeConfigError
from nabd.edge.settings import BrokerParams
from nabd.edge.waiting import at_most
from nabd.mqtt.client import BrokerAccount, CleanStart, Reconnect, Session, build_client, start
from nabd.mqtt.errors import MqttSetupError

__all__ = ["MqttLink"]

log = logging.getLogger(__name__)

QOS: Final = 1
_STOP_TIMEOUT: Final = 5.0


def session(params: BrokerParams) -> Session:
    """A clean session for the process's first connection only (see the module docstring)."""
    return Session(
        clean_start=CleanStart.FIRST_ONLY,
        expiry_s=params.session_expiry_s,
        keepalive_s=params.keepalive_s,
    )


class MqttLink:
    """One gateway's session; see the module docstring."""

    def __init__(
        self,
        params: BrokerParams,
        gateway_id: str,
        *,
        online: bytes,
        offline: bytes,
        on_ack: Callable[[bytes], None],
        on_config: Callable[[bytes], None] = lambda _payload: None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._params = params
        self._gateway_id = gateway_id
        self._online = online
        self._offline = offline
        self._on_ack = on_ack
        self._on_config = on_config
        self._on_change = on_change
        self.connected = asyncio.Event()
        """Set while the broker has accepted the session."""
        self.last_error: str | None = None
        self._stopping = False
        self._ack_topic = topics.ack(gateway_id)
        self._config_topic = topics.gateway_config(gateway_id)
        self._status_topic = topics.status(gateway_id)
        try:
            self._account = BrokerAccount.of(params, params)  # the gateway's own login
            self._session = session(params)
            client = build_client(
                self._account,
                topics.gateway_client_id(gateway_id),
                reconnect=Reconnect(1, params.reconnect_max_s),
            )
        except MqttSetupError as exc:
            raise EdgeConfigError(f"broker: {exc}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise EdgeConfigError(f"broker TLS files: {exc}") from exc
        client.will_set(self._status_topic, offline, qos=QOS, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        start(self._client, self._account, self._session)

    async def stop(self) -> None:
        """Publish ``offline`` (if connected), disconnect cleanly, stop the network thread."""
        self._stopping = True
        if self.connected.is_set():
            info = self._client.publish(self._status_topic, self._offline, qos=QOS, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                await at_most(
                    asyncio.to_thread(info.wait_for_publish, _STOP_TIMEOUT), _STOP_TIMEOUT + 1
                )
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected.clear()

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, not retained; paho queues it if the link just dropped."""
        self._client.publish(topic, payload, qos=QOS)

    def publish_status(self, online: bytes) -> None:
        """Publish a new retained ``online`` status (if connected; it is also the one published
        on the next reconnection)."""
        self._online = online
        if self.connected.is_set() and not self._stopping:
            self._client.publish(self._status_topic, online, qos=QOS, retain=True)

    # paho's network thread ----------------------------------------------------------------

    def _changed(self, connected: bool) -> None:
        if self._stopping:
            return
        if connected:
            self.connected.set()
        else:
            self.connected.clear()
        self._on_change()

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed while paho was finishing
            self._loop.call_soon_threadsafe(callback, *args)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            self.last_error = f"broker refused the session: {code}"
            log.error("%s", self.last_error)
            return
        client.subscribe([(self._ack_topic, QOS), (self._config_topic, QOS)])
        client.publish(self._status_topic, self._online, qos=QOS, retain=True)
        self.last_error = None
        log.info("connected to %s:%s", self._params.host, self._params.port)
        self._to_loop(self._changed, True)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            self.last_error = f"disconnected: {code}"
            log.warning("broker link lost: %s", code)
        self._to_loop(self._changed, False)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._ack_topic:
            self._to_loop(self._on_ack, bytes(message.payload))
        elif message.topic == self._config_topic:
            self._to_loop(self._on_config, bytes(message.payload))

    def _on_publish(self, _c: Any, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            log.error("broker refused message %d: %s (check the ACL for this gateway)", mid, code)
