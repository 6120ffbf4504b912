"""Gateways in the registry: ``nabd gateway add|list``.

A gateway row is what ingest checks a device's readings against (``device.gateway_id``) and
what a bed names as the gateway serving it. Its broker account and certificate are made by the
deployment (``nabd stack gateway add`` locally, docs/stack.md); this module records only that
the gateway exists, on which ward, and whether it was revoked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from nabd.care.errors import Conflict, Unknown, Why
from nabd.care.registry import require_ward
from nabd.care.store import Conn, audit, operation
from nabd.care.values import parse_actor, parse_id

__all__ = [
    "Gateway",
    "GatewayDetail",
    "SeenDevice",
    "add_gateway",
    "heard_devices",
    "list_gateways",
    "revoke_gateway",
    "seen_devices",
    "show_gateway",
]


@dataclass(frozen=True)
class Gateway:
    id: str
    ward_id: str | None
    registered_at: datetime
    revoked_at: datetime | None
    last_status: str | None
    last_seen_at: datetime | None
    devices: int


_SELECT: Final = """SELECT g.id, g.ward_id, g.registered_at, g.revoked_at, g.last_status,
                           g.last_seen_at,
                           (SELECT count(*) FROM device d WHERE d.gateway_id = g.id)
                    FROM gateway g"""


def add_gateway(conn: Conn, gateway_id: str, *, ward: str | None, by: str) -> bool:
    """Register a gateway (on ``ward``); ``False`` if it exists already (on that ward, when one
    is given): nothing written."""
    gateway, actor = parse_id("gateway", gateway_id), parse_actor(by)
    ward_id = None if ward is None else parse_id("ward", ward)
    with operation(conn, f"adding gateway {gateway}"):
        if ward_id is not None:
            require_ward(conn, ward_id)
        row = conn.execute(
            "INSERT INTO gateway (id, ward_id) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING "
            "RETURNING id",
            (gateway, ward_id),
        ).fetchone()
        if row is None:
            existing = conn.execute(
                "SELECT ward_id, revoked_at FROM gateway WHERE id = %s", (gateway,)
            ).fetchone()
            assert existing is not None
            if existing[1] is not None:
                raise Conflict(
                    f"gateway {gateway} was revoked at {existing[1]:%Y-%m-%d %H:%M}: "
                    "a revoked gateway is not registered again; choose a new id",
                    Why.GATEWAY_REVOKED, gateway=gateway, at=existing[1],
                )  # fmt: skip
            if ward_id is not None and existing[0] != ward_id:
                raise Conflict(
                    f"gateway {gateway} exists already on ward {existing[0] or 'none'}, "
                    f"not {ward_id or 'none'}",
                    Why.GATEWAY_ELSEWHERE, gateway=gateway, ward=existing[0],
                )  # fmt: skip
            return False
        audit(conn, actor, "gateway_added", f"gateway:{gateway}", {"ward": ward_id})
        return True


def list_gateways(conn: Conn) -> list[Gateway]:
    """Every gateway with its state as ingest last recorded it and its number of devices."""
    rows = conn.execute(_SELECT + " ORDER BY g.id").fetchall()
    return [Gateway(*row) for row in rows]


@dataclass(frozen=True)
class SeenDevice:
    """A device a gateway reports in its status that the registry does not have on it."""

    device_id: str
    state: str
    rssi_dbm: int | None
    battery_percent: int | None
    since: datetime
    registered_to: str | None
    """The gateway the registry has it on (``None``: not registered at all)."""
    address: str | None
    """Derived from a discovery id (``ble-f0f1f2f3f405``, docs/edge.md), else ``None``."""


@dataclass(frozen=True)
class GatewayDetail:
    gateway: Gateway
    software_version: str | None
    outbox_pending: int | None
    status_at: datetime | None
    beds: tuple[str, ...]
    """``ward/bed`` of the beds it serves."""


_DISCOVERY_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}-([0-9a-f]{12})$")


def _discovered_address(device_id: str) -> str | None:
    match = _DISCOVERY_ID.fullmatch(device_id)
    if match is None:
        return None
    hex_digits = match[1].upper()
    return ":".join(hex_digits[i : i + 2] for i in range(0, 12, 2))


def _gateway(conn: Conn, gateway: str) -> Gateway:
    row = conn.execute(_SELECT + " WHERE g.id = %s", (gateway,)).fetchone()
    if row is None:
        raise Unknown(f"no gateway {gateway!r}: `nabd gateway list` shows the registered ones",
                      Why.NO_GATEWAY, gateway=gateway)  # fmt: skip
    return Gateway(*row)


def show_gateway(conn: Conn, gateway_id: str) -> GatewayDetail:
    """A gateway with what it last said about itself and the beds it serves."""
    gateway = parse_id("gateway", gateway_id)
    found = _gateway(conn, gateway)
    state = conn.execute(
        "SELECT software_version, outbox_pending, status_at FROM gateway_state"
        " WHERE gateway_id = %s",
        (gateway,),
    ).fetchone()
    beds = conn.execute(
        "SELECT ward_id || '/' || id FROM bed WHERE gateway_id = %s ORDER BY ward_id, id",
        (gateway,),
    ).fetchall()
    software, pending, status_at = state if state is not None else (None, None, None)
    return GatewayDetail(found, software, pending, status_at, tuple(str(b[0]) for b in beds))


def seen_devices(conn: Conn, gateway_id: str) -> list[SeenDevice]:
    """Devices the gateway reported in its latest status that are not registered to it, by
    signal strength: what an operator picks from to register a device (``nabd device add``)."""
    gateway = parse_id("gateway", gateway_id)
    _gateway(conn, gateway)
    rows = conn.execute(
        """SELECT s.device_id, s.state, s.rssi_dbm, s.battery_percent, s.since, d.gateway_id
           FROM gateway_device_state s LEFT JOIN device d ON d.id = s.device_id
           WHERE s.gateway_id = %s AND d.gateway_id IS DISTINCT FROM s.gateway_id
           ORDER BY s.rssi_dbm DESC NULLS LAST, s.device_id""",
        (gateway,),
    ).fetchall()
    return [
        SeenDevice(str(d), state, rssi, battery, since, owner, _discovered_address(str(d)))
        for d, state, rssi, battery, since, owner in rows
    ]


@dataclass(frozen=True)
class HeardDevice:
    """A health device a gateway hears advertising but is not told to read (its last status)."""

    address: str
    services: tuple[str, ...]
    rssi_dbm: int | None
    heard_at: datetime
    registered_as: str | None
    """The registry's device with this address, if any (registered, but not to this gateway's
    patients yet)."""


def heard_devices(conn: Conn, gateway_id: str) -> list[HeardDevice]:
    """Devices advertising near the gateway, strongest first: register one with
    ``nabd device add ID --kind K --address ADDRESS`` and assign it."""
    gateway = parse_id("gateway", gateway_id)
    _gateway(conn, gateway)
    rows = conn.execute(
        """SELECT n.address, n.services, n.rssi_dbm, n.heard_at, d.id
           FROM gateway_nearby n LEFT JOIN device d ON d.address = n.address
           WHERE n.gateway_id = %s ORDER BY n.rssi_dbm DESC NULLS LAST, n.address""",
        (gateway,),
    ).fetchall()
    return [
        HeardDevice(address, tuple(services), rssi, heard_at, device)
        for address, services, rssi, heard_at, device in rows
    ]


def revoke_gateway(conn: Conn, gateway_id: str, *, by: str) -> datetime | None:
    """Mark a gateway revoked (its broker account is the deployment's to remove); returns when
    it was revoked now, or ``None`` if it was already (nothing written). Its beds keep naming
    it, but no new bed, device or assignment is given a revoked gateway."""
    gateway, actor = parse_id("gateway", gateway_id), parse_actor(by)
    with operation(conn, f"revoking gateway {gateway}"):
        found = _gateway(conn, gateway)
        if found.revoked_at is not None:
            return None
        row = conn.execute(
            "UPDATE gateway SET revoked_at = now() WHERE id = %s RETURNING revoked_at", (gateway,)
        ).fetchone()
        assert row is not None
        audit(conn, actor, "gateway_revoked", f"gateway:{gateway}", {"devices": found.devices})
        return row[0]  # type: ignore[no-any-return]
