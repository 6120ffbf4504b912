"""AF from RR intervals: the published parameters, synthetic rhythms, and the MIT-BIH AF database.

The database is the copy the simulators replay (``nabd/simulators/data/physio/afdb``, provenance
and licence in its README): MIT-BIH Atrial Fibrillation Database, Moody & Mark 1983,
doi:10.13026/C2MW2D, via PhysioNet (Goldberger et al. 2000). The tests fail if it is missing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nabd.analytics.af import AfConfig, AfState, assess, features, windows
from nabd.analytics.arrays import BoolArray, FloatArray, IntArray
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer

REPO_ROOT = Path(__file__).resolve().parents[2]
AFDB = REPO_ROOT / "simulators" / "nabd" / "simulators" / "data" / "physio" / "afdb"
AFDB_RECORDS = 25
FS = 250  # Hz: sample numbers in the RR files and annotations
S = 1_000_000_000
CONFIG = AfConfig()


@dataclass(frozen=True)
class Record:
    name: str
    start_sample: IntArray
    rr: FloatArray
    in_af: BoolArray
    """Per interval: its start lies inside an (AFIB episode."""


def afdb() -> Path:
    if not (AFDB / "rhythm_episodes.csv").is_file():
        pytest.fail(f"MIT-BIH AF database missing: expected {AFDB}/rhythm_episodes.csv")
    return AFDB


def load(name: str) -> Record:
    folder = afdb()
    table = np.loadtxt(folder / f"qrs{name}.txt.gz", delimiter="\t", ndmin=2)
    start = table[:, 0].astype(np.int64)
    in_af = np.zeros(start.shape, dtype=np.bool_)
    with (folder / "rhythm_episodes.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["record"] == name and row["rhythm"] == "AFIB":
                in_af |= (start >= int(row["start_sample"])) & (start < int(row["end_sample"]))
    return Record(name=name, start_sample=start, rr=table[:, 1], in_af=in_af)


def records() -> list[str]:
    names = sorted(p.name[3:8] for p in afdb().glob("qrs*.txt.gz"))
    if len(names) != AFDB_RECORDS:
        pytest.fail(f"MIT-BIH AF database incomplete: {len(names)} qrs*.txt.gz files in {AFDB}")
    return names


def test_the_turning_point_band_is_the_published_one() -> None:
    low, high = CONFIG.tpr_band  # Dash et al. 2009: 0.54 < TPR < 0.77 for 128 beats
    assert 0.54 < low < 0.55
    assert 0.76 < high < 0.77


def test_synthetic_rhythms() -> None:
    rng = np.random.default_rng(1)
    beats = np.arange(128)
    sinus = 0.8 + 0.05 * np.sin(2 * np.pi * beats / 4.5)  # respiratory sinus arrhythmia
    ectopics = sinus.copy()
    ectopics[[20, 60, 100]] = 0.45  # premature beats...
    ectopics[[21, 61, 101]] = 1.15  # ...each with its compensatory pause
    random = rng.uniform(0.45, 1.15, size=128)  # irregularly irregular
    found = features(np.vstack([sinus, ectopics, random]))
    assert found.irregular.tolist() == [False, False, True]
    assert found.nrmssd[2] > 0.1
    assert found.entropy[2] > 0.7


def test_a_constant_rhythm_has_zero_entropy_and_no_turning_points() -> None:
    found = features(np.full((1, 128), 0.75))
    assert found.nrmssd.tolist() == [0.0]
    assert found.tpr.tolist() == [0.0]
    assert found.entropy.tolist() == [0.0]
    assert found.irregular.tolist() == [False]


def test_windows_are_views_in_steps() -> None:
    rr = np.arange(300, dtype=np.float64)
    rows = windows(rr, 128, 64)
    assert rows.shape == (3, 128)
    assert rows[:, 0].tolist() == [0.0, 64.0, 128.0]
    assert windows(rr[:100], 128, 1).shape == (0, 128)


def test_bad_intervals_raise() -> None:
    with pytest.raises(AnalyticsInputError):
        features(np.zeros((1, 128)))
    with pytest.raises(AnalyticsInputError):
        features(np.ones((1, 64)))
    with pytest.raises(AnalyticsInputError):
        AfConfig(beats=128, trim=70)


def test_sensitivity_and_specificity_on_the_mit_bih_af_database() -> None:
    """All 25 records, non-overlapping 128-beat windows, truth = most beats inside AFIB.

    Measured 93.2 % / 94.9 % (docs/analytics.md; ``bench/af_eval.py`` prints it per record);
    published RR-only detectors report about 94 % / 95-97 % on the same database.
    """
    counts = np.zeros(4, dtype=np.int64)  # tp, fn, fp, tn
    for name in records():
        record = load(name)
        usable = record.rr.shape[0] // 128 * 128
        truth = record.in_af[:usable].reshape(-1, 128).mean(axis=1) >= 0.5
        said = features(record.rr[:usable].reshape(-1, 128)).irregular
        counts += [
            (said & truth).sum(),
            (~said & truth).sum(),
            (said & ~truth).sum(),
            (~said & ~truth).sum(),
        ]
    tp, fn, fp, tn = counts.tolist()
    assert tp + fn > 3000  # the whole database was read
    assert fp + tn > 5000
    assert tp / (tp + fn) >= 0.90
    assert tn / (tn + fp) >= 0.92


def test_many_windows_at_once_equal_one_at_a_time() -> None:
    record = load("04043")
    rows = windows(record.rr, 128, 500)
    together = features(rows)
    for i in range(0, rows.shape[0], 7):
        alone = features(rows[i : i + 1])
        assert alone.irregular[0] == together.irregular[i]
        np.testing.assert_allclose(
            [alone.nrmssd[0], alone.tpr[0], alone.entropy[0]],
            [together.nrmssd[i], together.tpr[i], together.entropy[i]],
        )


def test_streaming_through_a_ring_buffer_matches_the_annotations() -> None:
    """Two whole records as two patients, fed in one-minute micro-batches, judged each minute.

    04746 is sinus rhythm for its first 2.9 h then mostly AF; 08405 mostly AF after 2.8 h. The
    online verdict must equal the batch verdict on the same 128 beats, and the latched AF
    condition must agree with the reference annotation in nearly every minute (measured: 99 %).
    """
    loaded = [load(name) for name in ("04746", "08405")]
    ring = RingBuffer(2, capacity=256)
    state = AfState.initial(2)
    beat_times = [r.start_sample * S // FS for r in loaded]
    minutes = range(3, min(int(t[-1] // (60 * S)) for t in beat_times))
    same_verdict = np.zeros(2, dtype=np.int64)
    matches_truth = np.zeros(2, dtype=np.int64)
    before = -1
    for minute in minutes:
        now = minute * 60 * S
        batch = [(t > before) & (t <= now) for t in beat_times]
        before = now
        ring.push(
            np.concatenate([np.full(b.sum(), p) for p, b in enumerate(batch)]),
            np.concatenate([t[b] for t, b in zip(beat_times, batch, strict=True)]),
            np.concatenate([r.rr[b] for r, b in zip(loaded, batch, strict=True)]),
        )
        found = assess(now, ring.window(), CONFIG)
        state = state.step(now, found, CONFIG)
        for p, (record, times) in enumerate(zip(loaded, beat_times, strict=True)):
            last = np.searchsorted(times, now, side="right")
            batch_verdict = features(record.rr[last - 128 : last][None, :]).irregular[0]
            same_verdict[p] += int(found.ready[p] and found.irregular[p] == batch_verdict)
            matches_truth[p] += int(state.latch.active[p] == record.in_af[last - 1])
    assert same_verdict.tolist() == [len(minutes)] * 2
    assert (matches_truth / len(minutes) >= 0.95).all()


def test_too_few_or_stale_beats_are_not_ready() -> None:
    ring = RingBuffer(2, capacity=200)
    ring.push(np.zeros(200, dtype=np.int64), np.arange(200) * S, np.full(200, 0.8))
    ring.push(np.ones(100, dtype=np.int64), np.arange(100) * S, np.full(100, 0.8))
    found = assess(200 * S, ring.window(), CONFIG)
    assert found.ready.tolist() == [True, False]
    stale = assess(200 * S + 400 * S, ring.window(), CONFIG)  # 128th-newest beat > 300 s old
    assert stale.ready.tolist() == [False, False]
