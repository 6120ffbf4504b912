"""deploy/compose.yaml, checked without a Docker engine: it parses, pins its images, mounts
files that exist (or that docs/dashboards.md tells the operator to provide), runs Nabd commands
that the real CLI accepts, and wires Grafana to the provisioning that ``dashboards export``
writes. The broker's ACL is the local stack's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from nabd.app.cli import build_parser
from nabd.app.stack.accounts import render_acl
from nabd.dashboards.provisioning import DEFAULT_MOUNT, ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
OPERATOR_FILES = ("tls", "tls/ca.crt", "tls/broker.crt", "tls/broker.key", "mosquitto/passwd")
"""Secrets the operator provides (docs/dashboards.md lists them); never in the repository."""


def _bind_mounts() -> list[tuple[str, str, str]]:
    """(service, host path relative to deploy/, container path) of every bind mount."""
    mounts = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                mounts.append((name, source.removeprefix("./"), target))
    return mounts


def test_the_stack_has_every_part() -> None:
    assert set(SERVICES) == {
        "timescaledb",
        "mosquitto",
        "migrate",
        "ingest",
        "analytics",
        "retention",
        "dashboards-export",
        "grafana",
    }
    assert SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), name
        assert not image.endswith(":latest"), name


def test_mounted_files_exist_or_are_the_operators_documented_secrets() -> None:
    docs = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for service, source, _ in _bind_mounts():
        if source in OPERATOR_FILES:
            assert f"deploy/{source}" in docs, f"{source} is not documented"
        else:
            assert (DEPLOY / source).is_file(), f"{service} mounts missing {source}"
    for service in SERVICES.values():
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "build" in s])
def test_nabd_services_run_commands_the_cli_accepts(name: str) -> None:
    args = build_parser().parse_args(SERVICES[name]["command"])
    assert callable(args.handler)


def test_grafana_reads_what_the_export_writes() -> None:
    grafana, export = SERVICES["grafana"], SERVICES["dashboards-export"]
    volume, target = export["command"][-1], None
    for mount in export["volumes"]:
        if mount.split(":")[1] == volume:
            target = mount.split(":")[0]
    assert target is not None
    assert f"{target}:{DEFAULT_MOUNT}:ro" in grafana["volumes"]
    assert set(ENVIRONMENT.values()) <= set(grafana["environment"])
    assert (
        grafana["depends_on"]["dashboards-export"]["condition"] == "service_completed_successfully"
    )


def test_services_log_in_as_their_own_least_privilege_users() -> None:
    for name in ("ingest", "analytics"):
        url = SERVICES[name]["environment"][f"NABD_{name.upper()}_DATABASE_URL"]
        assert url.startswith(f"postgresql://{name}:")
    assert SERVICES["grafana"]["environment"]["NABD_DASHBOARDS_DB_USER"] == "dashboards"


def test_the_broker_acl_is_the_local_stacks() -> None:
    def rules(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    assert rules((DEPLOY / "mosquitto" / "acl").read_text(encoding="utf-8")) == rules(render_acl())
    config = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    assert "require_certificate true" in config
    assert "allow_anonymous false" in config
    assert re.search(r"^listener 8883$", config, re.MULTILINE)
