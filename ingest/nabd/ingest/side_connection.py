"""A worker thread's own database connection: opened on first use, again after a failure.

The status recorder and the gateway-configuration publisher each run on a thread beside the
flush loop and must not share its connection (a psycopg connection serves one thread at a
time); each keeps one of these, named in ``pg_stat_activity`` after its worker and job.
"""

from __future__ import annotations

from typing import Any

import psycopg

__all__ = ["SideConnection"]


class SideConnection:
    """``get()`` the open connection (autocommit, bounded statements); ``close()`` after an
    error, so the next ``get()`` reconnects."""

    def __init__(self, conninfo: str, application_name: str, statement_timeout_s: float) -> None:
        self._conninfo = conninfo
        self._application_name = application_name
        self._timeout_ms = round(statement_timeout_s * 1000)
        self._conn: psycopg.Connection[Any] | None = None

    def get(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=10,
                application_name=self._application_name,
                options=f"-c statement_timeout={self._timeout_ms}",
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
