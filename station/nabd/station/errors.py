"""The station's exceptions: each one is a refusal a person reads in the page, never a trace."""

from __future__ import annotations

__all__ = [
    "BadFormError",
    "ForbiddenError",
    "NotFoundError",
    "SignInRefusedError",
    "StationError",
    "UserSetupError",
]


class StationError(Exception):
    """Base of every refusal of the station; ``str(error)`` is the sentence shown to the user."""

    status = 400


class SignInRefusedError(StationError):
    """Unknown user, wrong password, disabled or locked out: one message for all but lock-out."""

    status = 401


class ForbiddenError(StationError):
    """The user's role does not allow the action (a nurse changing alarm limits)."""

    status = 403


class NotFoundError(StationError):
    """A patient or alert outside the user's wards is, for her, not there (no existence leak)."""

    status = 404


class BadFormError(StationError):
    """A form value outside what is accepted; the message names the field and the choices."""

    status = 400


class UserSetupError(StationError):
    """``nabd web user add`` refused: bad name, role, ward or language."""
