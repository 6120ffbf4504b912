"""``nabd dashboards``: write Grafana provisioning files, or push the dashboards to a Grafana.

``export DIR`` writes the data source, the dashboards provider and every dashboard as files for
Grafana's provisioning folder; ``deploy`` pushes the dashboards through Grafana's HTTP API with a
service-account token, idempotently. Both build the dashboards from code (``nabd.dashboards``),
imported only when a handler runs so ``nabd --help`` needs only the base install.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

from nabd.app.commands import Subparsers, fail
from nabd.app.commands.problems import UsageError

if TYPE_CHECKING:
    from nabd.dashboards.i18n import Lang

logger = logging.getLogger(__name__)

LANGS = ("en", "fr", "ar", "all")
_STATION_HELP = (
    "the nurse station's base URL: patient cells then link to its patient page;"
    " default: $NABD_DASHBOARDS_STATION_URL; without either, no link"
)


def _station_url(args: argparse.Namespace) -> str | None:
    return args.station_url or os.environ.get("NABD_DASHBOARDS_STATION_URL") or None


class GrafanaSettings(BaseSettings):
    """``deploy``'s defaults: ``NABD_GRAFANA_URL`` and ``NABD_GRAFANA_TOKEN``.

    The token is better passed in the environment than on the command line, where other users
    of the machine can read it in the process list.
    """

    model_config = SettingsConfigDict(env_prefix="NABD_GRAFANA_", extra="ignore")

    url: str | None = None
    token: str | None = None


def register(subparsers: Subparsers) -> None:
    """Add ``nabd dashboards`` and its subcommands."""
    group = subparsers.add_parser("dashboards", help="Grafana dashboards for nurses and operators")
    commands = group.add_subparsers(title="dashboards commands", metavar="COMMAND", required=True)
    export = commands.add_parser(
        "export",
        help="write Grafana provisioning files (data source, provider, dashboards)",
        description="Write DIR/datasources/nabd.yaml, DIR/dashboards/nabd.yaml and "
        "DIR/dashboards/nabd/*.json, for DIR to be mounted as Grafana's provisioning folder.",
    )
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument("--lang", choices=LANGS, default="all", help="default: all")
    export.add_argument(
        "--mount",
        default="/etc/grafana/provisioning",
        help="where Grafana sees DIR (default: /etc/grafana/provisioning)",
    )
    export.add_argument("--station-url", help=_STATION_HELP)
    export.set_defaults(handler=_export)
    deploy = commands.add_parser(
        "deploy",
        help="push the dashboards to a running Grafana (idempotent)",
        description="Create the folder Nabd if missing and write every dashboard whose content "
        "differs from the code, through Grafana's HTTP API.",
    )
    deploy.add_argument("--url", help="Grafana's base URL; default: $NABD_GRAFANA_URL")
    deploy.add_argument("--token", help="service-account token; default: $NABD_GRAFANA_TOKEN")
    deploy.add_argument("--lang", choices=LANGS, default="all", help="default: all")
    deploy.add_argument("--station-url", help=_STATION_HELP)
    deploy.set_defaults(handler=_deploy)


def _langs(choice: str) -> tuple[Lang, ...]:
    from nabd.dashboards.i18n import Lang

    return tuple(Lang) if choice == "all" else (Lang(choice),)


def _export(args: argparse.Namespace) -> int:
    from nabd.dashboards.errors import DashboardsError
    from nabd.dashboards.provisioning import export
    from nabd.dashboards.registry import build_all

    try:
        boards = build_all(_langs(args.lang), station_url=_station_url(args))
        written = export(args.directory, boards, mount=args.mount)
    except DashboardsError as error:
        return fail(error)
    logger.info("wrote %d files under %s", len(written), args.directory)
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from nabd.dashboards.deploy import connect, deploy
    from nabd.dashboards.errors import DashboardsError
    from nabd.dashboards.registry import build_all

    settings = GrafanaSettings()
    url, token = args.url or settings.url, args.token or settings.token
    if not url or not token:
        return fail(UsageError("set --url and --token (or NABD_GRAFANA_URL, NABD_GRAFANA_TOKEN)"))
    try:
        boards = build_all(_langs(args.lang), station_url=_station_url(args))
        report = deploy(connect(url, token), boards)
    except DashboardsError as error:
        return fail(error)
    print(
        f"folder {'created' if report.folder_created else 'present'}; "
        f"{len(report.written)} dashboard(s) written, {len(report.unchanged)} unchanged"
    )
    if not report.datasource_found:
        logger.warning(
            "Grafana has no data source with uid nabd-timescaledb: provision it "
            "(nabd dashboards export writes datasources/nabd.yaml) or the panels show no data"
        )
    return 0
