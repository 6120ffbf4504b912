"""Which wards this worker scores: leases in PostgreSQL, renewed every tick, fenced by an epoch.

Several ``nabd analytics run`` workers share the hospital by ward (migration 0100). Each pass of
:meth:`Leases.balance` (one short transaction per tick):

1. renews this worker's heartbeat in ``analytics_worker`` and counts the live workers;
2. reads the wards that have admitted patients and who holds each (a lease is live while
   ``expires_at`` is ahead of the database's clock);
3. the **fair share** is ``ceil(wards / live workers)``: below it, the worker claims wards whose
   lease expired (its owner died or hung) or that nobody holds yet, up to the share; above it,
   while other workers are live, it lets **one** ward go per pass (a gentle rebalance: the
   joining worker takes them one by one, and each handover costs one ward's warm-up).

A claim bumps the ward's ``epoch``. :meth:`Leases.fence` runs first in every tick's write
transaction: it renews each lease this worker holds *with the epoch it claimed*; a ward whose
row no longer matches was taken by another worker (this one hung past its lease), so the tick
drops it and writes nothing for it. The renewal's row lock lasts until the tick commits, so a
claim cannot slip in between the check and the writes (claims skip rows locked by a tick).

Why leases with an expiry, not session advisory locks: a session-level lock lives as long as
the *connection*, and a process stopped with SIGSTOP keeps its connections open (the kernel
answers TCP keep-alives for it), so its wards would never move. A lease expires on the
database's clock whatever the owner's state; a worker killed with ``kill -9`` or stopped loses
its wards ``lease_s`` after its last renewal. A worker whose lease expired but was not taken
yet (a single worker, stopped and resumed) renews it and goes on: nobody else wrote.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import psycopg

__all__ = ["Balance", "Leases", "fair_share"]

log = logging.getLogger(__name__)

Conn: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]

_LOCK_TIMEOUT_MS: Final = 1000
"""A claim never waits long for a row: a tick holding it ends in milliseconds, a hung one is
skipped (``SKIP LOCKED``) and ended by the server's idle-in-transaction timeout."""

_HEARTBEAT_SQL: Final = """
INSERT INTO analytics_worker (worker_id, expires_at)
VALUES (%(me)s, clock_timestamp() + make_interval(secs => %(lease)s))
ON CONFLICT (worker_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
"""

_TIDY_SQL: Final = """
DELETE FROM analytics_worker WHERE expires_at < clock_timestamp() - interval '1 hour'
"""

_LIVE_SQL: Final = """
SELECT count(*) FROM analytics_worker WHERE expires_at > clock_timestamp()
"""

_WARDS_SQL: Final = """
SELECT w.ward_id, l.worker_id, l.epoch, coalesce(l.expires_at > clock_timestamp(), false)
FROM (SELECT DISTINCT ward_id FROM patient WHERE discharged_at IS NULL) w
LEFT JOIN analytics_lease l USING (ward_id)
ORDER BY w.ward_id
"""

_LOCKABLE_SQL: Final = """
SELECT ward_id FROM analytics_lease WHERE ward_id = ANY(%s) FOR UPDATE SKIP LOCKED
"""

_CLAIM_SQL: Final = """
INSERT INTO analytics_lease AS l (ward_id, worker_id, epoch, acquired_at, expires_at)
VALUES (%(ward)s, %(me)s, 1, clock_timestamp(),
        clock_timestamp() + make_interval(secs => %(lease)s))
ON CONFLICT (ward_id) DO UPDATE
    SET worker_id = EXCLUDED.worker_id, epoch = l.epoch + 1, acquired_at = EXCLUDED.acquired_at,
        expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= clock_timestamp() OR l.worker_id = %(me)s
RETURNING epoch
"""

_RELEASE_SQL: Final = """
UPDATE analytics_lease SET expires_at = clock_timestamp()
WHERE worker_id = %(me)s AND ward_id = ANY(%(wards)s)
"""

_FENCE_SQL: Final = """
UPDATE analytics_lease l
SET expires_at = clock_timestamp() + make_interval(secs => %(lease)s),
    ticked_at = clock_timestamp(), readings_delay_s = %(delay)s
FROM unnest(%(wards)s::text[], %(epochs)s::int8[]) AS mine (ward_id, epoch)
WHERE l.ward_id = mine.ward_id AND l.epoch = mine.epoch AND l.worker_id = %(me)s
RETURNING l.ward_id
"""


def fair_share(wards: int, live_workers: int) -> int:
    """How many wards each live worker should hold: every ward gets an owner."""
    return math.ceil(wards / max(live_workers, 1))


@dataclass(frozen=True)
class Balance:
    """What one pass changed: wards claimed (and their epochs) and wards let go."""

    gained: tuple[str, ...] = ()
    released: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Ward:
    ward_id: str
    holder: str | None
    epoch: int
    live: bool


class Leases:
    """This worker's leases: ward -> the epoch it claimed."""

    def __init__(self, worker_id: str, lease_s: float) -> None:
        self.worker_id = worker_id
        self.lease_s = lease_s
        self.owned: dict[str, int] = {}

    @property
    def wards(self) -> list[str]:
        return sorted(self.owned)

    async def balance(self, conn: Conn) -> Balance:
        """One pass, in its own transaction: heartbeat, then claim up to the fair share or let
        one ward go above it. What it did counts once committed."""
        claimed: dict[str, int] = {}
        let_go: str | None = None
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", (str(_LOCK_TIMEOUT_MS),)
            )
            await conn.execute(_HEARTBEAT_SQL, {"me": self.worker_id, "lease": self.lease_s})
            await conn.execute(_TIDY_SQL)
            live = int((await (await conn.execute(_LIVE_SQL)).fetchone() or (1,))[0])
            wards = [
                _Ward(str(w), None if h is None else str(h), int(e or 0), bool(v))
                for w, h, e, v in await (await conn.execute(_WARDS_SQL)).fetchall()
            ]
            share = fair_share(len(wards), live)
            mine = [w for w in wards if w.ward_id in self.owned]
            if len(mine) < share:
                claimed = await self._claim(conn, wards, share - len(mine))
            elif len(mine) > share and live > 1:
                let_go = max(mine, key=lambda w: w.ward_id).ward_id
                await conn.execute(_RELEASE_SQL, {"me": self.worker_id, "wards": [let_go]})
        self.owned.update(claimed)
        if claimed:
            log.info("ward(s) %s taken by worker %s", ", ".join(sorted(claimed)), self.worker_id)
        if let_go is None:
            return Balance(gained=tuple(sorted(claimed)))
        del self.owned[let_go]
        log.info("ward %s let go: %d wards, %d workers", let_go, len(wards), live)
        return Balance(released=(let_go,))

    async def _claim(self, conn: Conn, wards: Sequence[_Ward], wanted: int) -> dict[str, int]:
        """Claim up to ``wanted`` free wards, in ward order (so two workers claiming at once
        wait for each other briefly instead of deadlocking); a ward whose row stays locked is
        skipped for this pass."""
        free = [
            w.ward_id
            for w in wards
            if w.ward_id not in self.owned and (not w.live or w.holder == self.worker_id)
        ]
        if not free:
            return {}
        rows = await (await conn.execute(_LOCKABLE_SQL, (free,))).fetchall()
        locked = {str(r[0]) for r in rows}
        existing = {w.ward_id for w in wards if w.holder is not None}
        claimed: dict[str, int] = {}
        for ward in free:
            if len(claimed) == wanted:
                break
            if ward in existing and ward not in locked:
                continue  # a tick (perhaps a hung one) holds it: not now
            try:
                async with conn.transaction():  # a savepoint: a lock timeout costs one ward
                    row = await (
                        await conn.execute(
                            _CLAIM_SQL,
                            {"me": self.worker_id, "lease": self.lease_s, "ward": ward},
                        )
                    ).fetchone()
            except psycopg.errors.LockNotAvailable:
                continue  # another worker's claim, stopped mid-transaction
            if row is not None:
                claimed[ward] = int(row[0])
        return claimed

    async def fence(self, conn: Conn, readings_delay_s: float | None = None) -> tuple[str, ...]:
        """Renew every lease held, inside the caller's transaction; forget and return the wards
        whose lease another worker has taken (nothing may be written for them). Each ward's
        row also says how late its readings arrive (None: on time), for the nurse station."""
        if not self.owned:
            return ()
        wards = list(self.owned)
        rows = await (
            await conn.execute(
                _FENCE_SQL,
                {
                    "me": self.worker_id,
                    "lease": self.lease_s,
                    "wards": wards,
                    "epochs": [self.owned[w] for w in wards],
                    "delay": readings_delay_s,
                },
            )
        ).fetchall()
        held = {str(r[0]) for r in rows}
        lost = tuple(sorted(w for w in wards if w not in held))
        for ward in lost:
            del self.owned[ward]
        if lost:
            log.warning("ward(s) %s were taken by another worker: dropped", ", ".join(lost))
        return lost

    async def renew(self, conn: Conn) -> tuple[str, ...]:
        """:meth:`fence` in a transaction of its own (after a long warm-up)."""
        async with conn.transaction():
            return await self.fence(conn)

    async def release_all(self, conn: Conn) -> None:
        """Let every ward go at once (a clean stop): another worker takes them at its next
        pass instead of waiting for the leases to expire."""
        async with conn.transaction():
            await conn.execute(_RELEASE_SQL, {"me": self.worker_id, "wards": list(self.owned)})
            await conn.execute(
                "DELETE FROM analytics_worker WHERE worker_id = %s", (self.worker_id,)
            )
        self.owned.clear()
