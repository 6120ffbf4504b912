"""Evaluate ``nabd.analytics.af`` on all 25 records of the MIT-BIH Atrial Fibrillation Database.

Usage (from the repository root)::

    .venv/bin/python bench/af_eval.py [--step BEATS] [--data PATH]

Windows of 128 RR intervals every ``--step`` beats (default 128: non-overlapping); a window's
truth is AF when most of its intervals start inside an ``(AFIB`` episode of the reference
annotations (``rhythm_episodes.csv``); atrial flutter and junctional rhythm count as "not AF".
Prints per-record counts and the gross sensitivity, specificity, positive predictive value and
accuracy over all windows.

Data: Moody & Mark 1983, doi:10.13026/C2MW2D, PhysioNet (Goldberger et al. 2000), the copy
bundled with the simulators (``simulators/nabd/simulators/data/physio/afdb``, provenance in its
README; RR intervals from the database's unaudited automatic beat annotations, 250 Hz sample
numbers).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from nabd.analytics.af import AfConfig, features, windows
from nabd.simulators.replay import default_data_dir

DEFAULT_DATA = default_data_dir() / "afdb"


def episodes(folder: Path) -> dict[str, list[tuple[int, int]]]:
    """AFIB episodes (start, end sample) per record."""
    found: dict[str, list[tuple[int, int]]] = {}
    with (folder / "rhythm_episodes.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["rhythm"] == "AFIB":
                span = (int(row["start_sample"]), int(row["end_sample"]))
                found.setdefault(row["record"], []).append(span)
    return found


def evaluate(folder: Path, name: str, af: list[tuple[int, int]], step: int) -> list[int]:
    """[tp, fn, fp, tn] over one record's windows."""
    table = np.loadtxt(folder / f"qrs{name}.txt.gz", delimiter="\t", ndmin=2)
    start = table[:, 0].astype(np.int64)
    in_af = np.zeros(start.shape, dtype=np.bool_)
    for first, end in af:
        in_af |= (start >= first) & (start < end)
    config = AfConfig()
    rows = windows(table[:, 1], config.beats, step)
    truth = windows(in_af.astype(np.float64), config.beats, step).mean(axis=1) >= 0.5
    said = features(rows, config).irregular
    return [
        int((said & truth).sum()),
        int((~said & truth).sum()),
        int((said & ~truth).sum()),
        int((~said & ~truth).sum()),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=128, help="beats between window starts")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="afdb folder")
    args = parser.parse_args()
    folder: Path = args.data
    if not (folder / "rhythm_episodes.csv").is_file():
        print(f"MIT-BIH AF database not found in {folder}", file=sys.stderr)
        return 1
    af = episodes(folder)
    names = sorted(path.name[3:8] for path in folder.glob("qrs*.txt.gz"))
    began = time.perf_counter()
    total = np.zeros(4, dtype=np.int64)
    print(f"{'record':>7} {'windows':>8} {'TP':>6} {'FN':>6} {'FP':>6} {'TN':>6}")
    for name in names:
        counts = evaluate(folder, name, af.get(name, []), args.step)
        total += counts
        print(f"{name:>7} {sum(counts):>8} " + " ".join(f"{c:>6}" for c in counts))
    tp, fn, fp, tn = (int(c) for c in total)
    print(f"{'all':>7} {int(total.sum()):>8} {tp:>6} {fn:>6} {fp:>6} {tn:>6}")
    print(
        f"records {len(names)}, step {args.step} beats: "
        f"sensitivity {tp / (tp + fn):.1%}, specificity {tn / (tn + fp):.1%}, "
        f"PPV {tp / (tp + fp):.1%}, accuracy {(tp + tn) / total.sum():.1%} "
        f"({time.perf_counter() - began:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
