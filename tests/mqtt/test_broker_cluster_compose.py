"""deploy/broker-cluster/, the on-paper EMQX cluster, checked without Docker: it parses, pins
its images (EMQX on the last Apache-2.0 clustering line), mounts only files that exist or that
the operator provides, and every file is described in docs/broker-cluster.md. Whether EMQX
accepts its configuration is NOT checked here (no EMQX on this machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "broker-cluster"
COMPOSE: dict[str, Any] = yaml.safe_load((FOLDER / "compose.yaml").read_text(encoding="utf-8"))
DOC = (ROOT / "docs" / "broker-cluster.md").read_text(encoding="utf-8")
OPERATOR = "secrets/"
"""Certificates and keys the operator provides; never in the repository."""


def test_three_emqx_nodes_on_the_apache_licensed_line_behind_a_tcp_balancer() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"emqx1", "emqx2", "emqx3", "haproxy"}
    for name in ("emqx1", "emqx2", "emqx3"):
        assert services[name]["image"].startswith("emqx/emqx:5.8.")
        assert services[name]["environment"]["EMQX_NODE__NAME"] == f"emqx@{name}.nabd.local"
    assert services["haproxy"]["ports"] == ["8883:8883", "8884:8884"]
    assert all(":" in s["image"] and not s["image"].endswith(":latest") for s in services.values())


def test_every_mount_exists_or_is_the_operators_and_is_documented() -> None:
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0].removeprefix("./")
            if source.startswith(OPERATOR):
                assert not (FOLDER / source).exists(), f"{source} must not be in the repository"
                assert source.removeprefix(OPERATOR) in DOC
            else:
                assert (FOLDER / source).is_file(), source
                assert f"`{source}`" in DOC, f"{source} is not described"


def test_the_configuration_is_tls_only_and_denies_what_the_acl_does_not_allow() -> None:
    conf = (FOLDER / "emqx.conf").read_text(encoding="utf-8")
    for plain in ("tcp", "ws", "wss"):
        assert f"listeners.{plain}.default.enable = false" in conf
    assert conf.count("fail_if_no_peer_cert = true") == 2
    assert "no_match = deny" in conf
    acl = (FOLDER / "acl.conf").read_text(encoding="utf-8")
    assert acl.rstrip().endswith("{deny, all}.")
