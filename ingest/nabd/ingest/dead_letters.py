"""Dead letters for operators: list, show, replay through the write path, purge.

A dead letter is a message ingest could not store as observations, kept whole (``dead_letter``,
see docs/ingest.md). Once its cause is fixed (the device registered to that gateway, a registry
row corrected) the operator **replays** it: the stored bytes and topic go through the same
:func:`~nabd.ingest.validate.validate` and the same flush as a live message
(:meth:`~nabd.ingest.writer.Writer.flush_in`), in one transaction with the update of the dead
letter itself:

* stored now, or found stored already (its batch identity is in ``ingested_batch``: a gateway
  re-sent it and that copy got through): ``replayed_at`` is set; the observations exist once,
  whatever the number of replays or of concurrent workers (the writes are idempotent);
* refused again: the row keeps its bytes and gets the new category, reason and field.

A ``no_consent`` dead letter is of a batch stored already without some of its readings
(:mod:`nabd.ingest.consent`): its replay flushes the batch again, storing only the readings not
stored yet, if a consent now covers them; those still without one keep the letter pending.

Every replay counts ``replay_attempts`` and sets ``last_replay_at``. Replays run as the ingest
login; migration 0009 grants it what this needs on ``dead_letter`` and nothing else.
"""

from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

from nabd.contract import topics
from nabd.contract.errors import ContractError
from nabd.ingest.consumer import Delivery
from nabd.ingest.errors import RefusedByDatabaseError
from nabd.ingest.inbox import Pending
from nabd.ingest.sample_times import Window
from nabd.ingest.validate import Accepted, Category, Rejected, validate
from nabd.ingest.writer import Writer

__all__ = [
    "DeadLetter",
    "ReplayResult",
    "list_dead_letters",
    "purge",
    "render_payload",
    "replay",
    "show",
]

_LIST_SQL: Final = """
SELECT id, received_at, topic, gateway_id, category, reason, field, replayed_at,
       replay_attempts, last_replay_at, octet_length(payload)
FROM dead_letter
WHERE received_at >= coalesce(%(since)s, '-infinity'::timestamptz)
  AND (%(category)s::text IS NULL OR category = %(category)s::text)
  AND (%(pending)s IS FALSE OR replayed_at IS NULL)
ORDER BY received_at, id
LIMIT %(limit)s
"""

_SHOW_SQL: Final = """
SELECT id, received_at, topic, gateway_id, category, reason, field, replayed_at,
       replay_attempts, last_replay_at, octet_length(payload), payload
FROM dead_letter WHERE id = %s
"""

_LOCK_SQL: Final = """
SELECT topic, payload, replayed_at, received_at, category FROM dead_letter WHERE id = %s
FOR UPDATE
"""

_REPLAYED_SQL: Final = """
UPDATE dead_letter SET replayed_at = now(), last_replay_at = now(),
                       replay_attempts = replay_attempts + 1
WHERE id = %s
"""

_REFUSED_SQL: Final = """
UPDATE dead_letter SET category = %s, reason = %s, field = %s, last_replay_at = now(),
                       replay_attempts = replay_attempts + 1
WHERE id = %s
"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One row of ``dead_letter``, without its bytes (``size`` says how many)."""

    id: int
    received_at: datetime
    topic: str
    gateway_id: str | None
    category: str | None
    """``None`` for dead letters written before migration 0009."""
    reason: str
    field: str | None
    replayed_at: datetime | None
    replay_attempts: int
    last_replay_at: datetime | None
    size: int

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> DeadLetter:
        return cls(*row)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What replaying one dead letter did."""

    id: int
    outcome: str
    """``stored``, ``already_stored``, ``refused``, ``already_replayed``, ``missing``, or
    ``not_replayable`` (not an observation topic: a gateway status is state, re-sent by the
    gateway itself)."""
    category: str | None = None
    reason: str | None = None
    rows: int = 0
    """Readings stored by this replay (a reading stored already is not counted)."""


def list_dead_letters(
    conn: psycopg.Connection[Any],
    *,
    since: datetime | None = None,
    category: str | None = None,
    pending_only: bool = False,
    limit: int = 100,
) -> list[DeadLetter]:
    """Dead letters received at or after ``since``, of one category, oldest first."""
    params = {"since": since, "category": category, "pending": pending_only, "limit": limit}
    return [DeadLetter.of(row) for row in conn.execute(_LIST_SQL, params)]


def show(conn: psycopg.Connection[Any], letter_id: int) -> tuple[DeadLetter, bytes] | None:
    """One dead letter and its exact bytes, or ``None``."""
    row = conn.execute(_SHOW_SQL, (letter_id,)).fetchone()
    if row is None:
        return None
    return DeadLetter.of(row[:-1]), bytes(row[-1])


def purge(conn: psycopg.Connection[Any], older_than_days: float) -> int:
    """Delete dead letters received more than ``older_than_days`` ago; return how many."""
    cur = conn.execute(
        "DELETE FROM dead_letter WHERE received_at < now() - make_interval(secs => %s)",
        (older_than_days * 86_400,),
    )
    return cur.rowcount


def replay(
    writer: Writer, metric_ids: dict[str, int], letter_id: int, window: Window | None = None
) -> ReplayResult:
    """Re-run one dead letter through validation and the write path (one transaction); sample
    times are judged against ``window`` around the dead letter's receipt, as the worker judged
    them then (``None``: not judged)."""
    try:
        return writer.transaction(
            "replay", lambda conn: _replay_in(conn, writer, metric_ids, letter_id, window)
        )
    except RefusedByDatabaseError as exc:  # the rows themselves: record why, keep the letter
        reason = str(exc)

        def refused(conn: psycopg.Connection[Any]) -> None:
            conn.execute(_REFUSED_SQL, (Category.DATABASE.value, reason, None, letter_id))

        writer.transaction("replay", refused)
        return ReplayResult(letter_id, "refused", Category.DATABASE.value, reason)


def _replay_in(
    conn: psycopg.Connection[Any],
    writer: Writer,
    metric_ids: dict[str, int],
    letter_id: int,
    window: Window | None,
) -> ReplayResult:
    row = conn.execute(_LOCK_SQL, (letter_id,)).fetchone()
    if row is None:
        return ReplayResult(letter_id, "missing")
    topic, payload, replayed_at, received_at = str(row[0]), bytes(row[1]), row[2], row[3]
    withheld = row[4] == Category.NO_CONSENT.value
    if replayed_at is not None:
        return ReplayResult(letter_id, "already_replayed")
    if not _observations_topic(topic):  # a gateway status, or no gateway topic at all
        return ReplayResult(letter_id, "not_replayable")
    verdict = validate(topic, payload, metric_ids, window=window, now=received_at)
    if isinstance(verdict, Accepted):
        delivery = Delivery(letter_id, 0, 0, -1, topic, payload, time.time())
        outcome = writer.flush_in(
            conn,
            [Pending(delivery, verdict, verdict.rows, verdict.newest_sample)],
            record_dead=False,
            again=withheld,  # its batch was stored, but not these readings
        )
        if outcome.withheld:  # still no consent for some: they stay here, pending
            verdict = outcome.withheld[0]
        elif outcome.stored or outcome.duplicates:
            stored = outcome.rows_stored + outcome.rows_unattributed
            return _replayed(conn, letter_id, stored if outcome.stored else None)
        else:
            verdict = outcome.dead[0]
    return _refused(conn, letter_id, verdict)


def _replayed(conn: psycopg.Connection[Any], letter_id: int, rows: int | None) -> ReplayResult:
    """Mark the letter replayed: its readings stored now (``rows``) or found stored (``None``)."""
    conn.execute(_REPLAYED_SQL, (letter_id,))
    if rows is None:
        return ReplayResult(letter_id, "already_stored")
    return ReplayResult(letter_id, "stored", rows=rows)


def _observations_topic(topic: str) -> bool:
    try:
        return topics.observations(topics.gateway_of(topic)) == topic
    except ContractError:
        return False


def _refused(conn: psycopg.Connection[Any], letter_id: int, verdict: Rejected) -> ReplayResult:
    category = verdict.category.value
    conn.execute(_REFUSED_SQL, (category, verdict.reason, verdict.field, letter_id))
    return ReplayResult(letter_id, "refused", category, verdict.reason)


def render_payload(payload: bytes, width: int = 16) -> str:
    """The bytes, safe for a terminal: indented JSON with every non-ASCII or control character
    escaped; else UTF-8 text with control characters escaped; else a hex dump. Nothing in the
    output can move the cursor, change colours or ring the bell."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _hexdump(payload, width)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=True)
    except (ValueError, RecursionError):
        return "".join(_safe(c) for c in text)


def _safe(c: str) -> str:
    if c == "\n" or (c.isprintable() and unicodedata.category(c) not in ("Cf", "Co", "Cs")):
        return c
    return c.encode("unicode_escape").decode("ascii")


def _hexdump(payload: bytes, width: int) -> str:
    lines = []
    for offset in range(0, len(payload), width):
        chunk = payload[offset : offset + width]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<{width * 3}} {text}")
    return "\n".join(lines)
