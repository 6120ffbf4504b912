"""Loss and duplication: what a load run sent against what arrived.

:func:`compare` is the whole idea, pure: given the identities sent and how many times each was
found on the other side, count the missing, the duplicated and the unexpected. It works on
reading identities ``(device_id, seq, metric)`` (against the database: :func:`count_loss`) and
on batch identities ``(gateway_id, boot_id, batch_seq)`` (against an MQTT subscriber).

:func:`count_loss` reads the database with any login that may select ``observation`` (the
owner's, or ``analytics``/``dashboards``): a reading is found once in ``observation`` (attributed
to a patient) or in ``unattributed_observation`` (its device was assigned to nobody, which is
the case for the load generator's devices unless someone assigns them). Ingest stores only
readings of devices registered to the publishing gateway; :func:`register_fleet` registers a
run's gateways and devices (owner's login) so that its batches are stored, not dead-lettered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from nabd.simulators.devices import Device
from nabd.simulators.errors import LoadError
from nabd.simulators.load_batches import GatewayPlan
from nabd.simulators.load_record import Identity, SentRecord

__all__ = ["LossReport", "compare", "count_loss", "register_fleet"]

K = TypeVar("K", bound=Hashable)

_TABLES: Final = ("observation", "unattributed_observation")
_KIND: Final = {Device.CHEST_STRAP: "heart_rate", Device.PULSE_OXIMETER: "pulse_oximeter"}


@dataclass(frozen=True, slots=True)
class LossReport:
    """Counts of distinct identities (``duplicates`` counts the extra copies)."""

    sent: int
    found: int
    missing: int
    duplicates: int
    unexpected: int

    @property
    def loss_fraction(self) -> float:
        return self.missing / self.sent if self.sent else 0.0


def compare(sent: Iterable[K], found: Mapping[K, int]) -> LossReport:
    """``sent`` identities (repeats ignored) against how often each was ``found``."""
    expected = set(sent)
    present = {key for key, count in found.items() if count > 0}
    return LossReport(
        sent=len(expected),
        found=len(expected & present),
        missing=len(expected - present),
        duplicates=sum(count - 1 for key, count in found.items() if count > 1),
        unexpected=len(present - expected),
    )


def _stored(
    conn: psycopg.Connection[TupleRow], devices: Sequence[str], low: int, high: int
) -> Counter[Identity]:
    found: Counter[Identity] = Counter()
    for table in _TABLES:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not (exists and exists[0]):
            continue
        query = sql.SQL(
            "SELECT o.device_id, o.seq, m.key, count(*) FROM {} o "
            "JOIN metric m ON m.id = o.metric_id "
            "WHERE o.device_id = ANY(%s) AND o.seq BETWEEN %s AND %s "
            "GROUP BY 1, 2, 3"
        ).format(sql.Identifier(table))
        for device_id, seq, metric, count in conn.execute(query, (list(devices), low, high)):
            found[(str(device_id), int(seq), str(metric))] += int(count)
    return found


def count_loss(sent_record: SentRecord, db_url: str) -> LossReport:
    """The run's readings against the database's: missing, duplicated, unexpected."""
    sent = list(sent_record.identities())
    if not sent:
        return compare(sent, {})
    low = min(seq for _, seq, _ in sent)
    high = max(seq for _, seq, _ in sent)
    try:
        with psycopg.connect(db_url) as conn:
            found = _stored(conn, sent_record.device_ids(), low, high)
    except psycopg.Error as exc:
        raise LoadError(f"cannot read the observations: {exc}") from exc
    return compare(sent, found)


def register_fleet(db_url: str, plans: Sequence[GatewayPlan]) -> int:
    """Register the gateways and devices of ``plans`` (owner's login); returns devices added."""
    try:
        with psycopg.connect(db_url) as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO gateway (id) VALUES (%s) ON CONFLICT (id) DO NOTHING",
                [(p.gateway_id,) for p in plans],
            )
            cur.executemany(
                "INSERT INTO device (id, gateway_id, kind, manufacturer, model) "
                "VALUES (%s, %s, %s, 'Nabd Simulators', 'load-generator') "
                "ON CONFLICT (id) DO NOTHING",
                [(d.device_id, p.gateway_id, _KIND[d.kind]) for p in plans for d in p.devices],
            )
            return sum(len(p.devices) for p in plans)
    except psycopg.Error as exc:
        raise LoadError(f"cannot register the load generator's devices: {exc}") from exc
