"""``nabd web run`` and ``nabd web user add``: the nurse station (docs/station.md).

``run`` serves the station over HTTPS with the certificate in ``NABD_WEB_TLS_CERT_FILE`` /
``NABD_WEB_TLS_KEY_FILE`` (``nabd stack env`` prints the local stack's), as the login in
``NABD_STATION_DATABASE_URL``; plain HTTP only with ``--insecure-http``, behind a reverse proxy
that terminates TLS. ``user add`` creates a person's account with the schema owner's URL
(``NABD_DATABASE_URL``), since it creates her database role; the password is read from
standard input, never from the command line (it would stay in the shell's history).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from nabd.app.commands import Subparsers, fail

if TYPE_CHECKING:
    from nabd.app.gateway_bundle import LocalStackIssuer


def register(subparsers: Subparsers) -> None:
    """Add ``nabd web`` and its subcommands."""
    web = subparsers.add_parser("web", help="the nurse station: a web page for the ward")
    commands = web.add_subparsers(title="web commands", metavar="COMMAND", required=True)
    run = commands.add_parser("run", help="serve the nurse station (HTTPS)")
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default 8443)")
    run.add_argument(
        "--insecure-http",
        action="store_true",
        help="plain HTTP, only behind a reverse proxy that terminates TLS",
    )
    run.set_defaults(handler=_run)

    user = commands.add_parser("user", help="station accounts")
    users = user.add_subparsers(title="user commands", metavar="COMMAND", required=True)
    add = users.add_parser(
        "add",
        help="create a person's account (password read from standard input)",
        description="Create a station account with its own database role, scoped to its wards "
        "by row-level security. The password (at least 10 characters) is the first line of "
        "standard input.",
    )
    add.add_argument("name", metavar="NAME", help="user name: lower-case letters, digits, . _ -")
    add.add_argument(
        "--role", required=True, choices=("nurse", "charge_nurse", "admin"), help="what she may do"
    )
    add.add_argument(
        "--ward", required=True, action="append", metavar="WARD", help="a ward (repeatable)"
    )
    add.add_argument("--display-name", help="the name shown in the page (default: NAME)")
    add.add_argument("--lang", choices=("fr", "en", "ar"), default="fr", help="default: fr")
    add.add_argument(
        "--sees-identity",
        action="store_true",
        help="show patients' names instead of their pseudonyms",
    )
    add.add_argument("--by", required=True, metavar="NAME", help="who creates it (audited)")
    add.add_argument("--database-url", help="the owner's URL; default: $NABD_DATABASE_URL")
    add.set_defaults(handler=_user_add)


def _run(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from nabd.station.app import create_app
    from nabd.station.settings import StationSettings

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    if args.insecure_http:
        overrides["insecure_http"] = True
    try:
        settings = StationSettings(**overrides)
    except ValidationError as exc:
        missing = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"]
        if missing:
            return fail(ValueError(
                "no database login for the station: set NABD_STATION_DATABASE_URL "
                "(`eval \"$(nabd stack env)\"` sets the local stack's)"
            ))  # fmt: skip
        return fail(ValueError("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())))
    tls = settings.tls_cert_file, settings.tls_key_file
    if not settings.insecure_http and None in tls:
        return fail(ValueError(
            "HTTPS needs NABD_WEB_TLS_CERT_FILE and NABD_WEB_TLS_KEY_FILE (the local stack "
            "prints them); use --insecure-http only behind a TLS reverse proxy"
        ))  # fmt: skip
    scheme = "http" if settings.insecure_http else "https"
    print(f"nabd: nurse station on {scheme}://{settings.host}:{settings.port}/", file=sys.stderr)
    uvicorn.run(
        create_app(settings, issuer=_issuer()),
        host=settings.host,
        port=settings.port,
        ssl_certfile=None if settings.insecure_http else settings.tls_cert_file,
        ssl_keyfile=None if settings.insecure_http else settings.tls_key_file,
        log_level="warning",
    )
    return 0


def _issuer() -> LocalStackIssuer | None:
    """The local stack's CA issues gateway credentials when there is a local stack here
    (``NABD_STATE_DIR``, else the checkout's); else the admin page says to use the command."""
    from nabd.app.gateway_bundle import LocalStackIssuer
    from nabd.app.stack.layout import Layout
    from nabd.app.stack.settings import StackSettings

    settings = StackSettings()
    if not Layout(settings.root).state_file.exists():
        return None
    print(f"nabd: gateway credentials from the local stack in {settings.root}", file=sys.stderr)
    return LocalStackIssuer(settings)


def _user_add(args: argparse.Namespace) -> int:
    import psycopg

    from nabd.station.errors import StationError
    from nabd.station.users import Language, NewUser, Role, add_user

    url = args.database_url or os.environ.get("NABD_DATABASE_URL")
    if not url:
        return fail(ValueError("no database: set NABD_DATABASE_URL or pass --database-url"))
    password = sys.stdin.readline().rstrip("\n")
    try:
        user = NewUser(
            name=args.name,
            display_name=args.display_name or args.name,
            role=Role(args.role),
            wards=tuple(args.ward),
            password=password,
            lang=Language(args.lang),
            sees_identity=args.sees_identity,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            add_user(conn, user, by=args.by)
    except StationError as exc:
        return fail(exc)
    except psycopg.Error as exc:
        return fail(ValueError(f"the database refused: {exc.diag.message_primary or exc}"))
    print(f"{user.name}: {user.role.value} in {', '.join(user.wards)}")
    return 0
