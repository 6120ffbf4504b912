"""Settings of ``nabd stack`` itself: where its state lives and which binaries it runs.

Read from the environment (``NABD_`` prefix) and overridden by command-line options. These are
only the stack's own knobs; the variables that tell services where the database and broker are
live in :mod:`nabd.app.stack.env`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_CHECKOUT = Path(__file__).resolve().parents[4]


def default_state_dir() -> Path:
    """``<checkout>/.state/stack`` in a source checkout, else ``$XDG_STATE_HOME/nabd/stack``."""
    if (_CHECKOUT / "pyproject.toml").exists() and (_CHECKOUT / "app" / "nabd" / "app").is_dir():
        return _CHECKOUT / ".state" / "stack"
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "nabd" / "stack"


class StackSettings(BaseSettings):
    """``NABD_STATE_DIR``, ``NABD_PG_CONFIG``, ``NABD_MOSQUITTO``, ``NABD_STACK_TIMEOUT``,
    ``NABD_ARCHIVE_TIMEOUT``."""

    model_config = SettingsConfigDict(env_prefix="NABD_", frozen=True, extra="forbid")

    state_dir: Path = Field(default_factory=default_state_dir)
    """The state folder: cluster, broker files, CA, keys and the state file with the secrets."""
    pg_config: Path | None = None
    """``pg_config`` of the server to run; default: newest major under /usr/lib/postgresql."""
    mosquitto: Path = Path("/usr/sbin/mosquitto")
    stack_timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds each server may take to start or stop before the command fails."""
    archive_timeout: int = Field(default=60, ge=1, le=3600)
    """Once ``nabd backup`` is set up: PostgreSQL's ``archive_timeout``, the longest a written
    change waits before its WAL segment is archived, so the bound on data lost with the disk."""

    @property
    def root(self) -> Path:
        """The state folder as an absolute path."""
        return self.state_dir.expanduser().absolute()
