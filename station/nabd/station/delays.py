"""Which of the nurse's wards get their readings, and so their alarms, late (docs/reliability.md
"Overload: readings arrive late").

The analytics worker that owns a ward stamps, with each tick, how late the freshest readings
reach it: ``analytics_lease.readings_delay_s`` (migration 0153), NULL while they arrive on time
(below analytics' threshold). While it is set, every alarm of that ward is that late too: the
board says so once for the ward rather than letting a nurse believe she sees the present.

A lease whose tick is older than :data:`FRESH_S` says nothing here: analytics has stopped
scoring the ward, which ingest's watchdog raises as its own ``monitoring_interrupted`` alert.

The wards are those the user's own role may see (row-level security on ``ward``, migration
0040); the lease is then read as the station, whose login alone may read those three columns
(the per-user roles are granted nothing on ``analytics_lease``). No patient data is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg

__all__ = ["FRESH_S", "LateWard", "late", "visible_wards"]

Conn = psycopg.Connection[Any]

FRESH_S: Final = 30.0
"""A tick older than this is not the present delay: analytics has stopped (the watchdog's)."""


@dataclass(frozen=True)
class LateWard:
    ward_id: str
    delay_s: float
    """How late (seconds) the ward's freshest readings reach analytics."""


def visible_wards(conn: Conn) -> list[str]:
    """The wards the current role may see (run under the user's role: RLS filters them)."""
    return [str(w) for (w,) in conn.execute("SELECT id FROM ward ORDER BY id")]


def late(conn: Conn, wards: Sequence[str]) -> list[LateWard]:
    """Of ``wards``, those whose owning analytics worker, in a tick of the last
    :data:`FRESH_S` seconds, found the readings late (run as the station)."""
    if not wards:
        return []
    return [
        LateWard(str(ward), float(delay))
        for ward, delay in conn.execute(
            """SELECT ward_id, readings_delay_s FROM analytics_lease
               WHERE ward_id = ANY(%s) AND readings_delay_s IS NOT NULL
                 AND ticked_at > now() - make_interval(secs => %s)
               ORDER BY ward_id""",
            (list(wards), FRESH_S),
        ).fetchall()
    ]
