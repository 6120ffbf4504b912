"""The environment the agent reads, and how it combines with the configuration file.

The variables are those every Nabd process uses (``nabd stack env --gateway ID`` prints them for
the local stack; a hospital deployment sets them in the service's environment file):

=================================  ==============================================
variable                           meaning
=================================  ==============================================
``NABD_GATEWAY_ID``                the gateway's id
``NABD_MQTT_HOST``, ``_PORT``      the broker's TLS listener (the stack's gateway listener)
``NABD_MQTT_CA_FILE``              the CA that signed the broker's certificate
``NABD_EDGE_MQTT_USERNAME``        the gateway's broker account (default: its id)
``NABD_EDGE_MQTT_PASSWORD``        its password, only for a broker that wants one
``NABD_EDGE_MQTT_CERT_FILE``       its client certificate (PEM)
``NABD_EDGE_MQTT_KEY_FILE``        and key (PEM)
=================================  ==============================================

Rules: a variable that is set wins over the file's ``[broker]`` value, so one file serves every
environment; the password comes only from the environment or the file's ``password_file``, and
none is sent when neither gives one (the stack's gateway listener takes the certificate as the
account: no password exists to steal, and the certificate cannot be lent to another account); the
gateway id may be in either, but if both are set they must agree (an identity is never silently
overridden). TLS is not optional: the CA, certificate and key must all be known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from nabd.contract.topics import check_id
from nabd.edge.config import EdgeConfig
from nabd.edge.errors import EdgeConfigError

__all__ = ["BrokerParams", "EdgeSettings", "resolve"]


class EdgeSettings(BaseSettings):
    """The ``NABD_*`` variables the edge agent reads (others are ignored)."""

    model_config = SettingsConfigDict(env_prefix="NABD_", frozen=True, extra="ignore")

    gateway_id: str | None = None
    mqtt_host: str | None = None
    mqtt_port: int | None = Field(default=None, ge=1, le=65535)
    mqtt_ca_file: Path | None = None
    edge_mqtt_username: str | None = None
    edge_mqtt_password: SecretStr | None = None
    edge_mqtt_cert_file: Path | None = None
    edge_mqtt_key_file: Path | None = None


@dataclass(frozen=True)
class BrokerParams:
    """Everything needed to open the gateway's MQTT session."""

    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    username: str
    password: str | None = field(repr=False)
    """``None``: a certificate-bound account (the stack's gateway listener), no password sent."""
    keepalive_s: int = 30
    reconnect_max_s: int = 30
    session_expiry_s: int = 3600


def read_settings() -> EdgeSettings:
    """The environment, validated; raises :class:`EdgeConfigError`."""
    try:
        return EdgeSettings()
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        name = "NABD_" + "_".join(str(part) for part in first["loc"]).upper()
        raise EdgeConfigError(f"environment: {name}: {first['msg']}") from exc


def resolve(config: EdgeConfig, env: EdgeSettings) -> tuple[str, BrokerParams]:
    """The gateway id and broker parameters from the file and the environment."""
    gateway_id = _gateway_id(config, env)
    broker = config.broker
    host = env.mqtt_host or broker.host
    port = env.mqtt_port or broker.port or 8883
    ca_file = env.mqtt_ca_file or broker.ca_file
    cert_file = env.edge_mqtt_cert_file or broker.cert_file
    key_file = env.edge_mqtt_key_file or broker.key_file
    missing = [
        name
        for name, value in (
            ("NABD_MQTT_HOST (or broker.host)", host),
            ("NABD_MQTT_CA_FILE (or broker.ca_file)", ca_file),
            ("NABD_EDGE_MQTT_CERT_FILE (or broker.cert_file)", cert_file),
            ("NABD_EDGE_MQTT_KEY_FILE (or broker.key_file)", key_file),
        )
        if not value
    ]
    if missing:
        raise EdgeConfigError(f"broker: missing {', '.join(missing)}")
    # Checked just above; the asserts tell the type checker.
    assert host is not None
    assert ca_file is not None
    assert cert_file is not None
    assert key_file is not None
    return gateway_id, BrokerParams(
        host=host,
        port=port,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
        username=env.edge_mqtt_username or broker.username or gateway_id,
        password=_password(config, env),
        keepalive_s=broker.keepalive_s,
        reconnect_max_s=broker.reconnect_max_s,
        session_expiry_s=broker.session_expiry_s,
    )


def _gateway_id(config: EdgeConfig, env: EdgeSettings) -> str:
    if env.gateway_id and config.gateway_id and env.gateway_id != config.gateway_id:
        raise EdgeConfigError(
            f"gateway id: NABD_GATEWAY_ID={env.gateway_id!r} but the file says "
            f"{config.gateway_id!r}"
        )
    gateway_id = env.gateway_id or config.gateway_id
    if not gateway_id:
        raise EdgeConfigError("gateway id: set gateway_id in the file or NABD_GATEWAY_ID")
    try:
        return check_id("gateway", gateway_id)
    except ValueError as exc:
        raise EdgeConfigError(f"gateway id: {exc}") from exc


def _password(config: EdgeConfig, env: EdgeSettings) -> str | None:
    """The password when one is given; none for a broker that takes the certificate as the
    account (the stack's gateway listener ignores any password)."""
    if env.edge_mqtt_password is not None:
        return env.edge_mqtt_password.get_secret_value()
    if config.broker.password_file is not None:
        try:
            return config.broker.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EdgeConfigError(f"broker.password_file: cannot read: {exc}") from exc
    return None
