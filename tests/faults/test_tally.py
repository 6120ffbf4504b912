"""Counting missing, duplicated and unexpected readings against the generator's record."""

from __future__ import annotations

from tests.faults.tally import ScenarioResult, table, tally

HR = "heart_rate"


def test_everything_stored_once_is_clean() -> None:
    sent = {"d1": [60.0, 61.0, 62.0], "d2": [70.0]}
    rows = [("d1", 1, HR, 60.0), ("d1", 2, HR, 61.0), ("d1", 3, HR, 62.0), ("d2", 0, HR, 70.0)]
    rows.append(("d1", 0, "battery_level", 90.0))  # other metrics share the numbering
    assert tally(sent, rows, HR) == tally(sent, reversed(rows), HR)
    t = tally(sent, rows, HR)
    assert (t.generated, t.stored, t.missing, t.duplicates, t.unexpected) == (4, 4, 0, 0, 0)


def test_missing_duplicate_and_unexpected_readings_are_counted() -> None:
    sent = {"d1": [60.0, 61.0, 62.0, 63.0]}
    rows = [
        ("d1", 1, HR, 60.0),
        ("d1", 1, HR, 60.0),  # the same identity twice
        ("d1", 3, HR, 62.0),  # 61 lost
        ("d1", 4, HR, 63.0),
        ("d1", 5, HR, 99.0),  # never sent
    ]
    t = tally(sent, rows, HR)
    assert (t.generated, t.stored, t.missing, t.duplicates, t.unexpected) == (4, 4, 1, 1, 1)


def test_a_reading_stored_out_of_place_is_both_missing_and_unexpected() -> None:
    sent = {"d1": [60.0, 61.0]}
    rows = [("d1", 1, HR, 61.0), ("d1", 2, HR, 60.0)]  # numbered in the wrong order
    t = tally(sent, rows, HR)
    assert (t.missing, t.unexpected) == (1, 1)


def test_the_report_table() -> None:
    ok = ScenarioResult("broker_kill9", 10, 10, 0, 0, 0, 0, 0.25, "x5")
    bad = ScenarioResult("gateway_cutoff", 10, 9, 1, 0, 0, 3, 12.0)
    assert ok.clean
    assert not bad.clean
    lines = table([ok, bad]).splitlines()
    assert lines[0].split()[:3] == ["scenario", "generated", "stored"]
    assert lines[2].split() == ["broker_kill9", "10", "10", "0", "0", "0", "0", "0.2"]
    assert lines[3].split() == ["gateway_cutoff", "10", "9", "1", "0", "0", "3", "12.0"]
    assert lines[4] == "broker_kill9: x5"
