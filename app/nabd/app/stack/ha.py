"""``nabd stack up --ha``: two PostgreSQL servers managed by Patroni, with one local etcd.

Debian's ``patroni`` and ``etcd-server`` packages, run from the stack's state folder on free
127.0.0.1 ports, beside (never instead of) the machine's own PostgreSQL. Patroni holds a
leader key in etcd with a time to live; when the primary's node stops renewing it (its machine
lost, its Patroni and PostgreSQL killed), the key expires and the replica's Patroni promotes
its server. Clients find the primary themselves with a multi-host libpq URL and
``target_session_attrs=read-write``.

**Synchronous replication** (``synchronous_mode``). Ingest acknowledges a batch to its gateway
only after its commit returns; with ``synchronous_mode`` a commit returns only once the sync
standby has the WAL on disk, so *acknowledged* means *on both servers*, and the gateways'
outboxes hold everything that is not. Only the sync standby may be promoted, so a failover
never loses an acknowledged reading. The mode is not ``strict``: with one server left, it
keeps accepting writes alone (availability over a second copy; docs/reliability.md says what
that exposes).

**Timings.** ``ttl`` 10 s, ``loop_wait`` 1 s, ``retry_timeout`` 3 s (``loop_wait + 2 *
retry_timeout <= ttl``, Patroni's rule): a lost primary is replaced about 10 s after its last
renewal, not Patroni's default 30 s. etcd runs on the same machine: this option shows and
tests failover of PostgreSQL, it does not make a single machine survive its own loss
(docs/reliability.md).

**etcd lost: writes go on** (``failsafe_mode``, Patroni >= 3.0). By default a primary whose
Patroni cannot reach the DCS demotes itself once its key could have expired (nobody could
tell it from a partitioned primary): with the stack's single etcd, losing that one process
would stop every write although both PostgreSQL servers are fine. With ``failsafe_mode`` the
primary keeps its role while the DCS is unreachable *if* every member listed in the
``/failsafe`` key (both nodes) accepts its ``POST /failsafe`` over the REST API each loop: a
replica that hears from the primary cannot be promoted meanwhile (it could not take the key
anyway), and a primary that cannot reach its replica demotes as before, so this adds no split
brain. When etcd returns, the primary takes (or keeps) the leader key again. Measured by
``tests/faults/test_ha_dcs.py``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Collection
from pathlib import Path
from typing import Any, Final

from nabd.app.stack import daemons, patroni_guard
from nabd.app.stack.errors import ServiceStartError, ToolMissingError
from nabd.app.stack.layout import Layout
from nabd.app.stack.ports import LOCALHOST, free_port, require_free, wait_until
from nabd.app.stack.postgres import MAX_WAL_SIZE, PgInstall, shared_buffers_mb
from nabd.app.stack.privileges import ServiceUser, as_user, give, is_root
from nabd.app.stack.state import SUPERUSER, HaNode, HaState, StackState, new_secret

log = logging.getLogger(__name__)

ETCD: Final = Path("/usr/bin/etcd")
PATRONI: Final = Path("/usr/bin/patroni")
PYTHON: Final = Path("/usr/bin/python3")
"""The system's interpreter, which Debian's Patroni runs on, runs the guard too."""
GUARD: Final = Path(patroni_guard.__file__)
SCOPE: Final = "nabd"
NAMESPACE: Final = "/nabd/"
SYNC_KEY: Final = f"{NAMESPACE}{SCOPE}/sync"
"""Patroni's record of the synchronous standby in etcd (``patroni_guard`` releases it)."""
REPLICATION_USER: Final = "replicator"
API_USER: Final = "nabd"
"""Patroni's REST API user for the requests that change the cluster (``patronictl``)."""
NODES: Final = 2
TTL_S: Final = 10
FENCE_AFTER_S: Final = TTL_S / 2
"""A Patroni restarted later than this after its death may find its server replaced: the guard
stops the server first (:mod:`~nabd.app.stack.patroni_guard`). Half the ttl: the key was
renewed at most ``loop_wait`` before the death, and Patroni itself takes a moment to start."""
LOOP_WAIT_S: Final = 1
RETRY_TIMEOUT_S: Final = 3
START_TIMEOUT_S: Final = 120.0
"""First ``up``: initdb, the primary's start, the replica's base backup; slower than one server."""
RECONNECT_MAX_S: Final = 2
"""The longest wait between two database reconnections of an --ha stack's ingest and analytics
(their defaults: 30 s). With 30 s the retry that finds the new primary came ~5.5 s after the
promotion (measured): ~16 s from the loss, past the watchdog's 15 s without an analytics tick
(docs/reliability.md). With 2 s it comes within 2 s."""
CLIENT_SETTINGS: Final = {
    "NABD_INGEST_BACKOFF_MAX_S": str(RECONNECT_MAX_S),
    "NABD_ANALYTICS_BACKOFF_MAX_S": str(RECONNECT_MAX_S),
}
"""What ``nabd stack env`` adds for an --ha stack, beside the multi-host URLs."""
_ENV: Final = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
_READY_STATES: Final = frozenset({"running", "streaming"})


def new_ha_state(first_pg_port: int, taken: Collection[int]) -> HaState:
    """Ports for etcd (client, peer) and both nodes (PostgreSQL, REST API); the first node
    keeps the stack's recorded PostgreSQL port."""
    used = {first_pg_port, *taken}

    def port() -> int:
        chosen = free_port(exclude=used)
        used.add(chosen)
        return chosen

    etcd_port, peer_port = port(), port()
    nodes = [HaNode(pg_port=first_pg_port, api_port=port())]
    nodes += [HaNode(pg_port=port(), api_port=port()) for _ in range(NODES - 1)]
    return HaState(
        etcd_port=etcd_port,
        etcd_peer_port=peer_port,
        nodes=tuple(nodes),
        replication_password=new_secret(),
        api_password=new_secret(),
    )


def _require_tools() -> None:
    for tool, package in ((ETCD, "etcd-server"), (PATRONI, "patroni")):
        if not tool.exists():
            raise ToolMissingError(
                f"{tool} is missing: `nabd stack up --ha` needs Debian's {package} package "
                "(scripts/bootstrap installs it)"
            )


# -- etcd ------------------------------------------------------------------------------------


def etcd_pid(layout: Layout) -> int | None:
    return daemons.find_pid("etcd", layout.etcd_data)


def _etcd_healthy(ha: HaState) -> bool:
    reply = _get_json(ha.etcd_port, "/health")
    return reply is not None and str(reply.get("health")) == "true"


def _etcd_url(ha: HaState) -> str:
    return f"http://{LOCALHOST}:{ha.etcd_port}"


def _start_etcd(layout: Layout, ha: HaState, timeout: float) -> None:
    if etcd_pid(layout) is not None:
        return
    for port in (ha.etcd_port, ha.etcd_peer_port):
        require_free(port, f"etcd, recorded in {layout.state_file}")
    layout.etcd_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    client = f"http://{LOCALHOST}:{ha.etcd_port}"
    peer = f"http://{LOCALHOST}:{ha.etcd_peer_port}"
    argv = [str(ETCD), "--name", SCOPE, "--data-dir", str(layout.etcd_data)]
    argv += ["--listen-client-urls", client, "--advertise-client-urls", client]
    argv += ["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer]
    argv += ["--initial-cluster", f"{SCOPE}={peer}", "--initial-cluster-state", "new"]
    daemons.spawn(argv, layout.etcd_log, _ENV)
    wait_until(
        lambda: _etcd_healthy(ha),
        timeout=timeout,
        what=f"etcd on {LOCALHOST}:{ha.etcd_port}",
        detail=lambda: f"see {layout.etcd_log}",
    )
    log.info("etcd: started on %s:%d", LOCALHOST, ha.etcd_port)


# -- Patroni nodes ---------------------------------------------------------------------------


def node_pid(layout: Layout, index: int) -> int | None:
    """The pid of the node's Patroni (its PostgreSQL is Patroni's child)."""
    return daemons.find_pid("patroni", layout.node_conf(index))


def guard_pid(layout: Layout, index: int) -> int | None:
    """The pid of the node's :mod:`~nabd.app.stack.patroni_guard` (restarts a dead Patroni)."""
    return daemons.find_pid(GUARD.name, layout.node_conf(index))


def postmaster_pid(layout: Layout, index: int) -> int | None:
    """The node's postmaster, from its ``postmaster.pid``, when that process is alive."""
    try:
        pid = int((layout.node_data(index) / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if daemons.alive(pid) else None


def _dcs_settings() -> dict[str, Any]:
    """Cluster-wide settings Patroni keeps in etcd (written once, at bootstrap)."""
    return {
        "ttl": TTL_S,
        "loop_wait": LOOP_WAIT_S,
        "retry_timeout": RETRY_TIMEOUT_S,
        "maximum_lag_on_failover": 1 << 20,
        "synchronous_mode": True,
        "failsafe_mode": True,  # etcd lost: the primary goes on (module docstring)
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": {
                # Each database with TimescaleDB has a scheduler worker; tests make many.
                "max_worker_processes": 32,
                "wal_log_hints": "on",
                "hot_standby": "on",
            },
        },
    }


def patroni_config(
    layout: Layout, state: StackState, install: PgInstall, index: int
) -> dict[str, Any]:
    """Node ``index``'s Patroni configuration (JSON is YAML, which Patroni reads)."""
    ha = _ha(state)
    node = ha.nodes[index]
    superuser = state.postgres.superuser_password.get_secret_value()
    return {
        "scope": SCOPE,
        "namespace": NAMESPACE,
        "name": f"node{index}",
        "restapi": {
            "listen": f"{LOCALHOST}:{node.api_port}",
            "connect_address": f"{LOCALHOST}:{node.api_port}",
            "authentication": {
                "username": API_USER,
                "password": ha.api_password.get_secret_value(),
            },
        },
        "etcd3": {"hosts": f"{LOCALHOST}:{ha.etcd_port}"},
        "bootstrap": {
            "dcs": _dcs_settings(),
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
        },
        "postgresql": {
            "listen": f"{LOCALHOST}:{node.pg_port}",
            "connect_address": f"{LOCALHOST}:{node.pg_port}",
            "data_dir": str(layout.node_data(index)),
            "bin_dir": str(install.bindir),
            "pgpass": str(layout.node_dir(index) / "pgpass"),
            "authentication": {
                "superuser": {"username": SUPERUSER, "password": superuser},
                "replication": {
                    "username": REPLICATION_USER,
                    "password": ha.replication_password.get_secret_value(),
                },
            },
            "parameters": {
                "unix_socket_directories": "",  # TCP on 127.0.0.1 only, as the single node
                "password_encryption": "scram-sha-256",
                "shared_preload_libraries": "timescaledb",
                "timescaledb.telemetry_level": "off",
                "timescaledb.max_background_workers": 16,
                "shared_buffers": f"{shared_buffers_mb()}MB",
                "max_wal_size": MAX_WAL_SIZE,
                "wal_compression": "lz4",
            },
            "pg_hba": [
                f"host replication {REPLICATION_USER} {LOCALHOST}/32 scram-sha-256",
                f"host all all {LOCALHOST}/32 scram-sha-256",
            ],
        },
        "watchdog": {"mode": "off"},
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }


def _write_node(
    layout: Layout, state: StackState, install: PgInstall, index: int, user: ServiceUser | None
) -> None:
    folder = layout.node_dir(index)
    folder.mkdir(mode=0o700, exist_ok=True)
    give(folder, user, 0o700)
    conf = layout.node_conf(index)
    conf.write_text(json.dumps(patroni_config(layout, state, install, index), indent=2) + "\n")
    give(conf, user, 0o600)


def _start_node(layout: Layout, ha: HaState, index: int, user: ServiceUser | None) -> None:
    """Start the node's Patroni under its guard (:mod:`~nabd.app.stack.patroni_guard`).

    A Patroni already running is left alone (one started before guards existed stays unguarded
    until ``down``); a guard between two starts of its Patroni will start it itself."""
    if node_pid(layout, index) is not None or guard_pid(layout, index) is not None:
        return
    if patroni_guard.fence(layout.node_data(index)):  # a server left without its Patroni
        log.warning(
            "patroni: node%d's PostgreSQL was running without its Patroni: stopped it first "
            "(immediate), Patroni starts it again as the cluster says",
            index,
        )
        # and, if it still leads, have Patroni set its sync standby again (patroni_guard)
        done = patroni_guard.release_sync_key(_etcd_url(ha), SYNC_KEY, f"node{index}")
        log.info("patroni: node%d: %s", index, done)
    node = ha.nodes[index]
    if postmaster_pid(layout, index) is None:
        require_free(node.pg_port, f"node{index}'s PostgreSQL, recorded in {layout.state_file}")
    require_free(node.api_port, f"node{index}'s Patroni API, recorded in {layout.state_file}")
    patroni = as_user(user, [str(PATRONI), str(layout.node_conf(index))])
    guard = [str(PYTHON), str(GUARD), "--data", str(layout.node_data(index))]
    guard += ["--fence-after", f"{FENCE_AFTER_S:g}", "--etcd", _etcd_url(ha)]
    guard += ["--sync-key", SYNC_KEY, "--name", f"node{index}", "--", *patroni]
    daemons.spawn(guard, layout.node_log(index), _ENV)
    log.info("patroni: node%d started (PostgreSQL on %s:%d)", index, LOCALHOST, node.pg_port)


def _ha(state: StackState) -> HaState:
    if state.ha is None:
        raise ServiceStartError("this stack is not an --ha stack")
    return state.ha


# -- the cluster as Patroni sees it ----------------------------------------------------------


def _get_json(port: int, path: str) -> dict[str, Any] | None:
    """``GET http://127.0.0.1:port/path`` as JSON (any status), or ``None`` if nobody answers."""
    url = f"http://{LOCALHOST}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            body = reply.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
    except (OSError, ValueError):
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def members(ha: HaState) -> list[dict[str, Any]]:
    """Patroni's ``/cluster`` members (name, role, state, port...), from the first node that
    answers; empty when none does."""
    for node in ha.nodes:
        answer = _get_json(node.api_port, "/cluster")
        if answer is not None and isinstance(answer.get("members"), list):
            return [m for m in answer["members"] if isinstance(m, dict)]
    return []


def node_status(ha: HaState, index: int) -> dict[str, Any] | None:
    """Node ``index``'s own view (``GET /patroni``: role, state, ``failsafe_mode_is_active``),
    which it answers from memory, also while etcd is unreachable."""
    return _get_json(ha.nodes[index].api_port, "/patroni")


def leader_index(ha: HaState) -> int | None:
    """Which node is the running primary, as Patroni says (``None``: none is)."""
    for member in members(ha):
        if member.get("role") == "leader" and member.get("state") == "running":
            name = str(member.get("name", ""))
            if name.startswith("node") and name[4:].isdigit():
                return int(name[4:])
    return None


def ready(ha: HaState) -> bool:
    """A running leader and every other node a streaming sync standby or replica, with a sync
    standby among them (acknowledged = replicated from the first write)."""
    found = members(ha)
    roles = sorted(str(m.get("role")) for m in found if m.get("state") in _READY_STATES)
    return len(roles) == len(ha.nodes) and roles.count("leader") == 1 and "sync_standby" in roles


def _settle_dcs_settings(ha: HaState) -> None:
    """Bring the cluster's settings in etcd to :func:`_dcs_settings` for the plain values.

    ``bootstrap.dcs`` is written once, when the cluster is created: a cluster made by an
    earlier version (before ``failsafe_mode``) would keep its old settings for ever.
    ``PATCH /config`` (authenticated) changes only the differing keys; Patroni applies them at
    its next loop, with no restart."""
    node = ha.nodes[0]
    current = _get_json(node.api_port, "/config")
    if current is None:
        return
    wanted = {k: v for k, v in _dcs_settings().items() if not isinstance(v, dict)}
    changes = {k: v for k, v in wanted.items() if current.get(k) != v}
    if not changes:
        return
    request = urllib.request.Request(
        f"http://{LOCALHOST}:{node.api_port}/config",
        data=json.dumps(changes).encode(),
        method="PATCH",
        headers={"Content-Type": "application/json", "Authorization": _api_auth(ha)},
    )
    try:
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 (http:// above)
            pass
    except (OSError, ValueError) as exc:
        raise ServiceStartError(
            f"could not update the Patroni cluster's settings {sorted(changes)}: {exc}"
        ) from exc
    log.info("patroni: cluster settings updated: %s", ", ".join(sorted(changes)))


def _api_auth(ha: HaState) -> str:
    secret = f"{API_USER}:{ha.api_password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(secret).decode()


def describe(ha: HaState) -> str:
    found = members(ha)
    if not found:
        return "no Patroni node answers"
    return "; ".join(f"{m.get('name')} {m.get('role')} {m.get('state')}" for m in found)


# -- up / down -------------------------------------------------------------------------------


def up(
    install: PgInstall,
    layout: Layout,
    state: StackState,
    user: ServiceUser | None,
    timeout: float,
) -> None:
    """Start etcd and every node that is not running; wait until the cluster is ready."""
    _require_tools()
    ha = _ha(state)
    layout.ha_dir.mkdir(mode=0o711 if is_root() else 0o700, exist_ok=True)
    _start_etcd(layout, ha, timeout)
    for index in range(len(ha.nodes)):
        _write_node(layout, state, install, index, user)
        _start_node(layout, ha, index, user)
    logs = ", ".join(str(layout.node_log(i)) for i in range(len(ha.nodes)))
    wait_until(
        lambda: ready(ha),
        timeout=max(timeout, START_TIMEOUT_S),
        what="the Patroni cluster (a leader and a sync standby)",
        detail=lambda: f"{describe(ha)}; see {logs}",
    )
    _settle_dcs_settings(ha)
    log.info("patroni: %s", describe(ha))


def down(layout: Layout, state: StackState, timeout: float) -> None:
    """Stop the replicas, then the primary (no failover in between), then etcd."""
    ha = _ha(state)
    leader = leader_index(ha)
    order = sorted(range(len(ha.nodes)), key=lambda i: i == leader)
    for index in order:
        guard = guard_pid(layout, index)
        if guard is not None:  # first, or it would start the Patroni stopped below again
            with contextlib.suppress(ProcessLookupError):
                os.kill(guard, signal.SIGTERM)
        pid = node_pid(layout, index)
        if pid is not None:
            daemons.stop(pid, f"Patroni node{index}", max(timeout, 60.0))
            log.info("patroni: node%d stopped", index)
        if guard is not None:
            daemons.stop(guard, f"node{index}'s Patroni guard", timeout)
    pid = etcd_pid(layout)
    if pid is not None:
        daemons.stop(pid, "etcd", timeout)
        log.info("etcd: stopped")
