"""Helpers of the care-operations tests."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeAlias

import psycopg

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]
Run: TypeAlias = Callable[..., tuple[int, str, str]]
"""``run(*args)`` -> (exit status, stdout, stderr) of ``nabd ARGS`` as the care login."""


def token() -> str:
    """A short random suffix: tests share the module's database."""
    return secrets.token_hex(3)
