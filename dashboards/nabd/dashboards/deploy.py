"""Push the dashboards to a running Grafana through its HTTP API (``grafana-client``).

Idempotent: the folder is created only when missing, and a dashboard is written only when what
Grafana holds differs from the code (same uid, so an update never creates a copy, and an
unchanged dashboard gets no new version in Grafana's history). Running it twice in a row makes
the second run read-only.

For a Grafana that already *provisions* the Nabd dashboards from files (``export``), use one or
the other: Grafana refuses API writes to provisioned dashboards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from nabd.dashboards.errors import DeployError
from nabd.dashboards.registry import FOLDER_TITLE, FOLDER_UID, BuiltDashboard
from nabd.dashboards.target import DATASOURCE_UID

__all__ = ["DeployReport", "connect", "deploy"]

_VOLATILE: Final = frozenset({"id", "version"})
"""Keys Grafana sets itself on save; they say nothing about the content."""


@dataclass(frozen=True)
class DeployReport:
    """What one deploy did."""

    folder_created: bool
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    datasource_found: bool
    """False when Grafana has no data source with uid ``nabd-timescaledb``: the dashboards
    are there but show "data source not found" until it is provisioned or created."""


class _Api(Protocol):
    """The part of ``GrafanaApi`` this module uses (a protocol only for typing)."""

    @property
    def folder(self) -> Any: ...
    @property
    def dashboard(self) -> Any: ...
    @property
    def datasource(self) -> Any: ...


def connect(url: str, token: str, timeout: float = 10.0) -> GrafanaApi:
    """A client for the Grafana at ``url`` authenticating with a service-account ``token``."""
    if not url.startswith(("http://", "https://")):
        raise DeployError(f"the Grafana URL must start with http:// or https://, got {url!r}")
    if not token:
        raise DeployError("a Grafana service-account token is required")
    api: GrafanaApi = GrafanaApi.from_url(url=url, credential=token, timeout=timeout)
    return api


def deploy(api: _Api, dashboards: Sequence[BuiltDashboard]) -> DeployReport:
    """Make Grafana hold exactly these dashboards in the folder "Nabd"; see the module doc."""
    try:
        created = _ensure_folder(api)
        written: list[str] = []
        unchanged: list[str] = []
        for board in dashboards:
            if _holds(api, board):
                unchanged.append(board.uid)
            else:
                api.dashboard.update_dashboard(
                    {
                        "dashboard": {**board.model, "id": None},
                        "folderUid": FOLDER_UID,
                        "overwrite": True,
                        "message": "nabd dashboards deploy",
                    }
                )
                written.append(board.uid)
        found = _found(lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID))
    except GrafanaException as exc:
        raise DeployError(f"Grafana refused the request: {exc}") from exc
    except OSError as exc:  # connection refused, DNS, TLS: niquests' errors are OSErrors
        raise DeployError(f"cannot reach Grafana: {exc}") from exc
    return DeployReport(created, tuple(written), tuple(unchanged), found)


def _found(get: Any) -> bool:
    """Whether a GET succeeds; False on 404, other errors propagate."""
    try:
        get()
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def _ensure_folder(api: _Api) -> bool:
    """Create the folder if missing (True), rename it back if someone renamed it."""
    try:
        folder = api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        return True
    if folder.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
    return False


def _content(model: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in _VOLATILE}


def _holds(api: _Api, board: BuiltDashboard) -> bool:
    """Whether Grafana already has this dashboard, identical, in the Nabd folder."""
    try:
        current = api.dashboard.get_dashboard(board.uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise
    meta = current.get("meta", {})
    stored = current.get("dashboard", {})
    return bool(meta.get("folderUid") == FOLDER_UID and _content(stored) == _content(board.model))
