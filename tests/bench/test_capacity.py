"""``bench/capacity.py``: its workload is valid by the contract, its verdict follows its rules,
and a tiny run works end to end (broker, ingest, analytics, PostgreSQL): that the benchmark
works, not what it measures."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nabd.contract.payloads import parse_batch

_ROOT = Path(__file__).resolve().parents[2]
_BENCH = _ROOT / "bench" / "capacity.py"
if str(_ROOT) not in sys.path:  # --import-mode=importlib puts no folder on sys.path
    sys.path.insert(0, str(_ROOT))

from bench import capacity  # noqa: E402

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BOOT = "0c5b1f36-7d0e-4a7e-9a41-3b1f2f6c9e10"


def test_a_gateway_second_is_four_beds_of_vitals_valid_by_the_contract() -> None:
    payload, count = capacity.batch_payload("cap-00003", BOOT, 5, 1_000_000, NOW, 900, None)
    batch = parse_batch(payload)
    assert count == len(batch.readings)
    metrics = [r.metric for r in batch.readings]
    for metric in ("heart_rate", "rr_interval", "spo2", "pulse_rate"):
        assert metrics.count(metric) == capacity.BEDS_PER_GATEWAY
    assert {r.device_id.rsplit("-", 2)[1] for r in batch.readings} == {"b0", "b1", "b2", "b3"}


def test_cuff_and_thermometer_come_once_per_period_per_bed() -> None:
    period = 60
    readings = []
    for second in range(period):
        payload, _ = capacity.batch_payload("cap-00000", BOOT, second, 10, NOW, period, None)
        readings += json.loads(payload)["readings"]
    per_metric = {
        m: sum(r["metric"] == m for r in readings) for m in ("systolic_bp", "body_temperature")
    }
    assert per_metric == {"systolic_bp": 4, "body_temperature": 4}


def test_the_injected_bed_gets_a_systolic_above_the_limit_and_no_other_bed_does() -> None:
    payload, _ = capacity.batch_payload("cap-00001", BOOT, 7, 10, NOW, 900, 2)
    systolic = {
        r.device_id: r.value for r in parse_batch(payload).readings if r.metric == "systolic_bp"
    }
    assert systolic["cap-00001-b2-bp"] == capacity.SYSTOLIC_ALERT > 220
    assert all(v is not None and v < 220 for d, v in systolic.items() if d != "cap-00001-b2-bp")


def _step(beds: int, **changes: Any) -> capacity.StepResult:
    base = capacity.StepResult(
        beds=beds,
        published=100,
        due=100,
        committed=100,
        readings_sent=1600,
        readings_stored=1600,
        commit_p50_s=0.2,
        commit_p99_s=0.6,
        alert_s=0.5,
    )
    return dataclasses.replace(base, **changes)


def test_a_step_holds_only_within_every_bound() -> None:
    assert _step(100).held
    assert not _step(100, commit_p99_s=1.2).held
    assert not _step(100, alert_s=math.inf).held
    assert not _step(100, committed=99).held
    assert not _step(100, readings_stored=1599).held
    assert not _step(100, readings_stored=1601).held  # more stored than sent is not a pass
    assert not _step(100, published=90).held  # the generator was the limit
    assert not _step(100, published=90).paced


def test_the_last_line_names_the_largest_step_held() -> None:
    line = capacity.final_line([_step(100), _step(200, commit_p99_s=0.9), _step(400, alert_s=3.0)])
    assert line == "capacity: 200 beds (p99 reading->commit 900 ms, reading->alert 500 ms, 0 lost)"
    assert capacity.final_line([_step(100, committed=97)]).startswith("capacity: 0 beds (")


@pytest.mark.integration
def test_a_tiny_run_works_end_to_end() -> None:
    """Two gateways (8 beds), 6 s: the line is printed, nothing lost, the alert came, and
    PostgreSQL's costliest statements are named (``--statements``)."""
    cmd = [sys.executable, str(_BENCH), "--beds", "8", "--hold", "6", "--settle", "3"]
    cmd += ["--generators", "1", "--alert-beds", "1", "--drain", "30", "--statements"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    pattern = (
        r"capacity: (\d+) beds \(p99 reading->commit (\d+) ms, reading->alert (\d+) ms, 0 lost\)"
    )
    match = re.fullmatch(pattern, last)
    assert match, done.stdout
    assert re.search(
        r"8 beds \(\d+ readings/s, [0-9.]+ x binary COPY\): 12/12 batches published, 12 committed",
        done.stdout,
    ), done.stdout
    assert re.search(r"^machine: binary COPY [0-9,]+ rows/s", done.stdout, re.MULTILINE)
    assert "PostgreSQL statement:" in done.stdout
    raised = re.search(r"alerts raised \(hold and drain\): (.*)", done.stdout)
    assert raised, done.stdout
    assert "systolic_bp_high 1" in raised.group(1)  # the injected bed's, and only once
    assert "; readings reached analytics on time" in raised.group(1)  # 8 beds: no delay
    assert "COPY reading_identity" in done.stdout  # ingest's writes are among them


def test_the_beds_are_in_sinus_rhythm_not_atrial_fibrillation() -> None:
    """The ward's normal load: no bed's RR intervals look irregular to the AF detector (a rate
    jumping every second once put every bed in AF: thousands of alerts, not a ward's load)."""
    import numpy as np  # noqa: PLC0415

    from nabd.analytics import af  # noqa: PLC0415
    from nabd.analytics.reference import af_features  # noqa: PLC0415

    cfg = af.AfConfig()
    rr: dict[str, list[float]] = {}
    for seq in range(300):
        for bed in range(capacity.BEDS_PER_GATEWAY):
            for r in capacity.bed_readings("cap-00001", bed, seq, seq, "t", 900, abnormal=False):
                if r["metric"] == "rr_interval":
                    rr.setdefault(r["device_id"], []).append(float(r["value"]))
    series = np.array([v[-cfg.beats :] for v in rr.values()])
    assert not af_features(series, cfg).irregular.any()


def test_a_process_that_exits_between_snapshots_counts_nothing_not_less() -> None:
    before = {"postgres": {1: 10.0, 2: 50.0}}
    after = {"postgres": {1: 12.0, 3: 1.0}}  # 2 exited, 3 started
    assert capacity.cpu_percent(before, after, 2.0) == {"postgres": 150.0}


@pytest.mark.parametrize("periodic_s", [60, 900])
def test_the_generators_fast_payloads_are_batch_payload_byte_for_byte(periodic_s: int) -> None:
    makers = {
        g: capacity.GatewayPayloads(g, BOOT, 1_234_567, periodic_s)
        for g in ("cap-00000", "cap-00417")
    }
    for g, maker in makers.items():
        for second in range(2 * periodic_s):
            for abnormal in (None, 1) if second % 37 == 0 else (None,):
                expected = capacity.batch_payload(
                    g, BOOT, second, 1_234_567, NOW, periodic_s, abnormal
                )
                assert maker.payload(second, NOW, abnormal) == expected, (g, second, abnormal)
