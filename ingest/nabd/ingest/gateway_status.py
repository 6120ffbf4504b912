"""Gateway status messages: what each gateway last said about itself, its devices and its outbox.

Gateways keep a retained :class:`~nabd.contract.payloads.GatewayStatus` on
``nabd/v1/gw/<gw>/status`` (``online`` every status interval and at every device change, the
``offline`` last will). Ingest records it in ``gateway_state`` and ``gateway_device_state``
(migration 0008) and in the registry columns the analytics service and the dashboards already
read (``gateway.last_status``, ``gateway.last_seen_at``, ``device.battery_level``,
``device.last_seen_at``), and each device's Device Information strings in ``device.reported_*``
with ``device.identity_mismatch`` when they contradict its registration (migration 0110,
:mod:`nabd.ingest.device_identity`).

Kept off the observation hot path: status messages come on a subscription of their own
(not shared: every worker gets every status, and the retained ones on subscribing; shared
subscriptions get no retained messages), are queued to a thread with its own database connection,
and never wait for or delay a flush.

A status is state, not an event: it gets no ``IngestAck`` and the newest wins.
:func:`supersedes` decides, in the transaction that holds the gateway's row lock, so several
workers applying the same statuses in any order end in the same state. A malformed status goes
to ``dead_letter`` like any other message. A status from a gateway the registry does not know is
ignored and counted: retained statuses are broker state (another deployment's gateways, a retired
gateway's last will), not messages addressed to this database.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from prometheus_client import CollectorRegistry, Counter
from psycopg import errors as pg_errors

from nabd.contract import topics
from nabd.contract.errors import ContractError, PayloadError
from nabd.contract.payloads import DeviceInformation, GatewayState, GatewayStatus, parse
from nabd.ingest import dead_letter_rows
from nabd.ingest.consumer import Delivery
from nabd.ingest.device_identity import Registered, mismatch
from nabd.ingest.side_connection import SideConnection
from nabd.ingest.validate import Category, Rejected

__all__ = [
    "StatusOutcome",
    "StatusRecorder",
    "StoredStatus",
    "judge_status",
    "next_status_at",
    "record",
    "supersedes",
]

log = logging.getLogger(__name__)

_QUEUE_MAX: Final = 10_000
_POLL_S: Final = 0.5


# -- pure --------------------------------------------------------------------------------------


def judge_status(topic: str, payload: bytes) -> GatewayStatus | Rejected | None:
    """A valid status published on its own gateway's topic, or why not; never raises.

    ``None`` for an empty payload: the MQTT way of deleting a retained message (a retired
    gateway's status cleared by an operator), which says nothing about the gateway.
    """
    if not payload:
        return None
    try:
        gateway_id = topics.gateway_of(topic)
    except ContractError as exc:
        return Rejected(topic, payload, None, Category.TOPIC, str(exc))
    try:
        status = parse(GatewayStatus, payload)
    except PayloadError as exc:
        return Rejected(topic, payload, gateway_id, Category.PAYLOAD, exc.reason, exc.field or None)
    if status.gateway_id != gateway_id:
        reason = f"status of gateway {status.gateway_id!r} on the topic of {gateway_id!r}"
        return Rejected(topic, payload, gateway_id, Category.GATEWAY_MISMATCH, reason, "gateway_id")
    return status


@dataclass(frozen=True, slots=True)
class StoredStatus:
    """What ``gateway_state`` holds for a gateway."""

    boot_id: str
    state: GatewayState
    status_at: datetime
    """The newest ``at`` applied so far."""


def supersedes(stored: StoredStatus | None, incoming: GatewayStatus) -> bool:
    """Whether ``incoming`` replaces what is stored (docs/contract.md, GatewayStatus).

    Newer ``at`` wins. The exception is the last will: written when its session started, its
    ``at`` is older than the session's own statuses, yet an ``offline`` of the boot that is
    stored as ``online`` is that session's last word. The stored order (``status_at``) never
    goes back (see :func:`next_status_at`), so a re-delivered ``online`` cannot undo it.
    """
    if stored is None or incoming.at > stored.status_at:
        return True
    return (
        incoming.state is GatewayState.OFFLINE
        and stored.state is GatewayState.ONLINE
        and incoming.boot_id == stored.boot_id
    )


def next_status_at(stored: StoredStatus | None, incoming: GatewayStatus) -> datetime:
    """The order after applying ``incoming``: the newest ``at`` seen."""
    return incoming.at if stored is None else max(stored.status_at, incoming.at)


# -- database ----------------------------------------------------------------------------------

_LOCK_SQL: Final = "SELECT 1 FROM gateway WHERE id = %s FOR NO KEY UPDATE"
_STORED_SQL: Final = "SELECT boot_id, state, status_at FROM gateway_state WHERE gateway_id = %s"
_UPSERT_GATEWAY_SQL: Final = """
INSERT INTO gateway_state AS g (gateway_id, boot_id, state, status_at, received_at,
    software_version, outbox_pending, outbox_oldest_at, dropped_full, dropped_expired)
VALUES (%(gateway_id)s, %(boot_id)s, %(state)s, %(status_at)s, now(), %(software_version)s,
    %(pending)s, %(oldest)s, %(dropped_full)s, %(dropped_expired)s)
ON CONFLICT (gateway_id) DO UPDATE SET
    boot_id = excluded.boot_id, state = excluded.state, status_at = excluded.status_at,
    received_at = excluded.received_at, software_version = excluded.software_version,
    outbox_pending = coalesce(excluded.outbox_pending, g.outbox_pending),
    outbox_oldest_at = CASE WHEN excluded.outbox_pending IS NULL THEN g.outbox_oldest_at
                            ELSE excluded.outbox_oldest_at END,
    dropped_full = coalesce(excluded.dropped_full, g.dropped_full),
    dropped_expired = coalesce(excluded.dropped_expired, g.dropped_expired)
"""
_REGISTRY_GATEWAY_SQL: Final = """
UPDATE gateway SET last_status = %(state)s,
    last_seen_at = CASE WHEN %(state)s = 'online' THEN now() ELSE last_seen_at END
WHERE id = %(gateway_id)s
"""
_FORGET_DEVICES_SQL: Final = """
DELETE FROM gateway_device_state WHERE gateway_id = %s AND NOT (device_id = ANY (%s))
"""
_FORGET_NEARBY_SQL: Final = "DELETE FROM gateway_nearby WHERE gateway_id = %s"
_INSERT_NEARBY_SQL: Final = """
INSERT INTO gateway_nearby (gateway_id, address, services, rssi_dbm, heard_at, status_at)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_UPSERT_DEVICE_SQL: Final = """
INSERT INTO gateway_device_state (gateway_id, device_id, state, since, last_reading_at,
    battery_percent, rssi_dbm, status_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (gateway_id, device_id) DO UPDATE SET
    state = excluded.state, since = excluded.since, last_reading_at = excluded.last_reading_at,
    battery_percent = excluded.battery_percent, rssi_dbm = excluded.rssi_dbm,
    status_at = excluded.status_at
"""
_REGISTRY_DEVICE_SQL: Final = """
UPDATE device SET battery_level = coalesce(%s, battery_level),
    last_seen_at = CASE WHEN last_seen_at IS NULL OR %s > last_seen_at THEN %s
                        ELSE last_seen_at END
WHERE id = %s AND gateway_id = %s
"""

_REGISTERED_SQL: Final = """
SELECT id, manufacturer, model, serial FROM device WHERE id = ANY (%s) AND gateway_id = %s
"""
_UPDATE_INFORMATION_SQL: Final = """
UPDATE device SET reported_manufacturer = %(manufacturer)s, reported_model = %(model)s,
    reported_serial = %(serial)s, reported_firmware = %(firmware)s,
    reported_at = CASE WHEN (reported_manufacturer, reported_model, reported_serial,
                             reported_firmware)
                            IS DISTINCT FROM (%(manufacturer)s::text, %(model)s::text,
                                              %(serial)s::text, %(firmware)s::text)
                       THEN %(at)s ELSE reported_at END,
    identity_mismatch = %(mismatch)s,
    identity_mismatch_since = CASE WHEN %(mismatch)s::text IS NULL THEN NULL
                                   ELSE coalesce(identity_mismatch_since, %(at)s) END
WHERE id = %(id)s
  AND (reported_manufacturer, reported_model, reported_serial, reported_firmware,
       identity_mismatch)
      IS DISTINCT FROM (%(manufacturer)s::text, %(model)s::text, %(serial)s::text,
                        %(firmware)s::text, %(mismatch)s::text)
"""

Conn = psycopg.Connection[Any]


class StatusOutcome:
    """How a status message ended: labels of ``nabd_ingest_status_messages_total``."""

    APPLIED: Final = "applied"
    STALE: Final = "stale"
    UNKNOWN_GATEWAY: Final = "unknown_gateway"
    CLEARED: Final = "cleared"
    DEAD_LETTER: Final = "dead_letter"
    ALL: Final = (APPLIED, STALE, UNKNOWN_GATEWAY, CLEARED, DEAD_LETTER)


def record(conn: Conn, verdict: GatewayStatus | Rejected | None) -> str:
    """Write one judged status in the current transaction; return its :class:`StatusOutcome`."""
    if verdict is None:
        return StatusOutcome.CLEARED
    if isinstance(verdict, Rejected):
        dead_letter_rows.insert(conn, [verdict])
        return StatusOutcome.DEAD_LETTER
    status = verdict
    if conn.execute(_LOCK_SQL, (status.gateway_id,)).fetchone() is None:
        return StatusOutcome.UNKNOWN_GATEWAY
    row = conn.execute(_STORED_SQL, (status.gateway_id,)).fetchone()
    stored = None if row is None else StoredStatus(row[0], GatewayState(row[1]), row[2])
    if not supersedes(stored, status):
        return StatusOutcome.STALE
    _write_gateway(conn, status, next_status_at(stored, status))
    if status.state is GatewayState.ONLINE:
        _write_devices(conn, status)
        _write_information(conn, status)
        _write_nearby(conn, status)
    return StatusOutcome.APPLIED


def _write_gateway(conn: Conn, status: GatewayStatus, status_at: datetime) -> None:
    outbox = status.outbox
    conn.execute(
        _UPSERT_GATEWAY_SQL,
        {
            "gateway_id": status.gateway_id,
            "boot_id": status.boot_id,
            "state": status.state.value,
            "status_at": status_at,
            "software_version": status.software_version,
            "pending": None if outbox is None else outbox.pending,
            "oldest": None if outbox is None else outbox.oldest_received_at,
            "dropped_full": None if outbox is None else outbox.dropped_full,
            "dropped_expired": None if outbox is None else outbox.dropped_expired,
        },
    )
    conn.execute(
        _REGISTRY_GATEWAY_SQL, {"state": status.state.value, "gateway_id": status.gateway_id}
    )


def _write_devices(conn: Conn, status: GatewayStatus) -> None:
    gateway_id = status.gateway_id
    conn.execute(_FORGET_DEVICES_SQL, (gateway_id, [d.device_id for d in status.devices]))
    with conn.cursor() as cur:
        cur.executemany(
            _UPSERT_DEVICE_SQL,
            [
                (
                    gateway_id,
                    d.device_id,
                    d.state.value,
                    d.since,
                    d.last_reading_at,
                    d.battery_percent,
                    d.rssi_dbm,
                    status.at,
                )
                for d in status.devices
            ],
        )
        cur.executemany(
            _REGISTRY_DEVICE_SQL,
            [
                (
                    d.battery_percent,
                    d.last_reading_at,
                    d.last_reading_at,
                    d.device_id,
                    gateway_id,
                )
                for d in status.devices
                if d.battery_percent is not None or d.last_reading_at is not None
            ],
        )


def _write_information(conn: Conn, status: GatewayStatus) -> None:
    """Each device's Device Information strings, and whether they contradict its registration
    (:mod:`nabd.ingest.device_identity`); a row is written only when something changed."""
    reported = {d.device_id: d.information for d in status.devices if d.information is not None}
    if not reported:
        return
    rows = conn.execute(_REGISTERED_SQL, (list(reported), status.gateway_id)).fetchall()
    with conn.cursor() as cur:
        cur.executemany(
            _UPDATE_INFORMATION_SQL,
            [
                _information_row(device_id, Registered(manufacturer, model, serial),
                                 reported[device_id], status.at)
                for device_id, manufacturer, model, serial in rows
            ],
        )  # fmt: skip


def _information_row(
    device_id: str, registered: Registered, info: DeviceInformation, at: datetime
) -> dict[str, Any]:
    return {
        "id": device_id,
        "manufacturer": info.manufacturer,
        "model": info.model,
        "serial": info.serial_number,
        "firmware": info.firmware_revision,
        "mismatch": mismatch(registered, info),
        "at": at,
    }


def _write_nearby(conn: Conn, status: GatewayStatus) -> None:
    """What the gateway hears but does not read, as of this status (``nabd gateway seen``)."""
    conn.execute(_FORGET_NEARBY_SQL, (status.gateway_id,))
    with conn.cursor() as cur:
        cur.executemany(
            _INSERT_NEARBY_SQL,
            [
                (status.gateway_id, d.address, list(d.services), d.rssi_dbm, d.heard_at,
                 status.at)
                for d in status.nearby
            ],
        )  # fmt: skip


def _refused(delivery: Delivery, verdict: GatewayStatus | Rejected | None, reason: str) -> Rejected:
    gateway_id = None if verdict is None else verdict.gateway_id
    return Rejected(delivery.topic, delivery.payload, gateway_id, Category.DATABASE, reason)


# -- the thread --------------------------------------------------------------------------------


class StatusRecorder:
    """Records status deliveries on a thread and connection of its own, then acknowledges them.

    A delivery is acknowledged (MQTT PUBACK) only after its transaction committed; while the
    database is unavailable the thread retries with backoff, holding the rest in its queue
    (bounded: beyond it deliveries stay unacknowledged and the broker sends them again).
    """

    def __init__(
        self,
        conninfo: str,
        worker_id: str,
        acknowledge: Callable[[Iterable[Delivery]], int],
        *,
        registry: CollectorRegistry,
        fallback: Callable[[str], None] = lambda how: None,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        statement_timeout_s: float = 30.0,
    ) -> None:
        self._acknowledge = acknowledge
        self._fallback = fallback
        self._backoff = (backoff_min_s, backoff_max_s)
        self._db = SideConnection(conninfo, f"nabd-ingest-{worker_id}-status", statement_timeout_s)
        self._queue: queue.Queue[Delivery] = queue.Queue(_QUEUE_MAX)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-status", daemon=True)
        self.outcomes = Counter(
            "nabd_ingest_status_messages",
            "Gateway status messages, by outcome: " + ", ".join(StatusOutcome.ALL),
            ["outcome"],
            registry=registry,
        )
        for outcome in StatusOutcome.ALL:
            self.outcomes.labels(outcome)

    def put(self, delivery: Delivery) -> None:
        """Queue a delivery (paho's thread); a full queue leaves it unacknowledged."""
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            log.warning("status queue full; the broker will send the status again")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Stop after the current status; unrecorded ones stay unacknowledged (redelivered)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    delivery = self._queue.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                self._record_until_done(delivery)
        finally:
            self._db.close()

    def _record_until_done(self, delivery: Delivery) -> None:
        delay = self._backoff[0]
        verdict = judge_status(delivery.topic, delivery.payload)
        while not self._stop.is_set():
            try:
                outcome = self._commit(verdict)
            except (pg_errors.DataError, pg_errors.IntegrityError) as exc:
                # The database refuses this status itself: retrying would fail the same way.
                # A status refused becomes a dead letter; a dead letter refused is kept raw; a
                # raw one refused is logged (dead_letter_rows): never dropped, never retried.
                error = f"{exc.sqlstate} {exc}"
                if not isinstance(verdict, Rejected):
                    verdict = _refused(delivery, verdict, error)
                elif verdict.category is not Category.UNSTORABLE:
                    log.error("the database refused a dead letter; keeping it raw")
                    verdict = dead_letter_rows.last_resort(verdict, error)
                    self._fallback(dead_letter_rows.FALLBACK_RAW)
                else:
                    dead_letter_rows.log_lost(verdict, error)
                    self._fallback(dead_letter_rows.FALLBACK_LOGGED)
                    self._acknowledge([delivery])
                    self.outcomes.labels(StatusOutcome.DEAD_LETTER).inc()
                    return
                continue
            except psycopg.Error as exc:
                self._db.close()
                log.warning(
                    "could not record a gateway status",
                    extra={"error": str(exc), "retry_in_s": delay},
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            self._acknowledge([delivery])
            self.outcomes.labels(outcome).inc()
            return

    def _commit(self, verdict: GatewayStatus | Rejected | None) -> str:
        conn = self._db.get()
        with conn.transaction():
            return record(conn, verdict)
