"""Subcommand groups of the ``nabd`` CLI, one module each.

A group module exposes ``register(subparsers: Subparsers) -> None``: it adds its parser and sets
``handler`` (a :data:`Handler`) on every leaf parser with ``set_defaults``. ``nabd.app.cli`` lists
the group modules and wires them; it knows nothing else about them. Handlers import their heavy
dependencies when they run, so ``nabd --help`` needs only the base install.

A handler refuses in people's words (:mod:`nabd.app.commands.problems`): it raises a
``UsageError`` (exit 2) or ``RefusedError`` (exit 1), or lets a pydantic, psycopg or
component error go up to ``nabd.app.cli.main``, which reports it; :func:`fail` reports one it
caught itself.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[[argparse.Namespace], int]


def os_user() -> str:
    """The person at the terminal, for the audit's "who" when no ``--by`` is given.

    ``getpass.getuser`` raises on a host with no passwd entry for the uid (a container run with
    an arbitrary uid); called while building the parser, that broke every ``nabd`` command.
    """
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid-{os.getuid()}"


def fail(error: Exception) -> int:
    """Tell the user what went wrong in people's words (one line per cause, no traceback) and
    return the exit status: 2 for a usage error, else 1 (:func:`problems.report`)."""
    from nabd.app.commands import problems

    return problems.report(error, sys.stderr)
