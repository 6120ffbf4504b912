"""Every message on the Nabd broker, as a typed value validated on construction.

A payload is either valid or rejected whole, with a :class:`PayloadError` naming the first field at
fault. The rules are strict on purpose: a vital sign that is silently coerced (``"72"`` read as 72,
``NaN`` stored as a number, °F stored as °C) is worse than one that is refused and logged.

* JSON only, UTF-8, at most :data:`MAX_PAYLOAD_BYTES`; ``NaN``/``Infinity`` are not JSON and are
  refused wherever they appear.
* No unknown fields, no type coercion: JSON numbers for numbers, strings for strings; timestamps are
  ISO 8601 / RFC 3339 strings *with* an offset, normalised to UTC, between :data:`EARLIEST` and
  :data:`LATEST` (anything else is a clock that was never set).
* Ids match :data:`nabd.contract.topics.ID_RE`; session, command and alert ids are lower-case UUIDs.
* Pseudonymous ids only: no payload has a field for a name, and free text (alert messages) must be
  written from templates that never include one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from nabd.contract.catalogue import METRICS, metric
from nabd.contract.errors import PayloadError
from nabd.contract.topics import check_id

__all__ = [
    "ACK_SCHEMA",
    "ALERT_SCHEMA",
    "CMD_SCHEMA",
    "CONFIG_SCHEMA",
    "DEVICE_INFO_MAX_CHARS",
    "EARLIEST",
    "LATEST",
    "MAX_ACKED",
    "MAX_CONFIG_DEVICES",
    "MAX_MESSAGE_CHARS",
    "MAX_NEARBY_DEVICES",
    "MAX_PAYLOAD_BYTES",
    "MAX_READINGS",
    "MAX_SEQ",
    "MAX_STATUS_DEVICES",
    "OBS_SCHEMA",
    "STATUS_SCHEMA",
    "Alert",
    "AlertFacts",
    "AlertPriority",
    "AlertState",
    "ConfiguredDevice",
    "DeviceConnection",
    "DeviceInformation",
    "DeviceStatus",
    "GatewayCommand",
    "GatewayConfig",
    "GatewayState",
    "GatewayStatus",
    "IngestAck",
    "NearbyDevice",
    "ObservationBatch",
    "OutboxStatus",
    "Payload",
    "PayloadError",
    "Quality",
    "Reading",
    "ReconnectDevice",
    "SetInterval",
    "parse",
    "parse_batch",
    "to_json",
]

OBS_SCHEMA: Final = "nabd.obs/1"
ACK_SCHEMA: Final = "nabd.ack/1"
STATUS_SCHEMA: Final = "nabd.status/1"
CMD_SCHEMA: Final = "nabd.cmd/1"
CONFIG_SCHEMA: Final = "nabd.gwconfig/1"
ALERT_SCHEMA: Final = "nabd.alert/1"

MAX_PAYLOAD_BYTES: Final = 1024 * 1024
"""1 MiB. A full batch (:data:`MAX_READINGS` readings of ~250 bytes) is about half of it; the
broker's ``max_packet_size`` must be at least this."""

MAX_READINGS: Final = 2000
"""Readings per batch: 1 Hz from a dozen devices for ~3 minutes, or a long offline backlog cut in
pieces; small enough to validate in milliseconds and commit in one transaction."""

MAX_ACKED: Final = 1000
"""Batch sequence numbers per acknowledgement."""

MAX_SEQ: Final = 2**63 - 1
"""Sequence numbers fit a PostgreSQL ``bigint``."""

MAX_MESSAGE_CHARS: Final = 500

MAX_STATUS_DEVICES: Final = 256
"""Devices in one status message: far more than one gateway serves (a bedside has a handful, a
ward-corridor gateway a few dozen), and a full status stays under 64 kB."""

MAX_NEARBY_DEVICES: Final = 64
"""Unassigned devices in one status: the strongest heard, enough to pick from on a ward."""

MAX_CONFIG_DEVICES: Final = MAX_STATUS_DEVICES
"""Devices in one gateway configuration: each must fit in the gateway's status too."""

EARLIEST: Final = datetime(2020, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Timestamps must lie in ``[EARLIEST, LATEST)``. Devices and gateways without a set clock report
1970 or 2000; such a time must not reach the database as if it were real."""


def _utc(value: datetime) -> datetime:
    # Compared before conversion: astimezone() can overflow at the ends of the datetime range.
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()} "
            "(a clock that was never set?)"
        )
    return value.astimezone(UTC)


def _known_metric(key: str) -> str:
    metric(key)
    return key


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""Aware timestamp; any offset is accepted on input and normalised to UTC."""
DeviceId = Annotated[str, AfterValidator(partial(check_id, "device"))]
GatewayId = Annotated[str, AfterValidator(partial(check_id, "gateway"))]
PatientId = Annotated[str, AfterValidator(partial(check_id, "patient"))]
WardId = Annotated[str, AfterValidator(partial(check_id, "ward"))]
MetricKey = Annotated[str, AfterValidator(_known_metric)]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
_UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
Uuid = Annotated[str, StringConstraints(pattern=_UUID_PATTERN)]
"""Canonical lower-case hyphenated UUID text, so equal ids are equal strings."""
SoftwareVersion = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.+_-]{1,64}$")]
AlertKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Message = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


class Payload(BaseModel):
    """Base of every wire payload: strict, closed, immutable, finite."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Quality(StrEnum):
    """Flags qualifying one reading. Most readings carry none."""

    UNAVAILABLE = "unavailable"
    """The device sent a special value (NaN, NRes, +/-INFINITY): ``value`` is null. Required
    exactly when ``value`` is null, so a missing number is never mistaken for a zero."""
    SENSOR_CONTACT_LOST = "sensor_contact_lost"
    """The device reports poor or no skin contact (HRS sensor-contact bit, oximeter probe off)."""
    EARLY_ESTIMATE = "early_estimate"
    """The device says the value is provisional (oximeter still settling)."""
    QUESTIONABLE = "questionable"
    """The device flags the measurement as questionable without saying why."""
    ARTEFACT = "artefact"
    """The device detected motion or signal artefact during the measurement."""
    LOW_PERFUSION = "low_perfusion"
    """The oximeter reports a weak pulsatile signal: SpO2 and pulse rate are less reliable."""
    DEVICE_CLOCK_UNSET = "device_clock_unset"
    """The device has a clock but it was not set, so ``device_time`` was dropped (it is null)."""
    LOW_BATTERY = "low_battery"
    """The device reported a low battery; measurements may degrade or stop soon."""
    TIME_IMPLAUSIBLE = "time_implausible"
    """Set by ingest: the sample time was implausibly far from ingest's clock (a device or
    gateway clock gone wrong), so the reading is stored at its receipt time instead; its time is
    not known and it is not a patient's current value (docs/ingest.md, sample times)."""


class Reading(Payload):
    """One value of one metric from one device.

    ``(device_id, seq, metric)`` identifies a reading: a device's readings are numbered by the
    gateway in the order received, and several metrics from one device message (a cuff's
    systolic, diastolic and mean) share a ``seq``. Re-sent readings keep their identity, so ingest
    stores them once.
    """

    device_id: DeviceId
    seq: Seq
    metric: MetricKey
    quality: tuple[Quality, ...] = ()
    """Flags, at most once each; stored sorted."""
    value: float | None
    """In the metric's canonical unit, within its possible range; null only if ``unavailable``."""
    unit: str
    """Must equal the metric's canonical UCUM unit (a check, not a conversion)."""
    device_time: UtcDatetime | None = None
    """When the device says it measured; null for devices without a (set) clock."""
    received_at: UtcDatetime
    """When the gateway received it, by the gateway's clock."""

    @field_validator("quality")
    @classmethod
    def _flags_canonical(cls, quality: tuple[Quality, ...]) -> tuple[Quality, ...]:
        if len(set(quality)) != len(quality):
            raise ValueError("quality flags must not repeat")
        # Sorted so that equal readings compare equal and serialise to equal bytes.
        return tuple(sorted(quality))

    @field_validator("value")
    @classmethod
    def _value_fits_metric(cls, value: float | None, info: ValidationInfo) -> float | None:
        quality: tuple[Quality, ...] | None = info.data.get("quality")
        if quality is not None:
            unavailable = Quality.UNAVAILABLE in quality
            if value is None and not unavailable:
                raise ValueError("null value without the 'unavailable' quality flag")
            if value is not None and unavailable:
                raise ValueError("a value flagged 'unavailable' must be null")
        key: str | None = info.data.get("metric")
        if value is not None and key is not None:
            row = METRICS[key]
            if not row.admits(value):
                raise ValueError(
                    f"{value} {row.unit} is outside the possible range "
                    f"{row.min_value}..{row.max_value} of {key}"
                )
        return value

    @field_validator("device_time")
    @classmethod
    def _no_time_from_unset_clock(
        cls, device_time: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        quality: tuple[Quality, ...] = info.data.get("quality", ())
        if device_time is not None and Quality.DEVICE_CLOCK_UNSET in quality:
            raise ValueError("must be null when the 'device_clock_unset' flag is set")
        return device_time

    @field_validator("unit")
    @classmethod
    def _unit_is_canonical(cls, unit: str, info: ValidationInfo) -> str:
        key: str | None = info.data.get("metric")
        if key is not None and unit != METRICS[key].unit:
            raise ValueError(f"{unit!r} is not {METRICS[key].unit!r}, the unit of {key}")
        return unit


class ObservationBatch(Payload):
    """Gateway -> ingest on ``nabd/v1/gw/<gw>/obs``: readings to store.

    ``boot_id`` is a random UUID the gateway agent draws each time it starts; ``batch_seq`` counts
    from 0 within that session. ``(gateway_id, boot_id, batch_seq)`` names a batch, which is what
    :class:`IngestAck` acknowledges and what lets ingest drop a re-delivered batch.
    """

    schema_id: Literal["nabd.obs/1"] = Field(alias="schema")
    gateway_id: GatewayId
    boot_id: Uuid
    batch_seq: Seq
    sent_at: UtcDatetime
    readings: tuple[Reading, ...] = Field(min_length=1, max_length=MAX_READINGS)

    @field_validator("readings")
    @classmethod
    def _readings_unique(cls, readings: tuple[Reading, ...]) -> tuple[Reading, ...]:
        first: dict[tuple[str, int, str], int] = {}
        for index, reading in enumerate(readings):
            identity = (reading.device_id, reading.seq, reading.metric)
            if identity in first:
                raise ValueError(
                    f"readings.{index} repeats (device_id, seq, metric) of "
                    f"readings.{first[identity]}"
                )
            first[identity] = index
        return readings


class IngestAck(Payload):
    """Ingest -> gateway on ``nabd/v1/gw/<gw>/ack``: these batches are committed to the database.

    Sent only after the database commit, so a gateway may delete a batch from its outbox once it
    is acknowledged, and must re-send it otherwise. Acks for another ``boot_id`` are stale.
    """

    schema_id: Literal["nabd.ack/1"] = Field(alias="schema")
    gateway_id: GatewayId
    boot_id: Uuid
    committed: tuple[Seq, ...] = Field(min_length=1, max_length=MAX_ACKED)

    @field_validator("committed")
    @classmethod
    def _committed_unique(cls, committed: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(committed)) != len(committed):
            raise ValueError("batch_seq values must not repeat")
        return committed


class GatewayState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class DeviceConnection(StrEnum):
    """The gateway's Bluetooth link to one device."""

    SEARCHING = "searching"
    """Not connected; waiting to hear the device advertise."""
    CONNECTING = "connecting"
    """Heard; connecting, discovering, subscribing."""
    CONNECTED = "connected"
    """Subscribed, readings arriving."""
    SILENT = "silent"
    """Connected, but no reading for the gateway's silence limit (a technical alarm)."""
    LOST = "lost"
    """The connection dropped or failed; the gateway waits before the next attempt."""


DEVICE_INFO_MAX_CHARS: Final = 64
DeviceInfoText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=DEVICE_INFO_MAX_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
"""A Device Information string as the gateway forwards it: 1-64 characters, no control
characters (the gateway trims longer ones and drops empty ones)."""


class DeviceInformation(Payload):
    """What a device says it is: its Device Information Service (0x180A) strings, read by the
    gateway at each connection. Compared by the server with what the device was registered as.
    Free text from the manufacturer, never about the wearer."""

    manufacturer: DeviceInfoText | None = None
    """Manufacturer Name String (0x2A29)."""
    model: DeviceInfoText | None = None
    """Model Number String (0x2A24)."""
    serial_number: DeviceInfoText | None = None
    """Serial Number String (0x2A25)."""
    firmware_revision: DeviceInfoText | None = None
    """Firmware Revision String (0x2A26)."""


class DeviceStatus(Payload):
    """One device as its gateway sees it, in a :class:`GatewayStatus`."""

    device_id: DeviceId
    state: DeviceConnection
    since: UtcDatetime
    """When the device entered ``state``, by the gateway's clock."""
    last_reading_at: UtcDatetime | None = None
    """When the gateway last received a reading from it; null if none since the agent started."""
    battery_percent: int | None = Field(default=None, ge=0, le=100)
    """The device's Battery Level (0x2A19), if it has one and reported it."""
    rssi_dbm: int | None = Field(default=None, ge=-127, le=20)
    """Received signal strength of its latest advertisement, if heard."""
    information: DeviceInformation | None = None
    """Its Device Information strings, once read; null before its first connection, for a
    device without the service, and from agents before this field."""


BluetoothAddress = Annotated[str, StringConstraints(pattern=r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")]
"""Upper-case, colon-separated, as the registry stores it."""
DeviceKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class NearbyDevice(Payload):
    """A health device the gateway hears advertising but is not told to read, in its status:
    what an operator picks from to register a device (``nabd gateway seen``)."""

    address: BluetoothAddress
    # No advertised name: a device's local name is free text its owner may set to a person's
    # name, and nothing that could carry identity travels on the wire (docs/contract.md).
    services: tuple[ServiceName, ...] = Field(default=(), max_length=16)
    """The standard health services it advertises, by the edge agent's names."""
    rssi_dbm: int | None = Field(default=None, ge=-127, le=20)
    heard_at: UtcDatetime
    """When its latest advertisement was heard, by the gateway's clock."""


class OutboxStatus(Payload):
    """The gateway's backlog: readings kept on disk until ingest acknowledges them."""

    pending: Seq
    """Readings in the outbox (not yet acknowledged by ingest)."""
    oldest_received_at: UtcDatetime | None = None
    """When the oldest pending reading was received; null when the outbox is empty."""
    dropped_full: Seq = 0
    """Readings dropped because the outbox was full (oldest first), since it was created."""
    dropped_expired: Seq = 0
    """Readings dropped because they were older than the outbox's age limit."""


class GatewayStatus(Payload):
    """Gateway -> everyone on ``nabd/v1/gw/<gw>/status``, retained.

    The gateway publishes ``online`` after connecting, again every status interval and at every
    device state change (with its devices and its outbox), and registers an ``offline`` status
    as its MQTT last will, so the broker publishes it if the gateway vanishes. The will is written
    at connect time: in it, ``at`` is when that session started, not when it died, and it
    carries no devices (their states would be those of the start).

    A status is state, not an event: the newest one wins. Consumers order them by ``at``; an
    ``offline`` of the current ``boot_id`` ends it whatever its ``at`` (see docs/contract.md).
    """

    schema_id: Literal["nabd.status/1"] = Field(alias="schema")
    gateway_id: GatewayId
    boot_id: Uuid
    state: GatewayState
    at: UtcDatetime
    software_version: SoftwareVersion | None = None
    devices: tuple[DeviceStatus, ...] = Field(default=(), max_length=MAX_STATUS_DEVICES)
    """Every device the gateway serves, each once; empty in the last will."""
    outbox: OutboxStatus | None = None
    """The backlog; null in the last will."""
    nearby: tuple[NearbyDevice, ...] = Field(default=(), max_length=MAX_NEARBY_DEVICES)
    """Health devices heard advertising that the gateway does not read, strongest first, each
    address once; empty in the last will (and from agents before this field)."""

    @field_validator("nearby")
    @classmethod
    def _nearby_unique(cls, nearby: tuple[NearbyDevice, ...]) -> tuple[NearbyDevice, ...]:
        addresses = [device.address for device in nearby]
        if len(set(addresses)) != len(addresses):
            raise ValueError("nearby repeats an address")
        return nearby

    @field_validator("devices")
    @classmethod
    def _devices_unique(cls, devices: tuple[DeviceStatus, ...]) -> tuple[DeviceStatus, ...]:
        first: dict[str, int] = {}
        for index, device in enumerate(devices):
            if device.device_id in first:
                raise ValueError(
                    f"devices.{index} repeats device_id of devices.{first[device.device_id]}"
                )
            first[device.device_id] = index
        return devices


class ReconnectDevice(Payload):
    """Drop and re-establish the BLE connection to one device."""

    action: Literal["reconnect_device"] = "reconnect_device"
    device_id: DeviceId


class SetInterval(Payload):
    """Set the measurement interval of one device that measures on a schedule.

    Advisory: applied where the device supports a configurable interval (the gateway logs and
    ignores it otherwise); streaming devices are not down-sampled.
    """

    action: Literal["set_interval"] = "set_interval"
    device_id: DeviceId
    interval_s: int = Field(ge=1, le=86400)


class GatewayCommand(Payload):
    """Server -> gateway on ``nabd/v1/gw/<gw>/cmd``. ``command_id`` makes re-delivery harmless."""

    schema_id: Literal["nabd.cmd/1"] = Field(alias="schema")
    command_id: Uuid
    issued_at: UtcDatetime
    command: Annotated[ReconnectDevice | SetInterval, Field(discriminator="action")]


class ConfiguredDevice(Payload):
    """One device a gateway is to read, in a :class:`GatewayConfig`."""

    device_id: DeviceId
    address: BluetoothAddress
    kind: DeviceKind
    """The registry's kind (``heart_rate_strap``, ``pulse_oximeter``, ...): for logs and
    status; the gateway reads whatever standard measurement the device offers."""
    services: tuple[ServiceName, ...] = Field(default=(), max_length=16)
    """The Bluetooth SIG services expected of the kind, by the edge agent's names
    (``heart_rate``, ``pulse_oximeter``, ...)."""


class GatewayConfig(Payload):
    """Server -> one gateway on ``nabd/v1/gw/<gw>/config``, retained: the devices it reads.

    A whole state, not a change: the gateway connects every listed device and releases every
    device not listed (readings already captured stay in its outbox until acknowledged).
    ``version`` only grows: a gateway ignores a configuration whose version is not above the
    one it applied (a late or replayed message cannot bring back an old device list).
    """

    schema_id: Literal["nabd.gwconfig/1"] = Field(alias="schema")
    gateway_id: GatewayId
    version: int = Field(ge=1, le=MAX_SEQ)
    issued_at: UtcDatetime
    devices: tuple[ConfiguredDevice, ...] = Field(default=(), max_length=MAX_CONFIG_DEVICES)

    @field_validator("devices")
    @classmethod
    def _devices_distinct(
        cls, devices: tuple[ConfiguredDevice, ...]
    ) -> tuple[ConfiguredDevice, ...]:
        for attribute in ("device_id", "address"):
            seen: dict[str, int] = {}
            for index, device in enumerate(devices):
                value = getattr(device, attribute)
                if value in seen:
                    raise ValueError(
                        f"devices.{index} repeats {attribute} of devices.{seen[value]}"
                    )
                seen[value] = index
        return devices


class AlertPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


AlertItem = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
"""A thing an alert names: a device id, a catalogue metric key, a NEWS2 parameter."""
AlertUnit = Annotated[
    str, StringConstraints(min_length=1, max_length=16, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class AlertFacts(Payload):
    """What raised an alert, as data: rendered in each reader's language when shown
    (:func:`nabd.contract.alert_text.render`), never parsed back out of a sentence.

    Nothing identifying: the condition, numbers, units, durations and the names of devices or
    parameters (``docs/contract.md``).
    """

    condition: AlertKind
    value: float | None = None
    """The value that breached (a NEWS2 total, a glucose ...), in ``unit``."""
    unit: AlertUnit | None = None
    """The catalogue's unit of ``value``, ``limit`` and ``baseline`` (``%``, ``/min`` ...)."""
    limit: float | None = None
    """The limit in force that ``value`` breached."""
    baseline: float | None = None
    """The patient's own usual value (a deviation, a desaturation)."""
    duration_s: float | None = Field(default=None, ge=0)
    """How long the condition has held when the alert was raised or worsened."""
    items: tuple[AlertItem, ...] = Field(default=(), max_length=16)
    """The devices, gateways or metrics concerned (stale, off, frozen, disconnected, silent), or
    a note that qualifies the alert (``home_gateway_silent``, :mod:`nabd.contract.alert_text`)."""
    risk: str | None = Field(default=None, pattern=r"^(low|low-medium|medium|high)$")
    """NEWS2: the Chart 3 risk band of a complete score."""
    missing: tuple[AlertItem, ...] = Field(default=(), max_length=16)
    """NEWS2: the parameters never measured or entered: the score is a lower bound."""
    stale: tuple[AlertItem, ...] = Field(default=(), max_length=16)
    """NEWS2: the parameters measured, now too old to score: the score is a lower bound."""


class Alert(Payload):
    """Analytics -> nurses on ``nabd/v1/ward/<ward>/alerts``: one state of one alert.

    The same ``alert_id`` is published again when the alert is acknowledged or resolved. The
    patient is named only by a pseudonymous id; the id-to-person mapping stays in the hospital's
    own systems.
    """

    schema_id: Literal["nabd.alert/1"] = Field(alias="schema")
    alert_id: Uuid
    patient_id: PatientId
    ward_id: WardId
    kind: AlertKind
    """The condition, e.g. ``spo2_low`` or ``news2_high``."""
    priority: AlertPriority
    state: AlertState
    raised_at: UtcDatetime
    message: Message
    """The default rendering (English) of ``facts``, for readers that do not render them."""
    metric: MetricKey | None = None
    facts: AlertFacts | None = None
    """What raised it, for rendering in the reader's language; absent from older publishers."""


P = TypeVar("P", bound=Payload)


def parse(model: type[P], raw: bytes) -> P:
    """Validate ``raw`` as a ``model`` payload, or raise :class:`PayloadError`."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError("", f"{len(raw)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("", f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _payload_error(exc) from exc


def parse_batch(raw: bytes) -> ObservationBatch:
    """Validate an observation batch (the ingest hot path)."""
    return parse(ObservationBatch, raw)


def to_json(payload: Payload) -> bytes:
    """Compact UTF-8 JSON, as producers publish it.

    Always within :data:`MAX_PAYLOAD_BYTES`: the field limits bound a full batch well below it.
    """
    return payload.model_dump_json(by_alias=True).encode()


def _payload_error(exc: ValidationError) -> PayloadError:
    # Only the first error: later ones are often consequences of it (a bad reading also makes
    # "readings" too short after validation), and one precise cause is what an operator needs.
    first = exc.errors(include_url=False, include_input=False)[0]
    return PayloadError(".".join(str(part) for part in first["loc"]), _reason(first))


def _reason(error: ErrorDetails) -> str:
    # Our own validators raise ValueError; pydantic prefixes those with "Value error, ".
    if error["type"] == "value_error" and "ctx" in error:
        return str(error["ctx"]["error"])
    return error["msg"]
