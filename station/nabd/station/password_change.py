"""Passwords after the first: a user changes her own (``/account/password``), an admin resets
another's (``/admin/users/password``, see :mod:`nabd.station.accounts`).

Changing her own needs her current password (a session left open on a ward tablet must not let
a passer-by lock her out), a new one that passes :func:`nabd.station.passwords.check_strength`
and differs from the current one, and the form's CSRF token. The new Argon2id hash is stored by
``station_set_password`` (migration 0120), which also ends her other sessions (the current one
stays), clears her failed sign-ins and audits ``station_password_changed`` with her name. An
admin's reset ends all the user's sessions, is audited ``station_password_reset`` with the
admin's name, and sends the user to this form at her next sign-in (``must_change_password``).
"""

from __future__ import annotations

from typing import Annotated, Final

import psycopg
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nabd.station.errors import UserSetupError
from nabd.station.kit import Conn, Kit
from nabd.station.passwords import MAX_LENGTH, check_strength, hash_password, verify_password
from nabd.station.sessions import COOKIE, digest

__all__ = ["PATH", "change_own", "install", "reset"]

PATH: Final = "/account/password"

_Password = Annotated[str, Form(max_length=MAX_LENGTH)]
_Csrf = Annotated[str | None, Form()]


def _store(conn: Conn, name: str, new: str, *, must_change: bool, by: str,
           keep: bytes | None) -> None:  # fmt: skip
    try:
        with conn.transaction():
            conn.execute(
                "SELECT station_set_password(%s, %s, %s, %s, %s)",
                (name, hash_password(new), must_change, by, keep),
            )
    except psycopg.errors.InvalidParameterValue:
        raise UserSetupError(f"no user {name!r}", phrase="no_user", id=name[:63]) from None


def change_own(conn: Conn, name: str, current: str, new: str, *, keep: bytes | None) -> None:
    """Her new password, if ``current`` is hers and ``new`` is strong and different; her
    sessions other than ``keep`` (the SHA-256 of the one she uses) end."""
    row = conn.execute("SELECT password_hash FROM station_user WHERE name = %s", (name,)).fetchone()
    if row is None or not verify_password(row[0], current):
        raise UserSetupError("the current password is wrong", phrase="wrong_current_password")
    check_strength(new, name)
    if new == current:
        raise UserSetupError("the new password is the current one", phrase="same_password")
    _store(conn, name, new, must_change=False, by=name, keep=keep)


def reset(conn: Conn, name: str, new: str, *, by: str) -> None:
    """Set ``name``'s password to ``new`` (strong), end all her sessions, and have her choose
    her own at her next sign-in; audited with ``by``."""
    check_strength(new, name)
    _store(conn, name, new, must_change=True, by=by, keep=None)


def install(app: FastAPI, kit: Kit) -> None:
    """Add the password form to ``app`` (every role)."""

    @app.get(PATH, response_class=HTMLResponse)
    def password_form(request: Request, done: str | None = None) -> Response:
        with kit.database() as conn:
            user = kit.user_of(request, conn)
        return kit.page(request, "password.html", user, 200, done=done == "password")

    @app.post(PATH)
    def change_password(request: Request, *, current: _Password, new: _Password,
                        again: _Password, csrf: _Csrf = None) -> Response:  # fmt: skip
        with kit.database() as conn:
            user = kit.user_of(request, conn)
            kit.check_csrf(user, csrf)
            try:
                if new != again:
                    raise UserSetupError("the two new passwords differ", phrase="passwords_differ")
                token = request.cookies.get(COOKIE)
                change_own(conn, user.name, current, new, keep=digest(token) if token else None)
            except UserSetupError as exc:
                return kit.page(request, "password.html", user, 400, error=exc)
        return RedirectResponse(f"{PATH}?done=password", status_code=303)
