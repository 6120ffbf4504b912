"""One exception tree for care operations; every message says what, why and what is accepted.

:class:`CareInputError` is a value that can never be right (a malformed address, an unknown
device kind, a date in the future): the command line exits 2 for it, as for bad usage.
:class:`CareRefused` is a well-formed request the registry's current state refuses (the MRN is
already admitted, the device is worn by someone else): the command line exits 1.
"""

from __future__ import annotations

__all__ = [
    "AddressTaken",
    "AlreadyAdmitted",
    "AssignmentOverlap",
    "BedOccupied",
    "CareError",
    "CareInputError",
    "CareRefused",
    "Conflict",
    "Discharged",
    "Unknown",
]


class CareError(Exception):
    """Any refusal of a care operation; ``str()`` is the message for people."""


class CareInputError(CareError, ValueError):
    """A value that is malformed whatever the registry holds (usage error)."""


class CareRefused(CareError):
    """A well-formed request that the registry's current state refuses."""


class Unknown(CareRefused):
    """A ward, bed, patient, device or gateway the registry does not know."""


class Conflict(CareRefused):
    """The id exists already with other fields: a retry would have sent the same ones."""


class AlreadyAdmitted(CareRefused):
    """The MRN belongs to a patient who is admitted now."""

    def __init__(self, message: str, patient_id: str) -> None:
        super().__init__(message)
        self.patient_id = patient_id


class BedOccupied(CareRefused):
    """Another admitted patient is in the bed."""


class Discharged(CareRefused):
    """The patient has left: nothing more can be done for this admission."""


class AddressTaken(CareRefused):
    """Another device is registered with this Bluetooth address."""


class AssignmentOverlap(CareRefused):
    """The device is worn by another patient over (part of) the requested time."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder
