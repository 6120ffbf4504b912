"""``nabd web run``'s settings, from ``NABD_WEB_*`` environment variables (one class, one place)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StationSettings"]


class StationSettings(BaseSettings):
    """Where the station listens, which database login it uses, and its session rules."""

    model_config = SettingsConfigDict(env_prefix="NABD_WEB_", extra="ignore", populate_by_name=True)

    database_url: SecretStr = Field(
        validation_alias=AliasChoices("NABD_WEB_DATABASE_URL", "NABD_STATION_DATABASE_URL")
    )
    """A login in the ``nabd_station`` group (``nabd stack env`` prints the local one as
    ``NABD_STATION_DATABASE_URL``)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    tls_cert_file: Path | None = None  # NABD_WEB_TLS_CERT_FILE (the local stack makes one)
    """Server certificate (PEM); with ``tls_key_file``, required unless ``insecure_http``."""
    tls_key_file: Path | None = None
    insecure_http: bool = False
    """Plain HTTP, only behind a reverse proxy that terminates TLS (cookies then lose Secure)."""
    idle_timeout_s: float = Field(default=900.0, gt=0, le=12 * 3600)
    """A session unused this long is over (15 min: a shared ward tablet left signed in)."""
    max_failed_sign_ins: int = Field(default=5, ge=1, le=100)
    lockout_s: float = Field(default=900.0, gt=0, le=24 * 3600)
    """After ``max_failed_sign_ins`` wrong passwords in a row, the account waits this long."""
    refresh_s: float = Field(default=5.0, gt=0, le=300)
    """How often the board refreshes its rows without reloading the page."""
    grafana_url: str | None = None
    """Base URL of the hospital's Grafana, for links from the patient page (optional)."""
    time_zone: str = "UTC"
    """The ward's IANA time zone (``Africa/Casablanca``): dates in the pages are written in it."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: give an IANA name") from None
        return value
