"""Counting missing, duplicated and unexpected readings against the generator's record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.faults.tally import ScenarioResult, longest_pause, table, tally

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
    bad = ScenarioResult("gateway_cutoff", 10, 9, 1, 0, 0, 3, 12.0, pause_s=20.46)
    assert ok.clean
    assert not bad.clean
    lines = table([ok, bad]).splitlines()
    assert lines[0].split()[:3] == ["scenario", "generated", "stored"]
    assert lines[2].split() == ["broker_kill9", "10", "10", "0", "0", "0", "0", "0.2", "-"]
    assert lines[3].split() == ["gateway_cutoff", "10", "9", "1", "0", "0", "3", "12.0", "20.5"]
    assert lines[4] == "broker_kill9: x5"


def test_the_longest_pause_is_any_device_s_longest_gap_with_the_window_ends_as_bounds() -> None:
    t0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def at(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    steady = [at(s) for s in (0.5, 1.0, 1.5, 2.0, 2.5)]
    assert longest_pause({"a": steady}, at(0), at(3)) == 0.5
    # b stops committing at 1 s and resumes at 2.8 s; a before the window does not count
    gap = [at(-5), at(0.4), at(1.0), at(2.8)]
    assert longest_pause({"a": steady, "b": gap}, at(0), at(3)) == 1.8
    assert longest_pause({"a": steady, "c": []}, at(0), at(3)) == 3.0  # c: nothing stored
    assert longest_pause({}, at(0), at(3)) == 3.0
