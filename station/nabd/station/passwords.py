"""Password hashing with Argon2id (RFC 9106), the station's only secret-handling code."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MIN_LENGTH", "hash_password", "verify_password"]

MIN_LENGTH: Final = 10
"""NIST SP 800-63B asks for at least 8; a ward tablet is shared, so 10."""

_HASHER: Final = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second choice


def hash_password(password: str) -> str:
    """An ``$argon2id$...`` string to store; the password itself is never kept."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``; any malformed hash is simply a mismatch."""
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
