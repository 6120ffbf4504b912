"""What the FHIR export and API are configured with (``NABD_FHIR_*``).

Tokens are configured by name with the SHA-256 of the secret, never the secret itself, so the
service's environment file does not hand out access. ``nabd fhir token NAME`` makes a secret and
prints its entry. A token's ``identity`` scope says whether its caller may see names, MRN and
birth date; the API then reads them under the ``nabd_fhir_identity`` database role, and every
other request under ``nabd_fhir``, which cannot read the identity schema at all. A token's
``wards`` limit it to those wards' patients: its requests run as ``nabd_fhir_ward`` (or
``nabd_fhir_ward_identity``), which reads only views filtered to those wards (migration 0021).
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from nabd.interop.fhir.codes import Systems
from nabd.interop.fhir.summaries import DEFAULT_PERIOD_S, check_period

DEFAULT_SYSTEM_BASE: Final = "https://nabd.example.org/fhir"

TokenName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
WardId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
BaseUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s?#]+[^/\s?#]$")]


class TokenGrant(BaseModel):
    """One bearer token: the SHA-256 (hex) of its secret, whether it may see identity, and the
    wards whose patients it may read (None: every ward)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    identity: bool = False
    wards: list[WardId] | None = Field(default=None, min_length=1, max_length=1000)


class FhirSettings(BaseSettings):
    """``NABD_FHIR_DATABASE_URL``, ``NABD_FHIR_TOKENS`` (JSON) and the optional rest."""

    model_config = SettingsConfigDict(env_prefix="NABD_FHIR_", extra="ignore")

    database_url: str = Field(min_length=1)
    """A login that is a member of nabd_fhir (and of nabd_fhir_identity for identity tokens)."""
    tokens: dict[TokenName, TokenGrant] = Field(default_factory=dict)
    """``{"name": {"sha256": "<hex>", "identity": false, "wards": ["w1"]}, ...}``; the name is
    the audit actor; without ``wards`` a token reads every ward."""
    system_base: BaseUrl = DEFAULT_SYSTEM_BASE
    """Base URL of Nabd's identifier and code systems: a URL the hospital controls."""
    mrn_system: BaseUrl | None = None
    """The hospital's MRN identifier system; default ``<system_base>/sid/mrn``."""
    public_url: BaseUrl | None = None
    """The API's URL as clients reach it (Bundle ``fullUrl`` and links). Unset, the API takes
    it from each request (scheme, ``Host``); an export then needs ``--base-url``."""
    summary_period_s: int = DEFAULT_PERIOD_S
    page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=1000, ge=1)

    @field_validator("summary_period_s")
    @classmethod
    def _period(cls, value: int) -> int:
        return check_period(value)

    @model_validator(mode="after")
    def _pages(self) -> FhirSettings:
        if self.page_size > self.max_page_size:
            raise ValueError(f"page_size {self.page_size} exceeds max_page_size")
        return self

    @property
    def systems(self) -> Systems:
        return Systems(self.system_base, self.mrn_system or f"{self.system_base}/sid/mrn")

    @property
    def needs_identity(self) -> bool:
        return any(grant.identity for grant in self.tokens.values())

    @property
    def scopes(self) -> set[tuple[bool, bool]]:
        """The tokens' (identity, ward-scoped) pairs: which database roles the API will take."""
        return {(g.identity, g.wards is not None) for g in self.tokens.values()}
