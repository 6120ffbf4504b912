"""A gateway's credentials and ``edge.toml`` from the local stack: what ``nabd gateway
provision`` writes into a folder and what the nurse station's admin downloads once.

Composes the stack (a broker account and client certificate per gateway,
:mod:`nabd.app.stack.lifecycle`) with the registry's bundle format
(:mod:`nabd.care.provisioning`), which know nothing of each other. :class:`LocalStackIssuer`
is the station's :class:`nabd.station.gateways.Issuer` on the local stack; a hospital with its
own broker and PKI gives the station its own issuer, or none (the station then says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nabd.app.stack.env import EDGE, MQTT_CA_FILE, MQTT_HOST, MQTT_PORT, mqtt_vars
from nabd.app.stack.errors import StackError
from nabd.app.stack.lifecycle import add_gateway as add_account
from nabd.app.stack.lifecycle import environment, remove_gateway
from nabd.app.stack.settings import StackSettings
from nabd.care.provisioning import BUNDLE_FILES, BrokerAccess, GatewayDevice, edge_toml
from nabd.station.gateways import CredentialsError

__all__ = ["LocalStackIssuer", "bundle_files"]


def bundle_files(
    settings: StackSettings,
    gateway: str,
    devices: Sequence[GatewayDevice],
    *,
    broker_host: str | None = None,
    data_dir: str = "/var/lib/nabd-edge",
    bumble: str | None = None,
) -> dict[str, bytes]:
    """Give ``gateway`` a broker account (kept if it has one) and return its bundle's files:
    CA, client certificate and key, the broker password if the account has one, ``edge.toml``.
    Raises :class:`StackError` or :class:`OSError`."""
    add_account(settings, gateway)
    env = environment(settings, gateway)
    names = mqtt_vars(EDGE)
    password = env.get(names["password"])  # none: the certificate is the account
    broker = BrokerAccess(
        broker_host or env[MQTT_HOST], int(env[MQTT_PORT]), env[names["username"]],
        password is not None,
    )  # fmt: skip
    toml = edge_toml(gateway, devices, broker, data_dir=data_dir, bumble_transport=bumble)
    files = {
        BUNDLE_FILES["ca"]: Path(env[MQTT_CA_FILE]).read_bytes(),
        BUNDLE_FILES["cert"]: Path(env[names["cert_file"]]).read_bytes(),
        BUNDLE_FILES["key"]: Path(env[names["key_file"]]).read_bytes(),
        BUNDLE_FILES["config"]: toml.encode(),
    }
    if password is not None:
        files[BUNDLE_FILES["password"]] = password.encode()
    return files


class LocalStackIssuer:
    """Gateway credentials from the local stack's CA and broker (``nabd stack up``)."""

    def __init__(self, settings: StackSettings, *, bumble: str | None = None) -> None:
        self.settings = settings
        self.bumble = bumble
        """A bumble transport to write in every ``edge.toml`` (the demo's and tests' virtual
        radio); None: the gateway's own Bluetooth adapter."""

    def bundle(
        self, gateway: str, devices: Sequence[GatewayDevice], *, data_dir: str
    ) -> dict[str, bytes]:
        try:
            return bundle_files(self.settings, gateway, devices, data_dir=data_dir,
                                bumble=self.bumble)  # fmt: skip
        except (StackError, OSError) as exc:
            raise CredentialsError(f"the local stack could not issue credentials: {exc}") from exc

    def revoke(self, gateway: str) -> bool:
        try:
            environment(self.settings, gateway)  # raises if it has no account
        except StackError:
            return False
        remove_gateway(self.settings, gateway)
        return True
