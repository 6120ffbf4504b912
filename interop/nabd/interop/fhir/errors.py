"""The FHIR component's exceptions: one tree, bad input is a ``ValueError``."""

from __future__ import annotations

from typing import Final

SHOWN: Final = 80
"""How much of a refused value an error message quotes."""


def shown(value: str) -> str:
    """A refused value as an error message quotes it: repr'd, at most :data:`SHOWN` characters."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}... ({len(value)} characters)"


class FhirError(Exception):
    """Anything the FHIR export refuses or cannot do."""


class SearchError(FhirError, ValueError):
    """A search or read request that cannot be answered as asked (HTTP 400)."""


class NotFoundError(FhirError, LookupError):
    """The resource does not exist, or its id is not one Nabd issues (HTTP 404)."""


class FhirConfigError(FhirError, ValueError):
    """The FHIR settings or the database roles do not allow what was asked."""


class NotSharedError(FhirError):
    """The patient's record may not be shared through FHIR: no consent to ``fhir-sharing`` is in
    force where the deployment requires one, or the patient withdrew it (HTTP 403)."""
