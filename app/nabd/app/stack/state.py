"""What a stack chose once and must keep: its ports and its generated credentials.

Stored as JSON in the state folder, mode 0600, and nowhere else: secrets never enter the
repository, the logs or a command line. Validated on load (strict, ``extra="forbid"``), so a
hand-edited or truncated file is reported instead of half-used. Passwords are ``SecretStr`` so a
stray ``repr`` or log line shows ``**********``; only the JSON file and ``nabd stack env`` reveal
them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from nabd.app.stack.accounts import (
    BROKER_ONLY,
    DATABASE_ONLY,
    PROBE_ACCOUNT,
    SERVICES,
    check_gateway_id,
)
from nabd.app.stack.errors import StackInputError
from nabd.app.stack.layout import Layout

Port = Annotated[int, Field(ge=1024, le=65535)]
Secret = Annotated[
    SecretStr, PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")
]

SUPERUSER: Final = "postgres"
"""The cluster's bootstrap superuser: only the stack itself logs in with it."""
OWNER: Final = "nabd"
"""Owns the ``nabd`` database; runs migrations; not a superuser (CREATEDB, CREATEROLE)."""
DATABASE: Final = "nabd"


def new_secret() -> SecretStr:
    """A fresh password: 32 URL-safe characters (192 bits), safe unquoted in URLs and shells."""
    return SecretStr(secrets.token_urlsafe(24))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Account(_Frozen):
    """One login: the password (its name is the key it is stored under)."""

    password: Secret


class PostgresState(_Frozen):
    """The private cluster: its port and the passwords of its roles."""

    port: Port
    superuser_password: Secret
    owner_password: Secret
    services: dict[str, Account]
    """Login roles per service and database-only login, members of the migrations'
    ``nabd_<name>`` group roles."""


class GatewayAccount(_Frozen):
    """A gateway's account: nothing secret is stored. Its client certificate (signed by the
    gateways' CA, common name = its client id) is its identity on the gateway listener."""

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_password(cls, value: object) -> object:
        """Stacks made before certificate-bound gateways stored an unused password."""
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k != "password"}
        return value


class MqttState(_Frozen):
    """The broker: its two TLS ports and one account per service and per gateway."""

    port: Port
    """The services' listener: client certificate of the stack's CA and a password."""
    gateway_port: Port | None = None
    """The gateways' listener: a gateway certificate is the account (``None``: a stack made
    before it, given one on its next ``up``)."""
    services: dict[str, Account]
    gateways: dict[str, GatewayAccount]
    revoked: tuple[int, ...] = ()
    """Serial numbers of removed gateways' client certificates: the broker's CRL."""

    @field_validator("gateways")
    @classmethod
    def _gateway_ids(cls, value: dict[str, GatewayAccount]) -> dict[str, GatewayAccount]:
        for gateway_id in value:
            check_gateway_id(gateway_id)
        return value


class BackupState(_Frozen):
    """Set by the first ``nabd backup run``: the passphrase pgBackRest encrypts the repository
    with (AES-256-CBC). Without it no backup can be restored: keep a copy off this machine."""

    cipher_pass: Secret


class HaNode(_Frozen):
    """One Patroni-managed PostgreSQL server of an ``--ha`` stack: its ports."""

    pg_port: Port
    api_port: Port
    """Patroni's REST API (role, state, ``/cluster``), on 127.0.0.1 only."""


class HaState(_Frozen):
    """An ``nabd stack up --ha`` cluster: one local etcd and two Patroni nodes.

    The first node's PostgreSQL port is ``postgres.port``; the roles and their passwords are
    the single-node stack's (``postgres``), plus the streaming replication login."""

    etcd_port: Port
    etcd_peer_port: Port
    nodes: tuple[HaNode, ...] = Field(min_length=2)
    replication_password: Secret
    api_password: Secret
    """Patroni's REST API asks it (user ``nabd``) for what changes the cluster (switchover,
    restart, configuration); reading the cluster's state needs none."""


class StackState(_Frozen):
    """Everything ``nabd stack up`` decided the first time and reuses afterwards."""

    format: Literal[1] = 1
    postgres: PostgresState
    mqtt: MqttState
    backup: BackupState | None = None
    """``None`` until ``nabd backup run`` sets backups up (then WAL is archived continuously)."""
    ha: HaState | None = None
    """``None`` for the single-node stack; set once, by the first ``nabd stack up --ha``."""

    @property
    def pg_ports(self) -> tuple[int, ...]:
        """Every PostgreSQL port clients may try, in order (one, or one per HA node)."""
        if self.ha is None:
            return (self.postgres.port,)
        return tuple(node.pg_port for node in self.ha.nodes)

    def with_ha(self, ha: HaState) -> StackState:
        """This state as an HA cluster (unchanged when it is one already)."""
        if self.ha is not None:
            return self
        return self.model_copy(update={"ha": ha})

    def with_backup(self) -> StackState:
        """This state with a backup passphrase (unchanged when it has one already)."""
        if self.backup is not None:
            return self
        passphrase = SecretStr(secrets.token_urlsafe(48))
        return self.model_copy(update={"backup": BackupState(cipher_pass=passphrase)})

    def with_gateway_port(self, port: int) -> StackState:
        """This state with ``port`` as the gateways' listener when it has none yet."""
        if self.mqtt.gateway_port is not None:
            return self
        return self.model_copy(update={"mqtt": self.mqtt.model_copy(update={"gateway_port": port})})

    def with_broker_accounts(self) -> StackState:
        """This state plus any broker-only account it predates (a stack made before the
        account existed gets it on its next ``up``); unchanged when nothing is missing."""
        missing = _missing(self.mqtt.services, BROKER_ONLY)
        if not missing:
            return self
        services = {**self.mqtt.services, **missing}
        return self.model_copy(update={"mqtt": self.mqtt.model_copy(update={"services": services})})

    def with_database_logins(self) -> StackState:
        """This state plus any database-only login it predates (created on the next ``up``);
        unchanged when nothing is missing."""
        missing = _missing(self.postgres.services, DATABASE_ONLY)
        if not missing:
            return self
        logins = {**self.postgres.services, **missing}
        postgres = self.postgres.model_copy(update={"services": logins})
        return self.model_copy(update={"postgres": postgres})

    def with_gateway(self, gateway_id: str) -> StackState:
        """This state plus a gateway account (unchanged if the gateway already has one)."""
        return self.with_gateways([gateway_id])

    def with_gateways(self, gateway_ids: Iterable[str]) -> StackState:
        """This state plus an account for each gateway that has none yet (one copy, so adding
        thousands costs one pass)."""
        new = {
            gateway_id: GatewayAccount()
            for gateway_id in map(check_gateway_id, gateway_ids)
            if gateway_id not in self.mqtt.gateways
        }
        if not new:
            return self
        gateways = {**self.mqtt.gateways, **new}
        return self.model_copy(update={"mqtt": self.mqtt.model_copy(update={"gateways": gateways})})

    def without_gateway(self, gateway_id: str, cert_serial: int | None = None) -> StackState:
        """This state without the gateway's account; its certificate (when it had one) revoked."""
        gateways = {k: v for k, v in self.mqtt.gateways.items() if k != gateway_id}
        revoked = self.mqtt.revoked + (() if cert_serial is None else (cert_serial,))
        mqtt = self.mqtt.model_copy(update={"gateways": gateways, "revoked": revoked})
        return self.model_copy(update={"mqtt": mqtt})


def _missing(accounts: dict[str, Account], names: Iterable[str]) -> dict[str, Account]:
    """A fresh account for each of ``names`` that ``accounts`` lacks."""
    return {name: Account(password=new_secret()) for name in names if name not in accounts}


def new_state(pg_port: int, mqtt_port: int, gateway_port: int) -> StackState:
    """A first state: the given ports and fresh passwords for every role and account."""
    return StackState(
        postgres=PostgresState(
            port=pg_port,
            superuser_password=new_secret(),
            owner_password=new_secret(),
            services={name: Account(password=new_secret()) for name in (*SERVICES, *DATABASE_ONLY)},
        ),
        mqtt=MqttState(
            port=mqtt_port,
            gateway_port=gateway_port,
            services={
                name: Account(password=new_secret())
                for name in (*SERVICES, PROBE_ACCOUNT, *BROKER_ONLY)
            },
            gateways={},
        ),
    )


def load_state(layout: Layout) -> StackState | None:
    """The stored state, ``None`` if there is none yet; a damaged file raises."""
    try:
        text = layout.state_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return StackState.model_validate_json(text)
    except ValidationError as exc:
        raise StackInputError(f"{layout.state_file} is not a valid stack state: {exc}") from exc


def save_state(layout: Layout, state: StackState) -> None:
    """Write the state atomically, readable by the invoking user only (0600)."""
    _write_private(layout.state_file, state.model_dump_json(indent=2) + "\n")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.chmod(0o600)
    tmp.replace(path)
