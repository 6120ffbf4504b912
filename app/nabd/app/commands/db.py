"""``nabd db migrate``: bring a Nabd database's schema up to date (idempotent)."""

from __future__ import annotations

import argparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError


class DbSettings(BaseSettings):
    """What ``nabd db`` needs: the schema owner's URL (``NABD_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="NABD_", extra="ignore")

    database_url: str = Field(min_length=1)


def register(subparsers: Subparsers) -> None:
    """Add ``nabd db`` and its subcommands."""
    db = subparsers.add_parser("db", help="database schema")
    commands = db.add_subparsers(title="db commands", metavar="COMMAND", required=True)
    migrate = commands.add_parser(
        "migrate",
        help="apply pending migrations (a no-op when up to date)",
        description="Apply the schema migrations that the database at NABD_DATABASE_URL "
        "(or --database-url) does not have yet, each in its own transaction.",
    )
    migrate.add_argument("--database-url", help="owner's URL; default: $NABD_DATABASE_URL")
    migrate.set_defaults(handler=_migrate)

    from nabd.app.commands.ward_viewer import register_under

    register_under(commands)


def _migrate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from nabd.app.db.migrations import MigrationError, apply_migrations

    try:
        url = args.database_url or DbSettings().database_url
    except ValidationError:
        return fail(UsageError("no database: set NABD_DATABASE_URL or pass --database-url"))
    try:
        applied = apply_migrations(url)
    except MigrationError as error:
        return fail(error)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0
