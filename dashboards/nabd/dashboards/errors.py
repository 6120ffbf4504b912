"""The exceptions of ``nabd.dashboards``: one tree, so the CLI catches them in one place."""

from __future__ import annotations

__all__ = ["DashboardsError", "DeployError", "ExportError", "MacroError"]


class DashboardsError(Exception):
    """Anything ``nabd.dashboards`` refuses or cannot do."""


class MacroError(DashboardsError, ValueError):
    """A query uses a macro or template variable that cannot be expanded as Grafana would."""


class ExportError(DashboardsError, ValueError):
    """The provisioning files cannot be written where or how they were asked for."""


class DeployError(DashboardsError):
    """Grafana refused the dashboards, or could not be reached."""
