"""What every care operation shares on its connection: the transaction, the audit entry, and
turning the database's refusals into people's messages.

An operation runs in one transaction that also appends its ``audit_log`` entry (the log's
trigger of migration 0004 numbers, stamps and chains it), so a change is never without its
entry, nor an entry without its change. A connection error or a constraint the code did not
foresee becomes a :class:`~nabd.care.errors.CareRefused` without a constraint name: the code
checks every rule it knows first, under row locks, so reaching one means a race or a bug.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias

import psycopg

from nabd.care.errors import CareRefused, Why

__all__ = ["Conn", "audit", "lock", "operation"]

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]


@contextlib.contextmanager
def operation(conn: Conn, what: str) -> Iterator[None]:
    """One transaction for ``what`` (e.g. ``"admit"``); database errors become
    :class:`CareRefused` naming ``what``, never a constraint or a traceback."""
    try:
        with conn.transaction():
            yield
    except psycopg.errors.IntegrityError as exc:
        raise CareRefused(
            f"{what} refused: it conflicts with a change made at the same moment; "
            "look at the current state (list/show) and try again",
            Why.CONCURRENT_CHANGE,
            what=what,
        ) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CareRefused(
            f"{what} refused: this database login may not do it (it needs the nabd_care role)",
            Why.NOT_PERMITTED,
            what=what,
        ) from exc


def lock(conn: Conn, key: str) -> None:
    """Serialise transactions about ``key`` (an MRN, a bed) until this one ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"nabd.care:{key}",))


def audit(conn: Conn, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> None:
    """Append an audit entry in the current transaction."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s::jsonb)",
        (actor, action, subject, json.dumps(details, default=str)),
    )
