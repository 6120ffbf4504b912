"""Where every file of the local stack lives inside its state folder.

One place names the paths so that the servers' configuration, the environment printed for
clients and the tests cannot disagree. Three kinds of files, three owners when run as root:
``postgres/`` belongs to the ``postgres`` user, ``mosquitto/`` to the ``mosquitto`` user (it
holds everything the broker reads, including a copy of the CA certificate), and the rest (state
file, CA key, client certificates and keys) stays with the invoking user, mode 0600.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SOCKET_PATH_MAX: Final = 107
"""sun_path holds 108 bytes with the terminating NUL: longer Unix socket paths cannot bind."""

_SOCKET_NAME_MAX: Final = len("/.s.PGSQL.65535")


def socket_dir_for(root: Path) -> Path:
    """PostgreSQL's socket folder: inside the state folder, or under /tmp when that is too long."""
    preferred = root / "postgres" / "run"
    if len(str(preferred)) + _SOCKET_NAME_MAX <= SOCKET_PATH_MAX:
        return preferred
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return Path("/tmp") / f"nabd-pg-{digest}"  # noqa: S108  (private: 0700, owned by postgres)


@dataclass(frozen=True)
class Layout:
    """The paths of one stack, all derived from its state folder ``root`` (absolute)."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "stack.lock"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.tls_dir / "ca.key"

    @property
    def gateway_ca_cert(self) -> Path:
        """The gateways' own CA: signs gateways' client certificates and nothing else."""
        return self.tls_dir / "gateway-ca.crt"

    @property
    def gateway_ca_key(self) -> Path:
        return self.tls_dir / "gateway-ca.key"

    @property
    def clients_dir(self) -> Path:
        return self.root / "clients"

    def client_cert(self, account: str) -> Path:
        return self.clients_dir / account / "client.crt"

    def client_key(self, account: str) -> Path:
        return self.clients_dir / account / "client.key"

    @property
    def web_dir(self) -> Path:
        return self.root / "web"

    @property
    def web_cert(self) -> Path:
        """The nurse station's HTTPS certificate (``localhost``, signed by the stack's CA)."""
        return self.web_dir / "server.crt"

    @property
    def web_key(self) -> Path:
        return self.web_dir / "server.key"

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    @property
    def audit_key(self) -> Path:
        """The Ed25519 key that signs audit checkpoints (its public half: ``signing.pub``)."""
        return self.audit_dir / "signing.key"

    @property
    def pg_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "server.log"

    @property
    def pg_socket_dir(self) -> Path:
        return socket_dir_for(self.root)

    @property
    def backup_repo(self) -> Path:
        """pgBackRest's repository: encrypted base backups and archived WAL (``nabd backup``)."""
        return self.root / "backup"

    @property
    def pgbackrest_dir(self) -> Path:
        """pgBackRest's configuration (it holds the cipher passphrase), lock and log files,
        beside the cluster and owned by its user: the server runs ``archive-push`` itself."""
        return self.pg_dir / "pgbackrest"

    @property
    def pgbackrest_conf(self) -> Path:
        return self.pgbackrest_dir / "pgbackrest.conf"

    @property
    def mqtt_dir(self) -> Path:
        return self.root / "mosquitto"

    @property
    def mqtt_conf(self) -> Path:
        return self.mqtt_dir / "mosquitto.conf"

    @property
    def mqtt_dynsec(self) -> Path:
        """The dynamic-security plugin's accounts; the broker rewrites it on every change."""
        return self.mqtt_dir / "dynamic-security.json"

    @property
    def mqtt_crl(self) -> Path:
        """Revoked client certificates, signed by the stack's CA."""
        return self.mqtt_dir / "revoked.crl"

    @property
    def mqtt_gateway_crl(self) -> Path:
        """Revoked gateway certificates, signed by the gateways' CA (the gateway listener)."""
        return self.mqtt_dir / "gateway-revoked.crl"

    @property
    def mqtt_gateway_ca(self) -> Path:
        return self.mqtt_dir / "gateway-ca.crt"

    @property
    def mqtt_ca(self) -> Path:
        return self.mqtt_dir / "ca.crt"

    @property
    def mqtt_cert(self) -> Path:
        return self.mqtt_dir / "server.crt"

    @property
    def mqtt_key(self) -> Path:
        return self.mqtt_dir / "server.key"

    @property
    def mqtt_data(self) -> Path:
        return self.mqtt_dir / "data"

    @property
    def mqtt_log(self) -> Path:
        return self.mqtt_dir / "mosquitto.log"

    @property
    def mqtt_pid(self) -> Path:
        return self.mqtt_dir / "mosquitto.pid"

    # -- the --ha cluster (Patroni + etcd) ---------------------------------------------------

    @property
    def ha_dir(self) -> Path:
        """The ``--ha`` cluster: ``etcd/`` (ours) and one ``nodeN/`` per Patroni node (the
        ``postgres`` user's when run as root)."""
        return self.root / "ha"

    @property
    def etcd_dir(self) -> Path:
        return self.ha_dir / "etcd"

    @property
    def etcd_data(self) -> Path:
        return self.etcd_dir / "data"

    @property
    def etcd_log(self) -> Path:
        return self.etcd_dir / "etcd.log"

    def node_dir(self, index: int) -> Path:
        return self.ha_dir / f"node{index}"

    def node_data(self, index: int) -> Path:
        return self.node_dir(index) / "data"

    def node_conf(self, index: int) -> Path:
        """Patroni's configuration of the node (it holds the passwords: 0600)."""
        return self.node_dir(index) / "patroni.yml"

    def node_log(self, index: int) -> Path:
        """Patroni's own log and PostgreSQL's output (Patroni starts the server)."""
        return self.node_dir(index) / "patroni.log"
