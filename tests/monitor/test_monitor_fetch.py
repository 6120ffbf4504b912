"""Analytics reads a flush's observations by the flush, not by the patients' whole day.

Each tick reads the journal entries committed since the last and their rows. With the day's
earlier rows of the same patients already stored (here 20 patients x 5 000 rows, stored over the
last hour), the read must return exactly the new flush's rows, and PostgreSQL must find them by
the flush itself (its ``ingested_at``, BRIN index of migration 0141, or its short span of sample
times), never through the per-patient index that reads every row of those patients since
midnight nor by scanning the day's chunk: those plans made a tick cost more with every hour of
the day (220 ms instead of 21 ms at 1 000 beds after 12 minutes of data)."""

from __future__ import annotations

import asyncio

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
