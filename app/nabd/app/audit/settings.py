"""Settings of the audit commands (``NABD_AUDIT_*``), the checkpoint writer among them."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    """Where the database, the keys and the checkpoint log are; options override each one."""

    model_config = SettingsConfigDict(env_prefix="NABD_AUDIT_", frozen=True, extra="ignore")

    database_url: str | None = Field(
        default=None,
        min_length=1,
        validation_alias=AliasChoices("NABD_AUDIT_DATABASE_URL", "NABD_DATABASE_URL"),
    )
    """A login that may read ``audit_log``; without ``NABD_AUDIT_DATABASE_URL``, the owner's."""
    signing_key_file: Path | None = None
    """The Ed25519 private key (PEM) of the checkpoint writer: never on the database host."""
    public_key_file: Path | None = None
    """The public key a verifier trusts (its own copy); default: derived from the signing key."""
    checkpoint_file: Path | None = None
    """The append-only checkpoint log, when ``--out`` / ``--checkpoint`` is not given."""
