"""Grafana provisioning files: the data source, the dashboards provider, the dashboards.

``export(directory)`` writes a tree meant to be Grafana's provisioning folder
(``/etc/grafana/provisioning`` in the official image)::

    datasources/nabd.yaml          the PostgreSQL data source, uid nabd-timescaledb
    dashboards/nabd.yaml           a file provider: folder "Nabd", reads dashboards/nabd/
    dashboards/nabd/<uid>.json     one file per dashboard and language

The data source logs in as the read-only dashboards user, and every connection setting is an
environment variable of the Grafana process (``${NABD_DASHBOARDS_DB_PASSWORD}``, which Grafana
expands when it reads the file), so the files hold no secret and can be committed or baked into
an image. The YAML files are written in JSON syntax, which is YAML too and leaves no room for
indentation or quoting mistakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from nabd.dashboards.errors import ExportError
from nabd.dashboards.registry import FOLDER_TITLE, FOLDER_UID, BuiltDashboard
from nabd.dashboards.target import DATASOURCE_TYPE, DATASOURCE_UID

__all__ = [
    "DASHBOARDS_SUBDIR",
    "DATASOURCE_NAME",
    "DEFAULT_MOUNT",
    "ENVIRONMENT",
    "datasource_config",
    "export",
    "provider_config",
]

DATASOURCE_NAME: Final = "Nabd TimescaleDB"
DEFAULT_MOUNT: Final = "/etc/grafana/provisioning"
"""Where Grafana sees the exported folder (the official image's provisioning path)."""
DASHBOARDS_SUBDIR: Final = "dashboards/nabd"

ENVIRONMENT: Final[Mapping[str, str]] = {
    "host": "NABD_DASHBOARDS_DB_HOST",
    "port": "NABD_DASHBOARDS_DB_PORT",
    "database": "NABD_DASHBOARDS_DB_NAME",
    "user": "NABD_DASHBOARDS_DB_USER",
    "password": "NABD_DASHBOARDS_DB_PASSWORD",
    "sslmode": "NABD_DASHBOARDS_DB_SSLMODE",
}
"""The Grafana process's environment variables the data source reads, by setting."""

_HEADER: Final = "# Written by `nabd dashboards export`: edit the code, not this file.\n"


def _env(setting: str) -> str:
    return "${" + ENVIRONMENT[setting] + "}"


def datasource_config() -> dict[str, Any]:
    """``datasources/nabd.yaml``: TimescaleDB through the read-only ``nabd_dashboards`` role."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": DATASOURCE_NAME,
                "type": DATASOURCE_TYPE,
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": f"{_env('host')}:{_env('port')}",
                "user": _env("user"),
                "editable": False,
                "jsonData": {
                    "database": _env("database"),
                    "sslmode": _env("sslmode"),
                    "postgresVersion": 1000,
                    "timescaledb": True,
                    "timeInterval": "10s",
                    "maxOpenConns": 10,
                    "maxIdleConnsAuto": True,
                },
                "secureJsonData": {"password": _env("password")},
            }
        ],
    }


def provider_config(mount: str = DEFAULT_MOUNT) -> dict[str, Any]:
    """``dashboards/nabd.yaml``: load ``<mount>/dashboards/nabd`` into the folder "Nabd"."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "nabd",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {
                    "path": f"{mount.rstrip('/')}/{DASHBOARDS_SUBDIR}",
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }


def _yaml(config: Mapping[str, Any]) -> str:
    return _HEADER + json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def export(
    directory: Path, dashboards: Iterable[BuiltDashboard], mount: str = DEFAULT_MOUNT
) -> list[Path]:
    """Write the provisioning tree under ``directory``; return the files written.

    Dashboard files of earlier exports that are not part of this one are removed, so Grafana
    drops a dashboard that was removed from the code (or a language no longer exported).
    """
    if not mount.startswith("/"):
        raise ExportError(f"the mount point must be an absolute path, got {mount!r}")
    boards = list(dashboards)
    if not boards:
        raise ExportError("nothing to export: no dashboards selected")
    target = directory / DASHBOARDS_SUBDIR
    try:
        target.mkdir(parents=True, exist_ok=True)
        (directory / "datasources").mkdir(exist_ok=True)
        written = [
            _write(directory / "datasources" / "nabd.yaml", _yaml(datasource_config())),
            _write(directory / "dashboards" / "nabd.yaml", _yaml(provider_config(mount))),
        ]
        written += [_write(target / f"{board.uid}.json", board.to_json()) for board in boards]
        for old in set(target.glob("*.json")) - set(written):
            old.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write the provisioning files to {directory}: {exc}") from exc
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
