"""The gateway's configuration file (TOML), validated on load with errors that name the field.

One file per gateway says who it is, which devices it reads (by address, with their patients, or
by discovery of the standard health services), how the outbox is bounded and batched, and which
Bluetooth stack it drives. Secrets never live here: the broker password comes from the
environment (``NABD_EDGE_MQTT_PASSWORD``) or from a ``password_file``; see :mod:`nabd.edge.settings`
for how the environment and the file combine. Relative paths are relative to the file's folder.

Every section is closed (an unknown key is an error: a typo must not silently fall back to a
default) and every duration is in seconds unless its name says otherwise.
"""

from __future__ import annotations

import json
import re
import tomllib
import zoneinfo
from functools import partial
from pathlib import Path
from typing import Annotated, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from nabd.contract.payloads import MAX_READINGS
from nabd.contract.topics import check_id
from nabd.edge.ble.profiles import HealthService
from nabd.edge.errors import EdgeConfigError

__all__ = [
    "BleConfig",
    "BrokerConfig",
    "DeviceConfig",
    "DiscoveryConfig",
    "EdgeConfig",
    "OutboxConfig",
    "StatusConfig",
    "load_config",
    "parse_config",
]

_ADDRESS_RE: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


def _id(kind: str, value: str) -> str:
    try:
        return check_id(kind, value)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc


def _address(value: str) -> str:
    upper = value.upper()
    if not _ADDRESS_RE.fullmatch(upper):
        raise ValueError(f"{value!r} is not a Bluetooth address like 'F0:F1:F2:F3:F4:05'")
    return upper


def _zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone name like 'Europe/Paris' or 'UTC'") from exc
    return value


GatewayId = Annotated[str, AfterValidator(partial(_id, "gateway"))]
DeviceId = Annotated[str, AfterValidator(partial(_id, "device"))]
PatientId = Annotated[str, AfterValidator(partial(_id, "patient"))]
Address = Annotated[str, AfterValidator(_address)]
ZoneName = Annotated[str, AfterValidator(_zone)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BrokerConfig(_Section):
    """The MQTT broker; every field may instead come from the environment (which wins)."""

    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    """Defaults to the gateway id (the broker's ACL expects them equal)."""
    password_file: Path | None = None
    """A file holding only the password (e.g. a systemd credential), used if the environment
    has no ``NABD_EDGE_MQTT_PASSWORD``."""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    reconnect_max_s: int = Field(default=30, ge=1, le=3600)
    """Longest wait between two attempts to reach the broker (attempts never stop)."""
    session_expiry_s: int = Field(default=3600, ge=0)
    """How long the broker keeps this gateway's subscription (and queued acks) while it is
    offline."""


class BleConfig(_Section):
    """Which Bluetooth stack drives the radio, and how devices are (re)connected."""

    backend: Literal["bluez", "bumble"] = "bluez"
    """``bluez``: bleak's platform backend (BlueZ over D-Bus on Linux). ``bumble``: bumble's
    host stack on ``transport`` (a USB or UART controller, or a virtual one)."""
    transport: str | None = None
    """bumble transport spec, e.g. ``usb:0``, ``serial:/dev/ttyUSB0,1000000``,
    ``tcp-client:127.0.0.1:9001``. Required with ``bumble``, refused with ``bluez``."""
    adapter: str | None = None
    """BlueZ adapter (``hci0``); only with ``bluez``."""
    connect_timeout_s: Seconds = 20.0
    reconnect_initial_s: Seconds = 1.0
    """First wait after a lost or failed connection; doubles each failure (with jitter)."""
    reconnect_max_s: Seconds = 60.0
    """The longest wait between two attempts; attempts never stop."""
    silent_after_s: Seconds = 120.0
    """A connected device with no reading for this long is reported ``silent``."""
    clock_tolerance_s: Seconds = 300.0
    """A device clock further than this from the gateway's is reported as off."""
    records_timeout_s: Seconds = 60.0
    """Longest wait for a glucose meter to send the stored records asked for after a
    connection (a meter sends a few hundred records in well under a minute)."""

    @model_validator(mode="after")
    def _backend_options(self) -> Self:
        if self.backend == "bumble" and not self.transport:
            raise ValueError("backend 'bumble' needs a transport (e.g. 'usb:0')")
        if self.backend == "bluez" and self.transport is not None:
            raise ValueError("transport is for backend 'bumble' only")
        if self.backend == "bumble" and self.adapter is not None:
            raise ValueError("adapter is for backend 'bluez' only")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be at least reconnect_initial_s")
        return self


class OutboxConfig(_Section):
    """The durable outbox and how it is drained into batches."""

    path: Path | None = None
    """SQLite file; default ``<data_dir>/outbox.sqlite3``."""
    max_readings: int = Field(default=2_000_000, ge=100)
    """When full, the oldest readings are dropped (and counted) to make room."""
    max_age_h: float = Field(default=168.0, gt=0, allow_inf_nan=False)
    """Readings older than this (by receive time) are dropped (and counted)."""
    batch_max_readings: int = Field(default=500, ge=1, le=MAX_READINGS)
    batch_linger_s: Seconds = 1.0
    """A batch smaller than ``batch_max_readings`` waits at most this long for more."""
    ack_timeout_s: Seconds = 30.0
    """A batch not acknowledged by ingest within this time is sent again."""
    max_batches_in_flight: int = Field(default=8, ge=1, le=1000)
    catch_up_readings_per_s: Seconds = 2000.0
    """Send rate ceiling, which paces the catch-up after an outage."""


class StatusConfig(_Section):
    interval_s: Seconds = 30.0
    """How often the status report is refreshed (file and log)."""
    file: Path | None = None
    """JSON status report; default ``<data_dir>/status.json``."""


class DiscoveryConfig(_Section):
    """Connect to any device advertising one of ``services`` (ids derived from its address)."""

    enabled: bool = False
    services: tuple[HealthService, ...] = tuple(HealthService)
    id_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")] = "ble"
    """Discovered devices are named ``<id_prefix>-<address in lower-case hex>``."""
    max_devices: int = Field(default=16, ge=1, le=256)
    """Discovery stops adding devices beyond this many (a ward full of straps is not one
    patient's)."""


class DeviceConfig(_Section):
    """A device the gateway reads, by its Bluetooth address."""

    id: DeviceId
    address: Address
    patient: PatientId | None = None
    """For the operator's log and status only: ingest resolves the patient from its registry."""
    timezone: ZoneName | None = None
    """Zone of the device's wall clock (Date Time fields carry none); default: the gateway's."""


class EdgeConfig(_Section):
    """The whole file."""

    gateway_id: GatewayId | None = None
    """Or ``NABD_GATEWAY_ID``; both given must agree."""
    site: str | None = Field(default=None, max_length=200)
    data_dir: Path = Path("/var/lib/nabd-edge")
    device_timezone: ZoneName = "UTC"
    """Default zone of device wall clocks."""
    broker: BrokerConfig = BrokerConfig()
    ble: BleConfig = BleConfig()
    outbox: OutboxConfig = OutboxConfig()
    status: StatusConfig = StatusConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    devices: tuple[DeviceConfig, ...] = ()

    @model_validator(mode="after")
    def _devices_distinct(self) -> Self:
        for attribute in ("id", "address"):
            values = [getattr(device, attribute) for device in self.devices]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"device {attribute} listed twice: {', '.join(repeated)}")
        return self

    @property
    def outbox_path(self) -> Path:
        return self.outbox.path or self.data_dir / "outbox.sqlite3"

    @property
    def status_path(self) -> Path:
        return self.status.file or self.data_dir / "status.json"


def parse_config(text: str, base: Path, source: str = "config") -> EdgeConfig:
    """Validate TOML ``text``; relative paths are made relative to ``base``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EdgeConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        # Through JSON: strict JSON-mode validation takes strings for paths and enums but never
        # a string for a number ("8883") or a number for a string.
        document = json.dumps(raw)
    except TypeError as exc:
        raise EdgeConfigError(f"{source}: dates and times are not configuration values") from exc
    try:
        config = EdgeConfig.model_validate_json(document)
    except ValidationError as exc:
        raise EdgeConfigError(f"{source}: {_describe(exc)}") from exc
    return _rebased(config, base)


def load_config(path: Path) -> EdgeConfig:
    """Read and validate the file at ``path``; raises :class:`EdgeConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgeConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(text, path.parent.absolute(), str(path))


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "file"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _rebased(config: EdgeConfig, base: Path) -> EdgeConfig:
    def fix(path: Path | None) -> Path | None:
        return path if path is None or path.is_absolute() else base / path

    broker = config.broker.model_copy(
        update={
            name: fix(getattr(config.broker, name))
            for name in ("ca_file", "cert_file", "key_file", "password_file")
        }
    )
    return config.model_copy(
        update={
            "data_dir": base / config.data_dir,
            "broker": broker,
            "outbox": config.outbox.model_copy(update={"path": fix(config.outbox.path)}),
            "status": config.status.model_copy(update={"file": fix(config.status.file)}),
        }
    )
