"""``nabd stack up | down | status | env`` and gateway accounts, on one state folder.

Every operation takes an exclusive lock on the state folder, so two ``stack up`` at once (two
terminals, two test sessions on the same folder) cannot race each other into a half-made
cluster. ``up`` is idempotent: it creates what is missing, reuses the recorded ports and
secrets, starts what is not running and waits, with a deadline, until each server accepts a
client.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg

from nabd.app.audit import signing
from nabd.app.stack import (
    control,
    dynsec,
    ha,
    mosquitto,
    pgbackrest,
    postgres,
    provision,
    tls,
    wire,
)
from nabd.app.stack.accounts import (
    BROKER_ONLY,
    DATABASE_ONLY,
    PROBE_ACCOUNT,
    SERVICES,
    check_gateway_id,
)
from nabd.app.stack.env import (
    AUDIT_PUBLIC_KEY_FILE,
    AUDIT_SIGNING_KEY_FILE,
    DATABASE_URL,
    EDGE,
    FHIR_LOCAL_URL,
    FHIR_PUBLIC_URL,
    GATEWAY_ID,
    MQTT_CA_FILE,
    MQTT_GATEWAY_PORT,
    MQTT_HOST,
    MQTT_PORT,
    WEB_TLS_CERT_FILE,
    WEB_TLS_KEY_FILE,
    database_url,
    mqtt_credentials,
    service_database_url_var,
)
from nabd.app.stack.errors import (
    ServiceStartError,
    StackInputError,
    StackNotInitialisedError,
    TimescaleDBMissingError,
)
from nabd.app.stack.layout import Layout
from nabd.app.stack.ports import LOCALHOST, free_port, require_free
from nabd.app.stack.privileges import (
    MOSQUITTO_USER,
    POSTGRES_USER,
    ServiceUser,
    check_reachable,
    is_root,
    service_user,
)
from nabd.app.stack.settings import StackSettings
from nabd.app.stack.state import (
    DATABASE,
    OWNER,
    SUPERUSER,
    StackState,
    load_state,
    new_state,
    save_state,
)
from nabd.app.stack.timescale import TimescaleFeatures, timescaledb_features
from nabd.contract.topics import gateway_client_id

log = logging.getLogger(__name__)

MIGRATIONS_MODULE = "nabd.app.db.migrations"

REPLICA_READERS: Final = frozenset({"dashboards"})
"""Logins that only read, so on an --ha stack their URL prefers a standby
(``target_session_attrs=prefer-standby``): dashboards' queries leave the primary to the writers."""

RESTART_ABOVE = 200
"""Adding more gateways than this at once restarts a running broker instead of sending one
command per account: the dynamic-security plugin rewrites its whole file after every command
(Mosquitto 2.0.11), so 1000 accounts took 55 s by commands and take a restart (about a second)
from a file written in one go. Persistence keeps every session and queued message; connected
clients reconnect."""


@dataclass(frozen=True)
class ServiceStatus:
    """One server: whether it runs, where, and its pid."""

    name: str
    running: bool
    port: int
    pid: int | None


@dataclass(frozen=True)
class StackStatus:
    """Both servers, the TimescaleDB features (when PostgreSQL runs) and the gateways."""

    state_dir: Path
    postgres: ServiceStatus
    mosquitto: ServiceStatus
    timescaledb: TimescaleFeatures | None
    gateways: tuple[str, ...]
    gateway_port: int | None = None
    """The broker's gateways' listener (``None``: a stack ``up`` has not upgraded yet)."""
    cluster: tuple[str, ...] = ()
    """An ``--ha`` stack's nodes as Patroni sees them (``node0 leader running :port``)."""

    @property
    def running(self) -> bool:
        return self.postgres.running and self.mosquitto.running


@contextlib.contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    if not layout.root.is_dir():
        raise StackNotInitialisedError(f"no stack in {layout.root}: run `nabd stack up` first")
    with layout.lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_root(layout: Layout) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    # As root the servers run as other users: they must be able to enter (not list) the folder.
    layout.root.chmod(0o711 if is_root() else 0o700)
    for private in (layout.tls_dir, layout.clients_dir):
        private.mkdir(mode=0o700, exist_ok=True)
        private.chmod(0o700)


@contextlib.contextmanager
def holding(settings: StackSettings) -> Iterator[tuple[Layout, StackState]]:
    """The state folder locked against every other stack command, and its state: for the
    operations beside ``up`` and ``down`` that change the cluster (``nabd backup``)."""
    layout = Layout(settings.root)
    with _locked(layout):
        state = _existing(layout)
        if state.ha is not None:
            raise StackInputError(
                "nabd backup does not handle an --ha stack yet: its replica is the second copy;"
                " use a single-node stack (a state folder without --ha) for pgBackRest backups"
            )
        yield layout, state


def _load_or_create(layout: Layout, want_ha: bool = False) -> StackState:
    state = load_state(layout)
    if state is None:
        pg_port = free_port()
        mqtt_port = free_port(exclude={pg_port})
        state = new_state(pg_port, mqtt_port, free_port(exclude={pg_port, mqtt_port}))
        save_state(layout, state)
        log.info("stack: new state in %s", layout.root)
    taken = {state.postgres.port, state.mqtt.port}
    upgraded = (
        state.with_broker_accounts()
        .with_database_logins()
        .with_gateway_port(free_port(exclude=taken))
    )
    if upgraded is not state:
        save_state(layout, upgraded)
        log.info("stack: added the accounts and logins this stack predates")
    if want_ha and upgraded.ha is None:
        if (layout.pg_data / "PG_VERSION").exists():
            raise StackInputError(
                f"{layout.root} already holds a single-node PostgreSQL: --ha makes a new"
                " cluster, so give it another state folder (--state-dir or NABD_STATE_DIR)"
            )
        taken = {upgraded.mqtt.port, upgraded.mqtt.gateway_port or 0}
        upgraded = upgraded.with_ha(ha.new_ha_state(upgraded.postgres.port, taken))
        save_state(layout, upgraded)
        log.info("stack: this stack is an --ha cluster (Patroni + etcd)")
    return upgraded


def _existing(layout: Layout) -> StackState:
    state = load_state(layout) if layout.root.exists() else None
    if state is None:
        raise StackNotInitialisedError(f"no stack in {layout.root}: run `nabd stack up` first")
    return state


def _issue_gateway_certificate(cas: mosquitto.Authorities, layout: Layout, gateway: str) -> None:
    """Signed by the gateways' CA; its common name is the gateway's username and client id."""
    tls.ensure_leaf(
        cas.gateways,
        dynsec.gateway_username(gateway),
        server=False,
        cert_path=layout.client_cert(gateway),
        key_path=layout.client_key(gateway),
    )


def _issue_certificates(layout: Layout, state: StackState) -> None:
    cas = mosquitto.Authorities.of(layout)
    ca = cas.stack
    layout.mqtt_dir.mkdir(mode=0o700, exist_ok=True)
    tls.ensure_leaf(
        ca, "localhost", server=True, cert_path=layout.mqtt_cert, key_path=layout.mqtt_key
    )
    layout.web_dir.mkdir(mode=0o700, exist_ok=True)
    tls.ensure_leaf(
        ca, "localhost", server=True, cert_path=layout.web_cert, key_path=layout.web_key
    )
    for account in state.mqtt.services:
        tls.ensure_leaf(
            ca,
            account,
            server=False,
            cert_path=layout.client_cert(account),
            key_path=layout.client_key(account),
        )
    for gateway in state.mqtt.gateways:
        _issue_gateway_certificate(cas, layout, gateway)


def _owner_url(state: StackState) -> str:
    return database_url(
        OWNER, state.postgres.owner_password.get_secret_value(), state.pg_ports, DATABASE
    )


def _admin_url(state: StackState) -> str:
    password = state.postgres.superuser_password.get_secret_value()
    return provision.admin_url(state.pg_ports, SUPERUSER, password)


def _apply_migrations(owner_url: str) -> None:
    """Run the schema migrations when the module exists; its absence is not an error."""
    try:
        from nabd.app.db.migrations import apply_migrations  # noqa: PLC0415  (optional part)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{MIGRATIONS_MODULE}.".startswith(f"{exc.name}."):
            log.info("stack: no %s module, no migrations to apply", MIGRATIONS_MODULE)
            return
        raise
    applied = apply_migrations(owner_url)
    log.info("postgres: migrations applied now: %s", ", ".join(applied) or "none (up to date)")


def _up_postgres(settings: StackSettings, layout: Layout, state: StackState) -> None:
    install = postgres.find_install(settings.pg_config)
    postgres.require_timescaledb(install)
    user = service_user(POSTGRES_USER)
    check_reachable(layout.root, user)
    if state.ha is not None:
        ha.up(install, layout, state, user, settings.stack_timeout)
        return
    pg = state.postgres
    postgres.init_cluster(
        install, layout, user, SUPERUSER, pg.superuser_password.get_secret_value()
    )
    if postgres.is_running(install, layout, user):
        log.info("postgres: already running on %s:%d", LOCALHOST, pg.port)
        return
    require_free(pg.port, f"recorded in {layout.state_file}")
    if state.backup is not None:
        pgbackrest.write_files(layout, state, user)
    archiving = pgbackrest.archiving(layout, state, settings.archive_timeout)
    postgres.configure(layout, user, pg.port, archiving)
    postgres.start(install, layout, user, settings.stack_timeout)
    log.info("postgres: started on %s:%d", LOCALHOST, pg.port)


def _provision_database(state: StackState) -> None:
    """Roles, database, extension, migrations, memberships: each step a no-op when done."""
    pg = state.postgres
    logins = {name: account.password.get_secret_value() for name, account in pg.services.items()}
    try:
        provision.ensure_roles_and_database(
            _admin_url(state), OWNER, pg.owner_password.get_secret_value(), DATABASE, logins
        )
        provision.ensure_timescaledb(_owner_url(state))
        _apply_migrations(_owner_url(state))
        granted = provision.grant_service_groups(_admin_url(state), pg.services)
    except psycopg.Error as exc:
        raise ServiceStartError(f"preparing the {DATABASE} database failed: {exc}") from exc
    if granted:
        log.info("postgres: service logins are members of %s", ", ".join(granted))


def _probe_credentials(layout: Layout, state: StackState) -> wire.ProbeCredentials:
    return wire.ProbeCredentials(
        ca=layout.ca_cert,
        cert=layout.client_cert(PROBE_ACCOUNT),
        key=layout.client_key(PROBE_ACCOUNT),
        username=PROBE_ACCOUNT,
        password=state.mqtt.services[PROBE_ACCOUNT].password.get_secret_value(),
    )


def _mosquitto_user() -> ServiceUser | None:
    return service_user(MOSQUITTO_USER)


def _up_mosquitto(settings: StackSettings, layout: Layout, state: StackState) -> None:
    if mosquitto.running_pid(layout) is not None:
        if mosquitto.listens_on(layout, _gateway_port(state)):
            log.info("mosquitto: already running on %s:%d", LOCALHOST, state.mqtt.port)
            return
        # A broker started before the gateways' listener existed: its accounts and listeners
        # are rewritten from the state (persistence keeps sessions and queued messages).
        log.info("mosquitto: restarting to open the gateways' listener")
        mosquitto.stop(layout, settings.stack_timeout)
    user = _mosquitto_user()
    check_reachable(layout.root, user)
    mosquitto.write_config(layout, state.mqtt, mosquitto.Authorities.of(layout), user)
    mosquitto.start(
        layout,
        settings.mosquitto,
        (state.mqtt.port, _gateway_port(state)),
        _probe_credentials(layout, state),
        settings.stack_timeout,
    )
    log.info(
        "mosquitto: started on %s:%d (services) and :%d (gateways), TLS",
        LOCALHOST,
        state.mqtt.port,
        _gateway_port(state),
    )


def _gateway_port(state: StackState) -> int:
    if state.mqtt.gateway_port is None:  # only a state `up` has not upgraded yet
        raise StackNotInitialisedError("this stack has no gateway listener yet: `nabd stack up`")
    return state.mqtt.gateway_port


def _restart_mosquitto(settings: StackSettings, layout: Layout, state: StackState) -> None:
    mosquitto.stop(layout, settings.stack_timeout)
    _up_mosquitto(settings, layout, state)
    log.info("mosquitto: restarted with %d gateway accounts", len(state.mqtt.gateways))


def up(settings: StackSettings, *, want_ha: bool = False) -> StackStatus:
    """Create what is missing and start what is not running; return the resulting status.

    ``want_ha`` makes a new stack an HA cluster (Patroni + etcd, :mod:`.ha`); a stack that is
    one stays one without it."""
    layout = Layout(settings.root)
    _make_root(layout)
    with _locked(layout):
        state = _load_or_create(layout, want_ha)
        _issue_certificates(layout, state)
        signing.ensure(layout.audit_key)
        _up_postgres(settings, layout, state)
        _provision_database(state)
        _up_mosquitto(settings, layout, state)
    return status(settings)


def down(settings: StackSettings) -> None:
    """Stop both servers (PostgreSQL with ``-m fast``); a stopped or absent stack is fine."""
    layout = Layout(settings.root)
    if not layout.state_file.exists():
        log.info("stack: nothing in %s", layout.root)
        return
    with _locked(layout):
        mosquitto.stop(layout, settings.stack_timeout)
        state = _existing(layout)
        if state.ha is not None:
            ha.down(layout, state, settings.stack_timeout)
            return
        install = postgres.find_install(settings.pg_config)
        user = service_user(POSTGRES_USER)
        if postgres.is_running(install, layout, user):
            postgres.stop(install, layout, user, settings.stack_timeout)
            log.info("postgres: stopped")


def _features(state: StackState) -> TimescaleFeatures | None:
    try:
        return timescaledb_features(_owner_url(state))
    except (TimescaleDBMissingError, psycopg.Error):
        return None  # running but not (yet) provisioned: `status` still answers


def status(settings: StackSettings) -> StackStatus:
    """Whether each server runs, on which port, and what its TimescaleDB can do."""
    layout = Layout(settings.root)
    state = _existing(layout)
    pg = _postgres_status(settings, layout, state)
    mqtt_pid = mosquitto.running_pid(layout)
    return StackStatus(
        state_dir=layout.root,
        postgres=pg,
        mosquitto=ServiceStatus("mosquitto", mqtt_pid is not None, state.mqtt.port, mqtt_pid),
        timescaledb=_features(state) if pg.running else None,
        gateways=tuple(sorted(state.mqtt.gateways)),
        gateway_port=state.mqtt.gateway_port,
        cluster=_cluster_lines(state),
    )


def _postgres_status(settings: StackSettings, layout: Layout, state: StackState) -> ServiceStatus:
    """The single server, or an --ha cluster's primary (running: a primary is elected)."""
    if state.ha is not None:
        leader = ha.leader_index(state.ha)
        if leader is None:
            return ServiceStatus("postgres", False, state.postgres.port, None)
        port = state.ha.nodes[leader].pg_port
        return ServiceStatus("postgres", True, port, ha.postmaster_pid(layout, leader))
    install = postgres.find_install(settings.pg_config)
    running = postgres.is_running(install, layout, service_user(POSTGRES_USER))
    pid = postgres.postmaster_pid(layout) if running else None
    return ServiceStatus("postgres", running, state.postgres.port, pid)


def _cluster_lines(state: StackState) -> tuple[str, ...]:
    if state.ha is None:
        return ()
    return tuple(
        f"{m.get('name')} {m.get('role')} {m.get('state')} {LOCALHOST}:{m.get('port')}"
        for m in ha.members(state.ha)
    )


def _broker_vars(layout: Layout, state: StackState, port: int) -> dict[str, str]:
    return {
        MQTT_HOST: LOCALHOST,
        MQTT_PORT: str(port),
        MQTT_CA_FILE: str(layout.ca_cert),
    }


def _gateway_vars(layout: Layout, state: StackState, gateway: str) -> dict[str, str]:
    """The gateway listener's port and the gateway's certificate: no password (the
    certificate is the account); the username is what the broker will take from it."""
    if check_gateway_id(gateway) not in state.mqtt.gateways:
        raise StackInputError(f"no gateway {gateway!r}: `nabd stack gateway add {gateway}`")
    cert, key = layout.client_cert(gateway), layout.client_key(gateway)
    return {
        **_broker_vars(layout, state, _gateway_port(state)),
        GATEWAY_ID: gateway,
        **mqtt_credentials(EDGE, dynsec.gateway_username(gateway), None, cert, key),
    }


def _login_vars(state: StackState, login: str) -> dict[str, str]:
    """``NABD_<LOGIN>_DATABASE_URL``, or nothing for a stack made before the login (it gets
    it on its next ``up``)."""
    account = state.postgres.services.get(login)
    if account is None:
        return {}
    password = account.password.get_secret_value()
    url = database_url(login, password, state.pg_ports, DATABASE, reads=login in REPLICA_READERS)
    return {service_database_url_var(login): url}


def _service_vars(layout: Layout, state: StackState, service: str) -> dict[str, str]:
    password = state.mqtt.services[service].password.get_secret_value()
    cert, key = layout.client_cert(service), layout.client_key(service)
    return {
        **_login_vars(state, service),
        **mqtt_credentials(service, service, password, cert, key),
    }


def environment(settings: StackSettings, gateway: str | None = None) -> dict[str, str]:
    """The variables of :mod:`nabd.app.stack.env` for the services, or for one gateway."""
    layout = Layout(settings.root)
    state = _existing(layout)
    if gateway is not None:
        return _gateway_vars(layout, state, gateway)
    variables = {
        DATABASE_URL: _owner_url(state),
        **_broker_vars(layout, state, state.mqtt.port),
        MQTT_GATEWAY_PORT: str(_gateway_port(state)),
        AUDIT_SIGNING_KEY_FILE: str(layout.audit_key),
        AUDIT_PUBLIC_KEY_FILE: str(signing.public_path(layout.audit_key)),
        FHIR_PUBLIC_URL: FHIR_LOCAL_URL,
        WEB_TLS_CERT_FILE: str(layout.web_cert),
        WEB_TLS_KEY_FILE: str(layout.web_key),
    }
    if state.ha is not None:
        variables |= ha.CLIENT_SETTINGS
    for service in SERVICES:
        variables |= _service_vars(layout, state, service)
    for login in DATABASE_ONLY:
        variables |= _login_vars(state, login)
    for account in BROKER_ONLY:
        if account in state.mqtt.services:  # a stack made before it: added on the next `up`
            password = state.mqtt.services[account].password.get_secret_value()
            cert, key = layout.client_cert(account), layout.client_key(account)
            component = account.replace("-", "_")
            variables |= mqtt_credentials(component, account, password, cert, key)
    return variables


def _send(
    settings: StackSettings, layout: Layout, state: StackState, commands: list[dynsec.Command]
) -> list[tuple[dynsec.Command, str]]:
    """Send dynamic-security commands to the running broker as the stack's admin."""
    admin = _probe_credentials(layout, state)
    return control.run(state.mqtt.port, admin, commands, settings.stack_timeout)


def _create_on_broker(
    settings: StackSettings, layout: Layout, state: StackState, gateway_ids: Sequence[str]
) -> None:
    """Create the gateways' accounts in a running broker (a no-op when it is stopped: ``up``
    writes every account from the state). An account the broker already has but the state
    did not (a half-finished earlier ``add``) is replaced, so its password matches the state."""
    if mosquitto.running_pid(layout) is None:
        return

    def commands(ids: Sequence[str]) -> list[dynsec.Command]:
        return [c for g in ids for c in dynsec.add_gateway(g)]

    refused = _send(settings, layout, state, commands(gateway_ids))
    stale = sorted(
        {
            dynsec.gateway_of(str(c["username"]))
            if "username" in c
            else str(c["rolename"]).removeprefix("gateway:")
            for c, _ in refused
        }
    )
    if not stale:
        return
    replace = [c for g in stale for c in dynsec.remove_gateway(g)] + commands(stale)
    refused = _send(settings, layout, state, replace)
    if refused:
        command, error = refused[0]
        raise control.BrokerControlError(
            f"the broker refused {command['command']} ({error}); the state file is unchanged"
        )


def add_gateway(settings: StackSettings, gateway_id: str) -> None:
    """Give a gateway a broker account and a client certificate (a running broker gets the
    account at once, no reload)."""
    add_gateways(settings, [gateway_id])
    log.info("gateway %s: account ready; `nabd stack env --gateway %s`", gateway_id, gateway_id)


def add_gateways(settings: StackSettings, gateway_ids: Sequence[str]) -> None:
    """Accounts and client certificates for many gateways at once (existing ones are kept),
    sent to a running broker over one admin connection (a load test adds thousands). Every id
    is checked before anything is written; the state is saved once the broker has them."""
    wanted = list(dict.fromkeys(check_gateway_id(g) for g in gateway_ids))
    layout = Layout(settings.root)
    with _locked(layout):
        before = _existing(layout)
        state = before.with_gateways(wanted)
        cas = mosquitto.Authorities.of(layout)
        for gateway_id in wanted:
            _issue_gateway_certificate(cas, layout, gateway_id)
        new = [g for g in wanted if g not in before.mqtt.gateways]
        if len(new) > RESTART_ABOVE and mosquitto.running_pid(layout) is not None:
            save_state(layout, state)
            _restart_mosquitto(settings, layout, state)
        else:
            _create_on_broker(settings, layout, state, new)
            save_state(layout, state)
    if len(wanted) > 1:
        log.info("gateways: %d accounts ready", len(wanted))


def gateway_environments(
    settings: StackSettings, gateway_ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """``environment(settings, gateway)`` for many gateways, reading the state once."""
    layout = Layout(settings.root)
    state = _existing(layout)
    return {g: _gateway_vars(layout, state, g) for g in gateway_ids}


def remove_gateway(settings: StackSettings, gateway_id: str) -> None:
    """Revoke a gateway: account deleted (the broker disconnects it at once), its stored session
    discarded, its certificate listed in the CRL; no broker restart.

    The state is saved first, so a failure half-way is finished by the next ``stack up``
    (which writes the broker's accounts and CRL from the state).
    """
    layout = Layout(settings.root)
    with _locked(layout):
        state = _existing(layout)
        if gateway_id not in state.mqtt.gateways:
            raise StackInputError(f"no gateway {gateway_id!r} in {layout.state_file}")
        serial = tls.serial_of(layout.client_cert(gateway_id))
        state = state.without_gateway(gateway_id, serial)
        save_state(layout, state)
        if mosquitto.running_pid(layout) is not None:
            refused = _send(settings, layout, state, dynsec.remove_gateway(gateway_id))
            if refused:
                raise control.BrokerControlError(f"the broker refused to delete: {refused[0][1]}")
            admin = _probe_credentials(layout, state)
            client_id = gateway_client_id(gateway_id)
            control.end_session(state.mqtt.port, admin, client_id, settings.stack_timeout)
        if layout.mqtt_dir.exists():
            cas = mosquitto.Authorities.of(layout)
            mosquitto.write_crl(layout, cas, state.mqtt.revoked, _mosquitto_user())
            if mosquitto.reload(layout, settings.stack_timeout):
                log.info("mosquitto: CRL reloaded (no restart)")
        shutil.rmtree(layout.client_cert(gateway_id).parent, ignore_errors=True)
    log.info("gateway %s: removed", gateway_id)
