"""The MQTT side: a paho-mqtt 2.x MQTT v5 client that receives batches and acknowledges them
only when told their commit is done.

* **Persistent session.** Fixed client id per worker, ``clean_start=False`` and a Session Expiry
  Interval: the broker keeps our subscription and queues what arrives while we are gone (paho's
  default, ``MQTT_CLEAN_START_FIRST_ONLY``, would throw that queue away on every restart).
* **Shared subscription** ``$share/nabd-ingest/nabd/v1/gw/+/obs``: each message goes to one
  worker of the group.
* **Manual acknowledgement.** ``manual_ack_set(True)``: paho sends no PUBACK by itself;
  :meth:`Consumer.acknowledge` sends them after the commit. A crash before that means
  redelivery, never loss.
* **Receive Maximum** (MQTT v5): the broker sends at most that many unacknowledged messages, so
  a stalled database stops the flow at the broker instead of filling our memory.
* **Reconnection** with exponential backoff is paho's own (``loop_start`` runs
  ``loop_forever``, which reconnects; ``reconnect_delay_set`` bounds the delays).

Packet ids are only meaningful within one connection: after a reconnect the broker re-sends the
unacknowledged messages (same ids, DUP set), and an id acknowledged twice could free a *new*
message the broker gave that id in the meantime. So each delivery carries the connection
``epoch`` it arrived on, and only deliveries of the current connection are acknowledged; the
others come back as duplicates, are recognised as already committed, and are acknowledged then.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from nabd.contract import topics
from nabd.contract.payloads import IngestAck, to_json
from nabd.ingest.settings import IngestSettings
from nabd.mqtt.buffered import BufferedClient
from nabd.mqtt.client import BrokerAccount, CleanStart, Reconnect, Session, build_client, start

__all__ = ["STATUS_SUBSCRIPTION", "SUBSCRIPTION", "Consumer", "Delivery", "is_status_topic"]

log = logging.getLogger(__name__)

SUBSCRIPTION: Final = topics.shared(topics.INGEST_SHARE_GROUP, topics.ALL_OBSERVATIONS)
"""``$share/nabd-ingest/nabd/v1/gw/+/obs``."""

STATUS_SUBSCRIPTION: Final = topics.ALL_STATUSES
"""``nabd/v1/gw/+/status``, not shared: every worker gets every status, and the retained ones
when it subscribes (a shared subscription gets no retained messages). See ``gateway_status``."""


def is_status_topic(topic: str) -> bool:
    """Whether ``topic`` is a gateway's status topic, ``nabd/v1/gw/<gw>/status``."""
    parts = topic.split("/")
    return len(parts) == 5 and topic.startswith(f"{topics.ROOT}/gw/") and parts[4] == "status"


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the broker has acknowledged this QoS 1 publish.

    A publish made while the connection is down (a broker crash) gets ``rc`` = NO_CONN, yet paho
    keeps the message and sends it on reconnect; its ``is_published()`` raises RuntimeError for
    any such ``rc``, which killed the worker at its next flush after a broker restart. That
    ``rc`` means "queued", so it is cleared before asking.
    """
    if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
        info.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
    return info.is_published()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received MQTT message and what is needed to acknowledge it."""

    number: int
    """Unique within the process, in order of receipt."""
    mid: int
    qos: int
    epoch: int
    """The connection it arrived on (see the module's docstring)."""
    topic: str
    payload: bytes
    received_at: float
    """Wall-clock seconds (``time.time()``) at receipt."""


class Consumer:
    """The paho client, its network thread, and epoch-checked acknowledgement."""

    def __init__(
        self,
        settings: IngestSettings,
        handle: Callable[[Delivery], None],
        *,
        on_connection: Callable[[bool], None] | None = None,
        handle_status: Callable[[Delivery], None] | None = None,
    ) -> None:
        self._settings = settings
        self._handle = handle
        self._handle_status = handle_status
        self._on_connection = on_connection
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._epoch = 0
        self._connected = False
        self._unpublished: deque[mqtt.MQTTMessageInfo] = deque()
        self._subscribed = threading.Event()
        self._client = self._build()

    def _build(self) -> BufferedClient:
        s = self._settings
        client = _worker_client(s, Reconnect.between(s.backoff_min_s, s.backoff_max_s))
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    @property
    def connected(self) -> bool:
        return self._connected

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Wait until the broker confirmed our subscription on the current connection."""
        return self._subscribed.wait(timeout_s)

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and start receiving."""
        s = self._settings
        session = Session(
            clean_start=CleanStart.NEVER,
            expiry_s=s.session_expiry_s,
            receive_maximum=s.receive_maximum,
            keepalive_s=s.keepalive_s,
        )
        start(self._client, BrokerAccount.from_settings(s), session)

    def acknowledge(self, deliveries: Iterable[Delivery]) -> int:
        """PUBACK the deliveries of the current connection; return how many were acknowledged."""
        with self._lock:
            if not self._connected:
                return 0
            current = [d for d in deliveries if d.epoch == self._epoch]
            self._client.ack_many(d.mid for d in current if d.qos == 1)
        return len(current)

    def publish_acks(self, acks: Iterable[IngestAck]) -> None:
        """Tell gateways (QoS 1) which batches are committed; queued by paho while offline."""
        with self._lock:
            self._forget_published()
            for ack in acks:
                info = self._client.publish(topics.ack(ack.gateway_id), to_json(ack), qos=1)
                self._unpublished.append(info)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message (the watchdog's alerts), delivered like the acks."""
        with self._lock:
            self._forget_published()
            self._unpublished.append(self._client.publish(topic, payload, qos=1))

    def _forget_published(self) -> None:
        """Drop the messages the broker acknowledged from the head of the queue (they are
        acknowledged roughly in order). Looking only at the head keeps a publish O(1): checking
        the whole list at every publish made the watchdog's 3 000 alerts of one pass quadratic."""
        unpublished = self._unpublished
        while unpublished and _published(unpublished[0]):
            unpublished.popleft()

    @property
    def epoch(self) -> int:
        """Counts broker connections: a new one may have lost the retained messages."""
        return self._epoch

    def publish_config(self, gateway_id: str, payload: bytes) -> bool:
        """Publish a gateway's configuration, retained (``b""`` clears it); ``False`` when the
        link is down (nothing queued: the publisher sends the then-current list later)."""
        with self._lock:
            if not self._connected:
                return False
            self._client.publish(topics.gateway_config(gateway_id), payload, qos=1, retain=True)
            return True

    def stop(self, timeout_s: float) -> None:
        """Wait (bounded) for queued acks to reach the broker, then disconnect, keeping the
        session (no unsubscribe: the broker goes on queueing for us)."""
        deadline = time.monotonic() + timeout_s
        while self._connected and time.monotonic() < deadline:
            with self._lock:
                self._unpublished = deque(i for i in self._unpublished if not _published(i))
                if not self._unpublished:
                    break
            time.sleep(0.01)
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason_code)})
            return
        with self._lock:
            self._epoch += 1
            self._connected = True
        log.info(
            "connected to the broker",
            extra={"client_id": self._settings.client_id, "session_present": flags.session_present},
        )
        wanted = [SUBSCRIPTION] + ([STATUS_SUBSCRIPTION] if self._handle_status else [])
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in wanted])

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._epoch += 1
            self._connected = False
        self._subscribed.clear()
        log.warning("disconnected from the broker", extra={"reason": str(reason_code)})
        if self._on_connection is not None:
            self._on_connection(False)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("subscription refused", extra={"filter": SUBSCRIPTION, "reason": refused})
            return
        self._subscribed.set()
        if self._on_connection is not None:
            self._on_connection(True)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # MQTT topics are UTF-8; keep what came rather than drop it
            topic = repr(message._topic)
        delivery = Delivery(
            number=next(self._numbers),
            mid=message.mid,
            qos=message.qos,
            epoch=self._epoch,
            topic=topic,
            payload=bytes(message.payload),
            received_at=time.time(),
        )
        try:
            if self._handle_status is not None and is_status_topic(topic):
                self._handle_status(delivery)
            else:
                self._handle(delivery)
        except Exception:  # last resort: a handler bug must not kill the network thread
            log.exception("message handler failed; the message stays unacknowledged")


def _worker_client(s: IngestSettings, reconnect: Reconnect | None = None) -> BufferedClient:
    """A paho v5 client (:mod:`nabd.mqtt.client`) with this worker's client id and account."""
    return build_client(BrokerAccount.from_settings(s), s.client_id, reconnect=reconnect)


def end_session(settings: IngestSettings, timeout_s: float = 10.0) -> bool:
    """Make the broker discard this worker's persistent session; True once it has.

    A stopped worker's session stays in the shared subscription's group until it expires, and
    the broker keeps handing it its share of the observations, which then wait for a worker that
    is not coming back. Nothing is lost (gateways send unacknowledged batches again after their
    ack timeout, and a re-send goes to a live worker), but those readings arrive late. Retiring a
    worker for good therefore ends its session: one connection with its client id,
    ``clean_start`` and a zero session expiry. The worker must be stopped first: connecting with
    the client id of a running worker takes its connection over.
    """
    client = _worker_client(settings)
    accepted = threading.Event()

    def on_connect(
        client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if not reason.is_failure:
            accepted.set()

    client.on_connect = on_connect
    start(
        client,
        BrokerAccount.from_settings(settings),
        Session(clean_start=CleanStart.ALWAYS, expiry_s=0),
    )
    try:
        return accepted.wait(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
