"""``nabd ward|patient|device|gateway`` end to end through ``nabd.app.cli.main`` as the care
login: what a person types, what they read, and the exit status (2: a value that can never be
right, 1: refused by the registry's state), with nothing on stdout when it fails."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nabd.app.cli import main
from tests.care.care_kit import Run, token

pytestmark = pytest.mark.integration


def test_a_ward_opens_a_patient_is_admitted_wears_a_device_and_leaves(run: Run) -> None:
    ward, gateway, device = f"w-{token()}", f"gw-{token()}", f"ox-{token()}"
    by = ("--by", "Nurse Ines")
    assert run("ward", "add", ward, "--name", "Cardiology B", *by)[:2] == (
        0,
        f"ward {ward}: added\n",
    )
    assert run("ward", "add", ward, "--name", "Cardiology B", *by)[1].endswith("unchanged\n")
    assert run("gateway", "add", gateway, "--ward", ward, *by)[0] == 0
    assert run("ward", "add-beds", ward, "1", "2", "--gateway", gateway, *by)[1] == (
        f"ward {ward}: beds added: 1, 2\n"
    )
    assert run("ward", "set-gateway", ward, "1", "3", "--gateway", gateway, *by)[1] == (
        f"ward {ward}: gateway {gateway}; beds added: 3; beds moved: none\n"
    )
    assert run("ward", "set-gateway", ward, "1", *by)[0] == 2  # --gateway or --no-gateway
    admit = f"patient admit --ward {ward} --bed 1 --mrn M{token()} --birth-date 1948-03-01"
    status, out, _ = run(*admit.split(), "--name", "BEN SALAH, Amina", *by)
    assert status == 0
    patient = out.strip()
    assert patient.startswith("p-")
    assert "\n" not in patient
    status, out, _ = run(
        "device",
        "add",
        device,
        "--kind",
        "pulse_oximeter",
        "--address",
        "c0:ff:ee:00:00:01",
        "--serial",
        "SN9",
        *by,
    )
    assert (status, out) == (0, f"device {device} (pulse_oximeter, C0:FF:EE:00:00:01): added\n")
    status, out, _ = run("device", "assign", device, patient, *by)
    assert status == 0
    assert f"assigned to {patient}" in out
    assert f"gateway {gateway}" in out
    listed = run("device", "list", "--gateway", gateway)[1].splitlines()
    assert listed[0].split()[:4] == ["DEVICE", "KIND", "ADDRESS", "PATIENT"]
    assert listed[1].split()[:5] == [
        device,
        "pulse_oximeter",
        "C0:FF:EE:00:00:01",
        patient,
        gateway,
    ]
    shown = run("patient", "show", patient)[1]
    assert "Amina BEN SALAH" in shown
    assert device in shown
    assert patient in run("ward", "beds", ward)[1]
    assert patient in run("patient", "list", "--ward", ward)[1]
    status, out, _ = run("patient", "discharge", patient, "--by", "Dr Karim")
    assert status == 0
    assert f"device assignments ended: {device}" in out
    assert "nothing changed" in run("patient", "discharge", patient, "--by", "Dr Karim")[1]
    history = run("device", "show", device)[1]
    assert f"{patient}" in history
    assert "ended by Dr Karim" in history
    assert patient not in run("patient", "list", "--ward", ward)[1]
    assert patient in run("patient", "list", "--ward", ward, "--all")[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("device", "add", "d-1", "--kind", "strap", "--address", "C0:FF:EE:00:00:02"),
            "device kind 'strap' is not accepted: use one of heart_rate_strap",
        ),
        (
            ("device", "add", "d-1", "--kind", "scale", "--address", "C0-FF-EE-00-00-02"),
            "is not a Bluetooth address",
        ),
        (
            ("device", "add", "D 1", "--kind", "scale", "--address", "C0:FF:EE:00:00:02"),
            "device id 'D 1' is not accepted",
        ),
        (
            (
                "patient",
                "admit",
                "--ward",
                "w",
                "--bed",
                "1",
                "--mrn",
                "1",
                "--name",
                "A B",
                "--birth-date",
                "01/02/1950",
            ),
            "write YYYY-MM-DD",
        ),
        (("device", "assign", "d-1", "p-1", "--from", "2026-01-01T10:00"), "with its offset"),
        (("ward", "add", "w-1", "--name", "   "), "--name must be 1 to 200"),
        (("ward", "add", "w-1", "--name", "W", "--by", " "), "--by: say who does it"),
    ],
)
def test_values_that_can_never_be_right_exit_2(
    run: Run, args: tuple[str, ...], message: str
) -> None:
    by = () if "--by" in args else ("--by", "Tech Sami")
    status, out, err = run(*args, *by)
    assert (status, out) == (2, "")
    assert message in err
    assert "Traceback" not in err
    assert err.startswith("nabd: error: ")
    assert err.count("\n") == 1


def test_refusals_exit_1_with_one_line_and_no_constraint_name(run: Run) -> None:
    ward, by = f"w-{token()}", ("--by", "Nurse Ines")
    run("ward", "add", ward, "--name", "W", *by)
    run("ward", "add-beds", ward, "1", "2", *by)
    mrn = f"M{token()}"
    admit = ("patient", "admit", "--ward", ward, "--mrn", mrn, "--name", "Jean Dupont", *by)
    patient = run(*admit, "--bed", "1")[1].strip()
    device = f"hr-{token()}"
    run(
        "device", "add", device, "--kind", "heart_rate_strap", "--address", "C0:FF:EE:00:01:01", *by
    )
    run("device", "assign", device, patient, *by)
    other = run(
        "patient",
        "admit",
        "--ward",
        ward,
        "--bed",
        "2",
        "--mrn",
        f"M{token()}",
        "--name",
        "Ana Lima",
        *by,
    )[1].strip()
    cases = [
        ((*admit, "--bed", "2"), f"MRN {mrn} is already admitted as patient {patient}"),
        (("ward", "add", ward, "--name", "Other", *by), "exists already, named 'W'"),
        (
            ("device", "add", device, "--kind", "scale", "--address", "C0:FF:EE:00:01:01", *by),
            "registered already with kind heart_rate_strap (not scale)",
        ),
        (("device", "assign", device, other, *by), f"is worn by patient {patient}"),
        (("patient", "show", "p-nobody"), "no patient 'p-nobody'"),
        (
            ("patient", "transfer", patient, "--ward", ward, "--bed", "2", *by),
            f"bed 2 of ward {ward} is taken by patient {other}",
        ),
    ]
    for args, message in cases:
        status, out, err = run(*args)
        assert (status, out) == (1, ""), args
        assert message in err, (message, err)
        assert "_idx" not in err
        assert "_key" not in err
        assert "constraint" not in err
        assert err.count("\n") == 1


def test_no_database_or_an_unreachable_one_is_said_plainly(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NABD_CARE_DATABASE_URL")
    status, out, err = run("ward", "list")
    assert (status, out) == (2, "")
    assert "no database: set NABD_CARE_DATABASE_URL" in err
    status, out, err = run("ward", "list", "--database-url", "postgresql://u:p@127.0.0.1:1/x")
    assert (status, out) == (1, "")
    assert "cannot reach the database" in err


def test_the_console_script_prints_the_id_alone(care_url: str) -> None:
    """A script can capture the pseudonymous id: stdout holds it and nothing else."""
    ward, url = f"w-{token()}", ("--database-url", care_url)
    for args in (("ward", "add", ward, "--name", "W"), ("ward", "add-beds", ward, "1")):
        assert main([*args, *url, "--by", "Admin"]) == 0
    admit = f"patient admit --ward {ward} --bed 1 --mrn M{token()} --by Admin {' '.join(url)}"
    result = subprocess.run(
        [sys.executable, "-m", "nabd.app.cli", "-q", *admit.split(), "--name", "Jean Dupont"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("p-")
    assert result.stdout.count("\n") == 1
