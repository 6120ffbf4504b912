"""Consent against the real database, as the ``nabd_care`` login: recorded, withdrawn and shown
through the commands, each change in the audit chain; the one collection rule
(``consent_collection_periods``) with the policy off and on; a device assignment refused when
the rule would not let it collect, naming the command that records consent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from nabd.app.audit.chain import Intact
from nabd.app.audit.store import verify_database
from nabd.app.cli import main
from nabd.care.consents import record_consent, set_policy, withdraw_consent
from nabd.care.devices import add_device, assign
from nabd.care.errors import CareInputError, CareRefused, Conflict, Unknown
from nabd.care.gateways import add_gateway
from nabd.care.patients import admit
from nabd.care.values import Admission, DeviceSpec
from nabd.care.wards import add_beds, add_ward
from tests.care.care_kit import Conn, token

pytestmark = pytest.mark.integration

BY = "Nurse Ines"


@pytest.fixture
def not_required(conn: Conn) -> Iterator[None]:
    """The default policy, restored after a test that changes it (the module shares it)."""
    set_policy(conn, required=False, by=BY)
    yield
    set_policy(conn, required=False, by=BY)


@pytest.fixture
def required(conn: Conn, not_required: None) -> None:
    set_policy(conn, required=True, by=BY)


def _patient(conn: Conn) -> tuple[str, str]:
    """A new admitted patient in a new ward whose bed 1 a new gateway serves: (patient, gw)."""
    ward, gateway = f"w-{token()}", f"gw-{token()}"
    add_ward(conn, ward, "Ward", by=BY)
    add_gateway(conn, gateway, ward=ward, by=BY)
    add_beds(conn, ward, ("1",), gateway=gateway, by=BY)
    admission = Admission.parse(
        ward=ward, bed="1", mrn=f"M{token()}", name="Amina Ben Salah", birth_date=None
    )
    return admit(conn, admission, by=BY), gateway


def _device(conn: Conn) -> str:
    raw = token() + token()
    address = ":".join(raw[i : i + 2] for i in range(0, 12, 2)).upper()
    device = f"hr-{token()}"
    add_device(conn, DeviceSpec.parse(device_id=device, kind="heart_rate_strap", address=address),
               by=BY)  # fmt: skip
    return device


def _collecting(conn: Conn, patient: str, at: datetime | None = None) -> bool:
    row = conn.execute(
        "SELECT consent_collection_periods(%s) @> coalesce(%s::timestamptz, now())",
        (patient, at),
    ).fetchone()
    assert row is not None
    return bool(row[0])


def _audit(owner: Conn, patient: str) -> list[tuple[str, str, dict[str, object]]]:
    rows = owner.execute(
        "SELECT action, actor, details FROM audit_log WHERE subject = %s"
        " AND action LIKE 'consent_%%' ORDER BY seq",
        (f"patient:{patient}",),
    ).fetchall()
    return [(str(a), str(b), c if isinstance(c, dict) else json.loads(c)) for a, b, c in rows]


@pytest.mark.usefixtures("not_required")
def test_record_withdraw_show_through_the_commands_each_audited(
    conn: Conn, owner: Conn, owner_url: str, care_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    patient, gateway = _patient(conn)
    device = _device(conn)
    assign(conn, device, patient, by=BY)
    db = ["--database-url", care_url]

    def nabd(*args: str) -> str:
        capsys.readouterr()
        assert main([*args, *db]) == 0
        return capsys.readouterr().out

    record = ("consent", "record", patient, "--scope", "remote-monitoring",
              "--text-version", "v2", "--collected-by", "Nurse Amal")  # fmt: skip
    assert "consent to remote-monitoring (text v2) recorded" in nabd(*record)
    assert "recorded already" in nabd(*record)  # idempotent: nothing written twice
    shown = nabd("consent", "show", patient)
    assert "collecting  yes" in shown
    assert "remote-monitoring  v2" in shown
    assert "Nurse Amal" in shown
    out = nabd("consent", "withdraw", patient, "--scope", "remote-monitoring", "--by", BY)
    assert "withdrawn at" in out
    assert f"device {device}: removed from gateway {gateway}'s list" in out
    assert "withdrawn already" in nabd(
        "consent", "withdraw", patient, "--scope", "remote-monitoring", "--by", BY
    )
    shown = nabd("consent", "show", patient)
    assert "collecting  no" in shown
    assert f"by {BY}" in shown

    entries = _audit(owner, patient)
    assert [(a, who) for a, who, _ in entries] == [
        ("consent_recorded", "Nurse Amal"),
        ("consent_withdrawn", BY),
    ]
    assert entries[0][2]["text_version"] == "v2"
    assert entries[1][2]["devices_released"] == [f"{device}@{gateway}"]
    assert isinstance(verify_database(owner_url), Intact)  # the chain still verifies


def test_refusals_say_what_and_how(
    conn: Conn, care_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    patient, _ = _patient(conn)
    with pytest.raises(CareInputError, match="use one of remote-monitoring, fhir-sharing"):
        record_consent(conn, patient, scope="everything", text_version="v1", collected_by=BY)
    with pytest.raises(Unknown, match="no consent to fhir-sharing recorded"):
        withdraw_consent(conn, patient, scope="fhir-sharing", by=BY)
    record_consent(conn, patient, scope="fhir-sharing", text_version="v1", collected_by=BY)
    with pytest.raises(Conflict, match="withdraw that consent first"):
        record_consent(conn, patient, scope="fhir-sharing", text_version="v2", collected_by=BY)
    with pytest.raises(Unknown, match="no patient"):
        record_consent(conn, "p-nobody", scope="fhir-sharing", text_version="v1", collected_by=BY)
    capsys.readouterr()
    assert main(["consent", "policy", "--required", "on", "--database-url", care_url]) == 2
    assert "--required needs --by NAME" in capsys.readouterr().err


@pytest.mark.usefixtures("not_required")
def test_not_required_collects_unless_withdrawn_until_consent_is_given_again(
    conn: Conn,
) -> None:
    patient, _ = _patient(conn)
    assert _collecting(conn, patient)  # no record: collected (the default policy)
    given = record_consent(
        conn, patient, scope="remote-monitoring", text_version="v1", collected_by=BY
    ).consent.collected_at
    withdrawn = withdraw_consent(conn, patient, scope="remote-monitoring", by=BY).at
    assert _collecting(conn, patient, given)
    assert not _collecting(conn, patient, withdrawn)
    assert not _collecting(conn, patient)
    again = record_consent(
        conn, patient, scope="remote-monitoring", text_version="v2", collected_by=BY
    ).consent.collected_at
    assert _collecting(conn, patient, again)
    assert not _collecting(conn, patient, withdrawn + (again - withdrawn) / 2)


@pytest.mark.usefixtures("required")
def test_required_collects_only_what_a_consent_covers(conn: Conn) -> None:
    patient, _ = _patient(conn)
    assert not _collecting(conn, patient)
    earlier = datetime.now().astimezone() - timedelta(hours=1)
    record_consent(
        conn, patient, scope="remote-monitoring", text_version="v1", collected_by=BY, at=earlier
    )
    assert _collecting(conn, patient)
    assert not _collecting(conn, patient, earlier - timedelta(seconds=1))
    record_consent(conn, patient, scope="fhir-sharing", text_version="v1", collected_by=BY)
    withdraw_consent(conn, patient, scope="fhir-sharing", by=BY)  # another scope: no effect
    assert _collecting(conn, patient)


@pytest.mark.usefixtures("required")
def test_an_assignment_without_consent_is_refused_naming_the_command(conn: Conn) -> None:
    patient, _ = _patient(conn)
    device = _device(conn)
    with pytest.raises(CareRefused, match=f"nabd consent record {patient} --scope remote-mon"):
        assign(conn, device, patient, by=BY)
    record_consent(conn, patient, scope="remote-monitoring", text_version="v1", collected_by=BY)
    assert assign(conn, device, patient, by=BY).changed


@pytest.mark.usefixtures("not_required")
def test_the_policy_change_is_audited(conn: Conn, owner: Conn) -> None:
    assert set_policy(conn, required=True, by="DPO Karim")
    assert not set_policy(conn, required=True, by="DPO Karim")
    row = owner.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'consent_policy_set' "
        "ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    assert row[0] == "DPO Karim"
    assert row[1] == {"required": True}
