"""Each gateway's device list, from the registry to the gateway, live (docs/ingest.md).

Why ingest: it is the server-side service that is always running, already holds a broker
account and a database login that reads the registry (``gateway``, ``device``,
``device_assignment``); the care operations stay pure database transactions and need no broker.

Every ``interval_s`` a thread reads, for every gateway not revoked, the devices it is to read:
those registered to it (``device.gateway_id``, which follows the bed of the wearer's
assignment or transfer) with an assignment open now whose patient's consent allows collection
now (docs/consent.md: a withdrawal takes the patient's devices out of the list, and the gateway
disconnects them). A list that cannot name every such device
(one has no address, or a kind no gateway would understand) is *held*: nothing is published for
that gateway, which keeps the list it has (or its TOML fallback), since a list missing a worn
device would silently stop monitoring a patient. A gateway whose list differs
from what this worker last published gets a new retained :class:`GatewayConfig` on
``nabd/v1/gw/<gw>/config``; a revoked gateway's retained message is cleared. The version is the
database clock in microseconds when the list was read, so it grows across workers and restarts
without any stored counter; two workers publishing the same list give the gateway two versions
of one list (the later applies, changing nothing). A worker that published a list read before a
change after another worker published the list read after it leaves the older one retained
(the gateway ignores it, being older); that worker corrects it at its next pass, since the list
it last published is not the registry's any more.

A pass first reads ``registry_version`` (migration 0151: bumped in the same transaction as any
change to devices, assignments, gateways or consents). When it has not moved since the last pass
whose publishes all went out, the lists cannot have changed and the pass ends there, except that
every :data:`RECHECK_S` the lists are read anyway: an assignment or a consent can begin or end at
a time set in advance, which writes nothing when that time comes. Reading every list every 2 s
cost PostgreSQL 108 ms a pass at 5 000 beds (``bench/capacity.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from pydantic import ValidationError

from nabd.contract.device_kinds import DEVICE_KINDS
from nabd.contract.payloads import CONFIG_SCHEMA, ConfiguredDevice, GatewayConfig, to_json
from nabd.ingest.registry_cache import VERSION_SQL
from nabd.ingest.side_connection import SideConnection

__all__ = ["RECHECK_S", "ConfigPublisher", "Plan", "desired_lists", "plan"]

log = logging.getLogger(__name__)

_QUERY: Final = """
WITH assigned AS (
    SELECT a.device_id, a.patient_id FROM device_assignment a WHERE a.valid @> now()
), restricted AS (
    SELECT r.patient_id, r.periods
    FROM consent_restricted_periods(ARRAY(SELECT DISTINCT patient_id FROM assigned)) AS r
)
SELECT g.id, d.id, d.address, d.kind
FROM gateway g
LEFT JOIN device d
  ON d.gateway_id = g.id
 AND EXISTS (SELECT 1 FROM assigned a LEFT JOIN restricted r USING (patient_id)
             WHERE a.device_id = d.id AND (r.periods IS NULL OR r.periods @> now()))
WHERE g.revoked_at IS NULL
ORDER BY g.id, d.id
"""
"""Every live gateway with the devices it is to read: assigned now, to a patient whose consent
allows collection now. Consent is asked once for all patients (``consent_restricted_periods``
names only those not collected at every instant: none, usually), not per assignment: calling
``consent_collection_periods`` for each of 12 000 assignments took 0.55 s of the database every
pass at 3 000 beds (``bench/capacity.py``)."""
RECHECK_S: Final = 30.0
"""The longest a pass trusts an unchanged ``registry_version``: a time set in advance (an
assignment's end, a consent's start) takes effect in the gateways' lists within this."""

_CLOCK: Final = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now()"

DeviceList = tuple[ConfiguredDevice, ...]


def desired_lists(
    rows: Iterable[tuple[str, str | None, str | None, str | None]],
) -> dict[str, DeviceList | None]:
    """Gateway -> the devices it is to read, from ``(gateway, device, address, kind)`` rows (a
    gateway with none has one row of ``None``); ``None`` for a gateway whose list is held: a worn
    device with no address, or a registry row the contract refuses (a kind spelled in a way no
    gateway would understand), is logged and the gateway gets no list rather than one without
    that patient's device."""
    lists: dict[str, list[ConfiguredDevice]] = {}
    held: set[str] = set()
    for gateway, device, address, kind in rows:
        devices = lists.setdefault(gateway, [])
        if device is None:
            continue
        try:
            devices.append(
                ConfiguredDevice.model_validate(
                    {
                        "device_id": device,
                        "address": address,
                        "kind": kind,
                        "services": DEVICE_KINDS.get(kind or "", ()),
                    }
                )
            )
        except ValidationError:
            held.add(gateway)
            log.error(
                "gateway %s keeps its list: device %s has no address or is not a valid entry",
                gateway,
                device,
            )
    return {gw: None if gw in held else tuple(devices) for gw, devices in lists.items()}


@dataclass(frozen=True)
class Plan:
    publish: Mapping[str, DeviceList]
    """Gateways whose list changed (or was never published by this worker)."""
    clear: frozenset[str]
    """Gateways published before and now revoked or deleted: their retained config goes."""


def plan(published: Mapping[str, DeviceList], desired: Mapping[str, DeviceList | None]) -> Plan:
    """What to publish to move the broker's retained configs from ``published`` to ``desired``
    (a held gateway, ``None``, is left as it is: neither published nor cleared)."""
    return Plan(
        {
            gw: devices
            for gw, devices in desired.items()
            if devices is not None and published.get(gw) != devices
        },
        frozenset(published.keys() - desired.keys()),
    )


class ConfigPublisher:
    """The thread; ``publish(gateway, payload)`` returns whether the broker link is up (a
    payload of ``b""`` clears the retained message). ``epoch()`` changes with every broker
    (re)connection: the broker may have lost its retained messages, so all are sent again."""

    def __init__(
        self,
        conninfo: str,
        worker_id: str,
        publish: Callable[[str, bytes], bool],
        epoch: Callable[[], int],
        *,
        interval_s: float,
        statement_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._epoch = epoch
        self._interval_s = interval_s
        self._db = SideConnection(conninfo, f"nabd-ingest-{worker_id}-configs", statement_timeout_s)
        self._published: dict[str, DeviceList] = {}
        self._published_epoch: int | None = None
        self._settled_rows: list[tuple[Any, ...]] | None = None
        """The registry's rows at the last pass whose publishes all went out: the same rows
        again need no work (at 3 000 beds, turning 12 000 rows into device lists every 2 s took
        the worker's GIL from validation for ~0.1 s a pass)."""
        self._settled_version: int | None = None
        """``registry_version`` as read with :attr:`_settled_rows`."""
        self._settled_at = 0.0
        self._clock = clock
        self.reads = 0
        """Passes that read every list (the others found the registry unchanged): for tests."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-configs", daemon=True)

    def start(self) -> None:
        if self._interval_s > 0:
            self._thread.start()

    def stop(self, timeout_s: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if not self._thread.is_alive():  # its thread closed it, or there was none (pass_once)
            self._db.close()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval_s):
                try:
                    self.pass_once()
                except psycopg.Error as exc:
                    self._db.close()
                    log.warning("could not read the gateways' devices", extra={"error": str(exc)})
        finally:
            self._db.close()

    def pass_once(self) -> None:
        """Read the registry (unless it has not changed) and publish what changed."""
        epoch = self._epoch()
        if epoch != self._published_epoch:
            self._published, self._published_epoch = {}, epoch
            self._settled_rows = None
        conn = self._db.get()
        now = self._clock()
        with conn.transaction():
            found = conn.execute(VERSION_SQL).fetchone()
            registry = int(found[0]) if found is not None else None
            if (
                self._settled_rows is not None
                and registry is not None
                and registry == self._settled_version
                and now - self._settled_at < RECHECK_S
            ):
                return  # nothing was changed since the last pass, whose publishes all went out
            clock = conn.execute(_CLOCK).fetchone()
            rows = conn.execute(_QUERY).fetchall()
        self.reads += 1
        assert clock is not None
        settled = rows == self._settled_rows or self._publish_changes(rows, clock)
        self._settled_rows = rows if settled else None
        self._settled_version, self._settled_at = registry, now

    def _publish_changes(self, rows: list[tuple[Any, ...]], clock: tuple[Any, ...]) -> bool:
        """Publish the lists that differ from what was published; whether all went out."""
        version, issued_at = int(clock[0]), clock[1]
        todo = plan(self._published, desired_lists(rows))
        settled = True
        for gateway, devices in todo.publish.items():
            if self._publish(gateway, _payload(gateway, version, issued_at, devices)):
                self._published[gateway] = devices
                log.info("gateway %s: %d devices (version %d)", gateway, len(devices), version)
            else:
                settled = False
        for gateway in todo.clear:
            if self._publish(gateway, b""):
                del self._published[gateway]
            else:
                settled = False
        return settled


def _payload(gateway: str, version: int, issued_at: datetime, devices: DeviceList) -> bytes:
    config = GatewayConfig.model_validate(
        {
            "schema": CONFIG_SCHEMA,
            "gateway_id": gateway,
            "version": version,
            "issued_at": issued_at,
            "devices": devices,
        }
    )
    return to_json(config)
