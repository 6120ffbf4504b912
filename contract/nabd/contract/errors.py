"""The contract's exception tree: every error it raises is a :class:`ContractError`.

All of them subclass :class:`ValueError` because they all mean one thing: the input (a topic, a
metric key, a payload) is bad, and retrying with the same input will fail the same way. Callers that
only care about "reject this message" catch :class:`ContractError`; those that log or count rejects
read :attr:`PayloadError.field` and :attr:`PayloadError.reason`.
"""

from __future__ import annotations

__all__ = ["ContractError", "PayloadError", "TopicError", "UnknownMetricError"]


class ContractError(ValueError):
    """Base class: input that does not satisfy the Nabd data contract."""


class TopicError(ContractError):
    """A topic or an id that cannot be part of a topic."""


class UnknownMetricError(ContractError):
    """A metric key that is not in the catalogue."""


class PayloadError(ContractError):
    """A payload that cannot be accepted; names the offending field.

    ``field`` is a dotted path into the JSON document (``readings.3.value``); it is ``""`` when
    the payload as a whole is at fault (too large, not UTF-8, not JSON, not an object).
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field or 'payload'}: {reason}")

    def __reduce__(self) -> tuple[type[PayloadError], tuple[str, str]]:
        # Keeps the error picklable (multiprocessing ingest workers) despite the custom signature.
        return (type(self), (self.field, self.reason))
