"""Every database login a README command needs comes from ``nabd stack up``.

A newcomer runs ``eval "$(nabd stack env)"`` and then the README's commands; none of them may
need a role made by hand. So the commands run here as subprocesses with exactly the printed
variables (plus ``PATH`` and ``HOME``), and the source is scanned for every
``NABD_*_DATABASE_URL`` a command reads, which the stack must print.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from pydantic_settings import BaseSettings

from nabd.app.stack.accounts import DATABASE_ONLY
from nabd.app.stack.testing import RunningStack

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("contract", "edge", "ingest", "analytics", "interop", "dashboards", "simulators")
NABD = Path(sys.executable).with_name("nabd")
_URL_NAME = re.compile(r"\bNABD_[A-Z0-9_]*DATABASE_URL\b")


def _printed_env(stack: RunningStack) -> dict[str, str]:
    """What ``nabd stack env`` prints, parsed as the shell would."""
    done = subprocess.run(
        [str(NABD), "-q", "stack", "env", "--state-dir", str(stack.state_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    env: dict[str, str] = {}
    for line in done.stdout.splitlines():
        export, assignment = shlex.split(line)
        assert export == "export"
        name, value = assignment.split("=", 1)
        env[name] = value
    return env


def _newcomer(env: dict[str, str]) -> dict[str, str]:
    """The printed variables and nothing else from this process but PATH and HOME."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env}


def _sources() -> list[Path]:
    roots = [REPO / "app", *(REPO / root for root in SOURCE_ROOTS)]
    return [path for root in roots for path in sorted((root / "nabd").rglob("*.py"))]


def _literal_url_names() -> set[str]:
    """Every ``NABD_..._DATABASE_URL`` spelled out in the code (aliases, ``os.environ``)."""
    names: set[str] = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(_URL_NAME.findall(node.value))
    return names


def _settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class defined in the code, imported."""
    found: list[type[BaseSettings]] = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
        if not any(name.endswith("Settings") for name in classes):
            continue
        parts = path.relative_to(REPO).with_suffix("").parts[1:]
        module = importlib.import_module(".".join(parts))
        for name in classes:  # also subclasses of another settings class (IngestSettings)
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings:
                found.append(cls)
    return found


def _settings_url_names() -> set[str]:
    """The variable each settings class reads a ``*database_url`` field from."""
    names: set[str] = set()
    for cls in _settings_classes():
        for name, field in cls.model_fields.items():
            if name.endswith("database_url"):
                alias = field.validation_alias
                prefix = str(cls.model_config.get("env_prefix", ""))
                names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def test_the_scan_finds_the_known_readers() -> None:
    assert {cls.__name__ for cls in _settings_classes()} >= {
        "FhirSettings",
        "IngestSettings",
        "MonitorSettings",
        "DbSettings",
    }
    found = _literal_url_names() | _settings_url_names()
    assert {
        "NABD_DATABASE_URL",
        "NABD_INGEST_DATABASE_URL",
        "NABD_ANALYTICS_DATABASE_URL",
        "NABD_CLINICAL_DATABASE_URL",
        "NABD_FHIR_DATABASE_URL",
    } <= found


def test_stack_env_prints_every_database_url_a_command_reads(nabd_stack: RunningStack) -> None:
    printed = _printed_env(nabd_stack)
    missing = (_literal_url_names() | _settings_url_names()) - set(printed)
    assert not missing, f"read by a command but not printed by `nabd stack env`: {missing}"


@pytest.mark.parametrize("login", DATABASE_ONLY)
def test_each_login_is_its_group_and_nothing_more(nabd_stack: RunningStack, login: str) -> None:
    url = _printed_env(nabd_stack)[f"NABD_{login.upper()}_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_user, pg_has_role(current_user, %s, 'member'),"
            " pg_has_role(current_user, 'nabd', 'member'),"
            " (SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles"
            "  WHERE rolname = current_user)",
            (f"nabd_{login}",),
        ).fetchone()
    assert row == (login, True, False, False)


def _seed_patient(owner_url: str) -> str:
    """A ward and a patient with an identity, under fresh ids in the stack's own database."""
    tag = secrets.token_hex(4)
    ward, patient = f"w-logins-{tag}", f"p-logins-{tag}"
    with psycopg.connect(owner_url) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES (%s, 'Logins test')", (ward,))
        conn.execute("INSERT INTO patient (id, ward_id) VALUES (%s, %s)", (patient, ward))
        conn.execute(
            "INSERT INTO identity.patient_identity (patient_id, mrn, given_name, family_name)"
            " VALUES (%s, %s, 'Amal', 'Haddad')",
            (patient, f"mrn-{tag}"),
        )
    return patient


def _export(
    env: dict[str, str], patient: str, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    argv = [str(NABD), "fhir", "export", "--patient", patient, "--since", "2026-01-01"]
    return subprocess.run(
        [*argv, "--out", str(out), *extra],
        env=_newcomer(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _patient_resource(path: Path) -> dict[str, object]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    (patient,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    return dict(patient)


def test_fhir_export_runs_with_exactly_the_printed_environment(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    env = _printed_env(nabd_stack)
    patient = _seed_patient(env["NABD_DATABASE_URL"])
    done = _export(env, patient, tmp_path / "pseudonymous.json")
    assert done.returncode == 0, done.stderr
    assert "name" not in _patient_resource(tmp_path / "pseudonymous.json")
    refused = _export(env, patient, tmp_path / "refused.json", "--identity")
    assert refused.returncode == 1
    assert "nabd_fhir_identity" in refused.stderr
    identity = env | {"NABD_FHIR_DATABASE_URL": env["NABD_FHIR_IDENTITY_DATABASE_URL"]}
    done = _export(identity, patient, tmp_path / "identity.json", "--identity")
    assert done.returncode == 0, done.stderr
    assert _patient_resource(tmp_path / "identity.json")["name"]


def test_the_nurses_commands_run_as_the_clinical_login(nabd_stack: RunningStack) -> None:
    env = _printed_env(nabd_stack)
    assert env["NABD_CLINICAL_DATABASE_URL"].startswith("postgresql://clinical:")
    done = subprocess.run(
        [str(NABD), "alerts", "list"],
        env=_newcomer(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
