"""Ground-truth labels: what a scenario did to whom, when, and what the system should say.

A label is the answer key for evaluating analytics: patient, scenario, the condition a detector
should find, the alert priority it should raise (``None``: no alert is expected, the data must
merely be coped with), and the interval ``[onset, offset)`` in seconds since the Unix epoch.

Labels leave the simulators as CSV or JSON files read by evaluation scripts, so they are a
boundary: a strict pydantic model, and parsers that refuse anything else with LabelFormatError.
Times are written as the shortest decimal that round-trips a float, so a file parses back to
exactly the labels written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from nabd.contract import AlertPriority
from nabd.simulators.errors import LabelFormatError

__all__ = [
    "COLUMNS",
    "Condition",
    "Label",
    "labels_from_csv",
    "labels_from_json",
    "labels_to_csv",
    "labels_to_json",
    "news2_priority",
]

COLUMNS: Final = ("patient_id", "scenario", "condition", "priority", "onset", "offset")
"""Column order of the CSV export and key order of the JSON objects."""


class Condition(StrEnum):
    """What a detector should find. Stable names: evaluation scripts match on them."""

    STABLE = "stable"
    NEWS2_HIGH = "news2_high"
    SEPSIS = "sepsis"
    RESPIRATORY_DEPRESSION = "respiratory_depression"
    HYPOXAEMIA = "hypoxaemia"
    ATRIAL_FIBRILLATION = "atrial_fibrillation"
    BRADYCARDIA = "bradycardia"
    HYPERTENSIVE_CRISIS = "hypertensive_crisis"
    HYPOGLYCAEMIA = "hypoglycaemia"
    SENSOR_OFF = "sensor_off"
    FLATLINE = "flatline"
    ARTEFACT = "artefact"
    LOW_BATTERY = "low_battery"
    DEVICE_DISCONNECTED = "device_disconnected"
    CLOCK_DRIFT = "clock_drift"
    DUPLICATED_PAYLOAD = "duplicated_payload"
    GARBLED_PAYLOAD = "garbled_payload"
    # At home (nabd.simulators.home): spot measurements and adherence.
    HEART_FAILURE_DECOMPENSATION = "heart_failure_decompensation"
    NOCTURNAL_HYPOGLYCAEMIA = "nocturnal_hypoglycaemia"
    HYPERTENSIVE_EPISODE = "hypertensive_episode"
    COPD_EXACERBATION = "copd_exacerbation"
    NON_ADHERENCE = "non_adherence"


Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
"""Same rule as the contract's patient ids: lower case, no MQTT wildcards or slashes."""
ScenarioName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class Label(BaseModel):
    """One expected finding for one patient over ``[onset, offset)``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    patient_id: Identifier
    scenario: ScenarioName
    condition: Condition
    priority: AlertPriority | None
    """The alert priority expected, or None when no alert is expected."""
    onset: float
    """Seconds since the Unix epoch (UTC), inclusive."""
    offset: float
    """Seconds since the Unix epoch (UTC), exclusive; after ``onset``."""

    @model_validator(mode="after")
    def _offset_after_onset(self) -> Self:
        if not self.offset > self.onset:
            raise ValueError(f"offset {self.offset} must be after onset {self.onset}")
        return self


_LABELS: Final = TypeAdapter(tuple[Label, ...])


def news2_priority(total: int, single_parameter_3: bool) -> AlertPriority | None:
    """The alert priority a NEWS2 aggregate calls for (RCP 2017, Chart 3).

    Aggregate 0 calls for none; 1-4 is low risk (low), unless one parameter scores 3
    (low-medium risk: an urgent ward-based review, so medium); 5-6 is medium risk (medium);
    7 or more is high risk, an emergency response (high). ``critical`` is left to conditions
    beyond NEWS2.
    """
    if total >= 7:
        return AlertPriority.HIGH
    if total >= 5 or single_parameter_3:
        return AlertPriority.MEDIUM
    return AlertPriority.LOW if total > 0 else None


def labels_to_csv(labels: Iterable[Label]) -> str:
    """CSV text with a header row of :data:`COLUMNS`; a missing priority is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for label in labels:
        writer.writerow(
            (
                label.patient_id,
                label.scenario,
                label.condition.value,
                "" if label.priority is None else label.priority.value,
                repr(label.onset),
                repr(label.offset),
            )
        )
    return out.getvalue()


def labels_from_csv(text: str) -> tuple[Label, ...]:
    """Parse :func:`labels_to_csv` output; raises LabelFormatError naming the bad row."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise LabelFormatError(f"the header must be {','.join(COLUMNS)}")
    labels = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS):
            raise LabelFormatError(f"row {number}: {len(row)} cells, expected {len(COLUMNS)}")
        patient_id, scenario, condition, priority, onset, offset = row
        try:
            labels.append(
                Label(
                    patient_id=patient_id,
                    scenario=scenario,
                    condition=Condition(condition),
                    priority=AlertPriority(priority) if priority else None,
                    onset=float(onset),
                    offset=float(offset),
                )
            )
        except (ValueError, ValidationError) as exc:
            raise LabelFormatError(f"row {number}: {exc}") from exc
    return tuple(labels)


def labels_to_json(labels: Iterable[Label]) -> str:
    """A JSON array of objects keyed by :data:`COLUMNS`, one per line for readable diffs."""
    items = [json.dumps(label.model_dump(mode="json"), allow_nan=False) for label in labels]
    return "[\n" + ",\n".join(items) + "\n]\n" if items else "[]\n"


def labels_from_json(text: str) -> tuple[Label, ...]:
    """Parse :func:`labels_to_json` output; raises LabelFormatError naming the problem."""
    try:
        return _LABELS.validate_json(text)
    except ValidationError as exc:
        raise LabelFormatError(f"not a list of labels: {exc}") from exc
