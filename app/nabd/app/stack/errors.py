"""The exception tree of the local stack: every failure the CLI can explain to a human."""

from __future__ import annotations


class StackError(Exception):
    """The local stack could not do what was asked; the message says what to do about it."""


class StackInputError(StackError, ValueError):
    """Bad input: an unusable gateway id, a corrupt state file, a state folder out of reach."""


class StackNotInitialisedError(StackError):
    """The state folder holds no stack yet: ``nabd stack up`` has never run there."""


class ToolMissingError(StackError):
    """A server binary (pg_config, initdb, mosquitto, runuser) is not installed."""


class TimescaleDBMissingError(StackError):
    """PostgreSQL is there but TimescaleDB is not installed into it (or not in the database)."""


class ServiceStartError(StackError):
    """A server did not start, or did not accept connections before its deadline."""


class BackupError(StackError):
    """A backup or restore could not be done (not configured, cluster running, no backup that
    reaches the asked time, pgBackRest refused): the message says what to do."""
