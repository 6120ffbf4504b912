"""Subcommand groups of the ``nabd`` CLI, one module each.

A group module exposes ``register(subparsers: Subparsers) -> None``: it adds its parser and sets
``handler`` (a :data:`Handler`) on every leaf parser with ``set_defaults``. ``nabd.app.cli`` lists
the group modules and wires them; it knows nothing else about them. Handlers import their heavy
dependencies when they run, so ``nabd --help`` needs only the base install.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[[argparse.Namespace], int]


def fail(error: Exception) -> int:
    """Tell the user what went wrong (one line per cause, no traceback) and return exit code 1."""
    print(f"nabd: error: {error}", file=sys.stderr)
    return 1
