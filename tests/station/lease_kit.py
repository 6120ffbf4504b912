"""The wards' analytics leases as the station reads them (``analytics_lease``, migrations 0100
and 0153), written by hand as the ward's owning worker stamps them each tick; and a page read
as the nurse's browser gets it. Shared by the late-readings and stopped-analysis tests."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg

from tests.station.station_kit import Station

Owner = psycopg.Connection[tuple[object, ...]]


def no_leases(station: Station) -> Iterator[Owner]:
    """The database owner's connection, with no lease before or after (the ``owner`` fixture
    of ``conftest.py``)."""
    with psycopg.connect(station.seeded.owner_url, autocommit=True) as conn:
        conn.execute("DELETE FROM analytics_lease")
        yield conn
        conn.execute("DELETE FROM analytics_lease")


def lease(
    owner: Owner, ward: str, ticked_ago: timedelta | None, delay_s: float | None = None
) -> None:
    """The ward's lease as its owning analytics worker stamps it each tick (``ticked_ago``
    None: taken, never ticked; ``delay_s`` None: readings on time)."""
    owner.execute(
        """INSERT INTO analytics_lease (ward_id, worker_id, epoch, acquired_at, expires_at,
                                        ticked_at, readings_delay_s)
           VALUES (%(w)s, 'worker-1', 1, now() - interval '1 hour', now() + interval '10 s',
                   now() - %(ago)s::interval, %(d)s)
           ON CONFLICT (ward_id) DO UPDATE
           SET ticked_at = EXCLUDED.ticked_at, readings_delay_s = EXCLUDED.readings_delay_s""",
        {"w": ward, "ago": ticked_ago, "d": delay_s},
    )


def page_text(c: httpx.Client, path: str) -> str:
    """The page at ``path`` (200 asserted), its HTML entities decoded."""
    reply = c.get(path)
    assert reply.status_code == 200, reply.text
    return html.unescape(reply.text)
