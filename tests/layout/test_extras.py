"""Each component installs with its own extra: a gateway gets the edge agent without the server's
numerical and database stack. Checked on the lock file, i.e. on what really gets installed."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"numpy", "scipy", "polars", "psycopg", "psycopg-binary", "psycopg-pool"}


def _closure(extra: str) -> set[str]:
    """Every package that ``pip install nabd[extra]`` brings in on Linux, per uv.lock."""
    lock: dict[str, Any] = tomllib.loads((REPO / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    nabd = packages["nabd"]
    todo = [d["name"] for d in nabd["dependencies"]]
    todo += [d["name"] for d in nabd["optional-dependencies"][extra]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in packages[name].get("dependencies", []):
            marker = dep.get("marker", "")
            if "darwin" in marker or "win32" in marker:
                continue
            todo.append(dep["name"])
    return seen


def test_edge_gateway_install_has_no_numerical_or_database_stack() -> None:
    installed = _closure("edge")
    assert {"bleak", "bumble", "paho-mqtt", "pydantic"} <= installed
    assert installed & HEAVY == set()


@pytest.mark.parametrize(
    ("extra", "needed"),
    [
        ("ingest", {"psycopg", "paho-mqtt"}),
        ("analytics", {"numpy", "scipy"}),
        ("analytics-service", {"numpy", "scipy", "psycopg", "paho-mqtt"}),
        ("simulators", {"bumble", "numpy", "paho-mqtt"}),
        ("dashboards", {"grafana-foundation-sdk", "grafana-client"}),
        ("audit", {"cryptography", "psycopg"}),
    ],
)
def test_each_component_extra_brings_what_it_needs(extra: str, needed: set[str]) -> None:
    assert needed <= _closure(extra)


def test_analytics_extra_has_no_io_stack() -> None:
    assert _closure("analytics") & {"psycopg", "paho-mqtt", "bleak", "bumble"} == set()


def test_the_audit_signer_installs_without_the_server_stack() -> None:
    """The checkpoint writer runs on a host of its own: it needs no broker or numerics."""
    assert _closure("audit") & {"numpy", "scipy", "polars", "paho-mqtt", "bumble"} == set()
