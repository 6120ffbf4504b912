"""The station's exceptions: each one is a refusal a person reads in the page, never a trace."""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "BadFormError",
    "ForbiddenError",
    "NotFoundError",
    "PhraseKey",
    "SignInRefusedError",
    "StationError",
    "UserSetupError",
]


class PhraseKey(str):
    """A refusal's value that is itself a phrase to translate (a role's name, say)."""

    __slots__ = ()


class StationError(Exception):
    """Base of every refusal of the station; ``str(error)`` is the sentence in English.

    ``phrase`` (a key of :data:`nabd.station.i18n.PHRASES`) and its ``values`` say it in the
    user's language: the page shows :meth:`in_words`, the English sentence only when the
    refusal has no phrase yet (a care operation's own sentence, for instance).
    """

    status = 400

    def __init__(self, message: str, *, phrase: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.phrase = phrase
        self.values = values

    def in_words(self, translate: Callable[..., str]) -> str:
        """The sentence in the language of ``translate`` (a :class:`~nabd.station.i18n.
        Translator`), if it has a phrase; else the English one."""
        if self.phrase is None:
            return str(self)
        values = {
            k: translate(v) if isinstance(v, PhraseKey) else v for k, v in self.values.items()
        }
        return translate(self.phrase, **values)


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
