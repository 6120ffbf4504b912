"""Password hashing with Argon2id (RFC 9106), the station's only secret-handling code."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from nabd.station.errors import UserSetupError

__all__ = ["MIN_LENGTH", "check_strength", "hash_password", "verify_password"]

MIN_LENGTH: Final = 10
"""NIST SP 800-63B asks for at least 8; a ward tablet is shared, so 10."""
MAX_LENGTH: Final = 1024
"""Long passphrases are welcome (SP 800-63B: at least 64); the form's own limit."""
MIN_DISTINCT: Final = 5
"""``aaaaaaaaaa`` or ``1212121212`` is ten characters and no secret."""


def check_strength(password: str, name: str | None = None) -> None:
    """Refuse a password that is too short, too repetitive or contains the user's name.

    The rule (SP 800-63B section 5.1.1.2: length over composition rules, and no value a guesser
    tries first): 10 to 1024 characters, at least 5 different ones, not containing the user
    name; any character is allowed (spaces, Arabic letters), none is required.
    """
    too_plain = len(set(password)) < MIN_DISTINCT
    named = name is not None and len(name) >= 3 and name.lower() in password.lower()
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH or too_plain or named:
        raise UserSetupError(
            f"the password must be {MIN_LENGTH} to {MAX_LENGTH} characters, with at least"
            f" {MIN_DISTINCT} different ones, and must not contain the user name",
            phrase="weak_password", n=MIN_LENGTH, distinct=MIN_DISTINCT,
        )  # fmt: skip


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
