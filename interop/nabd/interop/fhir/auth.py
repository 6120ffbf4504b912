"""Bearer tokens: make one, and find which configured token a request presents.

Secrets are compared as SHA-256 digests with ``hmac.compare_digest``, against every configured
token whether or not one already matched, so the time taken says nothing about which token, or
how much of one, was right. Tokens are 256-bit random, so an unsalted digest is enough: there is
no dictionary to search.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from nabd.interop.fhir.settings import TokenGrant

TOKEN_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the token's name (the audit actor), whether it may see identity, and the
    wards it may read (None: every ward)."""

    name: str
    identity: bool
    wards: frozenset[str] | None = None


def new_token() -> str:
    """A fresh secret (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The hex SHA-256 of a secret, as configured in ``NABD_FHIR_TOKENS``."""
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(authorization: str | None, grants: Mapping[str, TokenGrant]) -> Caller | None:
    """The caller an ``Authorization: Bearer <token>`` header proves, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    presented = hashlib.sha256(token.strip().encode()).digest()
    found: Caller | None = None
    for name, grant in grants.items():
        if hmac.compare_digest(presented, bytes.fromhex(grant.sha256)) and found is None:
            wards = None if grant.wards is None else frozenset(grant.wards)
            found = Caller(name, grant.identity, wards)
    return found
