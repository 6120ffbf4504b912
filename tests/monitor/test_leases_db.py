"""The ward leases against the real database, as the analytics login, without processes: a lone
worker takes every ward, a joining one gets its share one ward per pass, an expired lease is
claimed under a new epoch and its old holder's fence then loses it, a lease that expired but
that nobody took is renewed, a ward whose row a stopped transaction holds is skipped, not
waited for, and a clean stop frees every ward at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from nabd.analytics.service.leases import Leases, fair_share
from tests.monitor.monitor_kit import MonitorDb, admit
from tests.stack_kit import token

pytestmark = pytest.mark.integration

Conn = psycopg.AsyncConnection[tuple[Any, ...]]


def test_the_fair_share_gives_every_ward_an_owner() -> None:
    assert [fair_share(w, n) for w, n in ((0, 1), (5, 1), (5, 2), (4, 2), (2, 3), (3, 0))] == [
        0,
        5,
        3,
        2,
        1,
        3,
    ]


def _with_two(db: MonitorDb, body: Callable[[Conn, Conn], Awaitable[None]]) -> None:
    async def main() -> None:
        async with (
            await psycopg.AsyncConnection.connect(db.analytics_url, autocommit=True) as a,
            await psycopg.AsyncConnection.connect(db.analytics_url, autocommit=True) as b,
        ):
            await body(a, b)

    asyncio.run(main())


def _expire(db: MonitorDb, worker: str) -> None:
    """Time passes for ``worker``: its heartbeat and leases are out of date."""
    db.execute(
        "UPDATE analytics_lease SET expires_at = now() - interval '1 s' WHERE worker_id = %s",
        (worker,),
    )
    db.execute(
        "UPDATE analytics_worker SET expires_at = now() - interval '1 s' WHERE worker_id = %s",
        (worker,),
    )


def test_join_takeover_fencing_and_a_clean_stop(monitor_db: MonitorDb) -> None:
    monitor_db.execute("UPDATE patient SET discharged_at = now() WHERE discharged_at IS NULL")
    wards = sorted(f"lw{n}-{token()}" for n in range(4))
    for ward in wards:
        admit(monitor_db, f"p-{ward}", ward=ward)
    a, b = Leases(f"a-{token()}", 3.0), Leases(f"b-{token()}", 3.0)

    async def body(ca: Conn, cb: Conn) -> None:
        assert (await a.balance(ca)).gained == tuple(wards)  # alone: every ward at once
        assert await a.fence(ca) == ()
        assert (await b.balance(cb)).gained == ()  # joins: nothing free yet
        released = [(await a.balance(ca)).released for _ in range(3)]
        assert released == [(wards[3],), (wards[2],), ()]  # one per pass, down to the share
        assert (await b.balance(cb)).gained == (wards[2], wards[3])
        assert (await b.balance(cb)).gained == ()  # at its share: stable

        # b hangs past its leases; a takes its wards under a new epoch; b, resumed, is fenced.
        _expire(monitor_db, b.worker_id)
        epochs = dict(b.owned)
        assert (await a.balance(ca)).gained == (wards[2], wards[3])
        assert all(a.owned[w] == epochs[w] + 1 for w in epochs)
        async with cb.transaction():
            assert await b.fence(cb) == (wards[2], wards[3])
        assert b.owned == {}

        # a hangs past its leases, nobody takes them: resumed, it renews them and goes on.
        _expire(monitor_db, a.worker_id)
        assert await a.renew(ca) == ()
        assert set(a.owned) == set(wards)

        # A ward whose row a stopped tick holds is skipped, not waited for.
        _expire(monitor_db, a.worker_id)
        async with cb.transaction():
            await cb.execute("SELECT 1")
        async with ca.transaction():
            await ca.execute(
                "SELECT 1 FROM analytics_lease WHERE ward_id = %s FOR UPDATE", (wards[0],)
            )
            gained = (await asyncio.wait_for(b.balance(cb), 5)).gained
        assert wards[0] not in gained
        assert len(gained) >= 1

        # A clean stop frees every ward: the other takes them at its next pass.
        await b.release_all(cb)
        a.owned.clear()  # a's leases expired above; it starts over as a fresh worker would
        assert set((await a.balance(ca)).gained) == set(wards)

    _with_two(monitor_db, body)
    monitor_db.execute("UPDATE patient SET discharged_at = now() WHERE discharged_at IS NULL")
