"""``nabd fhir`` without a database: tokens, argument checking."""

from __future__ import annotations

import json

import pytest

from nabd.app.cli import main
from nabd.interop.fhir.auth import token_digest


def test_token_prints_a_secret_and_its_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "token", "ehr-bridge", "--identity"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    entry = json.loads(err[err.index("{") :])
    assert entry == {"ehr-bridge": {"sha256": token_digest(secret), "identity": True}}
    assert main(["fhir", "token", "other"]) == 0
    assert capsys.readouterr().out.strip() != secret


@pytest.mark.parametrize("since", ["yesterday", "2026-03-02T08:00:00", "2026-13-01"])
def test_export_needs_an_instant_with_an_offset(
    since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["fhir", "export", "--patient", "p_1", "--since", since])
    assert usage.value.code == 2
    assert "--since" in capsys.readouterr().err


def test_export_without_a_database_says_which_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NABD_FHIR_DATABASE_URL", raising=False)
    assert main(["fhir", "export", "--patient", "p_1", "--since", "2026-03-02"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("nabd: error: not set: NABD_FHIR_DATABASE_URL")
    assert "pydantic" not in err


def test_export_without_a_base_url_is_refused_not_given_a_made_up_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 17 item 8: fullUrls were http://127.0.0.1:8080/... whatever the server.
    monkeypatch.setenv("NABD_FHIR_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("NABD_FHIR_PUBLIC_URL", raising=False)
    assert main(["fhir", "export", "--patient", "p_1", "--since", "2026-03-02"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "--base-url" in err
    assert "NABD_FHIR_PUBLIC_URL" in err


@pytest.mark.parametrize("bad", ["ftp://x", "https://x/", "https://x?q=1", "nabd"])
def test_export_base_url_must_be_a_base_url(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["fhir", "export", "--patient", "p_1", "--since", "2026-03-02", "--base-url", bad])
    assert usage.value.code == 2
    assert "--base-url" in capsys.readouterr().err


def test_token_with_wards_prints_them_in_its_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "token", "cardio-ehr", "--ward", "w2", "--ward", "w1"]) == 0
    out, err = capsys.readouterr()
    entry = json.loads(err[err.index("{") :])
    assert entry == {
        "cardio-ehr": {
            "sha256": token_digest(out.strip()),
            "identity": False,
            "wards": ["w1", "w2"],
        }
    }
    with pytest.raises(SystemExit) as usage:
        main(["fhir", "token", "x", "--ward", "Ward 1"])
    assert usage.value.code == 2
