"""Reading ``audit_log`` for :mod:`nabd.app.audit.chain`, streamed in ``seq`` order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg

from nabd.app.audit.chain import AuditRow, Break, Intact, verify

_QUERY = (
    "SELECT seq, at, actor, action, subject, details::text, prev_hash, hash"
    " FROM audit_log ORDER BY seq"
)


def _rows(conn: psycopg.Connection[tuple[Any, ...]]) -> Iterator[AuditRow]:
    with conn.cursor(name="nabd_audit_verify") as cur:
        cur.itersize = 5000
        for seq, at, actor, action, subject, details, prev, digest in cur.execute(_QUERY):
            assert isinstance(at, datetime)
            yield AuditRow(
                int(str(seq)),
                at,
                str(actor),
                str(action),
                str(subject),
                str(details),
                bytes(prev),
                bytes(digest),
            )


def verify_database(conninfo: str) -> Intact | Break:
    """Check the chain of the database at ``conninfo`` in one read-only snapshot."""
    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        result = verify(_rows(conn))
        conn.rollback()
        return result
