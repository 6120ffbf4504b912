"""Wards and their beds: ``nabd ward add|list|beds|add-beds``.

Adding is idempotent: the same ward (or bed) with the same fields again changes nothing and
writes no audit entry, so a script or a double click can simply repeat it; the same id with
other fields is refused (a rename is a decision of its own, not a retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nabd.care.errors import Conflict, Why
from nabd.care.registry import require_gateway, require_ward
from nabd.care.store import Conn, audit, operation
from nabd.care.values import parse_actor, parse_bed, parse_id, parse_text

__all__ = ["Bed", "Ward", "add_beds", "add_ward", "list_beds", "list_wards", "set_bed_gateway"]


@dataclass(frozen=True)
class Ward:
    id: str
    name: str
    beds: int
    admitted: int
    created_at: datetime


@dataclass(frozen=True)
class Bed:
    ward_id: str
    id: str
    gateway_id: str | None
    patient_id: str | None
    """The patient admitted in it now, if any."""


def add_ward(conn: Conn, ward_id: str, name: str, *, by: str) -> bool:
    """Register a ward; ``False`` if it exists already with this name (nothing written)."""
    ward, label, actor = parse_id("ward", ward_id), parse_text("--name", name), parse_actor(by)
    with operation(conn, f"adding ward {ward}"):
        row = conn.execute(
            "INSERT INTO ward (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
            (ward, label),
        ).fetchone()
        if row is None:
            existing = conn.execute("SELECT name FROM ward WHERE id = %s", (ward,)).fetchone()
            if existing is not None and existing[0] != label:
                raise Conflict(
                    f"ward {ward} exists already, named {existing[0]!r}, not {label!r}: "
                    "repeat the command with the same name, or choose another id",
                    Why.WARD_CONFLICT, ward=ward, name=existing[0],
                )  # fmt: skip
            return False
        audit(conn, actor, "ward_added", f"ward:{ward}", {"name": label})
        return True


def list_wards(conn: Conn) -> list[Ward]:
    """Every ward with its number of beds and of admitted patients."""
    rows = conn.execute(
        """SELECT w.id, w.name,
                  (SELECT count(*) FROM bed b WHERE b.ward_id = w.id),
                  (SELECT count(*) FROM patient p
                   WHERE p.ward_id = w.id AND p.discharged_at IS NULL),
                  w.created_at
           FROM ward w ORDER BY w.id"""
    ).fetchall()
    return [Ward(*row) for row in rows]


def add_beds(
    conn: Conn, ward_id: str, beds: Sequence[str], *, gateway: str | None = None, by: str
) -> list[str]:
    """Add beds to a ward, optionally served by ``gateway``; returns the beds that were new.

    A bed that exists with the same gateway is left alone; with another gateway it is refused
    (moving a bed to another gateway moves its patient's devices: a decision, not a retry).
    """
    ward, actor = parse_id("ward", ward_id), parse_actor(by)
    labels = list(dict.fromkeys(parse_bed(b) for b in beds))
    gateway_id = None if gateway is None else parse_id("gateway", gateway)
    with operation(conn, f"adding beds to ward {ward}"):
        existing = _lock_beds(conn, ward, labels, gateway_id)
        clashes = [b for b, g in existing.items() if g != gateway_id]
        if clashes:
            raise Conflict(
                f"bed {clashes[0]} of ward {ward} exists already with gateway "
                f"{existing[clashes[0]] or 'none'}, not {gateway_id or 'none'}",
                Why.BED_GATEWAY_CONFLICT, ward=ward, bed=clashes[0],
                gateway=existing[clashes[0]],
            )  # fmt: skip
        new = [b for b in labels if b not in existing]
        _insert_beds(conn, ward, new, gateway_id)
        if new:
            audit(conn, actor, "beds_added", f"ward:{ward}", {"beds": new, "gateway": gateway_id})
        return new


def _lock_beds(
    conn: Conn, ward: str, labels: Sequence[str], gateway: str | None
) -> dict[str, str | None]:
    """Check the ward and the gateway; lock the existing ``labels`` beds: bed -> gateway."""
    require_ward(conn, ward)
    if gateway is not None:
        require_gateway(conn, gateway)
    rows = conn.execute(
        "SELECT id, gateway_id FROM bed WHERE ward_id = %s AND id = ANY(%s) FOR UPDATE",
        (ward, list(labels)),
    ).fetchall()
    return {str(bed): None if g is None else str(g) for bed, g in rows}


def _insert_beds(conn: Conn, ward: str, labels: Sequence[str], gateway: str | None) -> None:
    conn.cursor().executemany(
        "INSERT INTO bed (ward_id, id, gateway_id) VALUES (%s, %s, %s)",
        [(ward, b, gateway) for b in labels],
    )


def list_beds(conn: Conn, ward_id: str) -> list[Bed]:
    """A ward's beds in label order, with the patient admitted in each now."""
    ward = parse_id("ward", ward_id)
    require_ward(conn, ward)
    rows = conn.execute(
        """SELECT b.ward_id, b.id, b.gateway_id, p.id
           FROM bed b LEFT JOIN patient p
             ON p.ward_id = b.ward_id AND p.bed_id = b.id AND p.discharged_at IS NULL
           WHERE b.ward_id = %s
           ORDER BY length(b.id), b.id""",
        (ward,),
    ).fetchall()
    return [Bed(*row) for row in rows]


def set_bed_gateway(
    conn: Conn, ward_id: str, beds: Sequence[str], *, gateway: str | None, by: str
) -> tuple[list[str], list[str]]:
    """Have ``gateway`` (or none) serve these beds, adding the missing ones; the devices worn by
    their patients now are registered to it. Returns (beds added, beds moved); beds served by
    it already are left alone (a repeat writes nothing)."""
    ward, actor = parse_id("ward", ward_id), parse_actor(by)
    labels = list(dict.fromkeys(parse_bed(b) for b in beds))
    gateway_id = None if gateway is None else parse_id("gateway", gateway)
    with operation(conn, f"setting the gateway of beds of ward {ward}"):
        existing = _lock_beds(conn, ward, labels, gateway_id)
        added = [b for b in labels if b not in existing]
        moved = [b for b, g in existing.items() if g != gateway_id]
        _insert_beds(conn, ward, added, gateway_id)
        conn.execute(
            "UPDATE bed SET gateway_id = %s WHERE ward_id = %s AND id = ANY(%s)",
            (gateway_id, ward, moved),
        )
        devices = _follow_beds(conn, ward, moved, gateway_id)
        if added or moved:
            audit(conn, actor, "beds_gateway_set", f"ward:{ward}",
                  {"gateway": gateway_id, "added": added, "moved": moved,
                   "devices_moved": devices})  # fmt: skip
        return added, moved


def _follow_beds(conn: Conn, ward: str, beds: Sequence[str], gateway: str | None) -> list[str]:
    """Register the devices worn now by the patients in ``beds`` to ``gateway``."""
    if gateway is None or not beds:
        return []
    rows = conn.execute(
        """UPDATE device d SET gateway_id = %s
           FROM device_assignment a JOIN patient p ON p.id = a.patient_id
           WHERE a.device_id = d.id AND upper_inf(a.valid) AND p.discharged_at IS NULL
             AND p.ward_id = %s AND p.bed_id = ANY(%s) AND d.gateway_id IS DISTINCT FROM %s
           RETURNING d.id""",
        (gateway, ward, list(beds), gateway),
    ).fetchall()
    return sorted(str(r[0]) for r in rows)
