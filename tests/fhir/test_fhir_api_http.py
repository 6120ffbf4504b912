"""The FHIR API over real HTTP (uvicorn on a free port) against the real database.

Authentication is enforced, searches page through everything exactly once, reads by id return
what searches list, identity is shown only to identity-scoped tokens, and every read is a row in
the audit log naming the token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from nabd.interop.fhir.auth import token_digest
from nabd.interop.fhir.settings import FhirSettings, TokenGrant
from tests.fhir.fhir_kit import ALERT_OPEN, EXPECTED_OBSERVATIONS, T0, Seeded, audit_rows
from tests.fhir.http_kit import (
    IDENTIFIED,
    PSEUDONYMOUS,
    Reply,
    Server,
    collect,
    serve,
    two_tokens,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> Iterator[Server]:
    with serve(two_tokens(seeded, page_size=5), seeded, PSEUDONYMOUS) as running:
        yield running


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
@pytest.mark.parametrize("path", ["/Patient/p.1", "/Observation?patient=p.1", "/Flag/x"])
def test_no_or_a_wrong_token_is_refused(server: Server, token: str | None, path: str) -> None:
    before = len(audit_rows(server.seeded.owner_url, "fhir_read"))
    reply = server.get(path, token=token)
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith('Bearer realm="nabd-fhir"')
    assert ("invalid_token" in reply.headers["www-authenticate"]) == (token is not None)
    outcome = reply.resource()
    assert outcome.issue[0].code == "login"
    assert len(audit_rows(server.seeded.owner_url, "fhir_read")) == before


def test_a_non_bearer_scheme_is_refused(server: Server) -> None:
    request = urllib.request.Request(server.url + "/Patient/p.1")  # noqa: S310
    request.add_header("Authorization", f"Basic {PSEUDONYMOUS}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 401
    refused.value.close()


def test_metadata_is_public_and_valid(server: Server) -> None:
    reply = server.get("/metadata", token=None)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/fhir+json")
    statement = reply.resource()
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} == {
        "Patient",
        "Device",
        "Observation",
        "Flag",
    }


def test_search_pages_through_every_observation_once(server: Server) -> None:
    since = f"ge{T0.isoformat()}"
    whole = collect(server, server.get("/Observation", patient="p.1", date=since, _count="100"))
    assert len(whole) == EXPECTED_OBSERVATIONS
    paged = collect(
        server, server.get("/Observation", patient="Patient/p.1", date=since, _count="3")
    )
    assert [e["fullUrl"] for e in paged] == [e["fullUrl"] for e in whole]
    everything = collect(server, server.get("/Observation", patient="p.1", _count="100"))
    assert len(everything) == EXPECTED_OBSERVATIONS + 1  # and the temperature before T0
    default = server.get("/Observation", patient="p.1")  # page_size 5
    assert len(default.body["entry"]) == 5
    assert all(e["resource"]["subject"]["reference"] == "Patient/p.1" for e in whole)


def test_search_by_code_and_date(server: Server) -> None:
    def codes(reply: Reply) -> list[str]:
        return [e["resource"]["code"]["coding"][0]["code"] for e in collect(server, reply)]

    loinc_hr = server.get("/Observation", patient="p.1", code="http://loinc.org|8867-4")
    assert codes(loinc_hr) == ["8867-4"] * 3
    mdc_spo2 = server.get("/Observation", patient="p.1", code="urn:iso:std:iso:11073:10101|150456")
    assert codes(mdc_spo2) == ["2708-6"]
    either = server.get("/Observation", patient="p.1", code="85354-9,8310-5")
    assert sorted(codes(either)) == ["8310-5"] * 3 + ["85354-9"]  # one temperature before T0
    minute_1 = server.get(
        f"/Observation?patient=p.1&code=8867-4&date=ge{T0.date()}T08:01:00Z"
        "&date=lt2026-03-02T08:02:00Z"
    )
    found = collect(server, minute_1)
    assert [e["resource"]["effectivePeriod"]["start"] for e in found] == ["2026-03-02T08:01:00Z"]
    nothing = server.get("/Observation", patient="p.1", date="lt2026-03-01")
    assert collect(server, nothing) == []


@pytest.mark.parametrize(
    "query",
    [
        {"code": "8867-4"},  # no patient
        {"patient": "p.1", "code:not": "8867-4"},  # an unsupported modifier
        {"patient": "p.1", "date": "sa2026-03-02"},
        {"patient": "p.1", "date": "yesterday"},
        {"patient": "p.1", "_count": "0"},
        {"patient": "p.1", "_cursor": "not-a-cursor"},
        {"patient": "p_1"},  # a Nabd id is not a FHIR id
    ],
)
def test_bad_searches_are_400(server: Server, query: dict[str, str]) -> None:
    reply = server.get("/Observation", query=list(query.items()))
    assert reply.status == 400
    assert reply.resource().issue[0].code == "invalid"


def test_reads_by_id_match_the_search(server: Server) -> None:
    listed = collect(server, server.get("/Observation", patient="p.1", _count="100"))
    for entry in listed:
        resource = entry["resource"]
        reply = server.get(f"/Observation/{resource['id']}")
        assert reply.status == 200
        if resource["status"] == "final":  # a preliminary summary may still grow
            assert reply.body == resource
        assert reply.resource().id == resource["id"]
    assert server.get("/Observation/s-37ko-0-0-0123456789abcdef").status == 404
    assert server.get("/Observation/garbage").status == 404


def test_patient_identity_only_for_an_identity_token(server: Server) -> None:
    pseudonymous = server.get("/Patient/p.1").resource()
    assert pseudonymous.name is None
    assert pseudonymous.birthDate is None
    assert [i.value for i in pseudonymous.identifier] == ["p_1"]
    assert pseudonymous.meta.security[0].code == "PSEUDED"
    identified = server.get("/Patient/p.1", token=IDENTIFIED).resource()
    assert identified.name[0].family == "Haddad"
    assert [i.value for i in identified.identifier] == ["p_1", "MRN-0042"]
    assert server.get("/Patient/nobody").status == 404
    assert server.get("/Patient/p_1").status == 404


def test_devices_and_flags(server: Server) -> None:
    devices = collect(server, server.get("/Device", patient="p.1"))
    assert [e["resource"]["id"] for e in devices] == [
        "bpm-1",
        "hr-1",
        "plx-1",
        "scale-1",
        "thermo-1",
    ]
    strap = server.get("/Device/hr-1").resource()
    assert (strap.manufacturer, strap.serialNumber, strap.version[0].value) == (
        "Polar",
        "C7A1",
        "3.1.1",
    )
    flags = collect(server, server.get("/Flag", patient="p.1", date=f"ge{T0.isoformat()}"))
    assert [e["resource"]["id"] for e in flags] == [str(ALERT_OPEN)]
    every = collect(server, server.get("/Flag", patient="p.1", _count="1"))
    assert len(every) == 2
    flag = server.get(f"/Flag/{ALERT_OPEN}").resource()
    assert (flag.status, flag.code.coding[0].code) == ("active", "spo2_low")
    assert server.get("/Flag/9d7c0f1e-5a2b-4c3d-8e9f-000000000000").status == 404


def test_every_read_is_audited_with_the_token_name(server: Server) -> None:
    owner = server.seeded.owner_url
    before = len(audit_rows(owner, "fhir_read"))
    server.get("/Patient/p.1", token=IDENTIFIED)
    page = server.get("/Observation", patient="p.1", _count="2")
    server.get(f"/Flag/{ALERT_OPEN}")
    server.get("/Patient/nobody")  # not found: nothing was disclosed
    rows = audit_rows(owner, "fhir_read")[before:]
    assert [(actor, subject) for actor, subject, _ in rows] == [
        ("ward-viewer", "Patient/p.1"),
        ("ehr-bridge", "Patient/p.1"),
        ("ehr-bridge", f"Flag/{ALERT_OPEN}"),
    ]
    details = [d for *_, d in rows]
    assert isinstance(details[0], dict)
    assert details[0]["identity"] is True
    assert isinstance(details[1], dict)
    assert details[1]["ids"] == [e["resource"]["id"] for e in page.body["entry"]]


def test_nabd_fhir_serve_runs_the_api(seeded: Seeded) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tokens = {"ops": {"sha256": token_digest(PSEUDONYMOUS)}}
    env = os.environ | {
        "NABD_FHIR_DATABASE_URL": seeded.fhir_url,
        "NABD_FHIR_TOKENS": json.dumps(tokens),
    }
    command = [sys.executable, "-m", "nabd.app.cli", "-q", "fhir", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        served = Server(f"http://127.0.0.1:{port}", seeded, PSEUDONYMOUS)
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                reply = served.get("/Patient/p.1")
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "nabd fhir serve did not start"
                time.sleep(0.1)
        assert reply.status == 200
        assert reply.resource().id == "p.1"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_nabd_fhir_serve_refuses_to_start_without_tokens(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    from nabd.app.cli import main  # noqa: PLC0415

    assert main(["fhir", "serve", "--database-url", seeded.fhir_url]) == 2  # a missing variable
    assert "no tokens" in capsys.readouterr().err


def test_nabd_fhir_serve_refuses_ward_tokens_the_login_cannot_serve(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # This module's login is in nabd_fhir_identity only, not nabd_fhir_ward.
    tokens = {"cardio": {"sha256": token_digest(PSEUDONYMOUS), "wards": ["w1"]}}
    monkeypatch.setenv("NABD_FHIR_TOKENS", json.dumps(tokens))
    from nabd.app.cli import main  # noqa: PLC0415

    assert main(["fhir", "serve", "--database-url", seeded.fhir_url]) == 1
    assert "cannot act as nabd_fhir_ward" in capsys.readouterr().err


def test_links_and_full_urls_use_the_configured_public_url(seeded: Seeded) -> None:
    public = "https://fhir.hospital.example/nabd/r4"
    settings = FhirSettings(
        database_url=seeded.fhir_url,
        tokens={"ehr-bridge": TokenGrant(sha256=token_digest(PSEUDONYMOUS))},
        public_url=public,
    )
    with serve(settings, seeded, PSEUDONYMOUS) as configured:
        page = configured.get("/Observation", patient="p.1", _count="2").resource()
        statement = configured.get("/metadata").resource()
    assert all(e.fullUrl.startswith(f"{public}/Observation/") for e in page.entry)
    assert {link.url.split("?")[0] for link in page.link} == {f"{public}/Observation"}
    assert statement.implementation.url == public
