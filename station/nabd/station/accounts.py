"""The admin's users page (``/admin/users``): add station users, change their role and wards,
disable them (their sessions end at once) or enable them again.

The same function as ``nabd web user add`` (:func:`nabd.station.users.add_user`), through the
database functions of migration 0072, which create her role with the owner's rights; each
change is audited with the signed-in admin's name. An admin manages only her wards: every ward
she gives must be one her own role sees (row-level security), and she changes only users all of
whose wards are hers; she cannot disable or demote herself (a ward left without an admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from nabd.station import password_change, scope
from nabd.station.errors import ForbiddenError, NotFoundError, UserSetupError
from nabd.station.kit import Conn, Kit, RolePage, her_ward
from nabd.station.passwords import MAX_LENGTH
from nabd.station.sessions import SignedIn
from nabd.station.users import Language, NewUser, Role, UserRow, add_user, list_users, set_user

__all__ = ["DONE", "UsersView", "install"]

DONE: Final = ("user_added", "user_changed", "password_reset")

_Field = Annotated[str, Form(max_length=200)]
_Wards = Annotated[list[str] | None, Form(max_length=50)]
_Csrf = Annotated[str | None, Form()]


@dataclass(frozen=True)
class UsersView:
    wards: list[tuple[str, str]]
    users: list[UserRow]
    """Users with at least one of her wards."""
    editable: list[str]
    """Those all of whose wards are hers, herself excepted."""


def _hers(conn: Conn, user: SignedIn) -> list[tuple[str, str]]:
    """Her wards, read under her role (inside :func:`nabd.station.scope.as_user`)."""
    return [(str(w), str(n)) for w, n in conn.execute("SELECT id, name FROM ward ORDER BY id")]


def view(conn: Conn, user: SignedIn) -> UsersView:
    with scope.as_user(conn, user):
        wards = _hers(conn, user)
        scope.as_station(conn)
        everyone = list_users(conn)
    mine = {w for w, _ in wards}
    shown = [u for u in everyone if mine & set(u.wards)]
    editable = [u.name for u in shown if set(u.wards) <= mine and u.name != user.name]
    return UsersView(wards, shown, editable)


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise UserSetupError("role must be nurse, charge_nurse or admin",
                             phrase="bad_role") from None  # fmt: skip


def _language(text: str) -> Language:
    try:
        return Language(text)
    except ValueError:
        raise UserSetupError("language must be fr, en or ar", phrase="bad_language") from None


def _target(conn: Conn, user: SignedIn, name: str) -> UserRow:
    """The user ``name`` if she may change her: all her wards are the admin's, not herself."""
    if name == user.name:
        raise ForbiddenError("you cannot change your own role, wards or access here",
                             phrase="not_yourself")  # fmt: skip
    mine = {w for w, _ in _hers(conn, user)}
    scope.as_station(conn)
    found = next((u for u in list_users(conn) if u.name == name), None)
    if found is None or not set(found.wards) <= mine:
        raise NotFoundError(f"no user {name[:63]!r} whose wards are all yours",
                            phrase="no_user", id=name[:63])  # fmt: skip
    return found


def install(app: FastAPI, kit: Kit) -> None:
    """Add the users page and its forms to ``app``."""

    choices: dict[str, object] = {"roles": list(Role), "langs": list(Language)}
    pages = RolePage(kit, "/admin/users", "users.html", Role.ADMIN, view, DONE,
                     UserSetupError, lambda _: 400, choices)  # fmt: skip
    act = pages.act

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request, done: str | None = None) -> Response:
        return pages.show(request, done)

    @app.post("/admin/users/add")
    def add(request: Request, *, name: _Field, display_name: _Field, role: _Field,
            password: _Field, lang: _Field = "fr", sees_identity: _Field = "",
            ward: _Wards = None, csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            wards = tuple(dict.fromkeys(her_ward(conn, w) for w in ward or ()))
            new = NewUser(name=name.strip(), display_name=display_name, role=_role(role),
                          wards=wards, password=password, lang=_language(lang),
                          sees_identity=sees_identity == "yes")  # fmt: skip
            scope.as_station(conn)
            add_user(conn, new, by=user.name)

        return act(request, csrf, "user_added", do)

    @app.post("/admin/users/change")
    def change(request: Request, *, name: _Field, role: _Field, access: _Field = "active",
               ward: _Wards = None, csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            wards = [her_ward(conn, w) for w in ward or ()]
            target = _target(conn, user, name)
            set_user(conn, target.name, role=_role(role), wards=wards,
                     disabled=access == "disabled", by=user.name)  # fmt: skip

        return act(request, csrf, "user_changed", do)

    @app.post("/admin/users/password")
    def reset_password(request: Request, *, name: _Field,
                       password: Annotated[str, Form(max_length=MAX_LENGTH)],
                       csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            target = _target(conn, user, name)
            password_change.reset(conn, target.name, password, by=user.name)

        return act(request, csrf, "password_reset", do)
