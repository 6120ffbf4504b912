"""What the ingest service reads from its environment, checked once at start.

The connection variables are the shared names of ``docs/stack.md`` (``NABD_MQTT_HOST``,
``NABD_INGEST_DATABASE_URL``, ...), so a deployment sets them once for every service; the
tuning knobs are ingest's own (``NABD_INGEST_*``) and have defaults that suit a ward.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nabd.contract.topics import check_id
from nabd.ingest.sample_times import Window

__all__ = ["IngestSettings", "SampleTimeSettings"]


class SampleTimeSettings(BaseSettings):
    """The sample times ingest believes: read by the worker and by ``dead-letters replay``
    (which judges a message as the worker did), so a part of the worker's settings that needs no
    connection."""

    # populate_by_name: code and tests may also pass the field names as keywords.
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, case_sensitive=False
    )

    future_tolerance_s: float = Field(
        default=300.0, ge=0, validation_alias="NABD_INGEST_FUTURE_TOLERANCE_S"
    )
    """A sample time more than this after ingest's clock is implausible: the reading is stored at
    its receipt time, flagged ``time_implausible`` (:mod:`nabd.ingest.sample_times`)."""
    past_horizon_days: float = Field(
        default=8.0, gt=0, validation_alias="NABD_INGEST_PAST_HORIZON_DAYS"
    )
    """A sample time more than this before ingest's clock is implausible too. At least the
    gateways' outbox retention (edge ``outbox.max_age_h``, 7 days by default) plus what devices
    keep in memory: raise it with them."""

    @property
    def window(self) -> Window:
        """The sample times ingest believes, around its clock."""
        return Window(self.future_tolerance_s, self.past_horizon_days * 86_400)


class IngestSettings(SampleTimeSettings):
    """Connections, credentials and tuning of one ingest worker."""

    database_url: str = Field(min_length=1, validation_alias="NABD_INGEST_DATABASE_URL")
    """libpq URL of ingest's own login (a member of ``nabd_ingest``)."""
    mqtt_host: str = Field(min_length=1, validation_alias="NABD_MQTT_HOST")
    mqtt_port: int = Field(ge=1, le=65535, validation_alias="NABD_MQTT_PORT")
    mqtt_ca_file: Path = Field(validation_alias="NABD_MQTT_CA_FILE")
    mqtt_username: str = Field(min_length=1, validation_alias="NABD_INGEST_MQTT_USERNAME")
    mqtt_password: str = Field(
        min_length=1, repr=False, validation_alias="NABD_INGEST_MQTT_PASSWORD"
    )
    mqtt_cert_file: Path = Field(validation_alias="NABD_INGEST_MQTT_CERT_FILE")
    mqtt_key_file: Path = Field(validation_alias="NABD_INGEST_MQTT_KEY_FILE")

    worker_id: str = Field(default="1", validation_alias="NABD_INGEST_WORKER_ID")
    """Stable name of this worker. Its MQTT client id is ``nabd-ingest-<worker_id>``: the broker
    keeps that session (and the messages queued for it) across restarts, so it must not change
    when the process restarts, and two running workers must never share it."""
    receive_maximum: int = Field(
        default=256, ge=1, le=65535, validation_alias="NABD_INGEST_RECEIVE_MAXIMUM"
    )
    """MQTT v5 Receive Maximum: unacknowledged messages the broker may send us. Since a message
    is acknowledged only after its commit, this bounds memory (at most this many payloads, each
    at most 1 MiB) and is the backpressure: while the database is down nothing is acknowledged,
    so the broker stops sending and queues for us."""
    flush_max_messages: int = Field(
        default=128, ge=1, validation_alias="NABD_INGEST_FLUSH_MAX_MESSAGES"
    )
    """Flush when this many messages wait. Below ``receive_maximum`` so that the next messages
    arrive, and are validated, while a flush is being written."""
    flush_max_rows: int = Field(default=20_000, ge=1, validation_alias="NABD_INGEST_FLUSH_MAX_ROWS")
    flush_max_age_s: float = Field(
        default=0.2, gt=0, le=3600, validation_alias="NABD_INGEST_FLUSH_MAX_AGE_S"
    )
    """Flush at the latest this long after the oldest waiting message arrived: the latency that
    batching may add."""
    session_expiry_s: int = Field(
        default=86_400, ge=60, validation_alias="NABD_INGEST_SESSION_EXPIRY_S"
    )
    """How long the broker keeps our session (and queues for it) while we are gone."""
    keepalive_s: int = Field(default=30, ge=5, le=600, validation_alias="NABD_INGEST_KEEPALIVE_S")
    backoff_min_s: float = Field(default=0.5, gt=0, validation_alias="NABD_INGEST_BACKOFF_MIN_S")
    backoff_max_s: float = Field(default=5.0, gt=0, validation_alias="NABD_INGEST_BACKOFF_MAX_S")
    """Bounds of the exponential backoff between database (and broker) reconnection attempts.

    The longest wait stays well under the watchdog's ``watchdog_stale_s`` (15 s): with a 30 s cap
    a database outage of only ~7 s kept the services away for 15 s, long enough to raise
    "monitoring interrupted" on every ward after the database was back (measured in the
    failover test, docs/reliability.md). A retry every 5 s costs nothing during a long outage."""
    statement_timeout_s: float = Field(
        default=30.0, gt=0, validation_alias="NABD_INGEST_STATEMENT_TIMEOUT_S"
    )
    """A flush that takes longer is cancelled and retried: a hung server must not hang us."""
    shutdown_timeout_s: float = Field(
        default=15.0, gt=0, validation_alias="NABD_INGEST_SHUTDOWN_TIMEOUT_S"
    )
    """On SIGTERM, how long the last flush may keep retrying before the worker gives up (what it
    did not commit is not acknowledged, so the broker delivers it again later)."""
    health_interval_s: float = Field(
        default=5.0, gt=0, validation_alias="NABD_INGEST_HEALTH_INTERVAL_S"
    )
    """How often the pipeline-health row is rewritten (also when idle, as a heartbeat)."""
    journal_retention_s: float = Field(
        default=86_400.0, gt=0, validation_alias="NABD_INGEST_JOURNAL_RETENTION_S"
    )
    """How long hand-off journal entries (``observation_commit``) are kept for analytics."""
    dead_letter_retention_days: float = Field(
        default=30.0, ge=0, validation_alias="NABD_INGEST_DEAD_LETTER_RETENTION_DAYS"
    )
    """Dead letters older than this are deleted (checked with the health row); 0 keeps them for
    ever. Long enough to notice, fix the cause and replay; not a clinical record."""
    reattribute_interval_s: float = Field(
        default=60.0, ge=0, validation_alias="NABD_INGEST_REATTRIBUTE_INTERVAL_S"
    )
    """How often readings stored for nobody are moved to a patient whose assignment now covers
    them (:mod:`nabd.ingest.reattribution`); 0: only by ``nabd ingest reattribute``."""
    watchdog_stale_s: float = Field(
        default=15.0, ge=0, validation_alias="NABD_INGEST_WATCHDOG_STALE_S"
    )
    """Analytics' newest tick older than this: every admitted patient gets a technical alert
    ``monitoring_interrupted`` (:mod:`nabd.ingest.watchdog`); 0 switches the watchdog off. Above
    the analytics tick (1 s) with room for a slow tick, and above analytics' statement timeout
    (10 s), after which PostgreSQL ends a hung analytics' open transaction and its locks."""
    watchdog_interval_s: float = Field(
        default=2.0, gt=0, le=60, validation_alias="NABD_INGEST_WATCHDOG_INTERVAL_S"
    )
    """How often the watchdog looks: an interruption is raised at most ``watchdog_stale_s`` +
    this after the last tick."""
    config_interval_s: float = Field(
        default=2.0, ge=0, validation_alias="NABD_INGEST_CONFIG_INTERVAL_S"
    )
    """How often each gateway's device list is read from the registry and, when it changed,
    published to the gateway (:mod:`nabd.ingest.gateway_configs`); 0: never (another worker
    does it)."""
    metrics_host: str = Field(default="127.0.0.1", validation_alias="NABD_INGEST_METRICS_HOST")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, validation_alias="NABD_INGEST_METRICS_PORT"
    )
    """Port of the Prometheus ``/metrics`` endpoint; unset: no endpoint (0: any free port)."""

    @field_validator("worker_id")
    @classmethod
    def _worker_id_is_an_id(cls, value: str) -> str:
        return check_id("worker", value)

    @property
    def client_id(self) -> str:
        """The fixed MQTT client id of this worker: the key of its persistent session."""
        return f"nabd-ingest-{self.worker_id}"
