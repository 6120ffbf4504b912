"""Simulated wards and replays as plain files, for analytics evaluation and for people.

``nabd simulate ward`` and ``nabd simulate replay`` write one folder:

============  ================================================================================
file          content
============  ================================================================================
series.csv    ``patient_id,time,<metric>...,battery_<device>...,no_contact``: one row per patient
              and sampling instant; an empty cell is a missing value; ``no_contact`` lists (``;``)
              the metrics whose device reported no skin contact at that instant
beats.csv     ``patient_id,beat_time,rr``: every beat the chest strap detected (rr empty for the
              first beat after a gap)
labels.csv    the ground truth (:func:`~nabd.simulators.labels.labels_to_csv`)
labels.json   the same labels as JSON
run.json      what produced the files: seed, span, step, patients and their scenarios, record
============  ================================================================================

Times are seconds since the Unix epoch, written as the shortest decimal that reads back as the
same float (so do values). A ward is simulated and written in chunks of patients, so memory stays
bounded whatever its size (rows are identical to a one-shot simulation).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import numpy as np

from nabd.simulators.devices import METRICS, Device
from nabd.simulators.labels import Label, labels_to_csv, labels_to_json
from nabd.simulators.series import VitalSeries
from nabd.simulators.ward import Ward

__all__ = ["SERIES_COLUMNS", "Written", "write_replay", "write_series", "write_ward"]

SERIES_COLUMNS: Final = (
    "patient_id",
    "time",
    *METRICS,
    *(f"battery_{d.value}" for d in Device),
    "no_contact",
)
_CHUNK_PATIENTS: Final = 10


@dataclass(frozen=True, slots=True)
class Written:
    """What was written where."""

    folder: Path
    patients: int
    rows: int
    beats: int
    labels: int


def _cells(values: Iterable[float]) -> list[str]:
    return ["" if math.isnan(v) else repr(v) for v in values]


def _battery_column(series: VitalSeries, device: Device, row: int) -> list[str]:
    battery = series.battery_level.get(device)
    if battery is None:
        return [""] * series.times.size
    return [str(v) for v in battery[row].tolist()]


def _no_contact_column(series: VitalSeries, row: int) -> list[str]:
    names = [m for m in METRICS if m in series.contact_lost]
    flags = [series.contact_lost[m][row] for m in names]
    any_lost = np.any(flags, axis=0) if flags else np.zeros(series.times.size, dtype=np.bool_)
    return [
        ";".join(n for n, lost in zip(names, flags, strict=True) if lost[i]) if any_lost[i] else ""
        for i in range(series.times.size)
    ]


def _series_rows(series: VitalSeries) -> Iterable[list[str]]:
    times = _cells(series.times.tolist())
    for row, patient_id in enumerate(series.patient_ids):
        columns = [
            _cells(series.values[m][row].tolist()) if m in series.values else [""] * len(times)
            for m in METRICS
        ]
        columns += [_battery_column(series, device, row) for device in Device]
        columns.append(_no_contact_column(series, row))
        for i, time in enumerate(times):
            yield [patient_id, time, *(column[i] for column in columns)]


def write_series(series: VitalSeries, series_file: TextIO, beats_file: TextIO) -> tuple[int, int]:
    """Append ``series``' rows and beats to open CSV files; returns (rows, beats)."""
    rows = csv.writer(series_file, lineterminator="\n")
    count = 0
    for row in _series_rows(series):
        rows.writerow(row)
        count += 1
    beats = csv.writer(beats_file, lineterminator="\n")
    beat_count = 0
    for detected in series.beats:
        times, rr = _cells(detected.beat_times.tolist()), _cells(detected.rr.tolist())
        beats.writerows([detected.patient_id, t, r] for t, r in zip(times, rr, strict=True))
        beat_count += len(times)
    return count, beat_count


def _write_labels(folder: Path, labels: Iterable[Label]) -> int:
    chosen = list(labels)
    (folder / "labels.csv").write_text(labels_to_csv(chosen), encoding="utf-8")
    (folder / "labels.json").write_text(labels_to_json(chosen), encoding="utf-8")
    return len(chosen)


def _open(folder: Path) -> tuple[TextIO, TextIO]:
    folder.mkdir(parents=True, exist_ok=True)
    series = (folder / "series.csv").open("w", encoding="utf-8", newline="")
    beats = (folder / "beats.csv").open("w", encoding="utf-8", newline="")
    csv.writer(series, lineterminator="\n").writerow(SERIES_COLUMNS)
    csv.writer(beats, lineterminator="\n").writerow(("patient_id", "beat_time", "rr"))
    return series, beats


def _write_run(folder: Path, run: Mapping[str, object]) -> None:
    (folder / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")


def write_ward(ward: Ward, folder: Path, step_s: float = 1.0) -> Written:
    """Simulate ``ward`` every ``step_s`` seconds and write it to ``folder``, chunk by chunk."""
    times = ward.times(step_s)
    series_file, beats_file = _open(folder)
    rows = beats = 0
    with series_file, beats_file:
        for first in range(0, len(ward.profiles), _CHUNK_PATIENTS):
            chunk = ward.simulate(times, patients=slice(first, first + _CHUNK_PATIENTS))
            written = write_series(chunk, series_file, beats_file)
            rows, beats = rows + written[0], beats + written[1]
    labels = _write_labels(folder, ward.labels)
    _write_run(
        folder,
        {
            "kind": "ward",
            "seed": ward.seed,
            "start": ward.start,
            "end": ward.end,
            "step_s": step_s,
            "patients": {
                p.patient_id: [s.name for s in ward.assignments[p.patient_id]]
                for p in ward.profiles
            },
        },
    )
    return Written(folder, len(ward.profiles), rows, beats, labels)


def write_replay(
    series: VitalSeries, labels: Iterable[Label], folder: Path, source: Mapping[str, object]
) -> Written:
    """Write a replayed recording (one patient) to ``folder``; ``source`` names the record."""
    series_file, beats_file = _open(folder)
    with series_file, beats_file:
        rows, beats = write_series(series, series_file, beats_file)
    count = _write_labels(folder, labels)
    _write_run(folder, {"kind": "replay", **source, "patients": list(series.patient_ids)})
    return Written(folder, len(series.patient_ids), rows, beats, count)
