"""Replay of the bundled PhysioNet recordings: zeros become sensor-off, AF episodes become labels.

The expected values are read here straight from the files with the csv module, independently of
the replay code. The records ship with the package (``nabd/simulators/data/physio``, see its
README); the record names are listed here rather than globbed, so a missing file fails a test
instead of emptying a parametrisation.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from nabd.simulators.errors import ReplayError
from nabd.simulators.labels import Condition
from nabd.simulators.replay import (
    AFDB_SAMPLING_HZ,
    MIMIC_COLUMNS,
    afdb_records,
    default_data_dir,
    mimic_records,
    replay_afdb,
    replay_mimic,
)
from nabd.simulators.timebase import DEFAULT_START

PACKAGE = Path(__file__).resolve().parents[2] / "simulators" / "nabd" / "simulators"
PHYSIO = PACKAGE / "data" / "physio"
MIMIC = ("s00001-2896-10-10-00-31n", "s25047-2704-05-04-10-44n")
AFDB = (
    *("00735", "03665", "04015", "04043", "04048", "04126", "04746", "04908", "04936"),
    *("05091", "05121", "05261", "06426", "06453", "06995", "07162", "07859", "07879"),
    *("07910", "08215", "08219", "08378", "08405", "08434", "08455"),
)
"""The 25 records of the MIT-BIH AF database with RR intervals (23 with ECG, and 00735, 03665)."""


def test_the_records_ship_with_the_package() -> None:
    assert default_data_dir() == PHYSIO
    assert mimic_records() == MIMIC, f"MIMIC-II numerics missing from {PHYSIO / 'mimic2'}"
    assert afdb_records() == AFDB, f"MIT-BIH AF records missing from {PHYSIO / 'afdb'}"
    for name in ("README.md", "afdb/rhythm_episodes.csv", "afdb/LICENSE.025georgialynny-afib.txt"):
        assert (PHYSIO / name).is_file(), f"{name} missing from {PHYSIO}"
    assert (PHYSIO / "mimic2" / "LICENSE.wfdb-python.txt").is_file()


def _numerics(record: str) -> dict[str, list[str]]:
    with (PHYSIO / "mimic2" / f"{record}_numerics_1perMin.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {column: [row[column] for row in rows] for column in rows[0]}


@pytest.mark.parametrize("record", MIMIC)
def test_mimic_zeros_become_sensor_off_and_never_values(record: str) -> None:
    replay = replay_mimic(record)
    series, table = replay.series, _numerics(record)
    assert series.patient_ids == (f"mimic2-{record[:6]}",)
    zeros_seen = 0
    for column, metric in MIMIC_COLUMNS.items():
        if column not in table:
            continue
        cells = table[column]
        zero = np.array([c != "" and float(c) == 0 for c in cells])
        empty = np.array([c == "" for c in cells])
        values, lost = series.values[metric][0], series.contact_lost[metric][0]
        assert not (values == 0).any()  # no zero heart rate (or anything) is ever emitted
        assert np.array_equal(np.isnan(values), zero | empty)
        assert np.array_equal(lost, zero)  # an empty cell is missing, not "no contact"
        real = ~zero & ~empty
        assert np.array_equal(
            values[real], [float(c) for c, ok in zip(cells, real, strict=False) if ok]
        )
        zeros_seen += int(zero.sum())
    assert zeros_seen > 0
    assert not set(series.values) & {"ABPSys [mmHg]", "arterial"}  # invasive columns left out


@pytest.mark.parametrize("record", MIMIC)
def test_mimic_sensor_off_labels_cover_exactly_the_zero_runs(record: str) -> None:
    replay = replay_mimic(record)
    times = replay.series.times
    any_zero = np.zeros(times.shape, dtype=bool)
    for lost in replay.series.contact_lost.values():
        any_zero |= lost[0]
    covered = np.zeros(times.shape, dtype=bool)
    for label in replay.labels:
        assert (label.condition, label.scenario) == (Condition.SENSOR_OFF, "mimic2_replay")
        inside = (times >= label.onset) & (times < label.offset)
        assert inside.any()
        covered |= inside
    assert np.array_equal(covered, any_zero)


def test_mimic_time_axis_keeps_the_recordings_time_of_day() -> None:
    first = replay_mimic(MIMIC[0]).series.times
    assert first[0] == pytest.approx(DEFAULT_START + 31 * 60 + 25.894)  # header: 00:31:25.894
    assert (np.diff(first) == 60).all()
    assert first.size == 1936
    second = replay_mimic(MIMIC[1], start=DEFAULT_START).series.times
    assert second[0] == DEFAULT_START
    assert replay_mimic(MIMIC[1]).series.times[0] == pytest.approx(
        DEFAULT_START + 10 * 3600 + 44 * 60 + 18.529
    )


def _episodes() -> list[dict[str, str]]:
    with (PHYSIO / "afdb" / "rhythm_episodes.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("record", AFDB)
def test_afdb_labels_are_the_reference_af_episodes(record: str) -> None:
    replay = replay_afdb(record, start=DEFAULT_START, step_s=60.0)
    expected = [
        (DEFAULT_START + int(e["start_sample"]) / 250, DEFAULT_START + int(e["end_sample"]) / 250)
        for e in _episodes()
        if e["record"] == record and e["rhythm"] == "AFIB"
    ]
    assert expected
    assert [(label.onset, label.offset) for label in replay.labels] == expected
    assert all(label.condition is Condition.ATRIAL_FIBRILLATION for label in replay.labels)
    assert all(label.patient_id == f"afdb-{record}" for label in replay.labels)
    for label, episode in zip(
        replay.labels,
        (e for e in _episodes() if e["record"] == record and e["rhythm"] == "AFIB"),
        strict=True,
    ):
        assert label.offset - label.onset == pytest.approx(float(episode["duration_s"]), abs=0.01)


@pytest.mark.parametrize("record", AFDB)
def test_afdb_af_episodes_are_irregular_in_the_real_rr_intervals(record: str) -> None:
    replay = replay_afdb(record, step_s=60.0)
    beats = replay.series.beats[0]
    af = np.zeros(beats.beat_times.shape, dtype=bool)
    for label in replay.labels:
        af |= (beats.beat_times >= label.onset) & (beats.beat_times < label.offset)
    change = np.abs(np.diff(beats.rr)) / beats.rr[1:]
    in_af, in_other = af[1:] & af[:-1], ~af[1:] & ~af[:-1]
    assert np.nanmedian(change[in_af]) > 0.1
    if in_other.sum() > 1000:
        assert np.nanmedian(change[in_af]) > 2 * np.nanmedian(change[in_other])


def test_afdb_beats_and_heart_rate_match_the_file() -> None:
    record = "08455"
    with gzip.open(PHYSIO / "afdb" / f"qrs{record}.txt.gz", "rt") as handle:
        rows = [line.split("\t") for line in handle.read().splitlines()]
    replay = replay_afdb(record, start=DEFAULT_START, step_s=1.0)
    beats = replay.series.beats[0]
    assert beats.beat_times.size == len(rows)
    assert beats.beat_times[-1] == DEFAULT_START + int(rows[-1][2]) / AFDB_SAMPLING_HZ
    assert np.isnan(beats.rr[0])  # the first interval starts at the recording, not at a beat
    assert np.allclose(beats.rr[1:], [float(r[1]) for r in rows[1:]], atol=1e-9)
    heart_rate = replay.series.values["heart_rate"][0]
    assert np.nanmean(heart_rate) == pytest.approx(60 / np.nanmean(beats.rr), rel=0.02)
    assert np.allclose(heart_rate[~np.isnan(heart_rate)] % 1, 0)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (replay_afdb, "../mimic2/x"),
        (replay_afdb, "99999"),
        (replay_mimic, "s99999-0000"),
        (replay_mimic, "a b"),
    ],
)
def test_missing_or_odd_records_are_refused(call: object, argument: str) -> None:
    assert callable(call)
    with pytest.raises(ReplayError):
        call(argument)


def test_a_data_folder_elsewhere_is_honoured(tmp_path: Path) -> None:
    with pytest.raises(ReplayError):
        replay_afdb("08455", data_dir=tmp_path)
    assert afdb_records(data_dir=tmp_path) == ()
    folder = tmp_path / "mimic2"
    folder.mkdir(parents=True)
    (folder / "x1-1_numerics_1perMin.csv").write_text("minute,HR [bpm]\n0,0\n1,70.5\n2,\n")
    replay = replay_mimic("x1-1", data_dir=tmp_path, start=DEFAULT_START)
    assert np.array_equal(
        replay.series.values["heart_rate"][0], [np.nan, 70.5, np.nan], equal_nan=True
    )
    assert replay.series.contact_lost["heart_rate"][0].tolist() == [True, False, False]
    ((onset, offset),) = [(label.onset, label.offset) for label in replay.labels]
    assert (onset, offset) == (DEFAULT_START, DEFAULT_START + 60)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "time,HR [bpm]\n0,70\n",
        "minute,HR [bpm]\n0,abc\n",
        "minute,HR [bpm]\n1,70\n0,71\n",
        "minute,HR [bpm]\n0,-5\n",
        "minute,HR [bpm]\n0\n",
    ],
)
def test_malformed_numerics_are_refused(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "mimic2"
    folder.mkdir(parents=True)
    (folder / "bad_numerics_1perMin.csv").write_text(text)
    with pytest.raises(ReplayError):
        replay_mimic("bad", data_dir=tmp_path)
