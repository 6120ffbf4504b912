"""Fixtures of the patients'-rights tests: the FHIR tests' known patient (``p_1``, with
readings, NEWS2 scores and alerts) in a fresh database, a FHIR login, the nurse station served
over HTTPS with a user who sees identities, and the FHIR API over real HTTP."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from nabd.app.db.migrations import apply_migrations  # noqa: E402
from nabd.app.stack.testing import RunningStack  # noqa: E402
from nabd.interop.fhir.auth import token_digest  # noqa: E402
from nabd.interop.fhir.settings import FhirSettings, TokenGrant  # noqa: E402
from nabd.station.users import Language, NewUser, Role, add_user  # noqa: E402
from tests.fhir import fhir_kit  # noqa: E402
from tests.fhir.http_kit import Server, serve  # noqa: E402
from tests.station import station_kit  # noqa: E402

FHIR_TOKEN = "rights-identified-0123456789abcdef0123"
NURSE = NewUser(
    name="salma",
    display_name="Salma",
    role=Role.NURSE,
    wards=("w1",),
    password=station_kit.PASSWORD,
    lang=Language.EN,
    sees_identity=True,
)
ADMIN = NewUser(name="rania", display_name="Rania", role=Role.ADMIN, wards=("w1",),
                password=station_kit.PASSWORD, lang=Language.FR, sees_identity=True)  # fmt: skip


@pytest.fixture(scope="module")
def seeded(fresh_database: str) -> Iterator[fhir_kit.Seeded]:
    """The FHIR tests' data, a login in nabd_fhir_identity, and a station user on ward w1."""
    apply_migrations(fresh_database)
    role, password = f"fhir_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(fresh_database) as conn:
        fhir_kit.seed(conn)
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE nabd_fhir_identity").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    try:
        yield fhir_kit.Seeded(fresh_database, fhir_kit.login_url(fresh_database, role, password),
                              role)  # fmt: skip
    finally:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def station(nabd_stack: RunningStack, seeded: fhir_kit.Seeded) -> Iterator[station_kit.Station]:
    """The nurse station over HTTPS, its login in nabd_station, a nurse and an admin who see
    names."""
    login, password = f"station_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE nabd_station").format(
                sql.Identifier(login), sql.Literal(password)
            )
        )
        add_user(conn, NURSE, by="test-admin")
        add_user(conn, ADMIN, by="test-admin")
    url = station_kit.login_url(seeded.owner_url, login, password)
    try:
        with station_kit.serve(nabd_stack, station_kit.Seeded(seeded.owner_url, url)) as running:
            yield running
    finally:
        with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


@pytest.fixture(scope="module")
def fhir(seeded: fhir_kit.Seeded) -> Iterator[Server]:
    """The FHIR API over HTTP with one identity-scoped token, ``rights-ehr``."""
    settings = FhirSettings(
        database_url=seeded.fhir_url,
        tokens={"rights-ehr": TokenGrant(sha256=token_digest(FHIR_TOKEN), identity=True)},
    )
    with serve(settings, seeded, FHIR_TOKEN) as running:
        yield running
