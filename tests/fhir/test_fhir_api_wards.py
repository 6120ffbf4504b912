"""Per-ward tokens (issue 17): a token reads only its wards' patients, enforced by the database.

The seeded patients are split over two wards here: ``p_1`` (and its devices) in ``w1``, ``p-2``
(its strap ``hr-2`` on gateway ``gw-2``, and one alert) in ``w2``. For every resource type and
every search, an id of the other ward answers exactly as an id that does not exist (404, or an
empty searchset): a ward token learns nothing about who is in another ward. The all-wards token
reads the same ids, so each check could fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg import errors, sql

from nabd.interop.fhir import query
from nabd.interop.fhir.auth import token_digest
from nabd.interop.fhir.search import START, TimeRange
from nabd.interop.fhir.settings import FhirSettings, TokenGrant
from tests.fhir.fhir_kit import T0, Seeded, audit_rows
from tests.fhir.http_kit import Server, collect, serve

pytestmark = pytest.mark.integration

EVERY_WARD = "every-ward-secret-0123456789abcdef01"
WARD_1 = "ward-one-secret-0123456789abcdef0123"
WARD_1_IDENTITY = "ward-one-identity-0123456789abcdef01"
ALERT_P2 = uuid.UUID("2c3d4e5f-6071-4829-8a0b-1c2d3e4f5a6c")


@pytest.fixture(scope="module")
def wards(seeded: Seeded) -> Seeded:
    """Move p-2, its gateway and strap to ward w2, give it an alert, and let the login take
    the per-ward roles (as a deployment with ward tokens must)."""
    with psycopg.connect(seeded.owner_url) as conn:
        conn.execute(
            sql.SQL("GRANT nabd_fhir_ward_identity TO {}").format(sql.Identifier(seeded.fhir_role))
        )
        conn.execute("INSERT INTO ward (id, name) VALUES ('w2', 'Pneumology')")
        conn.execute("INSERT INTO gateway (id, ward_id) VALUES ('gw-2', 'w2')")
        conn.execute("UPDATE device SET gateway_id = 'gw-2' WHERE id = 'hr-2'")
        conn.execute("UPDATE patient SET ward_id = 'w2' WHERE id = 'p-2'")
        conn.execute(
            """INSERT INTO alert (id, patient_id, condition, priority, state, message, raised_at)
               VALUES (%s, 'p-2', 'sensor_off', 'low', 'raised', 'Sensor off', %s)""",
            (ALERT_P2, T0 + timedelta(minutes=1)),
        )
    return seeded


@pytest.fixture(scope="module")
def server(wards: Seeded) -> Iterator[Server]:
    config = FhirSettings(
        database_url=wards.fhir_url,
        tokens={
            "hospital": TokenGrant(sha256=token_digest(EVERY_WARD)),
            "cardio": TokenGrant(sha256=token_digest(WARD_1), wards=["w1"]),
            "cardio-id": TokenGrant(
                sha256=token_digest(WARD_1_IDENTITY), identity=True, wards=["w1"]
            ),
        },
    )
    with serve(config, wards, WARD_1) as running:
        yield running


def _p2_observation_id(server: Server) -> str:
    found = collect(server, server.get("/Observation", token=EVERY_WARD, patient="p-2"))
    assert found, "p-2 has observations (seeded)"
    return str(found[0]["resource"]["id"])


@pytest.mark.parametrize("kind", ["Patient", "Device", "Observation", "Flag"])
def test_another_wards_resource_is_404_exactly_like_a_missing_one(
    server: Server, kind: str
) -> None:
    other, missing = {
        "Patient": ("p-2", "p-9"),
        "Device": ("hr-2", "hr-9"),
        "Observation": (_p2_observation_id(server), "s-0-0-0-0123456789abcdef"),
        "Flag": (str(ALERT_P2), "9d7c0f1e-5a2b-4c3d-8e9f-000000000000"),
    }[kind]
    assert server.get(f"/{kind}/{other}", token=EVERY_WARD).status == 200  # it exists
    for token in (WARD_1, WARD_1_IDENTITY):
        hidden, absent = (
            server.get(f"/{kind}/{other}", token=token),
            server.get(f"/{kind}/{missing}"),
        )
        assert (hidden.status, absent.status) == (404, 404)
        diagnostics = [r.resource().issue[0].diagnostics for r in (hidden, absent)]
        assert diagnostics[0].replace(other.replace(".", "_"), "ID").replace(other, "ID") == (
            diagnostics[1].replace(missing.replace(".", "_"), "ID").replace(missing, "ID")
        )


@pytest.mark.parametrize("path", ["/Observation", "/Flag", "/Device"])
def test_another_wards_patient_searches_like_a_missing_one(server: Server, path: str) -> None:
    everything = collect(server, server.get(path, token=EVERY_WARD, patient="p-2"))
    assert everything, f"p-2 has {path} entries (seeded)"
    assert collect(server, server.get(path, patient="p-2")) == []
    assert collect(server, server.get(path, patient="p-9")) == []
    assert collect(server, server.get(path, token=WARD_1_IDENTITY, patient="Patient/p-2")) == []


def test_a_ward_token_reads_its_own_ward_in_full(server: Server) -> None:
    mine = collect(server, server.get("/Observation", patient="p.1", _count="100"))
    everyone = collect(server, server.get("/Observation", token=EVERY_WARD, patient="p.1"))
    assert [e["fullUrl"] for e in mine] == [e["fullUrl"] for e in everyone]
    identified = server.get("/Patient/p.1", token=WARD_1_IDENTITY).resource()
    assert identified.name[0].family == "Haddad"
    assert server.get("/Patient/p.1").resource().name is None
    strap = server.get("/Device/hr-1").resource()
    assert strap.patient.reference == "Patient/p.1"


def test_a_ward_tokens_reads_are_audited_with_its_wards(server: Server) -> None:
    owner = server.seeded.owner_url
    before = len(audit_rows(owner, "fhir_read"))
    server.get("/Patient/p.1")
    server.get("/Patient/p.1", token=EVERY_WARD)
    rows = audit_rows(owner, "fhir_read")[before:]
    assert [(actor, d["wards"]) for actor, _, d in rows if isinstance(d, dict)] == [
        ("cardio", ["w1"]),
        ("hospital", None),
    ]


def test_the_database_enforces_the_wards_not_only_the_api(wards: Seeded) -> None:
    """Under a ward scope the tables themselves are out of reach and the views filter."""
    with query.session(wards.fhir_url, wards=frozenset({"w1"})) as conn:
        for table in ("patient", "observation", "alert", "device", "news2_score"):
            with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
                conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table))
                )
        patients = conn.execute("SELECT id FROM patient ORDER BY id").fetchall()
        assert [r["id"] for r in patients] == ["p_1"]
        seen = conn.execute("SELECT DISTINCT patient_id FROM observation").fetchall()
        assert [r["patient_id"] for r in seen] == ["p_1"]
        window = query.Window("p-2", TimeRange(), START, 100)
        assert query.spot_readings(conn, window, ["heart_rate"]) == []
        assert query.alerts(conn, window) == []
    with query.session(wards.fhir_url, wards=frozenset()) as conn:  # no ward: nothing at all
        assert conn.execute("SELECT count(*) AS n FROM patient").fetchone() == {"n": 0}
        assert conn.execute("SELECT count(*) AS n FROM observation").fetchone() == {"n": 0}
    with query.session(wards.fhir_url, wards=frozenset({"w1", "w2"})) as conn:
        assert conn.execute("SELECT count(*) AS n FROM patient").fetchone() == {"n": 2}


def test_settings_refuse_an_empty_or_bad_ward_list() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    for wards in ([], ["Ward 1"], "w1"):
        with pytest.raises(ValidationError):
            TokenGrant.model_validate({"sha256": "0" * 64, "wards": wards})
