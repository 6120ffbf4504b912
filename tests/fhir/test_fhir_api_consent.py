"""Consent to fhir-sharing decides what the FHIR API serves (docs/consent.md "FHIR sharing",
migration 0087), over real HTTP against the real database.

With the deployment's policy requiring consent, a patient without a consent to fhir-sharing in
force has nothing served: reads are 403 with an OperationOutcome (``suppressed``), searches are
empty searchsets whose outcome entry says why, a device read omits whom it measures, and no
identity is read (so none is logged as accessed). A consent recorded serves them again; a
withdrawal stops it at once, whatever the policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from nabd.app.cli import main
from nabd.care.consents import record_consent, set_policy, withdraw_consent
from tests.fhir.fhir_kit import ALERT_OPEN, Seeded, audit_rows
from tests.fhir.http_kit import IDENTIFIED, PSEUDONYMOUS, Reply, Server, serve, two_tokens

pytestmark = pytest.mark.integration

SHARING = "fhir-sharing"
BY = "DPO Karim"


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> Iterator[Server]:
    with serve(two_tokens(seeded, page_size=50), seeded, PSEUDONYMOUS) as running:
        yield running


def _owner(server: Server) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(server.seeded.owner_url)


def _suppressed(reply: Reply) -> str:
    """The diagnostics of a refusal for lack of consent (a valid OperationOutcome)."""
    assert reply.status == 403, reply.body
    outcome = reply.resource()
    assert [(i.severity, i.code) for i in outcome.issue] == [("error", "suppressed")]
    return str(outcome.issue[0].diagnostics)


def _withheld(reply: Reply) -> list[str]:
    """A searchset with no match, and its outcome entry's (code, diagnostics)."""
    assert reply.status == 200, reply.body
    page = reply.resource()
    assert page.type == "searchset"
    modes = [e.search.mode for e in page.entry or []]
    assert modes == ["outcome"]
    issues = page.entry[0].resource.issue
    return [f"{i.code}: {i.diagnostics}" for i in issues]


def _matches(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [
        e["resource"]["id"] for e in reply.body.get("entry", []) if e["search"]["mode"] == "match"
    ]


def _accesses(server: Server) -> int:
    with _owner(server) as conn:
        row = conn.execute("SELECT count(*) FROM identity_access").fetchone()
    assert row is not None
    return int(row[0])


def test_without_consent_where_required_nothing_of_the_patient_is_served(server: Server) -> None:
    observations = _matches(server.get("/Observation", patient="p.1"))
    assert observations  # the policy off and nobody withdrew: shared, as before
    with _owner(server) as conn:
        set_policy(conn, required=True, by=BY)
    accesses = _accesses(server)
    try:
        said = _suppressed(server.get("/Patient/p.1"))
        assert "Patient/p.1 is not shared" in said
        assert "fhir-sharing" in said
        _suppressed(server.get("/Patient/p.1", token=IDENTIFIED))
        assert _accesses(server) == accesses  # no identity was read, so none is logged
        _suppressed(server.get(f"/Observation/{observations[0]}"))
        _suppressed(server.get(f"/Flag/{ALERT_OPEN}"))
        for path in ("/Observation", "/Flag", "/Device"):
            issues = _withheld(server.get(path, patient="p.1", bogus="1"))
            assert issues[0] == "not-supported: search parameter(s) ignored: bogus"
            assert issues[1].startswith("suppressed: Patient/p.1 is not shared")
        searched = audit_rows(server.seeded.owner_url, "fhir_read")[-3:]
        assert [d for *_, d in searched if isinstance(d, dict) and d.get("withheld")] == [
            d for *_, d in searched
        ]
        strap = server.get("/Device/hr-1")
        assert strap.status == 200
        assert "patient" not in strap.body
        assert server.get("/Patient/nobody").status == 404  # unknown is still unknown

        with _owner(server) as conn:  # another scope does not open sharing
            record_consent(conn, "p_1", scope="remote-monitoring", text_version="v1",
                           collected_by=BY)  # fmt: skip
        _suppressed(server.get("/Patient/p.1"))
        with _owner(server) as conn:
            record_consent(conn, "p_1", scope=SHARING, text_version="v1", collected_by=BY)
        assert server.get("/Patient/p.1").status == 200
        assert _matches(server.get("/Observation", patient="p.1")) == observations
        assert server.get(f"/Flag/{ALERT_OPEN}").status == 200
        assert server.get("/Device/hr-1").body["patient"]["reference"] == "Patient/p.1"
        _suppressed(server.get("/Patient/p-2"))  # the other patient consented to nothing
    finally:
        with _owner(server) as conn:
            set_policy(conn, required=False, by=BY)


def test_a_withdrawal_stops_sharing_at_once_whatever_the_policy(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    with _owner(server) as conn:
        record_consent(conn, "p-2", scope=SHARING, text_version="v1", collected_by=BY)
    assert server.get("/Patient/p-2").status == 200
    with _owner(server) as conn:
        withdraw_consent(conn, "p-2", scope=SHARING, by=BY)
    _suppressed(server.get("/Patient/p-2"))  # policy off: a withdrawal is still honoured
    _withheld(server.get("/Device", patient="p-2"))
    capsys.readouterr()
    assert main(["consent", "show", "p-2", "--database-url", server.seeded.owner_url]) == 0
    assert "sharing     no (FHIR API)" in capsys.readouterr().out
    with _owner(server) as conn:
        record_consent(conn, "p-2", scope=SHARING, text_version="v2", collected_by=BY)
    assert server.get("/Patient/p-2").status == 200


def test_the_export_command_refuses_a_patient_whose_record_is_not_shared(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nabd fhir export` shares a record with another system too; `nabd patient export` (the
    patient's own access request) is not gated."""
    out = tmp_path / "p1.json"
    args = ["fhir", "export", "--patient", "p_1", "--since", "2026-03-02", "--out", str(out),
            "--database-url", server.seeded.fhir_url,
            "--base-url", "http://127.0.0.1:8080"]  # fmt: skip
    with _owner(server) as conn:
        record_consent(conn, "p_1", scope=SHARING, text_version="v1", collected_by=BY)
        withdraw_consent(conn, "p_1", scope=SHARING, by=BY)
    before = len(audit_rows(server.seeded.owner_url, "fhir_export"))
    assert main(args) == 1
    said = capsys.readouterr().err
    assert "Patient/p.1 is not shared through this API" in said
    assert "Traceback" not in said
    assert not out.exists()
    assert len(audit_rows(server.seeded.owner_url, "fhir_export")) == before
    with _owner(server) as conn:
        record_consent(conn, "p_1", scope=SHARING, text_version="v2", collected_by=BY)
    assert main(args) == 0
    assert out.exists()
