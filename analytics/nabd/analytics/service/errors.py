"""The analytics service's exception tree.

``MonitorError`` is everything the service (and ``nabd alerts``) raises on purpose; bad input is a
``MonitorInputError`` (also a ``ValueError``); a nurse's action on an alert that cannot take it
(already acknowledged, resolved, unknown) is an ``AlertActionError``; a database or broker that
stays unreachable past the deadlines is a ``MonitorUnavailableError``.

The refusals a person can meet through the nurse station (a charge nurse's alarm limit, a nurse's
action on an alert) also carry a typed code, :class:`Why`, and the values they name, so the
station says them in its user's language; ``str()`` stays the English one-liner of the command
line. Errors of the service's own configuration and arrays have no code: nobody types them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = [
    "AlertActionError",
    "MonitorError",
    "MonitorInputError",
    "MonitorUnavailableError",
    "Why",
]


class Why(StrEnum):
    """What kind of refusal a person met (the values each names are in its docstring)."""

    LIMIT_ORDER = "limit_order"
    """``low``, ``high``: the low limit would not be below the high one."""
    LIMIT_SIDES = "limit_sides"
    """Neither side given."""
    LIMIT_METRIC = "limit_metric"
    """``metric``, ``metrics``: no alarm limits for that measure."""
    LIMIT_REFUSED = "limit_refused"
    """The database refused the limit (out of the measure's range, patient gone)."""
    ALERT_STATE = "alert_state"
    """``state``: the alert is no longer raised (or resolved) and cannot take the action."""
    ALREADY_SILENCED = "already_silenced"
    """The alert is silenced for longer already."""
    NO_ALERT = "no_alert"
    """The alert does not exist."""


class MonitorError(Exception):
    """Anything the analytics service reports on purpose; ``why`` and ``params`` when a person
    can meet it (see :class:`Why`)."""

    def __init__(self, message: str, why: Why | None = None, **params: object) -> None:
        super().__init__(message)
        self.why = why
        self.params: Mapping[str, object] = params


class MonitorInputError(MonitorError, ValueError):
    """A value no caller should pass (bad shape, unknown metric, impossible duration)."""


class AlertActionError(MonitorError, ValueError):
    """A nurse's action that the alert cannot take (unknown, resolved, already acknowledged)."""


class MonitorUnavailableError(MonitorError):
    """The database or the broker did not answer within the deadline."""
