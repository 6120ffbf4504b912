"""Helpers of the care-operations tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeAlias

import psycopg
import pytest

from nabd.app.cli import main

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]
Run: TypeAlias = Callable[..., tuple[int, str, str]]
"""``run(*args)`` -> (exit status, stdout, stderr) of ``nabd ARGS`` as the care login."""


def token() -> str:
    """A short random suffix: tests share the module's database."""
    return secrets.token_hex(3)


class CareCli:
    """``nabd ARGS --database-url URL --by WHO`` run in-process as the care login, as a ward's
    staff would type it; asserts it succeeded and returns what it printed. ``by=None`` leaves
    ``--by`` out (commands that name the person otherwise, e.g. ``--collected-by``)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], url: str, by: str = "Nurse Ines"):
        self.capsys, self.url, self.by = capsys, url, by

    def __call__(self, *args: str, by: str | None = "") -> str:
        who = self.by if by == "" else by
        self.capsys.readouterr()
        status = main([*args, "--database-url", self.url, *(("--by", who) if who else ())])
        assert status == 0, (args, self.capsys.readouterr().err)
        return self.capsys.readouterr().out
