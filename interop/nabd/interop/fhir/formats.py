"""Content negotiation (pure): the API speaks FHIR JSON only, and says so with 406.

FHIR (R4 http, 3.1.0.1.10) lets a client ask for a format with ``Accept`` or with the
``_format`` parameter, which overrides ``Accept``. Accepted: ``application/fhir+json``,
``application/json``, ``application/json+fhir`` (the DSTU2 name), ``json``, and the wildcards
``*/*`` and ``application/*``; no ``Accept`` at all means anything. XML, Turtle and other types
get 406 Not Acceptable rather than JSON the client did not ask for.
"""

from __future__ import annotations

from typing import Final

JSON_TYPES: Final = frozenset(
    {"application/fhir+json", "application/json", "application/json+fhir"}
)
WILDCARDS: Final = frozenset({"*/*", "application/*"})
FORMAT_NAMES: Final = JSON_TYPES | {"json"}
ACCEPTED: Final = "application/fhir+json (or application/json, _format=json)"


def _quality(parameters: list[str]) -> float:
    """A media range's ``q`` (1 when absent, 0 when unreadable: an unreadable range counts as
    not accepted)."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0 <= quality <= 1 else 0.0
    return 1.0


def accepts_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header admits FHIR JSON."""
    if accept is None or not accept.strip():
        return True
    for media_range in accept.split(","):
        media, *parameters = media_range.split(";")
        media = media.strip().lower()
        if (media in JSON_TYPES or media in WILDCARDS) and _quality(parameters) > 0:
            return True
    return False


def format_is_json(value: str) -> bool:
    """Whether one ``_format`` value names JSON (parameters such as ``fhirVersion`` aside)."""
    return value.split(";", maxsplit=1)[0].strip().lower() in FORMAT_NAMES


def acceptable(accept: str | None, formats: list[str]) -> bool:
    """Whether the request can be answered in JSON: ``_format`` if given, else ``Accept``."""
    if formats:
        return all(format_is_json(value) for value in formats)
    return accepts_json(accept)
