"""Patients at home: admission with a home gateway instead of a bed, and ``nabd careplan
set|show`` as the care login: the plan is validated by the contract's model, a repeat writes
nothing, every change is audited as old -> new JSON, and refusals are one line for people."""

from __future__ import annotations

import pytest

from nabd.care.careplans import parse_settings, plan_of, set_plan
from nabd.care.errors import CareInputError, CareRefused
from nabd.contract.careplan import Programme, default_plan
from tests.care.care_kit import Conn, Run, token

pytestmark = pytest.mark.integration

BY = ("--by", "Dr Haddad")


def _home_patient(run: Run) -> tuple[str, str, str]:
    """A remote-monitoring ward, a home gateway, a patient admitted at home: (ward, gw, id)."""
    ward, gateway = f"remote-{token()}", f"gw-home-{token()}"
    assert run("ward", "add", ward, "--name", "Remote monitoring HF", *BY)[0] == 0
    assert run("gateway", "add", gateway, "--ward", ward, *BY)[0] == 0
    status, out, err = run("patient", "admit", "--ward", ward, "--home-gateway", gateway,
                           "--mrn", f"M{token()}", "--name", "Amina Ben Salah", *BY)  # fmt: skip
    assert status == 0, err
    return ward, gateway, out.strip()


def test_a_patient_at_home_has_no_bed_and_their_devices_follow_the_home_gateway(
    run: Run, conn: Conn
) -> None:
    ward, gateway, pid = _home_patient(run)
    status, out, _ = run("patient", "show", pid)
    assert status == 0
    assert f"ward, home  {ward}, home gateway {gateway}" in out
    scale = f"sc-{token()}"
    assert run("device", "add", scale, "--kind", "scale",
               "--address", "F0:F1:F2:F3:A4:" + token()[:2].upper(), *BY)[0] == 0  # fmt: skip
    assert run("device", "assign", scale, pid, *BY)[0] == 0
    row = conn.execute("SELECT gateway_id FROM device WHERE id = %s", (scale,)).fetchone()
    assert row == (gateway,)
    # One home gateway, one patient at home.
    status, out, err = run("patient", "admit", "--ward", ward, "--home-gateway", gateway,
                           "--mrn", f"M{token()}", "--name", "Sami Trabelsi", *BY)  # fmt: skip
    assert (status, out) == (1, "")
    assert f"home gateway {gateway} serves patient {pid} already" in err
    assert len(err.strip().splitlines()) <= 2
    # A bed and a home, or neither: a usage error.
    status, _, err = run("patient", "admit", "--ward", ward, "--mrn", "M1", "--name", "A B", *BY)
    assert status == 2


def test_careplan_set_show_change_and_repeat(run: Run, conn: Conn, owner: Conn) -> None:
    _, _, pid = _home_patient(run)
    status, out, err = run("careplan", "show", pid)
    assert (status, out) == (1, "")
    assert f"nabd careplan set {pid} --programme heart_failure" in err
    status, out, err = run("careplan", "set", pid, "--programme", "heart_failure",
                           "--set", "timezone=Africa/Tunis",
                           "--reason", "admission", *BY)  # fmt: skip
    assert (status, out) == (0, f"{pid}: care plan version 1 (heart_failure) set\n"), err
    status, out, _ = run("careplan", "set", pid, "--set", "weight.dry_weight_kg=78.5",
                         "--set", "weight.day_gain_kg=1.0",
                         "--set", "gateway.silent_after_h=4", *BY)  # fmt: skip
    assert out == f"{pid}: care plan version 2 (heart_failure) set\n"
    # The same values again: nothing written.
    status, out, _ = run("careplan", "set", pid, "--set", "weight.dry_weight_kg=78.5", *BY)
    assert (status, out) == (0, f"{pid}: care plan version 2 unchanged\n")
    status, out, _ = run("careplan", "show", pid)
    assert status == 0
    assert "programmes   heart_failure" in out
    assert "time zone    Africa/Tunis" in out
    assert "  weight          morning    05:00-11:00" in out
    assert "  weight.dry_weight_kg: 78.5 (default -)" in out
    assert "  weight.day_gain_kg: 1.0 (default 1.5)" in out
    assert "gateway        silent_after_h 4" in out  # the home gateway alert's limit (h)
    assert "  gateway.silent_after_h: 4" in out
    stored = plan_of(conn, pid)
    expected = default_plan([Programme.HEART_FAILURE], timezone="Africa/Tunis").with_changes(
        {"weight": {"dry_weight_kg": 78.5, "day_gain_kg": 1.0}, "gateway": {"silent_after_h": 4}}
    )
    assert stored == expected
    entries = owner.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'care_plan_set' AND subject = %s "
        "ORDER BY seq",
        (f"patient:{pid}",),
    ).fetchall()
    assert [e[0] for e in entries] == ["Dr Haddad", "Dr Haddad"]
    first, second = (e[1] for e in entries)
    assert first["old"] is None
    assert first["reason"] == "admission"
    assert second["old"] == first["new"]
    assert second["new"]["weight"]["dry_weight_kg"] == 78.5
    assert second["changes"] == {
        "weight": {"dry_weight_kg": 78.5, "day_gain_kg": 1.0},
        "gateway": {"silent_after_h": 4},
    }


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (("--set", "weight.day_gain_kg=-1"), 2, "weight.day_gain_kg: Input should be greater"),
        (("--set", "weight.colour=red"), 2, "weight.colour: Extra inputs are not permitted"),
        (("--set", "weight"), 2, "write SECTION.FIELD=VALUE"),
        (("--programme", "asthma"), 2, "programme 'asthma' is not accepted: use one or more"),
        (("--set", "timezone=Mars/Olympus"), 2, "unknown time zone 'Mars/Olympus'"),
        (("--set", "gateway.silent_after_h=0"), 2, "gateway.silent_after_h: Input should be"),
    ],
)
def test_careplan_refusals_are_one_or_two_lines(
    run: Run, args: tuple[str, ...], status: int, said: str
) -> None:
    _, _, pid = _home_patient(run)
    if args[0] == "--set":
        assert run("careplan", "set", pid, "--programme", "heart_failure", *BY)[0] == 0
    code, out, err = run("careplan", "set", pid, *args, *BY)
    assert (code, out) == (status, "")
    assert said in err
    assert len(err.strip().splitlines()) <= 2
    assert "Traceback" not in err
    assert "pydantic" not in err


def test_a_plan_needs_programmes_first_and_an_admitted_patient(run: Run, conn: Conn) -> None:
    _, _, pid = _home_patient(run)
    with pytest.raises(CareRefused, match="has no care plan yet: give its programmes"):
        set_plan(conn, pid, settings=["weight.dry_weight_kg=80"], by="Dr Haddad")
    assert run("patient", "discharge", pid, *BY)[0] == 0
    with pytest.raises(CareRefused, match="was discharged"):
        set_plan(conn, pid, programmes=["copd"], by="Dr Haddad")
    code, _, err = run("careplan", "show", "p-nobody")
    assert code == 1
    assert "no patient 'p-nobody'" in err


def test_settings_are_read_as_json_or_text() -> None:
    assert parse_settings(
        ["weight.dry_weight_kg=78.5", "timezone=Africa/Tunis", "weight.week_gain_kg=null"]
    ) == {
        "weight": {"dry_weight_kg": 78.5, "week_gain_kg": None},
        "timezone": "Africa/Tunis",
    }
    with pytest.raises(CareInputError, match="set twice"):
        parse_settings(["weight=1", "weight.day_gain_kg=1"])


def test_who_may_read_and_write_plans(owner: Conn) -> None:
    """Analytics, dashboards, clinical and FHIR read plans; only the care role writes them;
    the per-ward dashboards read their wards' plans only (policy ``own_wards``)."""

    def may(role: str, what: str) -> bool:
        row = owner.execute("SELECT has_table_privilege(%s, 'care_plan', %s)", (role, what))
        return bool((row.fetchone() or (False,))[0])

    for role in ("nabd_analytics", "nabd_dashboards", "nabd_clinical", "nabd_fhir"):
        assert may(role, "SELECT")
        assert not may(role, "UPDATE")
    assert may("nabd_care", "UPDATE")
    assert not may("nabd_ingest", "SELECT")
    policies = owner.execute(
        "SELECT policyname, roles::text[] FROM pg_policies WHERE tablename = 'care_plan'"
    ).fetchall()
    assert ("own_wards", ["nabd_ward_dashboards"]) in policies
