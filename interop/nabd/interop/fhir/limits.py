"""What a request may weigh, and what of it the audit log keeps (pure).

A request target (path and query) longer than :data:`MAX_TARGET_BYTES` is refused with 414, one
with more than :data:`MAX_PARAMS` parameters with 400, before the token is even checked: no
legitimate FHIR search comes near either, and neither reaches the database.

The audit row records *what was applied*, not the raw query string: the search's supported
parameters, sorted (so the same search is the same text whatever the client's order), URL
encoded and cut at :data:`AUDIT_QUERY_BYTES` with the cut marked, plus the names of the
parameters that were ignored (at most :data:`AUDIT_NAMES`, each cut at :data:`AUDIT_NAME_CHARS`).
An audit row is therefore bounded whatever the client sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import urlencode

MAX_TARGET_BYTES: Final = 8192
MAX_PARAMS: Final = 100
AUDIT_QUERY_BYTES: Final = 2048
AUDIT_NAMES: Final = 20
AUDIT_NAME_CHARS: Final = 64


def cut(text: str, limit: int) -> str:
    """``text`` if its UTF-8 fits in ``limit`` bytes, else its longest prefix that does (whole
    characters) followed by a marker saying how long it was."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    kept = raw[:limit].decode(errors="ignore")
    return f"{kept}...[truncated: {len(raw)} bytes]"


def audit_query(applied: Sequence[tuple[str, str]]) -> str:
    """The applied parameters as one bounded, normalised query string."""
    return cut(urlencode(sorted(applied)), AUDIT_QUERY_BYTES)


def audit_names(ignored: Iterable[str]) -> list[str]:
    """The ignored parameters' names, bounded in number and length."""
    names = sorted(set(ignored))
    kept = [cut(name, AUDIT_NAME_CHARS) for name in names[:AUDIT_NAMES]]
    if len(names) > AUDIT_NAMES:
        kept.append(f"...[{len(names) - AUDIT_NAMES} more]")
    return kept
