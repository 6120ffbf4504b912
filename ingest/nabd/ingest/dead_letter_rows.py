"""A :class:`~nabd.ingest.validate.Rejected` message as a ``dead_letter`` row the database accepts.

Why: a dead letter is what ingest writes when everything else failed, so writing it must not
fail on what the sender put in the message. The payload is ``bytea`` and holds any bytes; but the
topic, reason and field are ``text``, and the reason and field echo the message (a JSON key, a
wrong unit). PostgreSQL text cannot hold NUL and psycopg cannot send a lone surrogate, so a key
``"x\\u0000"`` once made the dead-letter insert fail, the message stayed unacknowledged, came
back and stopped ingest again on every restart. :func:`safe_text` escapes both, so a dead
letter's text is always storable; the bytes are stored as they came.

Should the database still refuse a dead letter (a constraint or a cause nobody foresaw),
:func:`last_resort` keeps the message's exact bytes with a fixed ASCII reason, topic escaped to
ASCII and no field: the category :attr:`~nabd.ingest.validate.Category.UNSTORABLE` names these.
And if even that is refused, :func:`log_lost` writes the bytes (base64) into the log. Either way
the message is acknowledged and counted (``nabd_ingest_dead_letter_fallbacks_total``): a message
that cannot be stored must not stop the stream behind it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import psycopg

from nabd.ingest.validate import Category, Rejected

__all__ = [
    "FALLBACK_LOGGED",
    "FALLBACK_RAW",
    "INSERT_SQL",
    "insert",
    "last_resort",
    "log_lost",
    "params",
    "safe_text",
]

log = logging.getLogger(__name__)

INSERT_SQL: Final = """
INSERT INTO dead_letter (topic, gateway_id, payload, reason, field, category, replayed_at)
SELECT t, g, p, r, f, c, CASE WHEN %s THEN now() END
FROM unnest(%s::text[], %s::text[], %s::bytea[], %s::text[], %s::text[], %s::text[])
     AS k (t, g, p, r, f, c)
"""

FALLBACK_RAW: Final = "raw"
"""Label of a dead letter kept by :func:`last_resort` (bytes whole, reason fixed)."""
FALLBACK_LOGGED: Final = "logged"
"""Label of a message the database refused even as a last resort: its bytes are in the log."""

_LOG_BYTES: Final = 65_536
"""At most this many bytes of a lost message go into the log line (base64)."""


def safe_text(text: str | None) -> str | None:
    """``text`` without what PostgreSQL ``text`` or its UTF-8 encoding cannot hold: NUL becomes
    the six characters ``\\u0000`` and a lone surrogate its ``\\udxxx`` escape."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def params(rejected: Sequence[Rejected]) -> tuple[list[Any], ...]:
    """The arrays of :data:`INSERT_SQL` for ``rejected``, text made storable."""
    return (
        [safe_text(r.topic) for r in rejected],
        [safe_text(r.gateway_id) for r in rejected],
        [r.payload for r in rejected],
        [safe_text(r.reason) for r in rejected],
        [safe_text(r.field) for r in rejected],
        [r.category.value for r in rejected],
    )


def insert(
    conn: psycopg.Connection[Any], rejected: Sequence[Rejected], *, record: bool = False
) -> None:
    """Insert ``rejected`` in the caller's transaction; with ``record``, as already replayed (a
    record of something ingest did, not a message waiting for an operator)."""
    if rejected:
        conn.execute(INSERT_SQL, (record, *params(rejected)))


def last_resort(rejected: Rejected, error: str) -> Rejected:
    """The message as a dead letter with nothing of it in a text column: the bytes as they came,
    the topic escaped to ASCII, a fixed reason that says what failed."""
    return replace(
        rejected,
        topic=_ascii(rejected.topic),
        gateway_id=None,
        category=Category.UNSTORABLE,
        reason=(
            f"the database refused this message's dead letter ({_ascii(error)[:500]}); "
            f"kept raw, first judged {rejected.category.value}"
        ),
        field=None,
    )


def _ascii(text: str) -> str:
    """``text`` in printable ASCII: anything else as a backslash escape."""
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\x00", "\\x00")


def log_lost(rejected: Rejected, error: str) -> None:
    """The last trace of a message the database refused even raw: its bytes in the log."""
    log.error(
        "the database refused even a raw dead letter; the message is in this log line only",
        extra={
            "topic": ascii(rejected.topic),
            "error": ascii(error),
            "size": len(rejected.payload),
            "payload_base64": base64.b64encode(rejected.payload[:_LOG_BYTES]).decode("ascii"),
            "truncated": len(rejected.payload) > _LOG_BYTES,
        },
    )
