"""The pure parts of ``bench/soak.py``: the memory trend, the flatness verdict, the tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nabd_bench_soak", _SOAK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


soak = _load()
TIMES = [10.0 * i for i in range(13)]  # two minutes, a sample every 10 s


def test_slope_is_least_squares() -> None:
    assert soak.slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert soak.slope([0, 1, 2, 3], [5, 1, 5, 1]) == pytest.approx(-0.8)
    assert soak.slope([1.0], [3.0]) == 0.0
    assert soak.slope([2, 2], [1, 9]) == 0.0


def test_a_steady_process_is_flat_after_its_warm_up() -> None:
    # Grows 40 MiB while warming up, then stays within 0.5 MiB of 100.
    warm = [60 + 40 * min(1.0, t / 50) for t in TIMES[:6]]
    steady = [100 + (0.5 if i % 2 else -0.5) for i in range(len(TIMES) - 6)]
    v = soak.verdict("ingest", TIMES, warm + steady)
    assert v.flat
    assert abs(v.growth_mib) < 1.0
    assert v.mean_mib == pytest.approx(100, abs=0.5)


def test_a_leak_is_not_flat() -> None:
    leaking = [80 + 0.2 * t for t in TIMES]  # 12 MiB a minute, all along
    v = soak.verdict("ingest", TIMES, leaking, flat_mib=8.0, flat_frac=0.05)
    assert not v.flat
    assert v.growth_mib == pytest.approx(0.2 * (TIMES[-1] - TIMES[6]))


def test_the_threshold_is_the_larger_of_absolute_and_relative() -> None:
    big = [1000 + 0.1 * t for t in TIMES]  # +6 MiB over the second half of a 1 GiB process
    assert soak.verdict("postgres", TIMES, big, flat_mib=1.0, flat_frac=0.05).flat
    assert not soak.verdict("postgres", TIMES, big, flat_mib=1.0, flat_frac=0.001).flat


def test_tables() -> None:
    table = soak.memory_table([0.0, 10.0], {"ingest": [67.4, 67.5], "mosquitto": [14.9, 15.0]})
    assert table.splitlines() == [
        " t (s)     ingest  mosquitto",
        "     0       67.4       14.9",
        "    10       67.5       15.0",
    ]
    verdicts = [soak.Verdict("ingest", 67.4, 0.1, True), soak.Verdict("analytics", 80, 20, False)]
    lines = soak.verdict_table(verdicts).splitlines()
    assert lines[1].split() == ["ingest", "67.4", "0.10", "flat"]
    assert lines[2].split() == ["analytics", "80.0", "20.00", "GROWING"]
