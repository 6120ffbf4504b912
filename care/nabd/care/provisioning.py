"""What a gateway needs to start, from the registry: ``nabd gateway provision``.

The bundle is a folder of files readable only by their owner (0600, the folder 0700): the
broker's CA, the gateway's client certificate and key (its account on the gateway listener;
a broker password only where the broker wants one), and an
``edge.toml`` (docs/edge.md) whose ``[[devices]]`` are the devices the registry has on this
gateway, with their addresses and current patients: the agent's offline fallback, since it gets
its live device list from the server (``nabd/v1/gw/<gw>/config``, docs/ingest.md). Paths inside
``edge.toml`` are relative, so the folder can be copied to the gateway as it is. Provisioning
again rewrites the bundle (each file replaced atomically).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from nabd.care.errors import CareInputError, Why
from nabd.care.registry import require_gateway
from nabd.care.store import Conn, audit, operation
from nabd.care.values import parse_actor, parse_id

__all__ = [
    "BUNDLE_FILES",
    "BrokerAccess",
    "GatewayDevice",
    "edge_toml",
    "gateway_devices",
    "record_provisioning",
    "write_bundle",
]

BUNDLE_FILES: Final = {
    "ca": "ca.crt",
    "cert": "client.crt",
    "key": "client.key",
    "password": "mqtt-password",
    "config": "edge.toml",
}
"""The bundle's file names, by what they hold."""


@dataclass(frozen=True)
class GatewayDevice:
    id: str
    address: str
    patient_id: str | None


@dataclass(frozen=True)
class BrokerAccess:
    """Where the gateway's broker listener is and its account's name. ``password``: whether
    the account has one (it then goes to a file of its own); the stack's gateway listener takes
    the certificate as the account, and there is none."""

    host: str
    port: int
    username: str
    password: bool = False


def gateway_devices(conn: Conn, gateway_id: str) -> list[GatewayDevice]:
    """The devices registered to a (registered, not revoked) gateway, with an address, by id:
    the ``edge.toml``'s offline fallback (the agent gets its live list from the server, possibly
    empty at first)."""
    gateway = parse_id("gateway", gateway_id)
    require_gateway(conn, gateway)
    rows = conn.execute(
        """SELECT d.id, d.address,
                  (SELECT a.patient_id FROM device_assignment a
                   WHERE a.device_id = d.id AND a.valid @> now())
           FROM device d WHERE d.gateway_id = %s AND d.address IS NOT NULL ORDER BY d.id""",
        (gateway,),
    ).fetchall()
    return [GatewayDevice(*row) for row in rows]


def _string(value: str) -> str:
    """A TOML basic string. JSON's escapes are a subset of TOML's, but not its ``\\uD800``
    surrogate pairs: non-ASCII characters are written as they are (TOML is UTF-8)."""
    return json.dumps(value, ensure_ascii=False)


def _plain(what: str, value: str) -> str:
    """Refuse what a TOML file cannot hold or a person would not mean: control characters and
    unpaired surrogates (undecodable bytes on the command line)."""
    if not value or any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) < 0xE000 for c in value):
        raise CareInputError(f"{what} {value!r} is not accepted: give printable characters",
                             Why.BAD_BUNDLE, detail=what)  # fmt: skip
    return value


def edge_toml(
    gateway_id: str,
    devices: Sequence[GatewayDevice],
    broker: BrokerAccess,
    *,
    data_dir: str = "/var/lib/nabd-edge",
    bumble_transport: str | None = None,
) -> str:
    """The gateway's ``edge.toml`` (pure): broker files relative to the bundle folder."""
    _plain("--broker-host", broker.host)
    _plain("--data-dir", data_dir)
    if bumble_transport is not None:
        _plain("--bumble", bumble_transport)
    lines = [
        "# Written by `nabd gateway provision`. [[devices]] is the offline fallback: the agent",
        "# reads the list the server publishes for it (docs/edge.md, 'Devices from the server').",
        f"gateway_id = {_string(gateway_id)}",
        f"data_dir = {_string(data_dir)}",
        "",
        "[broker]",
        f"host = {_string(broker.host)}",
        f"port = {broker.port}",
        f"username = {_string(broker.username)}",
        f"ca_file = {_string(BUNDLE_FILES['ca'])}",
        f"cert_file = {_string(BUNDLE_FILES['cert'])}",
        f"key_file = {_string(BUNDLE_FILES['key'])}",
    ]
    if broker.password:
        lines.append(f"password_file = {_string(BUNDLE_FILES['password'])}")
    if bumble_transport is not None:
        lines += ["", "[ble]", 'backend = "bumble"', f"transport = {_string(bumble_transport)}"]
    for device in devices:
        lines += ["", "[[devices]]", f"id = {_string(device.id)}",
                  f"address = {_string(device.address)}"]  # fmt: skip
        if device.patient_id is not None:
            lines.append(f"patient = {_string(device.patient_id)}")
    return "\n".join(lines) + "\n"


def write_bundle(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (name -> content) into ``out`` (made 0700), each 0600 and replaced
    atomically, so a gateway reading the folder never sees half a file."""
    for name in files:
        if PurePosixPath(name).name != name or name.startswith("."):
            raise CareInputError(f"bundle file name {name!r} is not a plain file name",
                                 Why.BAD_BUNDLE, detail=name)  # fmt: skip
    if out.exists() and not out.is_dir():
        raise CareInputError(f"--out {out} exists and is not a folder", Why.BAD_BUNDLE,
                             detail=str(out))  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    for name, content in files.items():
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.")  # created 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(tmp, out / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def record_provisioning(
    conn: Conn, gateway_id: str, devices: Sequence[GatewayDevice], *, by: str
) -> None:
    """Audit that a bundle was written for the gateway, with the devices it lists."""
    gateway, actor = parse_id("gateway", gateway_id), parse_actor(by)
    with operation(conn, f"recording the provisioning of gateway {gateway}"):
        audit(conn, actor, "gateway_provisioned", f"gateway:{gateway}",
              {"devices": [d.id for d in devices]})  # fmt: skip
