"""What the tests of every service on the local stack share: deadline-bounded waits, unique names,
a service's migrated database, and MQTT clients built as the components build theirs.

Each service's own kit (``tests/ingest/ingest_kit.py``, ``tests/monitor/monitor_kit.py``) adds
what is particular to it. Every wait polls a condition with a deadline (:func:`wait_until`);
nothing sleeps to synchronise.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import pytest

from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.testing import MqttCredentials, RunningStack
from nabd.mqtt.client import Broker, BrokerAccount, build_client

DEADLINE_S = 15.0

Conn = psycopg.Connection[tuple[Any, ...]]


def wait_until(condition: Callable[[], Any], what: str, timeout_s: float = DEADLINE_S) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def token() -> str:
    """A short random suffix: names that no other test (or earlier run) uses."""
    return secrets.token_hex(3)


# -- database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceDb:
    """A test module's database: the owner's URL and one service's own login to it."""

    owner_url: str
    service_url: str

    @classmethod
    def migrated(cls, stack: RunningStack, fresh_url: str, service: str) -> Self:
        """Migrate the module's fresh database; ``service``'s login URL points at it too."""
        apply_migrations(fresh_url)
        name = urlsplit(fresh_url).path
        login = urlsplit(stack.env[f"NABD_{service.upper()}_DATABASE_URL"])
        return cls(fresh_url, login._replace(path=name).geturl())

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.owner_url) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Any = None) -> None:
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            conn.execute(sql, params)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Conn]:
        """An owner connection in autocommit."""
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            yield conn

    @contextlib.contextmanager
    def as_role(self, role: str) -> Iterator[Conn]:
        """An owner connection acting as a group role, for one transaction (rolled back, which
        also takes back the owner's temporary membership)."""
        with psycopg.connect(self.owner_url) as conn:
            conn.execute(f"GRANT {role} TO current_user")
            conn.execute(f"SET ROLE {role}")
            try:
                yield conn
            finally:
                conn.rollback()


# -- MQTT ----------------------------------------------------------------------------------


def broker_account(stack: RunningStack, creds: MqttCredentials) -> BrokerAccount:
    """An account of the stack's broker (a gateway's or a service's credentials)."""
    return BrokerAccount.of(Broker(stack.mqtt_host, creds.port, stack.ca_file), creds)


def stack_client(stack: RunningStack, creds: MqttCredentials, client_id: str) -> mqtt.Client:
    """A paho client for the stack's broker, built as every component builds its own
    (:func:`nabd.mqtt.client.build_client`); not yet connected."""
    return build_client(broker_account(stack, creds), client_id)
