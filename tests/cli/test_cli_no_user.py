"""Every ``nabd`` command builds its parser on a host where the uid has no name (a container
run with an arbitrary uid): audit defaults fall back to ``uid-N`` instead of raising."""

from __future__ import annotations

import getpass
import os

import pytest

from nabd.app.cli import build_parser
from nabd.app.commands import os_user


def _no_name() -> str:
    raise OSError("No username set in the environment")


def test_the_parser_builds_without_a_user_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", _no_name)
    parser = build_parser()
    args = parser.parse_args(["patient", "export", "p-1", "--out", "x"])
    assert args.by == f"uid-{os.getuid()}"
    assert os_user() == f"uid-{os.getuid()}"
