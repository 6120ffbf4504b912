"""The ``nabd`` namespace package: nine source roots, no ``nabd/__init__.py`` anywhere.

A stray ``nabd/__init__.py`` makes its root a regular package that shadows all the other portions
at run time, while mypy (which reads every root) still passes: only a test at run time sees it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import nabd

REPO = Path(__file__).resolve().parents[2]
ROOTS = (
    "contract",
    "mqtt",
    "edge",
    "ingest",
    "analytics",
    "dashboards",
    "simulators",
    "interop",
    "care",
    "station",
    "app",
)


def test_no_init_in_any_namespace_root() -> None:
    strays = [root for root in ROOTS if (REPO / root / "nabd" / "__init__.py").exists()]
    assert strays == []


def test_every_root_is_a_portion_of_the_namespace() -> None:
    portions = {Path(p).resolve() for p in nabd.__path__}
    assert portions == {(REPO / root / "nabd").resolve() for root in ROOTS}


def test_every_portion_imports_in_a_fresh_interpreter() -> None:
    code = "; ".join(f"import nabd.{root}" for root in ROOTS)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_editable_install_and_wheel_list_every_root() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    hatch = config["tool"]["hatch"]["build"]
    assert sorted(hatch["dev-mode-dirs"]) == sorted(ROOTS)
    assert sorted(hatch["targets"]["wheel"]["only-include"]) == sorted(f"{r}/nabd" for r in ROOTS)
