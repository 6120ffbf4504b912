"""The audit log's hash chain, checked in Python, independently of the SQL that writes it.

Migration 0004 chains every ``audit_log`` row: ``hash = sha256(prev_hash || fields)`` where the
fields are ``seq``, ``at`` (UTC, microseconds), ``actor``, ``action``, ``subject`` and
``details::text`` joined by the unit separator, and ``prev_hash`` is the previous row's hash
(empty for the first row). The append-only trigger stops ordinary writers; this check catches
whoever went around it *without* re-hashing: a changed row no longer hashes to its ``hash``, a
deleted or inserted row breaks the link to its neighbour, a reordered row hashes with a different
``seq``.

The chain alone cannot see two things: rows cut from the *end*, and a rewrite whose author
re-hashed every row after it (the schema owner can: the rule is public and the trigger can be
disabled). Both are caught by *anchors*: heads of the chain recorded outside the database
(:mod:`nabd.app.audit.checkpoint`). Because each hash covers the previous one, the hash of the
anchored row covers every row before it: any change at or before that row, re-hashed or not,
changes it, and a missing row means the log was cut.

Retention (``nabd privacy retention``, migration 0080) may remove a *prefix* of the log; it
appends an ``audit_log_pruned`` row naming the last removed row's ``seq`` and hash and how many
rows were removed since the first one. That head is where the check starts (``start``): the first
kept row must link to it, row counts still count from the log's first row (so anchors signed
after it still match), and anchors of removed rows are *retired*: counted, no longer checkable.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
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
class Head:
    """The chain as it stood at one row: that row's ``seq`` and hash, and the rows up to it."""

    seq: int
    hash: bytes
    rows: int


@dataclass(frozen=True, slots=True)
class Anchor:
    """A head recorded outside the database, and how to name it to a person."""

    head: Head
    label: str


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link: which row, what was wrong, the hash expected and the one found."""

    seq: int
    what: str
    expected: bytes
    found: bytes

    def __str__(self) -> str:
        expected = self.expected.hex() or "(empty)"
        found = self.found.hex() or "(none)"
        return f"audit_log row seq={self.seq}: {self.what}: expected {expected}, found {found}"


@dataclass(frozen=True, slots=True)
class Intact:
    """An unbroken chain: how many rows, and its head (record it to detect a cut tail later)."""

    rows: int
    head_seq: int | None
    head_hash: bytes
    start: Head | None = None
    """Where the check began: the head of rows removed by retention, or None (the first row)."""
    retired: int = 0
    """Anchors of rows removed by retention: not checkable any more."""

    @property
    def kept(self) -> int:
        """Rows still in the log (``rows`` counts from the log's first row ever)."""
        return self.rows - (0 if self.start is None else self.start.rows)

    @property
    def head(self) -> Head | None:
        """The head as a value to anchor, or None for an empty log."""
        if self.head_seq is None:
            return None
        return Head(self.head_seq, self.head_hash, self.rows)


def digest(prev: bytes, row: AuditRow) -> bytes:
    """The hash a row must have, given the previous row's hash."""
    stamp = row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = (str(row.seq), stamp, row.actor, row.action, row.subject, row.details)
    return hashlib.sha256(prev + SEPARATOR.join(fields).encode()).digest()


def count_change(then: int, now: int) -> str:
    """What the number of rows up to an anchored row says about a rewrite, for a person."""
    if now < then:
        return f"rows deleted ({then} up to here then, {now} now)"
    if now > then:
        return f"rows inserted ({then} up to here then, {now} now)"
    return f"contents or order changed (still {now} rows up to here)"


class _Anchors:
    """The anchors not yet reached, in ``seq`` order, and the last one found intact."""

    def __init__(self, anchors: Sequence[Anchor], start: Head | None) -> None:
        self.pending = deque(sorted(anchors, key=lambda a: a.head.seq))
        self.intact: Anchor | None = None
        self.retired = 0
        self.last_retired: Anchor | None = None
        while start is not None and self.pending and self.pending[0].head.seq <= start.seq:
            self.retired += 1
            self.last_retired = self.pending.popleft()

    def retired_past(self, start: Head | None) -> Break | None:
        """A Break if the last retired anchor contradicts the start it was removed up to: the
        same row with another hash, or more rows up to it than were ever removed."""
        anchor = self.last_retired
        if start is None or anchor is None:
            return None
        same_row = anchor.head.seq == start.seq
        if (same_row and anchor.head != start) or anchor.head.rows > start.rows:
            return Break(
                anchor.head.seq,
                f"rewritten before retention's cut: differs from {anchor.label},"
                f" {count_change(anchor.head.rows, start.rows)}",
                anchor.head.hash,
                start.hash if same_row else b"",
            )
        return None

    def skipped(self, seq: int, last_seq: int | None) -> Break | None:
        """A Break if the log jumps over an anchored row on its way to ``seq``."""
        if not self.pending or self.pending[0].head.seq >= seq:
            return None
        anchor = self.pending[0]
        return Break(
            anchor.head.seq,
            f"missing: {anchor.label} saw this row ({anchor.head.rows} rows up to it); the log now"
            f" goes from seq={last_seq} to seq={seq}{self._since()}",
            anchor.head.hash,
            b"",
        )

    def check(self, seq: int, found: bytes, rows: int) -> Break | None:
        """Compare the head at row ``seq`` with the anchors recorded at that row."""
        while self.pending and self.pending[0].head.seq == seq:
            anchor = self.pending.popleft()
            if anchor.head.hash != found or anchor.head.rows != rows:
                return Break(
                    seq,
                    f"rewritten: differs from {anchor.label},"
                    f" {count_change(anchor.head.rows, rows)}{self._since()}",
                    anchor.head.hash,
                    found,
                )
            self.intact = anchor
        return None

    def cut(self, rows: int, last_seq: int | None) -> Break | None:
        """A Break if anchors remain once the log has ended: its tail was cut."""
        if not self.pending:
            return None
        anchor = self.pending[-1]
        return Break(
            anchor.head.seq,
            f"missing: the log ends at seq={last_seq} ({rows} row(s)) but {anchor.label} saw"
            f" {anchor.head.rows} rows up to seq={anchor.head.seq}: rows were cut from the end",
            anchor.head.hash,
            b"",
        )

    def _since(self) -> str:
        if self.intact is None:
            return "; the change is at or before this row (no earlier checkpoint)"
        return (
            f"; the change is after seq={self.intact.head.seq}, which still matches"
            f" {self.intact.label}"
        )


def verify(
    rows: Iterable[AuditRow], anchors: Sequence[Anchor] = (), start: Head | None = None
) -> Intact | Break:
    """Walk rows in ``seq`` order; the first broken link, or the intact chain's summary.

    ``anchors`` are heads recorded elsewhere: each anchored row must still be there with the same
    hash and the same number of rows up to it. ``start`` continues a chain already checked up to
    that head (``rows`` then holds only the rows after it): the checkpoint writer reads only what
    is new since its last checkpoint, and the check of a log that retention shortened starts at
    the head of what was removed; anchors at or before ``start`` are retired, not checked.
    """
    pending = _Anchors(anchors, start)
    return pending.retired_past(start) or _walk(rows, pending, start)


def _walk(rows: Iterable[AuditRow], pending: _Anchors, start: Head | None) -> Intact | Break:
    prev, count, last_seq = (b"", 0, None) if start is None else (start.hash, start.rows, start.seq)
    for row in rows:
        if last_seq is not None and row.seq <= last_seq:
            return Break(row.seq, f"out of order after seq={last_seq}", prev, row.prev_hash)
        if (skipped := pending.skipped(row.seq, last_seq)) is not None:
            return skipped
        if row.prev_hash != prev:
            return Break(
                row.seq, "prev_hash does not link to the previous row", prev, row.prev_hash
            )
        expected = digest(prev, row)
        if row.hash != expected:
            return Break(row.seq, "hash does not match the row's contents", expected, row.hash)
        prev, last_seq, count = row.hash, row.seq, count + 1
        if (differs := pending.check(row.seq, row.hash, count)) is not None:
            return differs
    return pending.cut(count, last_seq) or Intact(count, last_seq, prev, start, pending.retired)
