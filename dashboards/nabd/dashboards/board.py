"""What every Nabd dashboard shares: its uid scheme, header, links and template variables."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders.dashboard import Dashboard, DashboardLink, QueryVariable
from grafana_foundation_sdk.models import dashboard

from nabd.dashboards import sql
from nabd.dashboards.i18n import Lang, Strings
from nabd.dashboards.target import datasource_ref

__all__ = ["TAG", "new_board", "patient_variable", "uid", "ward_variable"]

TAG: Final = "nabd"


def uid(slug: str, lang: Lang) -> str:
    """The dashboard's stable uid, e.g. ``nabd-ward-fr``: the same on every Grafana, forever."""
    return f"{TAG}-{slug}-{lang}"


def new_board(
    slug: str, lang: Lang, title: str, *, time_from: str = "now-24h", refresh: str = "30s"
) -> Dashboard:
    """A read-only dashboard with its uid, tags, refresh, and links to the others of its language.

    Read-only because a provisioned dashboard is code: a change made in the browser would be lost
    at the next deploy, and a nurse must not move a ward screen's panels by accident.
    """
    return (
        Dashboard(title)
        .uid(uid(slug, lang))
        .tags([TAG, str(lang)])
        .readonly()
        .timezone("browser")
        .time(time_from, "now")
        .refresh(refresh)
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .annotations([])  # explicit empty lists: Grafana adds its built-in annotation
        .variables([])
        .link(
            DashboardLink("Nabd")
            .type(dashboard.DashboardLinkType.DASHBOARDS)
            .tags([TAG, str(lang)])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )


def ward_variable(s: Strings) -> QueryVariable:
    """``$ward``: one, several or all wards (all by default)."""
    return (
        QueryVariable("ward")
        .label(s.var_ward)
        .datasource(datasource_ref())
        .query(sql.VAR_WARD)
        .multi(True)
        .include_all(True)
        .current(dashboard.VariableOption(selected=True, text="All", value="$__all"))
        .refresh(dashboard.VariableRefresh.ON_DASHBOARD_LOAD)
    )


def patient_variable(s: Strings) -> QueryVariable:
    """``$patient``: one admitted patient of the selected wards (pseudonymous id)."""
    return (
        QueryVariable("patient")
        .label(s.var_patient)
        .datasource(datasource_ref())
        .query(sql.VAR_PATIENT)
        .refresh(dashboard.VariableRefresh.ON_DASHBOARD_LOAD)
    )
