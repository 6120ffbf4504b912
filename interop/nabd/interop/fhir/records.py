"""What the export reads from the database, as plain typed values.

``query`` builds these from rows; ``mapping`` turns them into FHIR resources. Keeping them apart
keeps the mapping pure: it can be tested with values from ``nabd.analytics.news2.score`` or
written by hand, without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Final

from nabd.analytics.news2 import MISSING, NO_RISK, PARAMETERS, News2

NEWS2_SUBSCORES: Final = PARAMETERS
"""The seven Chart 1 sub-scores, named as the fields of ``News2`` (and news2_score columns)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityRecord:
    """Who the pseudonym is: only read for callers allowed to see identity."""

    mrn: str
    given_name: str
    family_name: str
    birth_date: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientRecord:
    id: str
    ward_id: str
    admitted_at: datetime
    discharged_at: datetime | None
    identity: IdentityRecord | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRecord:
    id: str
    kind: str
    manufacturer: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    battery_level: float | None
    patient_id: str | None
    """The patient the device is assigned to now, if any."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingRecord:
    """One stored reading of a spot metric (temperature, weight, glucose, ...)."""

    time: datetime
    patient_id: str
    device_id: str
    key: str
    seq: int
    value: float | None
    """None only with the ``unavailable`` quality flag (the device sent a special value)."""
    quality: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureRecord:
    """One cuff measurement: the systolic, diastolic and mean readings sharing a seq and time."""

    time: datetime
    patient_id: str
    device_id: str
    seq: int
    values: Mapping[str, float | None]
    """By catalogue key; a key is absent when the cuff did not send it, None when unavailable."""
    quality: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualRecord:
    """A value a nurse measured and entered (``nurse_entry``, ``nabd nurse record`` or the
    station): a counted respiratory rate, a spot SpO2, pulse or temperature, or a blood pressure
    (its systolic and diastolic rows, entered together)."""

    entry_id: int
    """The entry's row id (a blood pressure's: its systolic row's)."""
    time: datetime
    """When the nurse observed it."""
    patient_id: str
    key: str
    """The catalogue key, or ``blood_pressure`` for a systolic/diastolic pair."""
    values: Mapping[str, float]
    """By catalogue key: one value, or the systolic and diastolic pressures."""
    performer: str
    """Who measured it, as she is named in ``entered_by``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))


@dataclass(frozen=True, slots=True, kw_only=True)
class News2Record:
    """One NEWS2 score, as ``nabd.analytics.news2`` computes it (sub-scores -1 when missing).

    ``total`` and ``risk`` are None when no parameter was present: there is no score, and it
    must never be exported as 0 or 'low' (RCP NEWS2 2017 scores measured values only).
    """

    time: datetime
    patient_id: str
    total: int | None
    risk: str | None
    complete: bool
    scale2: bool
    subscores: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.subscores) != set(NEWS2_SUBSCORES):
            raise ValueError(f"NEWS2 needs exactly the sub-scores {NEWS2_SUBSCORES}")
        if any(s < MISSING or s > 3 for s in self.subscores.values()):
            raise ValueError(f"NEWS2 sub-scores are -1 (missing) to 3: {dict(self.subscores)}")
        nothing = all(s == MISSING for s in self.subscores.values())
        if (self.total is None) != nothing or (self.risk is None) != (self.total is None):
            raise ValueError("a NEWS2 total and risk exist exactly when some parameter is present")
        object.__setattr__(self, "subscores", MappingProxyType(dict(self.subscores)))

    @property
    def missing(self) -> tuple[str, ...]:
        """The sub-scores missing from this score, in chart order."""
        return tuple(name for name in NEWS2_SUBSCORES if self.subscores[name] == MISSING)

    @classmethod
    def from_score(
        cls, result: News2, index: tuple[int, ...], *, time: datetime, patient_id: str
    ) -> News2Record:
        """The score at ``index`` of a (possibly ward-wide) ``News2`` result."""
        return cls(
            time=time,
            patient_id=patient_id,
            total=int(result.total[index]) if bool(result.scored[index]) else None,
            risk=str(result.risk[index]) if str(result.risk[index]) != NO_RISK else None,
            complete=bool(result.complete[index]),
            scale2=bool(result.scale2[index]),
            subscores={name: int(getattr(result, name)[index]) for name in NEWS2_SUBSCORES},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    id: uuid.UUID
    patient_id: str
    condition: str
    priority: str
    state: str
    message: str
    raised_at: datetime
    resolved_at: datetime | None
    metric_key: str | None
