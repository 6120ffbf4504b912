"""Signing in and out, sessions with an idle timeout, lock-out after repeated failures.

The cookie holds 32 random bytes; the database keeps only their SHA-256, the user and the
session's CSRF token. Every form carries that token and every POST checks it against the
session (the synchronizer-token pattern, OWASP CSRF Prevention Cheat Sheet).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import psycopg

from nabd.station.errors import SignInRefusedError
from nabd.station.passwords import verify_password
from nabd.station.users import Language, Role

__all__ = [
    "COOKIE",
    "SignedIn",
    "csrf_matches",
    "digest",
    "language_of",
    "sign_in",
    "sign_out",
    "signed_in",
]

COOKIE: Final = "nabd_session"

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class SignedIn:
    """The user behind a request, as the station needs her."""

    name: str
    display_name: str
    role: Role
    lang: Language
    sees_identity: bool
    db_role: str
    csrf_token: str
    must_change: bool = False
    """An admin reset her password: every page sends her to change it first."""

    def may(self, role: Role) -> bool:
        """Whether her role includes ``role`` (an admin may all a charge nurse may, ...)."""
        order = [Role.NURSE, Role.CHARGE_NURSE, Role.ADMIN]
        return order.index(self.role) >= order.index(role)


def digest(token: str) -> bytes:
    """What the database keeps of a session's cookie."""
    return hashlib.sha256(token.encode()).digest()


def sign_in(conn: Conn, name: str, password: str, *, max_failed: int, lockout_s: float) -> str:
    """Check the password and open a session; return the cookie's token.

    Wrong user and wrong password get the same message (no user enumeration); the
    ``max_failed``-th wrong password in a row locks the account for ``lockout_s``.
    """
    with conn.transaction():
        row = conn.execute(
            """SELECT password_hash, disabled_at IS NOT NULL, locked_until > now()
               FROM station_user WHERE name = %s FOR UPDATE""",
            (name,),
        ).fetchone()
        if row is None or row[1]:
            raise SignInRefusedError("unknown user or wrong password", phrase="sign_in_refused")
        if row[2]:
            raise SignInRefusedError(
                "too many wrong passwords: this account is locked for a while; ask an admin",
                phrase="locked_out",
            )
        if verify_password(row[0], password):
            conn.execute(
                "UPDATE station_user SET failed_logins = 0, locked_until = NULL WHERE name = %s",
                (name,),
            )
            token = secrets.token_urlsafe(32)
            conn.execute(
                "INSERT INTO station_session (token_sha256, user_name, csrf_token)"
                " VALUES (%s, %s, %s)",
                (digest(token), name, secrets.token_urlsafe(32)),
            )
            return token
        # Counted and committed before refusing: the refusal must not roll the count back.
        conn.execute(
            """UPDATE station_user SET failed_logins = failed_logins + 1,
                   locked_until = CASE WHEN failed_logins + 1 >= %s THEN now() + %s END
               WHERE name = %s""",
            (max_failed, timedelta(seconds=lockout_s), name),
        )
    raise SignInRefusedError("unknown user or wrong password", phrase="sign_in_refused")


def signed_in(conn: Conn, token: str, *, idle_timeout_s: float) -> SignedIn | None:
    """The user of a live session (and mark it used), or ``None`` if it is over or unknown."""
    with conn.transaction():
        row = conn.execute(
            """UPDATE station_session s SET last_seen_at = now()
               FROM station_user u
               WHERE s.token_sha256 = %s AND u.name = s.user_name
                 AND s.last_seen_at > now() - %s AND u.disabled_at IS NULL
               RETURNING u.name, u.display_name, u.role, u.lang, u.sees_identity, u.db_role,
                         s.csrf_token, u.must_change_password""",
            (digest(token), timedelta(seconds=idle_timeout_s)),
        ).fetchone()
        if row is None:
            conn.execute("DELETE FROM station_session WHERE token_sha256 = %s", (digest(token),))
            return None
    return SignedIn(row[0], row[1], Role(row[2]), Language(row[3]), row[4], row[5], row[6],
                    bool(row[7]))  # fmt: skip


def language_of(conn: Conn, token: str) -> Language | None:
    """The language of a session's user, without marking the session used (a refusal found
    before the page knew who she is, a malformed form say, is still said in her language)."""
    row = conn.execute(
        """SELECT u.lang FROM station_session s JOIN station_user u ON u.name = s.user_name
           WHERE s.token_sha256 = %s""",
        (digest(token),),
    ).fetchone()
    return None if row is None else Language(row[0])


def sign_out(conn: Conn, token: str) -> None:
    with conn.transaction():
        conn.execute("DELETE FROM station_session WHERE token_sha256 = %s", (digest(token),))


def csrf_matches(user: SignedIn, sent: str | None) -> bool:
    """Constant-time comparison of a form's token with the session's."""
    return sent is not None and hmac.compare_digest(user.csrf_token, sent)
