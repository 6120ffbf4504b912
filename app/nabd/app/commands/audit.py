"""``nabd audit``: check the audit log's hash chain, and anchor it with signed checkpoints.

``verify`` exits 1 at the first broken link, or at the first checkpoint the database no longer
matches; ``checkpoint`` signs the current head into an append-only log (once, or ``--every``
seconds); ``keygen`` makes the Ed25519 key pair it signs with. Bad usage (a missing file, a file
that is not a key) exits 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from nabd.app.commands import Handler, Subparsers, fail

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from nabd.app.audit.checkpoint import Checkpoint
    from nabd.app.audit.settings import AuditSettings

log = logging.getLogger(__name__)


class _UsageError(Exception):
    """A command line that cannot run as given: exit 2."""


def register(subparsers: Subparsers) -> None:
    """Add ``nabd audit`` and its subcommands."""
    audit = subparsers.add_parser("audit", help="the hash-chained audit log of clinical actions")
    commands = audit.add_subparsers(title="audit commands", metavar="COMMAND", required=True)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url",
        help="a URL that may read audit_log; default: $NABD_AUDIT_DATABASE_URL,"
        " else $NABD_DATABASE_URL",
    )
    _register_verify(commands, database)
    _register_checkpoint(commands, database)
    keygen = commands.add_parser(
        "keygen",
        help="make the Ed25519 key pair that signs checkpoints (KEYFILE and its .pub)",
        description="Write a new private key to KEYFILE (mode 0600) and its public key next to "
        "it (.pub). Run it on the machine that will sign checkpoints, never on the database host; "
        "give the .pub file to whoever verifies.",
    )
    keygen.add_argument("keyfile", type=Path, metavar="KEYFILE")
    keygen.set_defaults(handler=_keygen)


def _register_verify(commands: Subparsers, database: argparse.ArgumentParser) -> None:
    verify = commands.add_parser(
        "verify",
        parents=[database],
        help="check the hash chain (and signed checkpoints); exit 1 naming the first bad row",
        description="Recompute every audit_log row's hash in seq order and check that each row "
        "links to the previous one. With --checkpoint, also check every line of a checkpoint "
        "log (signature, link to the line before) and that the database still holds each "
        "checkpointed head: a rewrite before a checkpoint, even re-hashed, or rows cut after it "
        "fail. Rows written after the last checkpoint are covered by the chain only.",
    )
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="checkpoint log written by `nabd audit checkpoint`; default:"
        " $NABD_AUDIT_CHECKPOINT_FILE, else none",
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="your own copy of the signer's public key; default: $NABD_AUDIT_PUBLIC_KEY_FILE,"
        " else derived from $NABD_AUDIT_SIGNING_KEY_FILE",
    )
    verify.set_defaults(handler=_handler(_verify))


def _register_checkpoint(commands: Subparsers, database: argparse.ArgumentParser) -> None:
    checkpoint = commands.add_parser(
        "checkpoint",
        parents=[database],
        help="append a signed checkpoint of the chain's head to an append-only log",
        description="Check that the chain extends the log's last checkpoint, then append a line "
        "signing the current head (seq, hash, row count, time). Nothing is appended when no row "
        "was added since. Exit 1, without signing, if the chain no longer extends the log.",
    )
    checkpoint.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="the checkpoint log; default: $NABD_AUDIT_CHECKPOINT_FILE",
    )
    checkpoint.add_argument(
        "--key",
        type=Path,
        metavar="KEYFILE",
        help="the Ed25519 signing key; default: $NABD_AUDIT_SIGNING_KEY_FILE",
    )
    checkpoint.add_argument(
        "--every",
        type=float,
        metavar="SECONDS",
        help="keep running, one checkpoint every SECONDS (at least 1); default: once",
    )
    checkpoint.set_defaults(handler=_handler(_checkpoint))


def _usage(message: str) -> int:
    print(f"nabd: error: {message}", file=sys.stderr)
    return 2


def _settings() -> AuditSettings:
    from pydantic import ValidationError

    from nabd.app.audit.settings import AuditSettings

    try:
        return AuditSettings()
    except ValidationError as exc:
        raise _UsageError("a NABD_AUDIT_* variable is empty or not a path") from exc


def _database_url(args: argparse.Namespace, settings: AuditSettings) -> str:
    url = args.database_url or settings.database_url
    if not url:
        raise _UsageError("no database: set NABD_DATABASE_URL or pass --database-url")
    return str(url)


def _public_key(args: argparse.Namespace, settings: AuditSettings) -> Ed25519PublicKey:
    from nabd.app.audit import signing

    public_file: Path | None = args.public_key or settings.public_key_file
    if public_file is not None:
        return signing.load_public(public_file)
    if settings.signing_key_file is not None:
        return signing.load_private(settings.signing_key_file).public_key()
    raise _UsageError(
        "checking checkpoints needs the signer's public key: pass --public-key FILE"
        " or set NABD_AUDIT_PUBLIC_KEY_FILE"
    )


def _handler(run: Handler) -> Handler:
    """``run`` with the audit errors turned into exit statuses: 2 for usage, 1 for refusals."""

    def handle(args: argparse.Namespace) -> int:
        from nabd.app.audit.errors import AuditError, KeyFileError

        try:
            return run(args)
        except (_UsageError, KeyFileError) as exc:
            return _usage(str(exc))
        except AuditError as exc:
            return fail(exc)

    return handle


def _existing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise _UsageError(f"no {what} at {path}")
    return path


def _verify(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.app.audit.chain import Anchor, Break
    from nabd.app.audit.checkpoint import read_log
    from nabd.app.audit.errors import CheckpointLogError
    from nabd.app.audit.store import verify_database

    settings = _settings()
    url = _database_url(args, settings)
    path: Path | None = args.checkpoint or settings.checkpoint_file
    checkpoints: list[Checkpoint] = []
    anchors: list[Anchor] = []
    if path is not None:
        public = _public_key(args, settings)
        try:
            checkpoints = read_log(_existing(path, "checkpoint log"), public)
        except CheckpointLogError as exc:
            raise CheckpointLogError(f"checkpoint log {path} altered: {exc}") from exc
        anchors = [c.anchor(path) for c in checkpoints]
    try:
        result = verify_database(url, anchors)
    except psycopg.Error as error:
        return fail(error)
    if isinstance(result, Break):
        return fail(ValueError(f"audit chain broken: {result}"))
    head = f"head seq={result.head_seq} hash={result.head_hash.hex()}" if result.kept else "empty"
    print(f"audit chain intact: {result.kept} row(s), {head}")
    if result.start is not None:
        print(
            f"{result.start.rows} older row(s), through seq={result.start.seq}, removed by the"
            f" retention policy (nabd privacy retention); the chain starts from their head"
            + (
                f"; {result.retired} checkpoint(s) of removed rows retired"
                if result.retired
                else ""
            )
        )
    if path is None:
        print("no checkpoint log given: a re-hashed rewrite or a cut tail cannot be seen")
    elif checkpoints:
        last = checkpoints[-1]
        unanchored = result.rows - last.head.rows
        print(
            f"matches {len(checkpoints)} checkpoint(s) of {path}, the last signed"
            f" {last.stamp} at seq={last.head.seq}; {unanchored} newer row(s) not yet checkpointed"
        )
    else:
        print(f"{path} holds no checkpoint yet: a re-hashed rewrite or a cut tail cannot be seen")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from nabd.app.audit import signing

    settings = _settings()
    url = _database_url(args, settings)
    out = args.out or settings.checkpoint_file
    if out is None:
        raise _UsageError("no checkpoint log: pass --out FILE or set NABD_AUDIT_CHECKPOINT_FILE")
    key_file = args.key or settings.signing_key_file
    if key_file is None:
        raise _UsageError("no signing key: pass --key FILE or set NABD_AUDIT_SIGNING_KEY_FILE")
    if args.every is not None and args.every < 1:
        raise _UsageError(f"--every {args.every}: at least 1 second")
    key = signing.load_private(key_file)
    while True:
        status = _sign_once(url, out, key, keep_going=args.every is not None)
        if status is not None:
            return status
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:  # Ctrl-C between checkpoints: a normal stop
            return 0


def _sign_once(url: str, out: Path, key: Ed25519PrivateKey, keep_going: bool) -> int | None:
    """One checkpoint; the exit status to stop with, or None to sign again later."""
    from datetime import UTC, datetime

    import psycopg

    from nabd.app.audit.checkpointer import write_checkpoint

    try:
        written = write_checkpoint(url, out, key, datetime.now(UTC))
    except psycopg.Error as error:
        if not keep_going:
            return fail(error)
        first = str(error).strip().splitlines()[0]
        log.warning("audit checkpoint: database unavailable, trying again later: %s", first)
        return None
    if written is None:
        log.info("audit checkpoint: no new row since the last checkpoint of %s", out)
    else:
        head = written.head
        log.info("audit checkpoint: signed seq=%d (%d rows) into %s", head.seq, head.rows, out)
    return None if keep_going else 0


def _keygen(args: argparse.Namespace) -> int:
    from nabd.app.audit import signing
    from nabd.app.audit.errors import KeyFileError

    try:
        public = signing.generate(args.keyfile)
    except KeyFileError as exc:
        return fail(exc)
    print(
        f"signing key {args.keyfile} (keep it off the database host); public key"
        f" {signing.public_path(args.keyfile)} (id {signing.key_id(public)}) for verifiers"
    )
    return 0
