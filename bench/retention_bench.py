"""Cost of ``nabd privacy retention``: the dry run, the apply, and cutting the audit log.

Usage (from the repository root)::

    .venv/bin/python bench/retention_bench.py [--readings 1200000] [--audit-rows 100000]

Starts a private stack (as the tests do), fills a migrated database with ``--readings`` readings
5 s apart (about 69 days for 1.2 million) and their identities, and ``--audit-rows`` audit rows;
sets observations to 30 days and times the dry run and the apply (chunks dropped,
``reading_identity`` deleted in batches); then sets the audit log to 365 days, applies a year
later, and checks that the chain still verifies. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from nabd.app.audit.chain import Intact
from nabd.app.audit.store import verify_database
from nabd.app.db.migrations import apply_migrations
from nabd.app.privacy import store
from nabd.app.privacy.retention import data_class
from nabd.app.stack.testing import fresh_database, running_stack

_SEED_SQL = (
    "INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value, received_at,"
    " gateway_id) SELECT %(now)s - i * interval '5 seconds', 'p1', 'd1', 1, i, 70, now(), 'gw1'"
    " FROM generate_series(1, %(n)s) i",
    "INSERT INTO reading_identity SELECT 'd1', i, 1, %(now)s - i * interval '5 seconds'"
    " FROM generate_series(1, %(n)s) i",
    "INSERT INTO audit_log (actor, action, subject) SELECT 'bench', 'bench', 's' || i"
    " FROM generate_series(1, %(audit)s) i",
)


def _timed(what: str, started: float) -> None:
    print(f"{what}: {time.monotonic() - started:.2f} s")


def _show(reports: list[store.ClassReport]) -> None:
    for report in reports:
        for t in report.tables:
            print(f"  {report.key} {t.table}: rows {t.rows}, chunks {t.chunks}")


def _run(url: str, readings: int, audit_rows: int) -> None:
    apply_migrations(url)
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('w1', 'W')")
        conn.execute("INSERT INTO patient (id, ward_id) VALUES ('p1', 'w1')")
        for statement in _SEED_SQL:
            conn.execute(statement, {"now": now, "n": readings, "audit": audit_rows})
        conn.execute("ANALYZE")
        store.set_policy(conn, data_class("observations"), 30, "bench")
        started = time.monotonic()
        _show(store.plan(conn, now))
        _timed("dry run, observations 30 days", started)
        started = time.monotonic()
        _show(store.apply(conn, now, "bench"))
        _timed("apply, observations 30 days", started)
        store.set_policy(conn, data_class("observations"), None, "bench")
        store.set_policy(conn, data_class("audit_log"), 365, "bench")
        started = time.monotonic()
        _show(store.apply(conn, now + timedelta(days=366), "bench"))
        _timed("apply, audit log a year later", started)
    result = verify_database(url)
    print(f"audit verify: {'intact' if isinstance(result, Intact) else result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=1_200_000)
    parser.add_argument("--audit-rows", type=int, default=100_000)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="nabd-stack-"))
    try:
        with (
            running_stack(state) as stack,
            fresh_database(stack.database_url, prefix="nabd_bench") as url,
        ):
            _run(url, args.readings, args.audit_rows)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
