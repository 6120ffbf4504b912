"""The local stack for test suites: start it in a throwaway folder, hand out credentials.

``tests/conftest.py`` wraps these in pytest fixtures; they live here, typed and importable, so
every component's tests can annotate their fixture arguments and reuse the same helpers.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from nabd.app.stack import lifecycle
from nabd.app.stack.env import (
    DATABASE_URL,
    EDGE,
    MQTT_CA_FILE,
    MQTT_GATEWAY_PORT,
    MQTT_HOST,
    MQTT_PORT,
    mqtt_vars,
)
from nabd.app.stack.settings import StackSettings


@dataclass(frozen=True)
class MqttCredentials:
    """What one client needs to log in: username, password (``None`` for a gateway: its
    certificate is its account), client certificate and key, and the listener's port."""

    username: str
    password: str | None = field(repr=False)
    cert_file: Path
    key_file: Path
    port: int


def _credentials(env: Mapping[str, str], component: str) -> MqttCredentials:
    names = mqtt_vars(component)
    return MqttCredentials(
        username=env[names["username"]],
        password=env.get(names["password"]),
        cert_file=Path(env[names["cert_file"]]),
        key_file=Path(env[names["key_file"]]),
        port=int(env[MQTT_PORT]),
    )


@dataclass(frozen=True)
class RunningStack:
    """A started stack: its settings and the variables ``nabd stack env`` prints for it."""

    settings: StackSettings
    env: Mapping[str, str] = field(repr=False)

    @property
    def state_dir(self) -> Path:
        return self.settings.root

    @property
    def database_url(self) -> str:
        """The owner's URL to the ``nabd`` database (``NABD_DATABASE_URL``)."""
        return self.env[DATABASE_URL]

    @property
    def mqtt_host(self) -> str:
        return self.env[MQTT_HOST]

    @property
    def mqtt_port(self) -> int:
        return int(self.env[MQTT_PORT])

    @property
    def gateway_port(self) -> int:
        """The gateways' listener: a gateway's certificate is its account there."""
        return int(self.env[MQTT_GATEWAY_PORT])

    @property
    def ca_file(self) -> Path:
        return Path(self.env[MQTT_CA_FILE])

    def service(self, name: str) -> MqttCredentials:
        """Broker credentials of a service: ``ingest``, ``analytics`` or ``dashboards``."""
        return _credentials(self.env, name)

    def add_gateway(self, gateway_id: str) -> MqttCredentials:
        """Create (or reuse) a gateway's account, as ``nabd stack gateway add`` does."""
        lifecycle.add_gateway(self.settings, gateway_id)
        return _credentials(lifecycle.environment(self.settings, gateway_id), EDGE)

    def add_gateways(self, gateway_ids: Sequence[str]) -> dict[str, MqttCredentials]:
        """Accounts for many gateways at once (one admin connection, or one broker restart for
        more than ``lifecycle.RESTART_ABOVE``), by gateway id."""
        lifecycle.add_gateways(self.settings, gateway_ids)
        environments = lifecycle.gateway_environments(self.settings, gateway_ids)
        return {g: _credentials(env, EDGE) for g, env in environments.items()}

    def remove_gateway(self, gateway_id: str) -> None:
        """Revoke a gateway, as ``nabd stack gateway remove`` does."""
        lifecycle.remove_gateway(self.settings, gateway_id)


@contextlib.contextmanager
def running_stack(
    state_dir: Path, timeout: float = 30.0, *, ha: bool = False, **overrides: Any
) -> Iterator[RunningStack]:
    """Start a stack in ``state_dir``; stop it on exit, also when starting failed half-way.
    ``ha`` makes it a Patroni cluster (``nabd stack up --ha``); ``overrides`` are other
    :class:`StackSettings` fields (``archive_timeout=3``)."""
    settings = StackSettings(state_dir=state_dir, stack_timeout=timeout, **overrides)
    try:
        lifecycle.up(settings, want_ha=ha)
        yield RunningStack(settings, lifecycle.environment(settings))
    finally:
        lifecycle.down(settings)


@contextlib.contextmanager
def fresh_database(owner_url: str, prefix: str = "nabd_test") -> Iterator[str]:
    """A new, empty database with TimescaleDB, owned by the owner; dropped on exit.

    ``owner_url`` must be a ``postgresql://`` URL; yields the new database's URL (same
    credentials). Schema migrations are the caller's business.
    """
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlsplit(owner_url)._replace(path=f"/{name}").geturl()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET client_min_messages = warning")
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        yield url
    finally:
        _drop_database(owner_url, name)


def _drop_database(owner_url: str, name: str, wait_s: float = 60.0) -> None:
    """Drop ``name`` once other roles' sessions on it have ended (bounded by ``wait_s``).

    The owner is not a superuser, so ``WITH (FORCE)`` may terminate only its own sessions: a
    service login's connection that is still closing (a worker thread finishing its last
    statement) would make the drop fail. New connections are refused first, then the drop waits
    for the stragglers; one that outlives ``wait_s`` is a leak and the drop reports it.
    """
    ident = sql.Identifier(name)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        end = time.monotonic() + wait_s
        stragglers = _other_sessions(conn, name)
        while stragglers and time.monotonic() < end:
            time.sleep(0.1)
            stragglers = _other_sessions(conn, name)
        if stragglers:
            raise RuntimeError(
                f"database {name}: other roles' sessions still open after {wait_s:.0f} s"
                f" (a connection leak in the test): {stragglers}"
            )
        for attempt in range(5):  # a session of another role (TimescaleDB's background
            try:  # scheduler) can appear between the check and the drop: it ends on its own
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
                return
            except psycopg.errors.InsufficientPrivilege:
                if attempt == 4:
                    raise
                time.sleep(1.0)


def _other_sessions(conn: psycopg.Connection[Any], name: str) -> list[tuple[Any, ...]]:
    """Other roles' client sessions on ``name``: who, which program, doing what."""
    return conn.execute(
        "SELECT usename, application_name, state, left(query, 80) FROM pg_stat_activity"
        " WHERE datname = %s AND usename <> current_user AND backend_type = 'client backend'",
        (name,),
    ).fetchall()


def database_name(url: str) -> str:
    """The database a URL or conninfo string points at."""
    return str(conninfo_to_dict(url)["dbname"])
