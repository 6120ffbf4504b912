"""Label export: CSV and JSON parse back to exactly the labels written; bad files are refused."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract import AlertPriority
from nabd.simulators.errors import LabelFormatError
from nabd.simulators.labels import (
    COLUMNS,
    Condition,
    Label,
    labels_from_csv,
    labels_from_json,
    labels_to_csv,
    labels_to_json,
    news2_priority,
)
from nabd.simulators.ward import build_ward

instants = st.floats(min_value=1.5e9, max_value=4e9, allow_nan=False)
labels = st.builds(
    lambda pid, scenario, condition, priority, onset, length: Label(
        patient_id=pid,
        scenario=scenario,
        condition=condition,
        priority=priority,
        onset=onset,
        offset=onset + length,
    ),
    st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
    st.sampled_from(Condition),
    st.none() | st.sampled_from(AlertPriority),
    instants,
    st.floats(min_value=1e-3, max_value=1e6),
)


@given(st.lists(labels, max_size=20))
def test_csv_round_trips_exactly(written: list[Label]) -> None:
    assert labels_from_csv(labels_to_csv(written)) == tuple(written)


@given(st.lists(labels, max_size=20))
def test_json_round_trips_exactly(written: list[Label]) -> None:
    assert labels_from_json(labels_to_json(written)) == tuple(written)


def test_a_wards_labels_round_trip_and_read_as_plain_csv_and_json() -> None:
    ward = build_ward(40, seed=8)
    assert labels_from_csv(labels_to_csv(ward.labels)) == ward.labels
    assert labels_from_json(labels_to_json(ward.labels)) == ward.labels
    rows = list(csv.DictReader(io.StringIO(labels_to_csv(ward.labels))))
    assert (
        tuple(rows[0])
        == COLUMNS
        == ("patient_id", "scenario", "condition", "priority", "onset", "offset")
    )
    objects = json.loads(labels_to_json(ward.labels))
    assert [tuple(o) for o in objects] == [COLUMNS] * len(ward.labels)
    stable = next(o for o in objects if o["condition"] == "stable")
    assert stable["priority"] is None
    assert next(r for r in rows if r["condition"] == "stable")["priority"] == ""


GOOD = "p-1,sepsis,sepsis,high,1740787200.0,1740790800.0"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "patient,scenario,condition,priority,onset,offset\n" + GOOD,
        ",".join(COLUMNS) + "\np-1,sepsis,influenza,high,1,2",
        ",".join(COLUMNS) + "\np-1,sepsis,sepsis,urgent,1,2",
        ",".join(COLUMNS) + "\np-1,sepsis,sepsis,high,2,1",
        ",".join(COLUMNS) + "\np-1,sepsis,sepsis,high,nan,1",
        ",".join(COLUMNS) + "\np-1,sepsis,sepsis,high,1",
        ",".join(COLUMNS) + "\nP 1,sepsis,sepsis,high,1,2",
    ],
)
def test_malformed_csv_is_refused(text: str) -> None:
    with pytest.raises(LabelFormatError):
        labels_from_csv(text)


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[{"patient_id": "p-1"}]',
        '[{"patient_id": "p-1", "scenario": "s", "condition": "sepsis", "priority": null,'
        ' "onset": NaN, "offset": 2}]',
        '[{"patient_id": "p-1", "scenario": "s", "condition": "sepsis", "priority": null,'
        ' "onset": 1, "offset": 2, "extra": 0}]',
        '[{"patient_id": "p-1", "scenario": "s", "condition": "sepsis", "priority": null,'
        ' "onset": "1", "offset": 2}]',
    ],
)
def test_malformed_json_is_refused(text: str) -> None:
    with pytest.raises(LabelFormatError):
        labels_from_json(text)


@pytest.mark.parametrize(
    ("total", "single_3", "expected"),
    [
        (0, False, None),
        (1, False, AlertPriority.LOW),
        (4, False, AlertPriority.LOW),
        (3, True, AlertPriority.MEDIUM),  # RCP Chart 3: a 3 in one parameter is low-medium
        (5, False, AlertPriority.MEDIUM),
        (6, True, AlertPriority.MEDIUM),
        (7, False, AlertPriority.HIGH),
        (15, True, AlertPriority.HIGH),
    ],
)
def test_news2_risk_maps_to_alert_priority(
    total: int, single_3: bool, expected: AlertPriority | None
) -> None:
    assert news2_priority(total, single_3) is expected
