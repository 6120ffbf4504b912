"""The machine's own pace: binary COPY of reading rows straight into the ``observation``
hypertable, with ingest's own statement and types.

Both ``bench/ingest_bench.py`` (its baseline, (a)) and ``bench/capacity.py`` (the line it prints
before the first step) state their results against this rate, measured in the same run: a
capacity or a throughput is only comparable with the machine it ran on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg

from nabd.ingest.staging import OBSERVATION_COPY, OBSERVATION_TYPES

__all__ = ["copy_rows_per_s"]


def copy_rows_per_s(url: str, rows: Sequence[tuple[Any, ...]], chunk: int) -> float:
    """Copy ``rows`` (``OBSERVATION_COPY``'s columns) in transactions of ``chunk`` rows; the
    rows per second it took. The caller owns the rows afterwards (drop them if they must go)."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for i in range(0, len(rows), chunk):
            with conn.transaction(), conn.cursor() as cur, cur.copy(OBSERVATION_COPY) as copy:
                copy.set_types(list(OBSERVATION_TYPES))
                for row in rows[i : i + chunk]:
                    copy.write_row(row)
    return len(rows) / (time.perf_counter() - started)
