"""A valid batch as database rows, and the COPY statements that write them.

Rows are built when a message arrives (on the MQTT thread), so that building them overlaps with
the previous flush waiting on the database; a flush then only adds the patient and streams the
tuples through binary COPY:

* the fast path copies the readings' identities into ``reading_identity`` (migration 0042,
  whose primary key is the contract's ``(device_id, seq, metric)``) and the rows straight into
  ``observation`` and ``unattributed_observation``, inside a savepoint; it is right whenever no
  reading of the flush is stored already, which is the normal case since already-stored
  *batches* are recognised before;
* if that COPY meets a reading that is already stored (a gateway that re-sends readings in new
  batches after a restart, two workers racing on the same batch, or the same identity with
  another time), the savepoint is rolled back and the same rows go through the temporary
  ``ingest_staging`` table: :data:`FROM_STAGING_SQL`, one statement, registers the new
  identities (``ON CONFLICT DO NOTHING ... RETURNING``) and stores only the rows whose identity
  it registered, so a reading is stored once whatever time a later copy claims.

Only ``reading_identity`` holds a reading once: ``observation`` has no unique index on the
identity since migration 0046 (it cost as much as the identity table, for nothing ingest needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, TypeAlias

from nabd.contract.payloads import ObservationBatch, Reading

__all__ = [
    "CREATE_STAGING_SQL",
    "FROM_STAGING_SQL",
    "IDENTITY_COPY",
    "IDENTITY_TYPES",
    "OBSERVATION_COPY",
    "OBSERVATION_TYPES",
    "STAGING_COPY",
    "UNATTRIBUTED_COPY",
    "UNATTRIBUTED_TYPES",
    "Row",
    "rows_of",
    "sample_time",
]

Row: TypeAlias = tuple[datetime, str, int, int, float | None, list[str], datetime, str]
"""(time, device_id, metric_id, seq, value, quality, received_at, gateway_id): a reading as
stored, without its patient (the writer adds it, from the registry, at flush time)."""

_COLUMNS: Final = "time, device_id, metric_id, seq, value, quality, received_at, gateway_id"
UNATTRIBUTED_TYPES: Final = (
    "timestamptz",
    "text",
    "int2",
    "int8",
    "float8",
    "text[]",
    "timestamptz",
    "text",
)
OBSERVATION_TYPES: Final = ("text", *UNATTRIBUTED_TYPES)
"""Types of ``(patient_id, *Row)``."""

OBSERVATION_COPY: Final = f"COPY observation (patient_id, {_COLUMNS}) FROM STDIN (FORMAT BINARY)"
UNATTRIBUTED_COPY: Final = f"COPY unattributed_observation ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
STAGING_COPY: Final = f"COPY ingest_staging (patient_id, {_COLUMNS}) FROM STDIN (FORMAT BINARY)"

CREATE_STAGING_SQL: Final = """
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_staging (
    patient_id   text,             -- NULL: no assignment at the sample's time
    time         timestamptz NOT NULL,
    device_id    text NOT NULL,
    metric_id    smallint NOT NULL,
    seq          bigint NOT NULL,
    value        double precision,
    quality      text[] NOT NULL,
    received_at  timestamptz NOT NULL,
    gateway_id   text NOT NULL
) ON COMMIT DELETE ROWS
"""

IDENTITY_COPY: Final = (
    "COPY reading_identity (device_id, seq, metric_id, time) FROM STDIN (FORMAT BINARY)"
)
IDENTITY_TYPES: Final = ("text", "int8", "int2", "timestamptz")

FROM_STAGING_SQL: Final = """
WITH staged AS (  -- one row per identity: the earliest time, if a flush holds one twice
    SELECT DISTINCT ON (device_id, seq, metric_id) *
    FROM ingest_staging
    ORDER BY device_id, seq, metric_id, time
), registered AS (
    INSERT INTO reading_identity (device_id, seq, metric_id, time)
    SELECT device_id, seq, metric_id, time FROM staged
    ON CONFLICT DO NOTHING
    RETURNING device_id, seq, metric_id
), fresh AS (
    SELECT s.* FROM staged s JOIN registered USING (device_id, seq, metric_id)
), attributed AS (
    INSERT INTO observation (patient_id, time, device_id, metric_id, seq, value, quality,
                             received_at, gateway_id)
    SELECT patient_id, time, device_id, metric_id, seq, value, quality, received_at, gateway_id
    FROM fresh WHERE patient_id IS NOT NULL
), unattributed AS (
    INSERT INTO unattributed_observation (time, device_id, metric_id, seq, value, quality,
                                          received_at, gateway_id)
    SELECT time, device_id, metric_id, seq, value, quality, received_at, gateway_id
    FROM fresh WHERE patient_id IS NULL
)
SELECT device_id, seq, metric_id, time, patient_id IS NOT NULL FROM fresh
"""
"""The slow path, in one statement: register the staged identities no reading held yet (``ON
CONFLICT DO NOTHING``) and store exactly the rows whose identity that INSERT returned, so the
hypertables' own indexes play no part (observation has none on the identity since migration
0046). Returns ``(device_id, seq, metric_id, time, attributed)`` of the rows stored, so the
flush knows which readings are new (``observation_latest``, the journal). No ``RETURNING`` from
the hypertables: ingest may write them, not read them."""

_NO_FLAGS: Final[list[str]] = []


def sample_time(reading: Reading) -> datetime:
    """When the value was measured: the device's clock if it has one, else the gateway's receipt.

    This is the ``time`` of the stored row and the instant attribution looks up.
    """
    return reading.device_time if reading.device_time is not None else reading.received_at


def rows_of(batch: ObservationBatch, metric_ids: Mapping[str, int]) -> tuple[Row, ...]:
    """One row per reading, in the batch's order."""
    gateway = batch.gateway_id
    return tuple(
        (
            sample_time(r),
            r.device_id,
            metric_ids[r.metric],
            r.seq,
            r.value,
            [q.value for q in r.quality] if r.quality else _NO_FLAGS,
            r.received_at,
            gateway,
        )
        for r in batch.readings
    )
