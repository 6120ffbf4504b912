"""The checkpoint writer: sign the audit chain's current head and append it to the log.

Run by ``nabd audit checkpoint`` (once, or every N seconds). Before signing it checks that the
database still extends the last line of the log (:func:`nabd.app.audit.store.extend`), so it is
also a tamper alarm: it refuses, and exits 1, the first time the chain no longer matches.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nabd.app.audit.chain import Break
from nabd.app.audit.checkpoint import Checkpoint, append, last_line, locked_log, parse, sign
from nabd.app.audit.errors import CheckpointLogError, CheckpointRefused
from nabd.app.audit.store import extend


def write_checkpoint(
    conninfo: str, log: Path, key: Ed25519PrivateKey, now: datetime
) -> Checkpoint | None:
    """Append a signed checkpoint of the current head; None when nothing changed since the last
    one (an empty log, or no new row), so an idle ward adds no line."""
    public = key.public_key()
    with locked_log(log) as handle:
        previous = last_line(handle)
        try:
            last = None if previous is None else parse(previous, 0, public)
        except CheckpointLogError as exc:
            raise CheckpointLogError(f"not signing, {log} was altered: {exc}") from exc
        result = extend(conninfo, None if last is None else last.head)
        if isinstance(result, Break):
            raise CheckpointRefused(f"not signing, the chain no longer extends {log}: {result}")
        head = result.head
        if head is None or (last is not None and head == last.head):
            return None
        line = sign(head, now, previous, key)
        append(handle, line)
        return parse(line, 0, public)
