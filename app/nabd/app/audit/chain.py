"""The audit log's hash chain, checked in Python, independently of the SQL that writes it.

Migration 0004 chains every ``audit_log`` row: ``hash = sha256(prev_hash || fields)`` where the
fields are ``seq``, ``at`` (UTC, microseconds), ``actor``, ``action``, ``subject`` and
``details::text`` joined by the unit separator, and ``prev_hash`` is the previous row's hash
(empty for the first row). The append-only trigger stops ordinary writers; this check catches
whoever went around it (a superuser, a restored backup, a disabled trigger): a changed row no
longer hashes to its ``hash``, a deleted or inserted row breaks the link to its neighbour, a
reordered row hashes with a different ``seq``. It cannot see rows cut from the *end* of the log:
keep the head (``seq`` and ``hash`` printed by a successful verify) somewhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One ``audit_log`` row as stored, with ``details`` as the database renders it."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: str
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link: which row, what was wrong, the hash expected and the one found."""

    seq: int
    what: str
    expected: bytes
    found: bytes

    def __str__(self) -> str:
        expected = self.expected.hex() or "(empty)"
        found = self.found.hex() or "(empty)"
        return f"audit_log row seq={self.seq}: {self.what}: expected {expected}, found {found}"


@dataclass(frozen=True, slots=True)
class Intact:
    """An unbroken chain: how many rows, and its head (record it to detect a cut tail later)."""

    rows: int
    head_seq: int | None
    head_hash: bytes


def digest(prev: bytes, row: AuditRow) -> bytes:
    """The hash a row must have, given the previous row's hash."""
    stamp = row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = (str(row.seq), stamp, row.actor, row.action, row.subject, row.details)
    return hashlib.sha256(prev + SEPARATOR.join(fields).encode()).digest()


def verify(rows: Iterable[AuditRow]) -> Intact | Break:
    """Walk rows in ``seq`` order; the first broken link, or the intact chain's summary."""
    prev = b""
    count = 0
    last_seq: int | None = None
    for row in rows:
        if last_seq is not None and row.seq <= last_seq:
            return Break(row.seq, f"out of order after seq={last_seq}", prev, row.prev_hash)
        if row.prev_hash != prev:
            return Break(
                row.seq, "prev_hash does not link to the previous row", prev, row.prev_hash
            )
        expected = digest(prev, row)
        if row.hash != expected:
            return Break(row.seq, "hash does not match the row's contents", expected, row.hash)
        prev, last_seq, count = row.hash, row.seq, count + 1
    return Intact(count, last_seq, prev)
