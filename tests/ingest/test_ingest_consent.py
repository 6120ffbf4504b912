"""The pure side of consent at ingest: which readings of a flush no consent period covers, by
their sample time, and the reason their message's dead letter gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg.types.multirange import Multirange
from psycopg.types.range import Range

from nabd.ingest.attribution import Assignment, Registry, attribute
from nabd.ingest.consent import periods_from_rows, reason, withhold
from nabd.ingest.staging import Row

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _row(device: str, seq: int, minutes: int) -> Row:
    t = T0 + timedelta(minutes=minutes)
    return (t, device, 1, seq, 70.0, [], t, "gw-1")


def test_only_restricted_patients_are_kept_as_periods() -> None:
    periods = periods_from_rows(
        [
            ("p-free", Multirange([Range(None, None, "()")])),
            ("p-none", Multirange()),
            ("p-until", Multirange([Range(None, T0, "()")])),
        ]
    )
    assert set(periods) == {"p-none", "p-until"}
    assert periods["p-none"] == ()


def test_readings_outside_their_patients_periods_are_withheld_by_sample_time() -> None:
    rows = [_row("hr-a", 1, -5), _row("hr-a", 2, 5), _row("hr-b", 1, 5), _row("hr-c", 1, 5)]
    split = attribute(
        rows,
        Registry(
            {"hr-a": "gw-1", "hr-b": "gw-1", "hr-c": "gw-1"},
            {"hr-a": (Assignment("p-a", None, None),), "hr-b": (Assignment("p-b", None, None),)},
        ),
    )
    periods = {"p-a": (Range(None, T0, "()"),)}  # withdrew at T0; p-b is unrestricted
    kept, withheld = withhold(split, periods)
    assert [(o[0], o[2], o[4]) for o in kept.observed] == [("p-a", "hr-a", 1), ("p-b", "hr-b", 1)]
    assert [r[1] for r in kept.unattributed] == ["hr-c"]  # nobody's: not a consent matter
    assert withheld.of(rows) == ["p-a"]
    assert set(kept.latest) == {("p-a", 1), ("p-b", 1)}
    assert kept.latest[("p-a", 1)][0] == T0 - timedelta(minutes=5)  # the withheld one is not latest


def test_no_restriction_changes_nothing() -> None:
    rows = [_row("hr-a", 1, 0)]
    split = attribute(rows, Registry({"hr-a": "gw-1"}, {"hr-a": (Assignment("p-a", None, None),)}))
    kept, withheld = withhold(split, {})
    assert kept is split
    assert withheld.of(rows) == []


def test_the_reason_counts_and_names() -> None:
    text = reason(["p-b", "p-a", "p-b"], 7)
    assert text.startswith("3 of 7 readings are of patient(s) p-a, p-b at times no consent")
    assert "replay this dead letter" in text
