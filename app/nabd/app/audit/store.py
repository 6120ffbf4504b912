"""Reading ``audit_log`` for :mod:`nabd.app.audit.chain`, streamed in ``seq`` order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg

from nabd.app.audit.chain import Anchor, AuditRow, Break, Head, Intact, count_change, verify

_COLUMNS = "seq, at, actor, action, subject, details::text, prev_hash, hash"
_ALL = f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq"  # noqa: S608  (constants only)
_AFTER = f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq"  # noqa: S608

Connection = psycopg.Connection[tuple[Any, ...]]


def _rows(conn: Connection, query: str, params: tuple[int, ...] = ()) -> Iterator[AuditRow]:
    with conn.cursor(name="nabd_audit_verify") as cur:
        cur.itersize = 5000
        for seq, at, actor, action, subject, details, prev, digest in cur.execute(query, params):
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


def _snapshot(conninfo: str) -> psycopg.Connection[tuple[Any, ...]]:
    conn = psycopg.connect(conninfo)
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return conn


def pruned_head(conn: Connection) -> Head | None:
    """The head of the rows retention removed, from the newest ``audit_log_pruned`` row (itself
    in the chain, so checked by the walk); None when nothing was ever removed."""
    found = conn.execute(
        "SELECT details->>'through_seq', details->>'through_hash', details->>'rows'"
        " FROM audit_log WHERE action = 'audit_log_pruned' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    if found is None:
        return None
    try:
        return Head(int(str(found[0])), bytes.fromhex(str(found[1])), int(str(found[2])))
    except ValueError:  # a hand-written entry: start from nothing, the first row will not link
        return None


def verify_database(conninfo: str, anchors: Sequence[Anchor] = ()) -> Intact | Break:
    """Check the chain of the database at ``conninfo`` in one read-only snapshot, and that it
    still holds every anchored head (see :func:`nabd.app.audit.chain.verify`), from the head of
    what retention removed, if it removed anything."""
    with _snapshot(conninfo) as conn:
        result = verify(_rows(conn, _ALL), anchors, start=pruned_head(conn))
        conn.rollback()
        return result


def _stored_head(conn: Connection, seq: int, pruned: Head | None) -> Head | None:
    found = conn.execute(
        "SELECT (SELECT hash FROM audit_log WHERE seq = %(seq)s),"
        " (SELECT count(*) FROM audit_log WHERE seq <= %(seq)s)",
        {"seq": seq},
    ).fetchone()
    if found is None or found[0] is None:
        return None
    return Head(seq, bytes(found[0]), int(found[1]) + (0 if pruned is None else pruned.rows))


def extend(conninfo: str, since: Head | None) -> Intact | Break:
    """The chain checked from ``since`` (a head already checkpointed) to its current end.

    Rows up to ``since`` are not re-hashed (that was done when it was signed); the stored row at
    ``since`` must still have its hash and row count, and every newer row must chain from it. So
    the writer never signs a head that does not extend its previous checkpoint, and the cost of a
    checkpoint grows with the new rows, not with the whole log.
    """
    with _snapshot(conninfo) as conn:
        pruned = pruned_head(conn)
        if since is None:
            result = verify(_rows(conn, _ALL), start=pruned)
        elif pruned is not None and since.seq <= pruned.seq:
            # The last checkpoint's row was removed by retention: go on from the cut.
            anchor = Anchor(since, "the last checkpoint")
            result = verify(_rows(conn, _AFTER, (pruned.seq,)), [anchor], start=pruned)
        else:
            result = _extend(conn, since, pruned)
        conn.rollback()
        return result


def _extend(conn: Connection, since: Head, pruned: Head | None) -> Intact | Break:
    stored = _stored_head(conn, since.seq, pruned)
    if stored is None:
        return Break(since.seq, "missing: the last checkpoint saw this row", since.hash, b"")
    if stored != since:
        return Break(
            since.seq,
            f"rewritten: differs from the last checkpoint, {count_change(since.rows, stored.rows)}",
            since.hash,
            stored.hash,
        )
    return verify(_rows(conn, _AFTER, (since.seq,)), start=since)
