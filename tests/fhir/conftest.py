"""Fixtures of the FHIR tests (data and helpers live in ``fhir_kit``, importable from the tests).

Each test module gets its own migrated database, seeded with the known data of ``fhir_kit``, and
a FHIR login (a member of nabd_fhir_identity) that is dropped after the module.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

# --import-mode=importlib puts no test folder on sys.path: make `tests.fhir.fhir_kit`
# importable from the checkout's root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from nabd.app.db.migrations import apply_migrations  # noqa: E402
from tests.fhir.fhir_kit import Seeded, login_url, seed  # noqa: E402


@pytest.fixture(scope="module")
def seeded(fresh_database: str) -> Iterator[Seeded]:
    """The module's database, migrated and seeded, and a FHIR login (dropped afterwards)."""
    apply_migrations(fresh_database)
    role, password = f"fhir_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(fresh_database) as conn:
        seed(conn)
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT nabd_fhir_identity TO {}").format(sql.Identifier(role)))
    try:
        yield Seeded(fresh_database, login_url(fresh_database, role, password), role)
    finally:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
