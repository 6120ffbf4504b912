"""PostgreSQL array literals built with ``str.join``, for the flush's large array parameters.

Why: the writer sends the newest reading of every (patient, metric) of a flush as six parallel
arrays to one ``INSERT ... SELECT FROM unnest(...)`` (``observation_latest``). psycopg adapts a
Python list element by element through its dumpers, in Python: at 3 000 beds (12 000 elements
per array and second) that was a fifth of the writer thread's time (py-spy,
``bench/capacity.py``), time the network thread then lacked for validating the next messages.
A literal built by ``str.join`` costs a fraction of that and PostgreSQL parses it in C.

Each function returns the text of a one-dimensional array literal (PostgreSQL manual, "Arrays",
8.15.6 Array Input and Output Syntax) for a parameter cast in SQL (``%s::text[]``). Text
elements are always double-quoted with backslash and quote escaped, so no value can be read as
NULL or split; ``None`` numbers become an unquoted ``NULL``; floats use ``repr`` (the shortest
text that reads back to the same double; NaN and infinities are refused by the contract
before they get here); timestamps use ISO 8601 with their offset and microseconds.
``tests/ingest/test_ingest_array_literals.py`` round-trips generated values through the real
server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

__all__ = ["float_array", "int_array", "text_array", "time_array"]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Iterable[str]) -> str:
    """``{"a","b"}``: every element quoted."""
    return "{" + ",".join(map(_quoted, values)) + "}"


def int_array(values: Iterable[int]) -> str:
    """``{1,2}``."""
    return "{" + ",".join(map(str, values)) + "}"


def float_array(values: Iterable[float | None]) -> str:
    """``{1.5,NULL}``: ``None`` is SQL NULL."""
    return "{" + ",".join("NULL" if v is None else repr(float(v)) for v in values) + "}"


def time_array(values: Iterable[datetime]) -> str:
    """``{"2026-12-06T10:00:00.000001+00:00"}``: timezone-aware datetimes, to the microsecond."""
    return "{" + ",".join('"' + t.isoformat(timespec="microseconds") + '"' for t in values) + "}"
