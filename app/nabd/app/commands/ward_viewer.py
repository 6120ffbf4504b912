"""``nabd db ward-viewer add|remove|list``: per-ward dashboard logins (row-level security).

Part of the ``db`` group (registered by :mod:`nabd.app.commands.db`): they act on the database
at ``NABD_DATABASE_URL`` as its owner.
"""

from __future__ import annotations

import argparse
import sys

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError
from nabd.app.stack.env import render_exports


def register_under(commands: Subparsers) -> None:
    """Add ``ward-viewer`` under ``nabd db``."""
    viewer = commands.add_parser(
        "ward-viewer",
        help="logins whose dashboards see one ward's patients only",
        description="Create, list or revoke dashboard logins restricted by the database to "
        "the patients of their wards (docs/security.md).",
    )
    verbs = viewer.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = verbs.add_parser(
        "add",
        help="map a login (created if missing) to a ward; prints its credentials once",
        description="Prints `export NABD_DASHBOARDS_DB_USER=... NABD_DASHBOARDS_DB_PASSWORD=...`"
        " lines for the Grafana that serves this ward (the password only when the login is "
        "created; it is stored nowhere).",
    )
    add.add_argument("ward_id", metavar="WARD")
    add.add_argument("--login", default=None, help="login name (default: ward_<WARD>)")
    add.set_defaults(handler=_add)
    remove = verbs.add_parser(
        "remove", help="take a ward from a login, or (without --ward) drop the login"
    )
    remove.add_argument("login", metavar="LOGIN")
    remove.add_argument("--ward", default=None, help="only this ward")
    remove.set_defaults(handler=_remove)
    listing = verbs.add_parser("list", help="every login and the wards it sees")
    listing.set_defaults(handler=_list)
    for parser in (add, remove, listing):
        parser.add_argument("--database-url", help="owner's URL; default: $NABD_DATABASE_URL")


def _url(args: argparse.Namespace) -> str:
    from nabd.app.commands.db import DbSettings

    return str(args.database_url or DbSettings().database_url)


def _run(args: argparse.Namespace, action: str) -> int:
    import psycopg
    from pydantic import ValidationError

    from nabd.app.db import ward_viewers

    try:
        url = _url(args)
    except ValidationError:
        return fail(UsageError("no database: set NABD_DATABASE_URL or pass --database-url"))
    try:
        if action == "add":
            viewer = ward_viewers.add(url, args.ward_id, args.login)
            exports = {"NABD_DASHBOARDS_DB_USER": viewer.login}
            if viewer.password is not None:
                exports["NABD_DASHBOARDS_DB_PASSWORD"] = viewer.password
            else:
                print(f"nabd: {viewer.login} existed: password unchanged", file=sys.stderr)
            sys.stdout.write(render_exports(exports))
        elif action == "remove":
            ward_viewers.remove(url, args.login, args.ward)
        else:
            viewers = ward_viewers.listing(url)
            print("login\tward")
            for login, ward in viewers:
                print(f"{login}\t{ward}")
            if not viewers:
                print("none")
    except (ward_viewers.WardViewerError, psycopg.Error) as error:
        return fail(error)
    return 0


def _add(args: argparse.Namespace) -> int:
    return _run(args, "add")


def _remove(args: argparse.Namespace) -> int:
    return _run(args, "remove")


def _list(args: argparse.Namespace) -> int:
    return _run(args, "list")
