"""Signed checkpoints of the audit chain: one JSON line each, in an append-only log file.

A checkpoint is the chain's head at one moment (the last row's ``seq`` and hash, and the number of
rows), the time it was signed, the SHA-256 of the previous line of the log and the signing key's
id, signed with Ed25519 over the canonical JSON of those fields::

    {"at":"2026-12-06T12:00:00Z","hash":"9f…","key":"3c1e…","prev":"","rows":120,"seq":120,
     "sig":"base64…","v":1}

Each line chains the one before it, so removing, reordering or editing a line in the middle of the
log breaks the next line's ``prev`` (and editing breaks the signature too); only lines cut from
the *end* of the log go unseen by the log itself, which is why it must be shipped off the
database host as it grows (see docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nabd.app.audit.chain import Anchor, Head
from nabd.app.audit.errors import CheckpointLogError
from nabd.app.audit.signing import is_signed, key_id

VERSION: Final = 1
_FIELDS: Final = frozenset({"v", "seq", "hash", "rows", "at", "prev", "key", "sig"})
_STAMP: Final = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One verified line of the log: the head it vouches for, when, and where in the file."""

    head: Head
    at: datetime
    line: int
    text: bytes
    prev: str

    def anchor(self, path: Path) -> Anchor:
        """This checkpoint as an anchor of :func:`nabd.app.audit.chain.verify`."""
        return Anchor(self.head, f"checkpoint line {self.line} of {path.name} ({self.stamp})")

    @property
    def stamp(self) -> str:
        return self.at.strftime(_STAMP)


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def line_digest(line: bytes | None) -> str:
    """What the next line's ``prev`` holds: the SHA-256 of this line (without its newline)."""
    return "" if line is None else hashlib.sha256(line).hexdigest()


def sign(head: Head, at: datetime, previous: bytes | None, key: Ed25519PrivateKey) -> bytes:
    """The log line (without newline) of a checkpoint of ``head`` following line ``previous``."""
    fields: dict[str, Any] = {
        "v": VERSION,
        "seq": head.seq,
        "hash": head.hash.hex(),
        "rows": head.rows,
        "at": at.astimezone(UTC).strftime(_STAMP),
        "prev": line_digest(previous),
        "key": key_id(key.public_key()),
    }
    signature = key.sign(_canonical(fields))
    return _canonical({**fields, "sig": base64.b64encode(signature).decode()})


def _fields(text: bytes, where: str) -> dict[str, Any]:
    try:
        fields = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        fields = None
    if not isinstance(fields, dict) or fields.keys() != _FIELDS or fields["v"] != VERSION:
        raise CheckpointLogError(f"{where} is not a version-{VERSION} checkpoint")
    return fields


def parse(text: bytes, number: int, public: Ed25519PublicKey) -> Checkpoint:
    """Check one line on its own: its form, its key and its signature (``number`` 0: the log's
    last line, whose number the writer does not count)."""
    where = f"line {number}" if number else "the last line"
    fields = _fields(text, where)
    signature = fields.pop("sig")
    if fields["key"] != key_id(public):
        raise CheckpointLogError(
            f"{where} is signed by key {fields['key']}, not by the public key given"
            f" ({key_id(public)})"
        )
    try:
        raw = base64.b64decode(signature, validate=True)
        if base64.b64encode(raw).decode() != signature:  # unused bits set: not what was written
            raise ValueError(signature)
        head = Head(int(fields["seq"]), bytes.fromhex(fields["hash"]), int(fields["rows"]))
        at = datetime.strptime(fields["at"], _STAMP).replace(tzinfo=UTC)
        prev = str(fields["prev"])
    except (TypeError, ValueError, binascii.Error) as exc:
        raise CheckpointLogError(f"{where} is not a version-{VERSION} checkpoint") from exc
    if not is_signed(public, raw, _canonical(fields)):
        raise CheckpointLogError(f"{where}: the signature does not match: forged or edited")
    return Checkpoint(head, at, number, text, prev)


def read_log(path: Path, public: Ed25519PublicKey) -> list[Checkpoint]:
    """Every checkpoint of the log at ``path``, each checked and linked to the one before it."""
    checkpoints: list[Checkpoint] = []
    previous: bytes | None = None
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CheckpointLogError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            checkpoint = parse(raw.rstrip(b"\n"), number, public)
            if checkpoint.prev != line_digest(previous):
                raise CheckpointLogError(
                    f"line {number} does not follow the line before it: a line was removed,"
                    " inserted or edited"
                )
            checkpoints.append(checkpoint)
            previous = checkpoint.text
    return checkpoints


def last_line(handle: BinaryIO) -> bytes | None:
    """The log's last line, read backwards from the end (the log grows by a line a minute)."""
    position = handle.seek(0, os.SEEK_END)
    block = b""
    while position > 0:
        step = min(4096, position)
        position -= step
        handle.seek(position)
        block = handle.read(step) + block
        _before, newline, last = block.rstrip(b"\n").rpartition(b"\n")
        if newline:
            return last
    return block.rstrip(b"\n") or None


@contextmanager
def locked_log(path: Path) -> Iterator[BinaryIO]:
    """Open (or create) the log to read its end and append, exclusively.

    The lock keeps two writers from chaining two lines to the same predecessor.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CheckpointLogError(f"cannot open {path} to append: {exc.strerror}") from exc
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


def append(handle: BinaryIO, line: bytes) -> None:
    """Append one line and make it durable before the writer reports it."""
    handle.write(line + b"\n")
    handle.flush()
    os.fsync(handle.fileno())
