"""Helpers of the care-operations tests."""

from __future__ import annotations

import secrets
from typing import Any, TypeAlias

import psycopg

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]


def token() -> str:
    """A short random suffix: tests share the module's database."""
    return secrets.token_hex(3)
