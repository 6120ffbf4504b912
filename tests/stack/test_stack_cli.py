"""The ``nabd`` command line: wiring, help without optional dependencies, error reporting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nabd.app.cli import main

_HELP_WITHOUT_EXTRAS = """
import contextlib, io, sys
for name in ("psycopg", "cryptography", "paho", "numpy"):
    sys.modules[name] = None  # any import of these now fails, as without the extras
from nabd.app.cli import main
for argv in (["--help"], ["stack", "--help"], ["stack", "env", "--help"],
             ["stack", "gateway", "add", "--help"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(argv)
    assert out.getvalue().startswith("usage: nabd"), (argv, out.getvalue())
    print(argv, "ok")
"""


def test_help_works_without_the_optional_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _HELP_WITHOUT_EXTRAS], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" ok") == 4


def test_every_stack_action_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stack", "--help"])
    out = capsys.readouterr().out
    for action in ("up", "down", "status", "env", "gateway"):
        assert f"    {action} " in out


def test_no_command_prints_help_and_fails_as_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 2
    assert main(["stack"]) == 2
    assert "usage: nabd stack" in capsys.readouterr().err


@pytest.mark.parametrize(
    "action", [["env"], ["status"], ["gateway", "add", "gw-1"], ["gateway", "remove", "gw-1"]]
)
def test_stack_errors_are_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    assert main(["stack", *action, "--state-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nabd: error: no stack in ")
    assert "nabd stack up" in err
    assert "Traceback" not in err


def test_down_on_an_empty_folder_is_a_no_op(tmp_path: Path) -> None:
    assert main(["-q", "stack", "down", "--state-dir", str(tmp_path)]) == 0
    assert list(tmp_path.iterdir()) == []
