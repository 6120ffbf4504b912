"""Analytics reads a flush's observations by the flush, not by the patients' whole day.

Each tick reads the journal entries committed since the last and their rows. With the day's
earlier rows of the same patients already stored (here 20 patients x 5 000 rows, stored over the
last hour), the read must return exactly the new flush's rows, and PostgreSQL must find them by
the flush itself (its ``ingested_at``, B-tree of migration 0150, or its short span of sample
times), never through the per-patient index that reads every row of those patients since
midnight nor by scanning the day's chunk: those plans made a tick cost more with every hour of
the day (220 ms instead of 21 ms at 1 000 beds after 12 minutes of data)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from nabd.analytics.service import source
from nabd.analytics.service.samples import DOUBTFUL_FLAGS
from tests.monitor.monitor_kit import MonitorDb, admit, ago, store

pytestmark = pytest.mark.integration

PATIENTS = [f"p-fetch-{i:02d}" for i in range(20)]
EARLIER_ROWS = 5_000


def _params(after: int, upto: int) -> dict[str, object]:
    doubtful = list(DOUBTFUL_FLAGS)
    return {"doubtful": doubtful, "after": after, "upto": upto, "wards": ["w-fetch"]}


def test_a_tick_reads_the_new_flush_by_its_ingest_time_not_the_patients_day(
    monitor_db: MonitorDb,
) -> None:
    for p in PATIENTS:
        admit(monitor_db, p, ward="w-fetch")
    with psycopg.connect(monitor_db.owner_url) as conn:
        conn.execute(
            """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,
                                        quality, received_at, gateway_id, ingested_at)
               SELECT now() - g * interval '0.7 s', p, 'dev-' || p,
                      (SELECT id FROM metric WHERE key = 'heart_rate'), 10000000 + g, 70, '{}',
                      now() - g * interval '0.7 s', 'gw-' || p, now() - g * interval '0.7 s'
               FROM unnest(%s::text[]) AS p, generate_series(1, %s) AS g""",
            (PATIENTS, EARLIER_ROWS),
        )
        conn.commit()
        conn.execute("ANALYZE observation")
        conn.commit()
    newest = max_seq(monitor_db)
    store(monitor_db, [(p, "heart_rate", ago(0.2), 80.0, ()) for p in PATIENTS])

    with psycopg.connect(monitor_db.analytics_url) as conn:
        conn.execute(source._TEMP_SQL)
        params = _params(newest, newest + 1)
        rows = conn.execute(source._ROWS_SQL, params).fetchall()
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + source._ROWS_SQL, params))
    assert sorted(r[1] for r in rows) == PATIENTS  # exactly the flush: one reading each
    assert {r[4] for r in rows} == {80.0}
    assert "patient_metric_time" not in plan, plan  # every row of those patients today
    assert "Seq Scan on _hyper" not in plan, plan  # every row of the day's chunk


def max_seq(db: MonitorDb) -> int:
    with psycopg.connect(db.owner_url) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM observation_commit").fetchone()
    assert row is not None
    return int(row[0])


def test_a_backlog_is_read_in_reads_of_bounded_rows_each_entry_once(monitor_db: MonitorDb) -> None:
    """Five flushes of 20 readings waiting, a budget of 25 rows a read: the reads take entries
    1-2, 3-4, then 5 (an entry is never split, the first always comes), and together every
    entry exactly once. Counting entries alone let a backlog outlast the statement timeout."""
    patients = [f"p-backlog-{i:02d}" for i in range(20)]
    for p in patients:
        admit(monitor_db, p, ward="w-backlog")
    start = max_seq(monitor_db)
    for k in range(5):
        store(monitor_db, [(p, "heart_rate", ago(1 + k), 60.0 + k, ()) for p in patients])

    async def read_all() -> list[tuple[int, int]]:
        conn = await psycopg.AsyncConnection.connect(monitor_db.analytics_url, autocommit=True)
        async with conn:
            reader = source.ObservationSource(conn, fetch_limit=500, fetch_rows=25)
            await reader.setup()
            seen: list[tuple[int, int]] = []
            watermark = start
            while True:
                got = await reader.fetch(watermark, ["w-backlog"])
                if not got.commits:
                    return seen
                seen.append((got.commits, got.watermark))
                watermark = got.watermark

    reads = asyncio.run(read_all())
    assert [n for n, _ in reads] == [2, 2, 1]
    assert [w for _, w in reads] == [start + 2, start + 4, start + 5]


def _read(db: MonitorDb, after: int, upto: int, ward: str) -> tuple[list[tuple[object, ...]], str]:
    """The read's rows, and its plan with buffer counts."""
    params = {"doubtful": list(DOUBTFUL_FLAGS), "after": after, "upto": upto, "wards": [ward]}
    with psycopg.connect(db.analytics_url) as conn:
        conn.execute(source._TEMP_SQL)
        rows = conn.execute(source._ROWS_SQL, params).fetchall()
        explain = "EXPLAIN (ANALYZE, BUFFERS) " + source._ROWS_SQL
        plan = "\n".join(r[0] for r in conn.execute(explain, params))
    return rows, plan


def test_a_large_flush_is_read_without_its_patient_list_per_row(monitor_db: MonitorDb) -> None:
    """A flush of 1 500 patients (a list PostgreSQL stores out of line): checking each row
    against it detoasted and searched the list once per row, about 30 pages a row. The read
    must touch a few pages per row at most."""
    patients = sorted(f"p-large-{uuid.uuid4()}" for _ in range(1500))  # ids that do not compress
    with psycopg.connect(monitor_db.owner_url) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('w-large', 'Ward')")
        conn.execute(
            "INSERT INTO patient (id, ward_id) SELECT p, 'w-large' FROM unnest(%s::text[]) p",
            (patients,),
        )
        conn.execute("ANALYZE patient")  # as autovacuum would have: 1 500 admissions
    start = max_seq(monitor_db)
    at = ago(0.5)
    store(monitor_db, [(p, m, at, 70.0, ()) for p in patients for m in ("heart_rate", "spo2")])
    rows, plan = _read(monitor_db, start, start + 1, "w-large")
    assert len(rows) == 2 * len(patients)
    hits = int(plan.split("Buffers: shared hit=", 1)[1].split()[0].rstrip(","))
    assert hits < 5 * len(rows), plan


def test_flushes_sharing_an_ingest_time_each_give_only_their_own_rows(
    monitor_db: MonitorDb,
) -> None:
    """Two flushes whose transactions began in the same microsecond share ``ingested_at``: each
    journal entry still gives its own patients' rows, and a read of both gives each row once."""
    for p in ("p-twin-a", "p-twin-b"):
        admit(monitor_db, p, ward="w-twin")
    start = max_seq(monitor_db)
    t = ago(0.5)
    with psycopg.connect(monitor_db.owner_url) as conn:
        for k, p in enumerate(("p-twin-a", "p-twin-b"), start=1):
            conn.execute(
                """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,
                                            quality, received_at, gateway_id, ingested_at)
                   VALUES (%s, %s, 'dev-' || %s, (SELECT id FROM metric WHERE key = 'spo2'),
                           %s, 95, '{}', %s, 'gw-' || %s, '2026-01-01 00:00:00+00')""",
                (t, p, p, 900_000_000 + k, t, p),
            )
            conn.execute(
                """INSERT INTO observation_commit (seq, worker_id, ingested_at, committed_at,
                                                   rows_stored, patients, first_time, last_time)
                   VALUES (%s, 'twin', '2026-01-01 00:00:00+00', now(), 1, %s, %s, %s)""",
                (start + k, [p], t, t),
            )
        conn.execute("UPDATE observation_commit_counter SET seq = %s", (start + 2,))
    first, _ = _read(monitor_db, start, start + 1, "w-twin")
    second, _ = _read(monitor_db, start + 1, start + 2, "w-twin")
    both, _ = _read(monitor_db, start, start + 2, "w-twin")
    assert [r[1] for r in first] == ["p-twin-a"]
    assert [r[1] for r in second] == ["p-twin-b"]
    assert sorted(str(r[1]) for r in both) == ["p-twin-a", "p-twin-b"]
