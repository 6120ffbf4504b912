"""Gateways in the registry: ``nabd gateway add|list``.

A gateway row is what ingest checks a device's readings against (``device.gateway_id``) and
what a bed names as the gateway serving it. Its broker account and certificate are made by the
deployment (``nabd stack gateway add`` locally, docs/stack.md); this module records only that
the gateway exists, on which ward, and whether it was revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nabd.care.errors import Conflict
from nabd.care.registry import require_ward
from nabd.care.store import Conn, audit, operation
from nabd.care.values import parse_actor, parse_id

__all__ = ["Gateway", "add_gateway", "list_gateways"]


@dataclass(frozen=True)
class Gateway:
    id: str
    ward_id: str | None
    registered_at: datetime
    revoked_at: datetime | None
    last_status: str | None
    last_seen_at: datetime | None
    devices: int


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
                    "a revoked gateway is not registered again; choose a new id"
                )
            if ward_id is not None and existing[0] != ward_id:
                raise Conflict(
                    f"gateway {gateway} exists already on ward {existing[0] or 'none'}, "
                    f"not {ward_id or 'none'}"
                )
            return False
        audit(conn, actor, "gateway_added", f"gateway:{gateway}", {"ward": ward_id})
        return True


def list_gateways(conn: Conn) -> list[Gateway]:
    """Every gateway with its state as ingest last recorded it and its number of devices."""
    rows = conn.execute(
        """SELECT g.id, g.ward_id, g.registered_at, g.revoked_at, g.last_status,
                  g.last_seen_at, (SELECT count(*) FROM device d WHERE d.gateway_id = g.id)
           FROM gateway g ORDER BY g.id"""
    ).fetchall()
    return [Gateway(*row) for row in rows]
