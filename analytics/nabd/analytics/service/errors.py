"""The analytics service's exception tree.

``MonitorError`` is everything the service (and ``nabd alerts``) raises on purpose; bad input is a
``MonitorInputError`` (also a ``ValueError``); a nurse's action on an alert that cannot take it
(already acknowledged, resolved, unknown) is an ``AlertActionError``; a database or broker that
stays unreachable past the deadlines is a ``MonitorUnavailableError``.
"""

from __future__ import annotations

__all__ = ["AlertActionError", "MonitorError", "MonitorInputError", "MonitorUnavailableError"]


class MonitorError(Exception):
    """Anything the analytics service reports on purpose."""


class MonitorInputError(MonitorError, ValueError):
    """A value no caller should pass (bad shape, unknown metric, impossible duration)."""


class AlertActionError(MonitorError, ValueError):
    """A nurse's action that the alert cannot take (unknown, resolved, already acknowledged)."""


class MonitorUnavailableError(MonitorError):
    """The database or the broker did not answer within the deadline."""
