"""Replay of real PhysioNet recordings as virtual patients, with their ground truth.

The records ship with the package, in ``nabd/simulators/data/physio`` (provenance and licences in
its ``README.md``); pass ``data_dir`` to read another folder laid out the same way (``afdb/``,
``mimic2/``). They are read with the standard library and NumPy only.

* **MIMIC-II numerics** (``mimic2/*_numerics_1perMin.csv``, one row a minute): heart rate, pulse,
  respiration, SpO2 and cuff pressures. A 0 means the sensor was not connected: the value becomes
  missing with ``contact_lost`` set, and each run of zeros a ``sensor_off`` label; it never
  reaches a consumer as a zero. An empty cell is an invalid (or, for the cuff, not taken) sample:
  missing, without a label. Invasive arterial pressure (``ABP*``) has no wearable counterpart and
  is left out.
* **MIT-BIH Atrial Fibrillation Database** (``afdb/qrsNNNNN.txt.gz``): RR intervals beat by beat
  (ECG at 250 Hz), from which a 1 Hz heart rate is derived as a chest strap would, and the
  reference rhythm episodes (``afdb/rhythm_episodes.csv``) as ``atrial_fibrillation`` labels.

Recordings carry no usable dates (MIMIC shifts them for privacy), so a replay starts at
``start`` (by default :data:`~nabd.simulators.timebase.DEFAULT_START`, plus the recording's own
time of day when its header gives one, so circadian patterns stay in place).
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from nabd.contract import AlertPriority
from nabd.simulators.devices import device_of
from nabd.simulators.errors import ReplayError
from nabd.simulators.heartbeat import HEART_RATE_WINDOW_S, heart_rate_from_beats
from nabd.simulators.labels import Condition, Label
from nabd.simulators.measurement import quantised
from nabd.simulators.series import BeatSeries, BoolArray, VitalSeries
from nabd.simulators.timebase import DEFAULT_START, FloatArray, regular_times

__all__ = [
    "AFDB_SAMPLING_HZ",
    "MIMIC_COLUMNS",
    "Replay",
    "afdb_records",
    "default_data_dir",
    "mimic_records",
    "replay_afdb",
    "replay_mimic",
]

AFDB_SAMPLING_HZ: Final = 250.0
MIMIC_COLUMNS: Final = {
    "HR [bpm]": "heart_rate",
    "PULSE [bpm]": "pulse_rate",
    "RESP [pm]": "respiration_rate",
    "SpO2 [%]": "spo2",
    "NBPSys [mmHg]": "systolic_bp",
    "NBPDias [mmHg]": "diastolic_bp",
    "NBPMean [mmHg]": "mean_arterial_pressure",
}
"""MIMIC numerics column -> catalogue metric key."""

_MIMIC_SUFFIX: Final = "_numerics_1perMin.csv"
_MIMIC_STEP_S: Final = 60.0
_RECORD: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_BASE_TIME: Final = re.compile(r"^(?:(\d{1,2}):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


@dataclass(frozen=True, eq=False)
class Replay:
    """One recording as a one-patient series, with its labels."""

    record: str
    series: VitalSeries
    labels: tuple[Label, ...]


def default_data_dir() -> Path:
    """The records bundled with the package (``afdb/``, ``mimic2/``)."""
    return Path(__file__).resolve().parent / "data" / "physio"


def _physio(data_dir: Path | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir)


def _checked_record(record: str) -> str:
    if not _RECORD.fullmatch(record):
        raise ReplayError(f"not a record name: {record!r}")
    return record


# ---- MIMIC-II numerics -------------------------------------------------------------------------


def mimic_records(data_dir: Path | None = None) -> tuple[str, ...]:
    """Names of the MIMIC-II numerics records available."""
    folder = _physio(data_dir) / "mimic2"
    return tuple(
        sorted(p.name.removesuffix(_MIMIC_SUFFIX) for p in folder.glob(f"*{_MIMIC_SUFFIX}"))
    )


def replay_mimic(
    record: str, *, data_dir: Path | None = None, start: float | None = None
) -> Replay:
    """A MIMIC-II numerics record as patient ``mimic2-<subject>`` (e.g. ``mimic2-s00001``)."""
    folder = _physio(data_dir) / "mimic2"
    path = folder / f"{_checked_record(record)}{_MIMIC_SUFFIX}"
    if start is None:
        start = DEFAULT_START + _time_of_day(folder / f"{record}.hea")
    minutes, columns = _read_numerics(path)
    times = start + _MIMIC_STEP_S * minutes
    values: dict[str, FloatArray] = {}
    contact_lost: dict[str, BoolArray] = {}
    for metric, column in columns.items():
        off = column == 0.0
        values[metric] = np.where(off, np.nan, column)[np.newaxis, :]
        contact_lost[metric] = off[np.newaxis, :]
    patient_id = f"mimic2-{record.split('-', maxsplit=1)[0].lower()}"
    series = VitalSeries(
        patient_ids=(patient_id,), times=times, values=values, contact_lost=contact_lost
    )
    return Replay(record=record, series=series, labels=_sensor_off_labels(patient_id, series))


def _read_numerics(path: Path) -> tuple[FloatArray, dict[str, FloatArray]]:
    """The minute column and each known metric's column (NaN for an empty cell)."""
    try:
        with path.open(newline="", encoding="ascii") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"cannot read {path}: {exc}") from exc
    if not rows or rows[0][:1] != ["minute"]:
        raise ReplayError(f"{path}: the first column must be 'minute'")
    header = rows[0]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ReplayError(f"{path}: row {number} has {len(row)} cells, not {len(header)}")
    try:
        table = np.array(
            [[float(cell) if cell else np.nan for cell in row] for row in rows[1:]], dtype=float
        )
    except ValueError as exc:
        raise ReplayError(f"{path}: not a number: {exc}") from exc
    if table.shape[0] == 0:
        raise ReplayError(f"{path}: no samples")
    minutes = table[:, 0]
    if np.isnan(minutes).any() or (np.diff(minutes) <= 0).any():
        raise ReplayError(f"{path}: minutes must be present and increasing")
    if (table[:, 1:] < 0).any():
        raise ReplayError(f"{path}: negative values")
    columns = {
        MIMIC_COLUMNS[name]: table[:, index]
        for index, name in enumerate(header)
        if name in MIMIC_COLUMNS
    }
    return minutes, columns


def _time_of_day(header: Path) -> float:
    """Seconds after midnight at which the record starts, from its WFDB header (0 if unknown)."""
    try:
        fields = header.read_text(encoding="ascii").split("\n", 1)[0].split()
    except (OSError, UnicodeDecodeError):
        return 0.0
    match = _BASE_TIME.fullmatch(fields[4]) if len(fields) > 4 else None
    if match is None:
        return 0.0
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600.0 + int(minutes) * 60.0 + float(seconds)


def _sensor_off_labels(patient_id: str, series: VitalSeries) -> tuple[Label, ...]:
    """One ``sensor_off`` label per device per run of samples with its contact lost."""
    by_device: dict[str, BoolArray] = {}
    for metric, lost in series.contact_lost.items():
        device = device_of(metric).value
        by_device[device] = by_device.get(device, np.zeros(series.times.shape, bool)) | lost[0]
    labels = []
    times = series.times
    after_end = times[-1] + _MIMIC_STEP_S
    for device in sorted(by_device):
        edges = np.diff(np.concatenate(([0], by_device[device].astype(np.int8), [0])))
        for first, stop in zip(
            np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True
        ):
            labels.append(
                Label(
                    patient_id=patient_id,
                    scenario="mimic2_replay",
                    condition=Condition.SENSOR_OFF,
                    priority=AlertPriority.MEDIUM,
                    onset=float(times[first]),
                    offset=float(times[stop]) if stop < times.size else float(after_end),
                )
            )
    return tuple(sorted(labels, key=lambda label: label.onset))


# ---- MIT-BIH Atrial Fibrillation Database ------------------------------------------------------


def afdb_records(data_dir: Path | None = None) -> tuple[str, ...]:
    """Names (``NNNNN``) of the AF database records with RR intervals available."""
    folder = _physio(data_dir) / "afdb"
    return tuple(sorted(p.name[3:8] for p in folder.glob("qrs*.txt.gz")))


def replay_afdb(
    record: str,
    *,
    data_dir: Path | None = None,
    start: float = DEFAULT_START,
    step_s: float = 1.0,
) -> Replay:
    """An AF database record as patient ``afdb-NNNNN``: beats, heart rate every ``step_s``, and
    its reference ``atrial_fibrillation`` episodes as labels."""
    folder = _physio(data_dir) / "afdb"
    intervals = _read_qrs(folder / f"qrs{_checked_record(record)}.txt.gz")
    beats = start + intervals[:, 1] / AFDB_SAMPLING_HZ
    rr = (intervals[:, 1] - intervals[:, 0]) / AFDB_SAMPLING_HZ
    rr[0] = np.nan  # the first interval runs from the start of the recording, not from a beat
    patient_id = f"afdb-{record}"
    times = regular_times(float(beats[0]), float(beats[-1] - beats[0]) + step_s, step_s)
    heart_rate = quantised(heart_rate_from_beats(beats, times, HEART_RATE_WINDOW_S), 0)
    series = VitalSeries(
        patient_ids=(patient_id,),
        times=times,
        values={"heart_rate": heart_rate[np.newaxis, :]},
        contact_lost={"heart_rate": np.zeros((1, times.size), dtype=np.bool_)},
        beats=(BeatSeries(patient_id=patient_id, beat_times=beats, rr=rr),),
    )
    labels = tuple(
        Label(
            patient_id=patient_id,
            scenario="afdb_replay",
            condition=Condition.ATRIAL_FIBRILLATION,
            priority=AlertPriority.MEDIUM,
            onset=start + first / AFDB_SAMPLING_HZ,
            offset=start + last / AFDB_SAMPLING_HZ,
        )
        for first, last in _af_episodes(folder / "rhythm_episodes.csv", record)
    )
    return Replay(record=record, series=series, labels=labels)


def _read_qrs(path: Path) -> FloatArray:
    """(start_sample, end_sample) of each interval; start of one is the end of the previous."""
    try:
        with gzip.open(path, "rt", encoding="ascii") as handle:
            table = np.loadtxt(handle, delimiter="\t", ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise ReplayError(f"cannot read {path}: {exc}") from exc
    if table.shape[1] != 3 or table.shape[0] < 2:
        raise ReplayError(f"{path}: expected rows of start_sample, RR_seconds, end_sample")
    samples = table[:, [0, 2]]
    if (np.diff(samples[:, 1]) <= 0).any() or (samples[1:, 0] != samples[:-1, 1]).any():
        raise ReplayError(f"{path}: intervals must be contiguous and increasing")
    return samples


def _af_episodes(path: Path, record: str) -> list[tuple[int, int]]:
    """(start_sample, end_sample) of each AFIB episode of ``record`` in rhythm_episodes.csv."""
    try:
        with path.open(newline="", encoding="ascii") as handle:
            rows = list(csv.DictReader(handle))
        return [
            (int(row["start_sample"]), int(row["end_sample"]))
            for row in rows
            if row["record"] == record and row["rhythm"] == "AFIB"
        ]
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ReplayError(f"cannot read AF episodes from {path}: {exc}") from exc
