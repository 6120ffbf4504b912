"""Sample times far from ingest's clock cannot exhaust the database nor pin the latest values
(issue 17, item 4; :mod:`nabd.ingest.sample_times`).

The class: any sample time the contract accepts, [2020, 2100), against ingest's clock. Readings
outside the window are stored at their receipt, flagged, kept out of ``observation_latest``, and
their batch's bytes are kept; the chunks a batch can create are bounded by the window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract import topics
from nabd.contract.payloads import EARLIEST, LATEST
from nabd.ingest.consumer import Delivery
from nabd.ingest.inbox import Pending
from nabd.ingest.sample_times import FLAG, Window, restamp
from nabd.ingest.settings import IngestSettings
from nabd.ingest.staging import Row
from nabd.ingest.validate import Accepted, validate
from nabd.ingest.writer import Writer
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    RunningWorker,
    batch_json,
    reading,
    register,
    worker_settings,
)
from tests.stack_kit import token, wait_until

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WINDOW = Window()
TIMES = st.datetimes(
    min_value=EARLIEST.replace(tzinfo=None),
    max_value=(LATEST - timedelta(microseconds=1)).replace(tzinfo=None),
    timezones=st.just(UTC),
)


def _row(time: datetime, received: datetime, flags: list[str]) -> Row:
    return (time, "dev", 1, 7, 72.0, flags, received, "gw")


@given(
    rows=st.lists(
        st.tuples(TIMES, TIMES, st.sampled_from([[], ["artefact"]])), min_size=1, max_size=20
    )
)
def test_every_restamped_time_lies_in_the_window_and_says_so(
    rows: list[tuple[datetime, datetime, list[str]]],
) -> None:
    before = tuple(_row(*r) for r in rows)
    after, moved = restamp(before, NOW, WINDOW)
    low, high = WINDOW.bounds(NOW)
    assert len(after) == len(before)
    assert moved == sum(not low <= r[0] <= high for r in before)
    for old, new in zip(before, after, strict=True):
        assert low <= new[0] <= high
        if low <= old[0] <= high:
            assert new == old
        else:
            assert FLAG in new[5]
            assert set(old[5]) <= set(new[5])
            assert new[0] == (old[6] if low <= old[6] <= high else NOW)
            assert new[1:5] == old[1:5]
            assert new[6:] == old[6:]


# -- through the broker, the worker and the database -----------------------------------------


def _chunks(db: IngestDb) -> int:
    rows = db.query(
        "SELECT count(*) FROM timescaledb_information.chunks"
        " WHERE hypertable_name IN ('observation', 'unattributed_observation')"
    )
    return int(rows[0][0])


@pytest.mark.integration
def test_far_future_and_past_readings_are_stored_at_receipt_flagged_and_do_not_pin_latest(
    nabd_stack: Any,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
) -> None:
    gw, device = f"gw-ft-{token()}", f"dev-ft-{token()}"
    register(ingest_db, gw, {device: f"p-{device}"})
    worker = workers(worker_settings(nabd_stack, ingest_db, f"ft-{token()}", past_horizon_days=8.0))
    gateway = gateways(gw)
    now = datetime.now(UTC).replace(microsecond=0)
    current = json.dumps(batch_json(gw, [reading(device, 1, value=80.0, at=now)])).encode()
    gateway.publish(current)
    wait_until(lambda: _latest(ingest_db, device), "the current reading")
    chunks = _chunks(ingest_db)

    # The probe's batch: 2,000 readings on 2,000 days of 2040-2045; and 2099, and 2020.
    start = datetime(2040, 1, 1, tzinfo=UTC)
    far = [
        reading(
            device, 100 + i, value=60.0, at=now, device_time=(start + timedelta(days=i)).isoformat()
        )
        for i in range(1_998)
    ]
    far.append(reading(device, 99, value=190.0, at=now, device_time="2099-12-31T23:00:00Z"))
    far.append(reading(device, 98, value=30.0, at=now, device_time="2020-01-02T00:00:00Z"))
    raw = json.dumps(batch_json(gw, far, batch_seq=1)).encode()
    flushes_before = worker.metric("nabd_ingest_flush_seconds_sum")
    gateway.publish(raw)
    wait_until(lambda: _stored(ingest_db, device) == 2_001, "the far-future batch", 60)

    assert _chunks(ingest_db) - chunks <= 1  # at most the day after, were it midnight
    flush_s = worker.metric("nabd_ingest_flush_seconds_sum") - flushes_before
    assert flush_s < 2.0, f"the flush of 2,000 readings took {flush_s:.2f} s"
    # Stored at the gateway's receipt, flagged; the latest value is still the current one.
    flagged = ingest_db.query(
        "SELECT DISTINCT time, quality FROM observation WHERE device_id = %s AND seq >= 98",
        (device,),
    )
    assert flagged == [(now, [FLAG])]
    assert _latest(ingest_db, device) == [(now, 80.0)]
    assert worker.metric("nabd_ingest_implausible_times_total") == 2_000
    # The device's claimed times are kept: the batch's bytes, as a record nobody needs to replay.
    [(category, replayed)] = ingest_db.query(
        "SELECT category, replayed_at IS NOT NULL FROM dead_letter WHERE payload = %s", (raw,)
    )
    assert (category, replayed) == ("implausible_time", True)
    # A plausible later reading moves the latest value as always.
    later = now + timedelta(seconds=30)
    gateway.publish(
        json.dumps(batch_json(gw, [reading(device, 2, value=81.0, at=later)], 2)).encode()
    )
    wait_until(lambda: _latest(ingest_db, device) == [(later, 81.0)], "the next reading")


def _latest(db: IngestDb, device: str) -> list[tuple[Any, ...]]:
    return db.query("SELECT time, value FROM observation_latest WHERE device_id = %s", (device,))


def _stored(db: IngestDb, device: str) -> int:
    return int(db.query("SELECT count(*) FROM observation WHERE device_id = %s", (device,))[0][0])


@settings(max_examples=30, deadline=None)
@given(offset_s=st.sampled_from([-1, 1]), far_s=st.integers(301, 10**9))
def test_the_window_has_the_stated_edges(offset_s: int, far_s: int) -> None:
    inside = (NOW + timedelta(seconds=300), NOW - timedelta(days=8))
    for t in inside:
        assert restamp((_row(t, NOW, []),), NOW, WINDOW)[1] == 0
    outside = NOW + timedelta(seconds=offset_s * (far_s if offset_s > 0 else far_s + 8 * 86_400))
    if EARLIEST <= outside < LATEST:
        assert restamp((_row(outside, NOW, []),), NOW, WINDOW)[1] == 1


@pytest.mark.integration
def test_a_flagged_reading_moved_to_its_patient_later_does_not_pin_latest_either(
    ingest_db: IngestDb,
) -> None:
    gw, device, patient = f"gw-fr-{token()}", f"dev-fr-{token()}", f"p-fr-{token()}"
    register(ingest_db, gw, {device: None})  # worn by nobody yet: unattributed_observation
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [
        reading(device, 1, value=70.0, at=now - timedelta(minutes=1)),
        reading(device, 2, value=190.0, at=now, device_time="2099-01-01T00:00:00Z"),
    ]
    raw = json.dumps(batch_json(gw, readings)).encode()
    writer = Writer(ingest_db.ingest_url, f"fr-{token()}")
    ids = writer.connect()
    try:
        verdict = validate(topics.observations(gw), raw, ids, window=WINDOW, now=now)
        assert isinstance(verdict, Accepted)
        assert verdict.implausible == 1
        delivery = Delivery(1, 0, 0, 1, topics.observations(gw), raw, now.timestamp())
        writer.write([Pending(delivery, verdict, verdict.rows, verdict.newest_sample)])
        ingest_db.execute("INSERT INTO patient (id, ward_id) VALUES (%s, 'w')", (patient,))
        ingest_db.execute(
            "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
            " VALUES (%s, %s, tstzrange(%s, NULL), 'nurse')",
            (device, patient, now - timedelta(hours=1)),
        )
        assert writer.reattribute(device).moved == 2
    finally:
        writer.close()
    assert _latest(ingest_db, device) == [(now - timedelta(minutes=1), 70.0)]
