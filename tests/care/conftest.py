"""Fixtures of the care-operations tests: a migrated database and a login in ``nabd_care``.

The functions and commands run as a login that is only a member of ``nabd_care`` (what a
deployment gives the admissions desk), never as the owner, so a missing grant or row-level
security policy fails here and not on a ward.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

# --import-mode=importlib puts no test folder on sys.path: make `tests.care.care_kit`
# importable from the checkout's root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from nabd.app.cli import main  # noqa: E402
from nabd.app.db.migrations import apply_migrations  # noqa: E402
from nabd.app.stack.testing import RunningStack  # noqa: E402
from tests.care.care_kit import Conn, Run, token  # noqa: E402
from tests.ingest.ingest_kit import (  # noqa: E402
    IngestDb,
    RunningWorker,
    forget_session,
    ingest_database,
    start_worker,
    worker_settings,
)


@pytest.fixture(scope="module")
def owner_url(fresh_database: str) -> str:
    """The module's migrated database, owner's credentials."""
    apply_migrations(fresh_database)
    return fresh_database


@pytest.fixture(scope="module")
def care_url(owner_url: str) -> Iterator[str]:
    """URL of a fresh login whose only role is ``nabd_care``; dropped afterwards."""
    login, password = f"test_care_{secrets.token_hex(3)}", secrets.token_urlsafe(24)
    role = sql.Identifier(login)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(
            password.encode(), login.encode(), b"scram-sha-256"
        ).decode()
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(verifier))
        )
        conn.execute(sql.SQL("GRANT nabd_care TO {}").format(role))
    url = urlsplit(owner_url)
    try:
        yield url._replace(netloc=f"{login}:{password}@{url.hostname}:{url.port}").geturl()
    finally:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


@pytest.fixture
def conn(care_url: str) -> Iterator[Conn]:
    """A connection as the care login, autocommit (each operation opens its transaction)."""
    with psycopg.connect(care_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def owner(owner_url: str) -> Iterator[Conn]:
    """The owner's connection, to look at what the care login may not (e.g. set up gateways'
    state as ingest would)."""
    with psycopg.connect(owner_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def run(care_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``nabd ARGS`` in-process with the care login in ``NABD_CARE_DATABASE_URL``;
    returns (status, stdout, stderr)."""
    monkeypatch.setenv("NABD_CARE_DATABASE_URL", care_url)
    monkeypatch.delenv("NABD_DATABASE_URL", raising=False)

    def nabd(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            status = int(exc.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return nabd


@pytest.fixture(scope="module")
def ingest_db(nabd_stack: RunningStack, owner_url: str) -> IngestDb:
    """The module's database with the ingest login's URL (for tests with a real worker)."""
    return ingest_database(nabd_stack, owner_url)


@pytest.fixture(scope="module")
def worker(nabd_stack: RunningStack, ingest_db: IngestDb) -> Iterator[RunningWorker]:
    """A real ingest worker on the module's database (it also publishes gateway configs)."""
    running = start_worker(worker_settings(nabd_stack, ingest_db, f"care-{token()}"))
    yield running
    running.stop()
    forget_session(nabd_stack, running.service.settings.worker_id)
