"""The FHIR component's exceptions: one tree, bad input is a ``ValueError``."""

from __future__ import annotations


class FhirError(Exception):
    """Anything the FHIR export refuses or cannot do."""


class SearchError(FhirError, ValueError):
    """A search or read request that cannot be answered as asked (HTTP 400)."""


class NotFoundError(FhirError, LookupError):
    """The resource does not exist, or its id is not one Nabd issues (HTTP 404)."""


class FhirConfigError(FhirError, ValueError):
    """The FHIR settings or the database roles do not allow what was asked."""
