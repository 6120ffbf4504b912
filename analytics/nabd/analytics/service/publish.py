"""Publishing alert states on the contract's ward topics (MQTT v5, TLS, QoS 1).

The database is the record; MQTT is how nurses' displays hear about a change at once. So a
message is published only after the transaction that wrote the transition has committed (a
display never shows an alert the database does not have), with QoS 1 (at least once: a display
keeps the newest state per ``alert_id``, so a duplicate is harmless), on
``nabd/v1/ward/<ward>/alerts`` (:func:`nabd.contract.topics.alerts`). The contract's states are
``raised`` (raised, worsened or escalated: the priority in the message is the current one),
``acknowledged`` and ``resolved``; silences and latching change nothing on the wire.

The client is built by :mod:`nabd.mqtt.client` (MQTT v5, the contract's TLS policy, the
service's account), as for every component. paho-mqtt 2.x runs its network thread
(``loop_start``) and reconnects by itself; a publish made while disconnected is queued by paho and
sent on reconnection. A PUBACK with a failure reason code (0x87, not authorized) is counted and
logged: it means the broker's ACL refuses us.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from nabd.analytics.alerts import AlertEventKind
from nabd.analytics.service.conditions import BY_NAME
from nabd.analytics.service.settings import MonitorSettings
from nabd.analytics.service.store import Published, from_ns
from nabd.contract import topics
from nabd.contract.payloads import Alert, AlertState, to_json
from nabd.mqtt.client import BrokerAccount, CleanStart, Reconnect, Session, build_client, start

__all__ = ["AlertPublisher", "alert_payload"]

log = logging.getLogger(__name__)

_STATE: Final = {
    AlertEventKind.RAISED: AlertState.RAISED,
    AlertEventKind.WORSENED: AlertState.RAISED,
    AlertEventKind.ESCALATED: AlertState.RAISED,
    AlertEventKind.ACKNOWLEDGED: AlertState.ACKNOWLEDGED,
    AlertEventKind.RESOLVED: AlertState.RESOLVED,
}


def alert_payload(item: Published) -> Alert | None:
    """The contract message for a written transition, or None if the wire state is unchanged."""
    t = item.transition
    state = _STATE.get(t.kind)
    if state is None:
        return None
    return Alert.model_validate(
        {
            "schema": "nabd.alert/1",
            "alert_id": str(t.alert_id),
            "patient_id": item.patient_id,
            "ward_id": item.ward_id,
            "kind": t.condition,
            "priority": t.priority,
            "state": state,
            "raised_at": from_ns(t.raised_at),
            "message": item.message[:500] or t.condition,
            "metric": BY_NAME[t.condition].metric,
            "facts": item.facts,
        }
    )


class AlertPublisher:
    """A paho client publishing ``Alert`` payloads; thread-safe, non-blocking publish."""

    def __init__(self, settings: MonitorSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._inflight: list[mqtt.MQTTMessageInfo] = []
        self.published = 0
        self.refused = 0
        self._client = self._build()

    def _build(self) -> mqtt.Client:
        s = self._settings
        client = build_client(
            BrokerAccount.from_settings(s),
            s.client_id,
            reconnect=Reconnect.between(s.backoff_min_s, s.backoff_max_s),
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background (paho retries until the broker answers); a publisher has
        no session to resume, so every connection starts clean."""
        session = Session(clean_start=CleanStart.ALWAYS, keepalive_s=30)
        start(self._client, BrokerAccount.from_settings(self._settings), session)

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, items: Iterable[Published]) -> int:
        """Queue the messages of committed transitions (QoS 1); return how many."""
        count = 0
        with self._lock:
            self._inflight = [i for i in self._inflight if not i.is_published()]
            for item in items:
                payload = alert_payload(item)
                if payload is None:
                    continue
                info = self._client.publish(topics.alerts(item.ward_id), to_json(payload), qos=1)
                self._inflight.append(info)
                count += 1
        return count

    def flush(self, timeout_s: float) -> bool:
        """Wait (bounded) until every queued message has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                self._inflight = [i for i in self._inflight if not i.is_published()]
                if not self._inflight:
                    return True
            time.sleep(0.01)
        return False

    def stop(self, timeout_s: float) -> None:
        if self.connected:
            self.flush(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(self, _c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            log.error("broker refused the connection: %s", code)
            return
        self._connected.set()
        log.info("connected to the broker as %s", self._settings.client_id)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        self._connected.clear()
        log.warning("disconnected from the broker: %s", code)

    def _on_publish(self, _c: Any, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            self.refused += 1
            log.error("the broker refused an alert message (mid %d): %s", mid, code)
        else:
            self.published += 1
