"""Links from the dashboards' patient cells to the nurse station's patient page (optional).

Grafana shows the ward but cannot acknowledge an alert or take a nurse's observation; the
station (``nabd web run``) can. Given the station's base URL (``NABD_DASHBOARDS_STATION_URL`` or
``--station-url``), every table column named ``patient`` (the ward overview's patient rows, the
open alerts' rows) gets one more cell link, ``<base>/patients/<patient id>``. Without it the
dashboards are exactly what they were: not every site runs the station, and a link to nowhere is
worse than none. The station checks the ward itself: a link to another ward's patient is "not
found" there.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from nabd.dashboards.errors import ExportError
from nabd.dashboards.i18n import Strings

__all__ = ["PATIENT_COLUMN", "parse_station_url", "with_station_links"]

PATIENT_COLUMN = "patient"


def parse_station_url(url: str) -> str:
    """The station's base URL without a trailing slash; http(s) with a host, nothing else."""
    cleaned = url.strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.query or parts.fragment:
        raise ExportError(
            f"the station URL must be http(s)://host[:port][/path], e.g. "
            f"https://station.example.org, not {url[:80]!r}"
        )
    return cleaned


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in model.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside it
    return out


def with_station_links(model: dict[str, Any], base_url: str, s: Strings) -> dict[str, Any]:
    """A copy of a dashboard ``model`` whose ``patient`` columns link to the station."""
    link = {"title": s.open_in_station, "url": f"{base_url}/patients/${{__value.raw}}",
            "targetBlank": True}  # fmt: skip
    linked = copy.deepcopy(model)
    for panel in _panels(linked):
        if panel.get("type") != "table":
            continue
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            matcher = override.get("matcher", {})
            if matcher.get("id") != "byName" or matcher.get("options") != PATIENT_COLUMN:
                continue
            properties = override.setdefault("properties", [])
            links = next((p for p in properties if p.get("id") == "links"), None)
            if links is None:
                properties.append({"id": "links", "value": [link]})
            else:
                links["value"] = [*links["value"], link]
    return linked
