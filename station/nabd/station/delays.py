"""Which of the nurse's wards get their readings, and so their alarms, late (docs/reliability.md
"Overload: readings arrive late"), and which are no longer scored at all (docs/reliability.md
"Monitoring that stops is an alarm": the station's own line when nobody else can raise it).

The analytics worker that owns a ward stamps, with each tick, how late the freshest readings
reach it: ``analytics_lease.readings_delay_s`` (migration 0153), NULL while they arrive on time
(below analytics' threshold). While it is set, every alarm of that ward is that late too: the
board says so once for the ward rather than letting a nurse believe she sees the present.

A lease whose tick is older than :data:`FRESH_S` is not a delay: analytics has stopped scoring
the ward. Ingest's watchdog raises that as its own ``monitoring_interrupted`` alert per patient,
but not if ingest stopped too, nor while the database cannot take the alert. So the board says it
itself, more loudly than a delay (:func:`stopped`): a ward with admitted patients whose lease
ticked more than :data:`FRESH_S` ago, or has never ticked (no lease row, or a row without a tick),
raises no alarm for anyone in it. Its delay, if any, is then not shown (it is not the present's).

The wards are those the user's own role may see (row-level security on ``ward``, migration
0040), and for :func:`stopped` those of them where her role sees an admitted patient (row-level
security on ``patient``, as for the board's rows: which wards are occupied is read in her scope,
not the station's). The lease is then read as the station, whose login alone may read those
three columns (the per-user roles are granted nothing on ``analytics_lease``). Beyond which of
her wards have an admitted patient, no patient data is read.

If the database itself is down, the station cannot render these pages at all: the board's own
script then says the screen is not up to date (static/board.js).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg

__all__ = [
    "FRESH_S",
    "LateWard",
    "StoppedWard",
    "WardNotices",
    "late",
    "occupied_wards",
    "steady",
    "stopped",
    "visible_wards",
]

Conn = psycopg.Connection[Any]

FRESH_S: Final = 30.0
"""A tick older than this is not the present delay: analytics has stopped (the watchdog's)."""


def steady(seconds: float, step: float) -> float:
    """``seconds`` to a multiple of ``step`` (at least one step): what a notice says.

    Why: the notices are live regions (``role=alert``, ``role=status``) re-read on every 5-s
    refresh; a screen reader announces a notice again whenever its text changes, so a number
    that moved by a second at each refresh was announced every 5 s. Said in steps, it changes
    at most once a step, and the nurse loses nothing she would act on."""
    return max(step, (seconds // step) * step)


@dataclass(frozen=True)
class LateWard:
    ward_id: str
    delay_s: float
    """How late (seconds) the ward's freshest readings reach analytics."""

    @property
    def said_s(self) -> float:
        """The delay the notice says: in steps of 5 s (it is 5 s at least when set)."""
        return steady(self.delay_s, 5.0)


@dataclass(frozen=True)
class WardNotices:
    """What the board (or a patient's page) says about her wards, most severe first. A ward is
    in one list at most: :func:`late` reads only fresh ticks, :func:`stopped` only stale ones."""

    stopped: list[StoppedWard]
    late: list[LateWard]


def visible_wards(conn: Conn) -> list[str]:
    """The wards the current role may see (run under the user's role: RLS filters them)."""
    return [str(w) for (w,) in conn.execute("SELECT id FROM ward ORDER BY id")]


@dataclass(frozen=True)
class StoppedWard:
    ward_id: str
    stopped_s: float | None
    """How long ago (seconds, the database's clock) the ward was last scored; None: never."""

    @property
    def said_s(self) -> float | None:
        """How long the notice says: in steps of 30 s below 2 min (then minutes, which the
        duration shows whole anyway)."""
        return None if self.stopped_s is None else steady(self.stopped_s, 30.0)


def occupied_wards(conn: Conn) -> list[str]:
    """The wards where the current role sees an admitted patient (run under the user's role)."""
    return [
        str(w)
        for (w,) in conn.execute(
            "SELECT DISTINCT ward_id FROM patient WHERE discharged_at IS NULL ORDER BY ward_id"
        )
    ]


def stopped(conn: Conn, wards: Sequence[str]) -> list[StoppedWard]:
    """Of ``wards`` (with admitted patients), those whose analytics has not ticked for
    :data:`FRESH_S` seconds or never has: no alarm is raised there (run as the station)."""
    if not wards:
        return []
    return [
        StoppedWard(str(ward), None if ago is None else float(ago))
        for ward, ago in conn.execute(
            """SELECT w.ward_id, extract(epoch FROM now() - l.ticked_at)::float8
               FROM unnest(%s::text[]) AS w (ward_id)
               LEFT JOIN analytics_lease l ON l.ward_id = w.ward_id
               WHERE l.ticked_at IS NULL OR l.ticked_at <= now() - make_interval(secs => %s)
               ORDER BY w.ward_id""",
            (list(wards), FRESH_S),
        ).fetchall()
    ]


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
