"""One exception tree for care operations; every message says what, why and what is accepted.

:class:`CareInputError` is a value that can never be right (a malformed address, an unknown
device kind, a date in the future): the command line exits 2 for it, as for bad usage.
:class:`CareRefused` is a well-formed request the registry's current state refuses (the MRN is
already admitted, the device is worn by someone else): the command line exits 1.

Every refusal also carries a typed code, :class:`Why`, and the values its sentence names
(``params``, checked against :data:`PARAMS` when raised): ``str()`` is the English one-liner the
command line prints, and another front end (the nurse station) says the same refusal in its
user's language from its own catalogue, keyed by the code, without parsing English.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = [
    "PARAMS",
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
    "Why",
]


class Why(StrEnum):
    """What kind of refusal it is: a stable code, one per sentence of the care operations."""

    BAD_ID = "bad_id"
    BAD_BED = "bad_bed"
    BAD_MRN = "bad_mrn"
    BAD_ACTOR = "bad_actor"
    BAD_TEXT = "bad_text"
    BAD_NAME = "bad_name"
    BAD_BIRTH_DATE = "bad_birth_date"
    BIRTH_DATE_RANGE = "birth_date_range"
    BAD_ADDRESS = "bad_address"
    RESERVED_ADDRESS = "reserved_address"
    BAD_KIND = "bad_kind"
    BAD_TIME = "bad_time"
    TIME_IN_FUTURE = "time_in_future"
    NO_BEDS_GIVEN = "no_beds_given"
    MRN_ADMITTED = "mrn_admitted"
    MRN_ADMITTED_ELSEWHERE = "mrn_admitted_elsewhere"
    PATIENT_ID_TAKEN = "patient_id_taken"
    BED_OCCUPIED = "bed_occupied"
    NO_PATIENT = "no_patient"
    DISCHARGED = "discharged"
    ADDRESS_TAKEN = "address_taken"
    DEVICE_CONFLICT = "device_conflict"
    NO_DEVICE = "no_device"
    ASSIGNMENT_IN_FUTURE = "assignment_in_future"
    ASSIGNMENT_BEFORE_ADMISSION = "assignment_before_admission"
    DEVICE_WORN = "device_worn"
    NO_WARD = "no_ward"
    NO_BED = "no_bed"
    NO_GATEWAY = "no_gateway"
    GATEWAY_REVOKED = "gateway_revoked"
    GATEWAY_ELSEWHERE = "gateway_elsewhere"
    WARD_CONFLICT = "ward_conflict"
    BED_GATEWAY_CONFLICT = "bed_gateway_conflict"
    CONCURRENT_CHANGE = "concurrent_change"
    NOT_PERMITTED = "not_permitted"
    BAD_SCOPE = "bad_scope"
    CONSENTED_ALREADY = "consented_already"
    CONSENT_BEFORE_WITHDRAWAL = "consent_before_withdrawal"
    NO_CONSENT = "no_consent"
    WITHDRAWAL_BEFORE_CONSENT = "withdrawal_before_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_REQUIRED = "consent_required"
    BAD_FILE = "bad_file"
    BAD_ROWS = "bad_rows"
    BAD_BUNDLE = "bad_bundle"
    BAD_USAGE = "bad_usage"
    NOTHING_TO_RECTIFY = "nothing_to_rectify"
    MRN_AMBIGUOUS = "mrn_ambiguous"
    ERASE_ADMITTED = "erase_admitted"
    NO_IDENTITY = "no_identity"


PARAMS: Final[Mapping[Why, frozenset[str]]] = {
    why: frozenset(names.split())
    for why, names in {
        Why.BAD_ID: "what value",
        Why.BAD_BED: "value",
        Why.BAD_MRN: "value",
        Why.BAD_ACTOR: "",
        Why.BAD_TEXT: "what value limit",
        Why.BAD_NAME: "value",
        Why.BAD_BIRTH_DATE: "value",
        Why.BIRTH_DATE_RANGE: "value",
        Why.BAD_ADDRESS: "value",
        Why.RESERVED_ADDRESS: "value",
        Why.BAD_KIND: "value kinds",
        Why.BAD_TIME: "value",
        Why.TIME_IN_FUTURE: "value",
        Why.NO_BEDS_GIVEN: "",
        Why.MRN_ADMITTED: "mrn patient ward bed since",
        Why.MRN_ADMITTED_ELSEWHERE: "mrn",
        Why.PATIENT_ID_TAKEN: "patient",
        Why.BED_OCCUPIED: "ward bed patient",
        Why.NO_PATIENT: "patient",
        Why.DISCHARGED: "patient at",
        Why.ADDRESS_TAKEN: "address device",
        Why.DEVICE_CONFLICT: "device",
        Why.NO_DEVICE: "device",
        Why.ASSIGNMENT_IN_FUTURE: "at",
        Why.ASSIGNMENT_BEFORE_ADMISSION: "patient at",
        Why.DEVICE_WORN: "device patient since until",
        Why.NO_WARD: "ward",
        Why.NO_BED: "ward bed",
        Why.NO_GATEWAY: "gateway",
        Why.GATEWAY_REVOKED: "gateway at",
        Why.GATEWAY_ELSEWHERE: "gateway ward",
        Why.WARD_CONFLICT: "ward name",
        Why.BED_GATEWAY_CONFLICT: "ward bed gateway",
        Why.CONCURRENT_CHANGE: "what",
        Why.NOT_PERMITTED: "what",
        Why.BAD_SCOPE: "value scopes",
        Why.CONSENTED_ALREADY: "patient scope at",
        Why.CONSENT_BEFORE_WITHDRAWAL: "patient scope at",
        Why.NO_CONSENT: "patient scope",
        Why.WITHDRAWAL_BEFORE_CONSENT: "patient scope at",
        Why.CONSENT_WITHDRAWN: "patient at",
        Why.CONSENT_REQUIRED: "patient",
        Why.BAD_FILE: "detail",
        Why.BAD_ROWS: "refused total",
        Why.BAD_BUNDLE: "detail",
        Why.BAD_USAGE: "detail",
        Why.NOTHING_TO_RECTIFY: "",
        Why.MRN_AMBIGUOUS: "mrn count patients",
        Why.ERASE_ADMITTED: "patient",
        Why.NO_IDENTITY: "patient",
    }.items()
}
"""The values each kind of refusal names (its catalogue entries may use any of them)."""


class CareError(Exception):
    """Any refusal of a care operation; ``str()`` is the message for people (English), ``why``
    and ``params`` the same refusal for a front end that translates it."""

    def __init__(self, message: str, why: Why, **params: object) -> None:
        if frozenset(params) != PARAMS[why]:  # a programming error, caught by the tests
            raise TypeError(f"{why} takes {sorted(PARAMS[why])}, not {sorted(params)}")
        super().__init__(message)
        self.why = why
        self.params: Mapping[str, object] = params


class CareInputError(CareError, ValueError):
    """A value that is malformed whatever the registry holds (usage error)."""


class CareRefused(CareError):
    """A well-formed request that the registry's current state refuses."""


class Unknown(CareRefused):
    """A ward, bed, patient, device or gateway the registry does not know."""


class Conflict(CareRefused):
    """The id exists already with other fields: a retry would have sent the same ones."""


class AlreadyAdmitted(CareRefused):
    """The MRN belongs to a patient who is admitted now (``params["patient"]``)."""

    @property
    def patient_id(self) -> str:
        return str(self.params["patient"])


class BedOccupied(CareRefused):
    """Another admitted patient is in the bed."""


class Discharged(CareRefused):
    """The patient has left: nothing more can be done for this admission."""


class AddressTaken(CareRefused):
    """Another device is registered with this Bluetooth address."""


class AssignmentOverlap(CareRefused):
    """The device is worn by another patient over (part of) the requested time."""

    @property
    def holder(self) -> str:
        return str(self.params["patient"])
