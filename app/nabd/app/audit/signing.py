"""The Ed25519 key that signs audit checkpoints, kept in files and never in the database.

The private key must live where the database's owner cannot read it (another machine or OS user):
whoever holds both the database and this key can rewrite the log *and* sign a matching
checkpoint. The public key is all a verifier needs; it must come from the verifier's own copy, not
from the checkpoint log, or a forger would simply ship their own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nabd.app.audit.errors import KeyFileError


def public_path(private: Path) -> Path:
    """Where the public half of a key file is written: ``signing.key`` -> ``signing.pub``."""
    return private.with_suffix(".pub")


def key_id(public: Ed25519PublicKey) -> str:
    """A short fingerprint that names the key in every checkpoint line (not a secret)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate(private: Path) -> Ed25519PublicKey:
    """Write a new key pair (private 0600, public 0644); refuse to replace an existing key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{private} exists: a key is never overwritten") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create {private}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = key.public_key()
    public_path(private).write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public


def ensure(private: Path) -> None:
    """Generate the key pair at ``private`` unless it exists (``nabd stack up``)."""
    if not private.exists():
        private.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        generate(private)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def load_private(path: Path) -> Ed25519PrivateKey:
    """The signing key in ``path`` (PEM, PKCS8, unencrypted)."""
    try:
        key = serialization.load_pem_private_key(_read(path, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key (`nabd audit keygen` makes one)")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """The public key in ``path`` (PEM, as written by :func:`generate`)."""
    try:
        key = serialization.load_pem_public_key(_read(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key


def is_signed(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature of ``data``."""
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True
