"""The load generator's pure parts: the token bucket holds its rate, batches are valid contract
messages whose identities the sent record reproduces, and loss is counted right."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.catalogue import METRICS
from nabd.contract.payloads import parse_batch
from nabd.simulators.errors import LoadError
from nabd.simulators.load import LoadSettings, percentile
from nabd.simulators.load_batches import BatchFactory, ValuePool, fleet_plan
from nabd.simulators.load_record import SentRecord
from nabd.simulators.loss import compare
from nabd.simulators.ratelimit import TokenBucket

NOW = datetime(2025, 3, 1, 9, 41, 17, tzinfo=UTC)
BOOT = "6f9619ff-8b86-4d11-b42d-00c04fc964ff"
POOL = ValuePool(0)


@given(
    st.floats(1.0, 5000.0),
    st.floats(1.0, 50.0),
    st.lists(st.floats(0.0, 0.2), min_size=1, max_size=200),
)
def test_the_bucket_never_exceeds_rate_times_time_plus_burst(
    rate: float, burst: float, steps: list[float]
) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    now, taken = 0.0, 0
    for step in steps:
        now += step
        taken += bucket.take(now)
        assert taken <= rate * now + burst + 1e-6
    # polled often enough, nothing is lost either: at most one token short of the rate
    if max(steps) * rate <= burst:
        assert taken >= math.floor(rate * now + 1e-9) - 1


def test_the_bucket_waits_for_the_next_token_and_takes_back_unspent_ones() -> None:
    bucket = TokenBucket(rate=10.0, burst=5.0, now=100.0)
    assert bucket.take(100.0) == 0
    assert bucket.wait(100.0) == pytest.approx(0.1)
    assert bucket.take(100.35) == 3
    bucket.give_back(2)
    assert bucket.take(100.35, wanted=1) == 1
    assert bucket.take(200.0) == 5  # at most the burst after a long pause
    for bad in ({"rate": 0.0}, {"rate": math.inf}, {"burst": 0.5}):
        with pytest.raises(LoadError):
            TokenBucket(**{"rate": 1.0, "burst": 1.0, "now": 0.0, **bad})


def test_settings_are_checked_and_the_burst_defaults_to_50_ms() -> None:
    assert LoadSettings(rate=2000, duration_s=1).bucket_size == 100.0
    assert LoadSettings(rate=5, duration_s=1).bucket_size == 1.0
    for rate, duration, drain in ((-1.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, math.nan)):
        with pytest.raises(LoadError):
            LoadSettings(rate=rate, duration_s=duration, drain_s=drain)


def test_fleet_plans_alternate_device_kinds_with_valid_ids() -> None:
    (plan,) = fleet_plan(["load-00001"], 3)
    assert [d.device_id for d in plan.devices] == [
        "load-00001-hr0",
        "load-00001-ox1",
        "load-00001-hr2",
    ]
    assert plan.readings_per_batch == 6
    with pytest.raises(LoadError):
        fleet_plan(["x" * 60], 2)  # device ids would pass 63 characters
    with pytest.raises(LoadError):
        fleet_plan(["a", "a"], 1)
    with pytest.raises(LoadError):
        fleet_plan(["a"], 0)


def test_batches_are_valid_contract_messages_numbered_from_the_seq_base() -> None:
    (plan,) = fleet_plan(["load-00007"], 2)
    factory = BatchFactory(plan, BOOT, seq_base=10**15, pool=POOL)
    for expected_seq in range(50):
        batch_seq, payload = factory.next(NOW)
        batch = parse_batch(payload)
        assert batch_seq == batch.batch_seq == expected_seq
        assert batch.gateway_id == "load-00007"
        assert batch.boot_id == BOOT
        assert {r.seq for r in batch.readings} == {10**15 + expected_seq}
        assert [(r.device_id, r.metric) for r in batch.readings] == [
            ("load-00007-hr0", "heart_rate"),
            ("load-00007-hr0", "rr_interval"),
            ("load-00007-ox1", "spo2"),
            ("load-00007-ox1", "pulse_rate"),
        ]
        for reading in batch.readings:
            assert reading.value is not None
            assert METRICS[reading.metric].admits(reading.value)


def test_the_sent_record_expands_to_exactly_the_identities_published(tmp_path: Path) -> None:
    plans = fleet_plan(["load-a", "load-b"], 2)
    boots = {"load-a": BOOT, "load-b": "0b7e6a52-34c1-4d0e-9a57-6f1b1e2d3c4f"}
    factories = {p.gateway_id: BatchFactory(p, boots[p.gateway_id], 500, POOL) for p in plans}
    record = SentRecord.create(tmp_path / "run.sqlite", plans, boots, 500, {"rate": 1.0})
    published = []
    for gateway, count in (("load-a", 3), ("load-b", 2)):
        for _ in range(count):
            batch_seq, payload = factories[gateway].next(NOW)
            published.append(parse_batch(payload))
            record.sent(gateway, batch_seq, 1.0)
    record.pubacked("load-a", 0, 1.5, 0)
    record.pubacked("load-b", 1, 1.25, 0x87)
    record.acked("load-a", 0, 3.0)
    record.close()
    with SentRecord.open(tmp_path / "run.sqlite") as again:
        identities = {(r.device_id, r.seq, r.metric) for b in published for r in b.readings}
        assert set(again.identities()) == identities
        assert len(list(again.identities())) == len(identities) == 20
        assert set(again.batches()) == {(b.gateway_id, b.boot_id, b.batch_seq) for b in published}
        assert again.counts() == {"published": 5, "pubacked": 2, "refused": 1, "acked": 1}
        assert again.latencies("puback") == [0.25, 0.5]
        assert again.latencies("ack") == [2.0]
        assert again.plans() == plans
        assert again.settings == {"rate": 1.0}
    with pytest.raises(LoadError):
        SentRecord.create(tmp_path / "run.sqlite", plans, boots, 0, {})
    (tmp_path / "junk").write_text("not sqlite")
    with pytest.raises(LoadError):
        SentRecord.open(tmp_path / "junk")


def test_compare_counts_missing_duplicated_and_unexpected() -> None:
    sent = ["a", "b", "c", "d", "d"]
    report = compare(sent, Counter({"a": 1, "b": 3, "x": 1, "c": 0}))
    assert (report.sent, report.found, report.missing) == (4, 2, 2)
    assert (report.duplicates, report.unexpected) == (2, 1)
    assert report.loss_fraction == 0.5
    assert compare([], {}).loss_fraction == 0.0


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) is None
