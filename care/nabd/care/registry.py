"""What an operation needs to exist before it changes anything, with the message that says how
to create it: wards, beds and gateways (patients and devices have their own modules)."""

from __future__ import annotations

from nabd.care.errors import Unknown, Why
from nabd.care.store import Conn

__all__ = ["require_bed", "require_gateway", "require_ward"]


def require_ward(conn: Conn, ward: str) -> None:
    """Raise :class:`Unknown` unless ``ward`` exists."""
    if conn.execute("SELECT 1 FROM ward WHERE id = %s", (ward,)).fetchone() is None:
        raise Unknown(f"no ward {ward!r}: add it first with `nabd ward add {ward} --name ...`",
                      Why.NO_WARD, ward=ward)  # fmt: skip


def require_bed(conn: Conn, ward: str, bed: str) -> str | None:
    """Lock bed ``bed`` of ``ward`` until the transaction ends; return its gateway, unless
    that gateway was revoked (no device is moved to a revoked gateway)."""
    require_ward(conn, ward)
    row = conn.execute(
        """SELECT CASE WHEN g.revoked_at IS NULL THEN b.gateway_id END
           FROM bed b LEFT JOIN gateway g ON g.id = b.gateway_id
           WHERE b.ward_id = %s AND b.id = %s FOR UPDATE OF b""",
        (ward, bed),
    ).fetchone()
    if row is None:
        raise Unknown(
            f"ward {ward} has no bed {bed!r}: add it with `nabd ward add-beds {ward} {bed}`",
            Why.NO_BED, ward=ward, bed=bed,
        )  # fmt: skip
    return None if row[0] is None else str(row[0])


def require_gateway(conn: Conn, gateway: str) -> None:
    """Raise :class:`Unknown` unless ``gateway`` is registered and not revoked."""
    row = conn.execute("SELECT revoked_at FROM gateway WHERE id = %s", (gateway,)).fetchone()
    if row is None:
        raise Unknown(f"no gateway {gateway!r}: register it first with `nabd gateway add`",
                      Why.NO_GATEWAY, gateway=gateway)  # fmt: skip
    if row[0] is not None:
        raise Unknown(f"gateway {gateway!r} was revoked at {row[0]:%Y-%m-%d %H:%M}",
                      Why.GATEWAY_REVOKED, gateway=gateway, at=row[0])  # fmt: skip
