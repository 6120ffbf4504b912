"""What the analytics service reads from its environment, checked once at start.

The connection variables are the shared names of ``docs/stack.md`` (``NABD_MQTT_HOST``,
``NABD_ANALYTICS_DATABASE_URL``, ...), so a deployment sets them once for every service; the
tuning knobs are the service's own (``NABD_ANALYTICS_*``), with defaults that suit a hospital.
"""

from __future__ import annotations

import os
import platform
import secrets
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MonitorSettings", "default_worker_id"]


def default_worker_id() -> str:
    """Host, process and a random suffix: unique without configuration, so a single worker
    needs none and two services in one process (tests) never share an id."""
    return f"{platform.node()}-{os.getpid()}-{secrets.token_hex(2)}"


class MonitorSettings(BaseSettings):
    """Connections, credentials and cadences of the analytics service."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, case_sensitive=False
    )

    database_url: str = Field(min_length=1, validation_alias="NABD_ANALYTICS_DATABASE_URL")
    """libpq URL of the service's own login (a member of ``nabd_analytics``)."""
    mqtt_host: str = Field(min_length=1, validation_alias="NABD_MQTT_HOST")
    mqtt_port: int = Field(ge=1, le=65535, validation_alias="NABD_MQTT_PORT")
    mqtt_ca_file: Path = Field(validation_alias="NABD_MQTT_CA_FILE")
    mqtt_username: str = Field(min_length=1, validation_alias="NABD_ANALYTICS_MQTT_USERNAME")
    mqtt_password: str = Field(
        min_length=1, repr=False, validation_alias="NABD_ANALYTICS_MQTT_PASSWORD"
    )
    mqtt_cert_file: Path = Field(validation_alias="NABD_ANALYTICS_MQTT_CERT_FILE")
    mqtt_key_file: Path = Field(validation_alias="NABD_ANALYTICS_MQTT_KEY_FILE")
    mqtt_client_id: str | None = Field(
        default=None, min_length=1, validation_alias="NABD_ANALYTICS_MQTT_CLIENT_ID"
    )
    """Default ``nabd-analytics-<worker id>``: two workers never share a client id (the broker
    would disconnect one whenever the other connects)."""

    worker_id: str = Field(
        default_factory=default_worker_id,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        validation_alias="NABD_ANALYTICS_WORKER_ID",
    )
    """Names this worker in ``analytics_lease``; must be unique among the running workers."""
    lease_s: float = Field(default=3.0, gt=0, le=600, validation_alias="NABD_ANALYTICS_LEASE_S")
    """A ward's lease lasts this long unless renewed (every tick): a worker killed or hung
    loses its wards to another this long after its last tick (docs/reliability.md)."""

    tick_s: float = Field(default=1.0, gt=0, le=60, validation_alias="NABD_ANALYTICS_TICK_S")
    """Longest time between two ticks: time-driven transitions (staleness, escalation, silence
    expiry) are decided at least this often even when no observation arrives."""
    min_tick_s: float = Field(
        default=0.05, ge=0, le=10, validation_alias="NABD_ANALYTICS_MIN_TICK_S"
    )
    """Shortest time between two ticks: hand-off notifications arriving faster are coalesced
    into one micro-batch (bounds the tick rate under load, adds at most this much latency)."""
    registry_s: float = Field(default=5.0, gt=0, validation_alias="NABD_ANALYTICS_REGISTRY_S")
    """How often patients, nurses' entries, alarm limits, batteries and gateways are re-read."""
    window_every_s: float = Field(
        default=1.0, gt=0, validation_alias="NABD_ANALYTICS_WINDOW_EVERY_S"
    )
    """Cadence of the window detectors (desaturation, AF, flatline); raise it for very large
    deployments (see docs/analytics.md for the cost per patient)."""
    slow_every_s: float = Field(default=60.0, gt=0, validation_alias="NABD_ANALYTICS_SLOW_EVERY_S")
    """Cadence of per-minute summaries, baselines and trends."""
    window_cohorts: int = Field(default=1, ge=1, validation_alias="NABD_ANALYTICS_WINDOW_COHORTS")
    """Spread the window detectors over this many ticks per ``window_every_s`` (a cohort of
    patients each); every patient is still judged every ``window_every_s``."""
    slow_cohorts: int = Field(default=1, ge=1, validation_alias="NABD_ANALYTICS_SLOW_COHORTS")
    """The same for the per-minute detectors (60 with the defaults: a sixtieth each second)."""
    news2_every_s: float = Field(
        default=60.0, gt=0, le=300, validation_alias="NABD_ANALYTICS_NEWS2_EVERY_S"
    )
    """Every patient's NEWS2 is written at least this often, and whenever it changes."""
    home_every_s: float = Field(
        default=60.0, gt=0, le=3600, validation_alias="NABD_ANALYTICS_HOME_EVERY_S"
    )
    """Patients at home (a care plan) are judged on their stored spot readings this often, and
    at the tick their new readings arrive (docs/home-monitoring.md)."""
    warmup_s: float = Field(default=600.0, ge=0, validation_alias="NABD_ANALYTICS_WARMUP_S")
    """On start, raw observations of this many seconds are read back into the windows."""
    baseline_warmup_s: float = Field(
        default=6 * 3600.0, ge=0, validation_alias="NABD_ANALYTICS_BASELINE_WARMUP_S"
    )
    """On start, per-minute medians of this many seconds are read back for the baselines."""
    fetch_limit: int = Field(default=500, ge=1, validation_alias="NABD_ANALYTICS_FETCH_LIMIT")
    """Hand-off journal entries folded into one micro-batch at most (catch-up is chunked)."""
    fetch_rows: int = Field(default=50_000, ge=1, validation_alias="NABD_ANALYTICS_FETCH_ROWS")
    """Observations one micro-batch reads at most (beyond its first entry): a backlog is caught
    up in reads that each finish well inside ``statement_timeout_s`` (about 0.3 s per 50 000
    rows on the development machine), instead of one read that never does."""
    connect_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="NABD_ANALYTICS_CONNECT_TIMEOUT_S"
    )
    statement_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="NABD_ANALYTICS_STATEMENT_TIMEOUT_S"
    )
    """Any statement taking longer is cancelled: a hung server must not hang the service."""
    publish_timeout_s: float = Field(
        default=5.0, gt=0, validation_alias="NABD_ANALYTICS_PUBLISH_TIMEOUT_S"
    )
    backoff_min_s: float = Field(default=0.5, gt=0, validation_alias="NABD_ANALYTICS_BACKOFF_MIN_S")
    backoff_max_s: float = Field(default=5.0, gt=0, validation_alias="NABD_ANALYTICS_BACKOFF_MAX_S")
    """Longest wait between reconnection attempts: well under the ingest watchdog's 15 s, so a
    short database outage does not become "monitoring interrupted" after it is over."""
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="NABD_ANALYTICS_SHUTDOWN_TIMEOUT_S"
    )

    @property
    def client_id(self) -> str:
        """The MQTT client id this worker connects with."""
        return self.mqtt_client_id or f"nabd-analytics-{self.worker_id}"

    @model_validator(mode="after")
    def _ordered(self) -> MonitorSettings:
        if self.min_tick_s > self.tick_s:
            raise ValueError("NABD_ANALYTICS_MIN_TICK_S must not exceed NABD_ANALYTICS_TICK_S")
        if self.lease_s < 2 * self.tick_s:
            raise ValueError(
                "NABD_ANALYTICS_LEASE_S must be at least twice NABD_ANALYTICS_TICK_S"
                " (a lease is renewed every tick)"
            )
        if self.backoff_min_s > self.backoff_max_s:
            raise ValueError("backoff_min_s must not exceed backoff_max_s")
        return self
