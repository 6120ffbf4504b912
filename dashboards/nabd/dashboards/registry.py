"""Every Nabd dashboard, in every language, as Grafana JSON: what export and deploy ship.

A dashboard is identified by its slug and language; its uid (``nabd-<slug>-<lang>``) never
changes, so provisioning and ``deploy`` overwrite the same dashboard on every run, and links
between dashboards keep working. All of them live in one Grafana folder, :data:`FOLDER_TITLE`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from nabd.dashboards import alerts, devices, patient_detail, pipeline, remote, ward_overview
from nabd.dashboards.board import uid
from nabd.dashboards.i18n import Lang, strings
from nabd.dashboards.station_links import parse_station_url, with_station_links

__all__ = ["BUILDERS", "FOLDER_TITLE", "FOLDER_UID", "BuiltDashboard", "build_all"]

FOLDER_UID: Final = "nabd"
FOLDER_TITLE: Final = "Nabd"

BUILDERS: Final[Mapping[str, Callable[[Lang], Dashboard]]] = MappingProxyType(
    {
        ward_overview.SLUG: ward_overview.build,
        patient_detail.SLUG: patient_detail.build,
        alerts.SLUG: alerts.build,
        devices.SLUG: devices.build,
        pipeline.SLUG: pipeline.build,
        remote.SLUG: remote.build,
    }
)
"""Dashboard slug -> builder, in the order Grafana lists them."""


@dataclass(frozen=True)
class BuiltDashboard:
    """One dashboard in one language, as the JSON model Grafana stores."""

    slug: str
    lang: Lang
    model: dict[str, Any]
    """The dashboard JSON (a fresh dict per build: callers may adjust their copy)."""

    @property
    def uid(self) -> str:
        return uid(self.slug, self.lang)

    @property
    def title(self) -> str:
        return str(self.model["title"])

    def to_json(self) -> str:
        """Stable text: the same dashboard always serialises to the same bytes."""
        return json.dumps(self.model, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _model(board: Dashboard) -> dict[str, Any]:
    encoded: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return encoded


def build_all(
    langs: Iterable[Lang] = tuple(Lang), *, station_url: str | None = None
) -> tuple[BuiltDashboard, ...]:
    """Every dashboard in each of ``langs``; with ``station_url``, patient cells also link to
    the nurse station (:mod:`nabd.dashboards.station_links`), else the models are unchanged."""
    base = None if station_url is None else parse_station_url(station_url)

    def model(board: Dashboard, lang: Lang) -> dict[str, Any]:
        built = _model(board)
        return built if base is None else with_station_links(built, base, strings(lang))

    return tuple(
        BuiltDashboard(slug, lang, model(build(lang), lang))
        for lang in langs
        for slug, build in BUILDERS.items()
    )
