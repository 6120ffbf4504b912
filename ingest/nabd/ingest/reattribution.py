"""Readings set aside for nobody, given to the patient once an assignment covers them.

A device that streams before anyone records who wears it has its readings stored in
``unattributed_observation`` (:mod:`nabd.ingest.attribution`). When an assignment is entered
later with a validity period that covers them (a nurse puts the strap on first and registers it
afterwards), :func:`reattribute` moves the covered readings to ``observation`` under that
patient: in **one transaction**, it deletes them from ``unattributed_observation``, inserts
them into ``observation`` (``ON CONFLICT DO NOTHING`` on the reading's identity), upserts
``observation_latest`` with the newest of them, and adds a hand-off journal entry (and NOTIFY) so
that analytics sees them like a late batch, placed by their own sample time. A reading is thus
moved exactly once: a second run finds nothing, and a crash before COMMIT moves nothing.

Ingest runs it every ``NABD_INGEST_REATTRIBUTE_INTERVAL_S`` (and ``nabd ingest reattribute`` runs
it at once). Only readings some assignment covers are touched, and only those its patient's
consent covers (docs/consent.md): the others stay where they are, kept, never the patient's.
It runs as the ingest login (migration 0009 grants it SELECT and DELETE on
``unattributed_observation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg

from nabd.ingest import handoff

__all__ = ["REATTRIBUTE_SQL", "Reattributed", "reattribute"]

REATTRIBUTE_SQL: Final = (
    """WITH moved AS (
        DELETE FROM unattributed_observation u
        USING device_assignment a
        WHERE a.device_id = u.device_id AND a.valid @> u.time
          AND consent_collection_periods(a.patient_id) @> u.time
          AND (%(device)s::text IS NULL OR u.device_id = %(device)s::text)
        RETURNING a.patient_id, u.time, u.device_id, u.metric_id, u.seq, u.value, u.quality,
                  u.received_at, u.gateway_id
    )
    INSERT INTO ingest_staging SELECT * FROM moved""",
    """INSERT INTO observation (patient_id, time, device_id, metric_id, seq, value, quality,
                                received_at, gateway_id)
    SELECT * FROM ingest_staging
    ON CONFLICT DO NOTHING""",
    """INSERT INTO observation_latest AS l (patient_id, metric_id, time, value, quality, device_id)
    SELECT DISTINCT ON (patient_id, metric_id) patient_id, metric_id, time, value, quality,
           device_id
    FROM ingest_staging
    WHERE NOT 'time_implausible' = ANY (quality)  -- its time is not known (sample_times)
    ORDER BY patient_id, metric_id, time DESC
    ON CONFLICT (patient_id, metric_id) DO UPDATE
        SET time = excluded.time, value = excluded.value, quality = excluded.quality,
            device_id = excluded.device_id
        WHERE excluded.time >= l.time""",
    """SELECT coalesce(array_agg(DISTINCT patient_id), '{}'), min(time), max(time)
    FROM ingest_staging""",
)
"""The statements of one re-attribution, through the session's ``ingest_staging`` table (the
writer creates it, ``ON COMMIT DELETE ROWS``): take the covered readings out of
``unattributed_observation`` with their patient; insert them into ``observation`` (before
``reading_identity`` (0042), a reading a gateway re-sent after the assignment existed could be
there already and only left the other table; migration 0046 removed those copies with the index
this ``ON CONFLICT`` used, which stays for a database not yet migrated);
keep ``observation_latest``; the journal's patients and time span. No ``RETURNING`` from
``observation``: ingest may write it, not read it."""


@dataclass(frozen=True, slots=True)
class Reattributed:
    """What one re-attribution did."""

    moved: int
    """Readings taken out of ``unattributed_observation``."""
    stored: int
    """... of which newly stored in ``observation`` (the others were there already)."""
    patients: tuple[str, ...]
    commit_seq: int | None
    """The hand-off journal entry, if readings were stored."""


def reattribute(
    conn: psycopg.Connection[Any], worker_id: str, device_id: str | None = None
) -> Reattributed:
    """Move covered readings to their patients, inside the caller's transaction (which must
    commit for anything to happen, and must not have written to the journal yet: the journal
    entry is the last statement)."""
    take, store, latest, span = REATTRIBUTE_SQL
    moved = conn.execute(take, {"device": device_id}).rowcount
    if not moved:
        return Reattributed(0, 0, (), None)
    stored = conn.execute(store).rowcount
    conn.execute(latest)
    row = conn.execute(span).fetchone()
    assert row is not None  # an aggregate always returns one row
    patients, first, last = sorted(row[0]), row[1], row[2]
    seq = None
    if stored:
        seq = handoff.record_commit(
            conn,
            worker_id,
            rows_stored=stored,
            patients=patients,
            first_time=first,
            last_time=last,
        )
    return Reattributed(moved, stored, tuple(patients), seq)
