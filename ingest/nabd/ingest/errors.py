"""The ingest service's exception tree: every error it raises is an :class:`IngestError`.

Bad *input* never raises: a message that cannot be stored becomes a dead letter. What remains
are faults of the environment, split by what the service does about them: wait and retry
(:class:`DatabaseUnavailableError`), isolate the message the database refuses
(:class:`RefusedByDatabaseError`), or refuse to start (:class:`SchemaMismatchError`).
"""

from __future__ import annotations

__all__ = [
    "DatabaseUnavailableError",
    "IngestError",
    "RefusedByDatabaseError",
    "SchemaMismatchError",
]


class IngestError(RuntimeError):
    """Base class of the ingest service's own errors."""


class DatabaseUnavailableError(IngestError):
    """The flush could not be committed for a reason that waiting may cure (connection lost,
    server restarting, timeout, lock conflict). Nothing was acknowledged; retry later."""


class RefusedByDatabaseError(IngestError):
    """The database refused the data itself (a constraint or a value it cannot store). Retrying
    the same flush fails the same way, so the service retries message by message and
    dead-letters the one that fails alone."""


class SchemaMismatchError(IngestError, ValueError):
    """The database's schema does not match this code (a metric of the contract is missing from
    the ``metric`` table: run ``nabd db migrate``)."""
