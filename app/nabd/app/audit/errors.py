"""The audit component's exceptions: one tree, so the CLI maps each kind to one exit status."""

from __future__ import annotations


class AuditError(Exception):
    """Base of every audit error; its message is for a person, in one or two lines."""


class KeyFileError(AuditError):
    """A signing or public key file is missing, unreadable or not an Ed25519 key (a usage error)."""


class CheckpointLogError(AuditError):
    """The checkpoint log was altered: a forged, edited, removed or unreadable line."""


class CheckpointRefused(AuditError):
    """The checkpoint writer will not sign: the database no longer extends its last checkpoint."""
