"""What the station's page modules share with :func:`nabd.station.app.create_app`: a database
connection, the signed-in user, rendering a page and checking a form's CSRF token.

The admin and charge-nurse pages (:mod:`nabd.station.admin`, :mod:`nabd.station.charge`) add
their routes with it, so they refuse, render and scope exactly as the nurses' pages do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg import sql

from nabd.station import scope
from nabd.station.errors import ForbiddenError, NotFoundError, PhraseKey
from nabd.station.sessions import SignedIn
from nabd.station.users import Role

__all__ = ["Act", "Conn", "Kit", "RolePage", "as_user_again", "her_ward", "require_role"]

_WARD: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

Conn = psycopg.Connection[Any]
Act = Callable[[Conn, SignedIn], str | None]
"""A form's action: proves scope under her role, then writes (see :func:`RolePage.act`);
returns ``None`` or more of the query string the page is redirected to (``key=value``)."""


@dataclass(frozen=True)
class Kit:
    database: Callable[[], AbstractContextManager[Conn]]
    user_of: Callable[[Request, Conn], SignedIn]
    page: Callable[..., HTMLResponse]
    check_csrf: Callable[[SignedIn, str | None], None]


def require_role(user: SignedIn, role: Role) -> None:
    """Refuse (403, in words) a user whose role does not include ``role``."""
    if not user.may(role):
        raise ForbiddenError(
            f"this page is for the {role.value.replace('_', ' ')} role; you are signed in as"
            f" {user.role.value.replace('_', ' ')}",
            phrase="refused_role",
            role=PhraseKey(f"role_{role.value}"),
            mine=PhraseKey(f"role_{user.role.value}"),
        )


def as_user_again(conn: Conn, user: SignedIn) -> None:
    """Back to ``user``'s role inside a :func:`nabd.station.scope.as_user` transaction."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(user.db_role)))


def her_ward(conn: Conn, ward: str) -> str:
    """``ward`` if the current role (hers, under :func:`nabd.station.scope.as_user`) sees it,
    else not found: another ward is, for her, not there."""
    ward_id = ward.strip()
    if (
        not _WARD.fullmatch(ward_id)
        or conn.execute("SELECT 1 FROM ward WHERE id = %s", (ward_id,)).fetchone() is None
    ):
        raise NotFoundError(f"no ward {ward[:63]!r} among yours", phrase="no_ward", id=ward[:63])
    return ward_id


@dataclass(frozen=True)
class RolePage:
    """A page for one role and its forms: shown at ``path`` with ``template``; each form
    posts, is checked (role, CSRF), acts inside her scope and redirects back with a notice, or
    shows the refusal of the function it called (``refusals``, ``status_of``) in the page."""

    kit: Kit
    path: str
    template: str
    role: Role
    view: Callable[[Conn, SignedIn], object]
    notices: tuple[str, ...]
    refusals: type[Exception] | tuple[type[Exception], ...]
    status_of: Callable[[Exception], int]
    extra: dict[str, object]

    def render(
        self, request: Request, conn: Conn, user: SignedIn, status: int = 200, **context: object
    ) -> HTMLResponse:
        return self.kit.page(request, self.template, user, status,
                             view=self.view(conn, user), **self.extra, **context)  # fmt: skip

    def show(self, request: Request, done: str | None, **context: object) -> Response:
        with self.kit.database() as conn:
            user = self.kit.user_of(request, conn)
            require_role(user, self.role)
            notice = done if done in self.notices else None
            return self.render(request, conn, user, 200, done=notice, **context)

    def act(self, request: Request, csrf: str | None, done: str, do: Act) -> Response:
        with self.kit.database() as conn:
            user = self.kit.user_of(request, conn)
            require_role(user, self.role)
            self.kit.check_csrf(user, csrf)
            try:
                with scope.as_user(conn, user):
                    more = do(conn, user)
            except self.refusals as exc:
                return self.render(request, conn, user, self.status_of(exc), error=exc)
        query = f"done={done}" + (f"&{more}" if more else "")
        return RedirectResponse(f"{self.path}?{query}", status_code=303)
