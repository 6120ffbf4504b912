"""The ingest service against the real broker and database: exactness, idempotency, dead
letters, attribution by time, unassigned devices, two workers, backpressure, isolation of what
the database refuses, health and hand-off."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from nabd.ingest import handoff
from nabd.ingest.settings import IngestSettings
from tests.ingest.ingest_kit import (
    T0,
    FakeGateway,
    IngestDb,
    RunningWorker,
    batch_json,
    count,
    heart_rates,
    reading,
    register,
    sample,
    scrape,
    stored_rows,
    valid_batch,
    worker_settings,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

Gateways = Callable[[str], FakeGateway]
Workers = Callable[[IngestSettings], RunningWorker]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_batch_comes_out_exactly(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, hr, ox, th = f"gw-x{t}", f"hr-x{t}", f"ox-x{t}", f"th-x{t}"
    p1, p2 = f"p1-x{t}", f"p2-x{t}"
    register(ingest_db, gw_id, {hr: p1, ox: p1, th: p2})
    worker = workers(worker_settings(nabd_stack, ingest_db, f"exact-{t}"))
    gw = gateways(gw_id)
    plus2 = timezone(timedelta(hours=2))
    readings = [
        reading(hr, 1, value=72.0, at=T0),
        reading(hr, 1, metric="rr_interval", value=0.833, unit="s", at=T0),
        reading(
            ox,
            7,
            metric="spo2",
            value=97.5,
            unit="%",
            at=T0 + timedelta(seconds=1),
            device_time=(T0 - timedelta(seconds=2)).astimezone(plus2).isoformat(),
            quality=["low_perfusion", "artefact"],
        ),
        reading(
            ox,
            8,
            metric="spo2",
            value=None,
            unit="%",
            at=T0 + timedelta(seconds=3),
            quality=["unavailable"],
        ),
        reading(
            th,
            3,
            metric="body_temperature",
            value=37.25,
            unit="Cel",
            at=T0 + timedelta(seconds=9),
            device_time=(T0 + timedelta(seconds=4)).isoformat(),
        ),
    ]
    boot = str(uuid.uuid4())
    gw.publish(valid_batch(gw_id, readings, batch_seq=5, boot_id=boot))
    wait_until(lambda: (boot, 5) in gw.acked(), "the IngestAck of the batch")

    patient = {hr: p1, ox: p1, th: p2}
    expected = sorted(
        (
            patient[r["device_id"]],
            r["device_id"],
            r["metric"],
            r["seq"],
            _utc(r.get("device_time") or r["received_at"]),
            r["value"],
            sorted(r.get("quality", [])),
            _utc(r["received_at"]),
        )
        for r in readings
    )
    assert stored_rows(ingest_db, gw_id) == expected
    assert ingest_db.query(
        "SELECT readings FROM ingested_batch"
        " WHERE gateway_id = %s AND boot_id = %s AND batch_seq = 5",
        (gw_id, boot),
    ) == [(5,)]
    latest = ingest_db.query(
        "SELECT l.patient_id, m.key, l.time, l.value, l.quality FROM observation_latest l"
        " JOIN metric m ON m.id = l.metric_id WHERE l.device_id = ANY(%s) ORDER BY 1, 2",
        ([hr, ox, th],),
    )
    assert latest == [
        (p1, "heart_rate", T0, 72.0, []),
        (p1, "rr_interval", T0, 0.833, []),
        (p1, "spo2", T0 + timedelta(seconds=3), None, ["unavailable"]),  # the newest reading
        (p2, "body_temperature", T0 + timedelta(seconds=4), 37.25, []),
    ]
    assert worker.metric("nabd_ingest_rows_total", table="observation") == 5


def test_the_hand_off_journal_gives_analytics_the_committed_rows(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, dev, patient = f"gw-h{t}", f"hr-h{t}", f"p-h{t}"
    register(ingest_db, gw_id, {dev: patient})
    with psycopg.connect(ingest_db.owner_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {handoff.CHANNEL}")
        watermark = int(ingest_db.query("SELECT seq FROM observation_commit_counter")[0][0])
        workers(worker_settings(nabd_stack, ingest_db, f"handoff-{t}"))
        gw = gateways(gw_id)
        boot = str(uuid.uuid4())
        gw.publish(valid_batch(gw_id, heart_rates(dev, 30), boot_id=boot))
        wait_until(lambda: (boot, 0) in gw.acked(), "the IngestAck")
        notified = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    with ingest_db.as_role("nabd_analytics") as conn:  # what the analytics service may read
        commits = handoff.commits_after(conn, watermark)
        mine = [c for c in commits if patient in c.patients]
        assert len(mine) == 1
        assert notified == [str(mine[0].seq)]
        rows = handoff.observations_of(conn, mine[0])
    assert [(r.patient_id, r.device_id, r.metric, r.seq) for r in rows] == [
        (patient, dev, "heart_rate", i) for i in range(30)
    ]


def test_a_redelivered_batch_is_stored_once_and_acked_again(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, dev = f"gw-r{t}", f"hr-r{t}"
    register(ingest_db, gw_id, {dev: f"p-r{t}"})
    worker = workers(worker_settings(nabd_stack, ingest_db, f"redeliver-{t}"))
    gw = gateways(gw_id)
    boot = str(uuid.uuid4())
    payload = valid_batch(gw_id, heart_rates(dev, 40), boot_id=boot)
    gw.publish(payload)
    wait_until(lambda: gw.acked() == [(boot, 0)], "the first IngestAck")
    first = stored_rows(ingest_db, gw_id)
    assert len(first) == 40

    gw.publish(payload)  # the gateway re-sends (it never saw the ack, say)
    wait_until(lambda: gw.acked() == [(boot, 0), (boot, 0)], "the IngestAck of the copy")
    # After a gateway restart the same readings come again in a new batch of a new boot.
    new_boot = str(uuid.uuid4())
    gw.publish(valid_batch(gw_id, heart_rates(dev, 40), boot_id=new_boot))
    wait_until(lambda: (new_boot, 0) in gw.acked(), "the IngestAck of the re-batched readings")

    assert stored_rows(ingest_db, gw_id) == first
    assert count(ingest_db, "ingested_batch", gw_id) == 2  # two batch identities, rows once
    assert worker.metric("nabd_ingest_messages_total", outcome="duplicate") == 1
    assert worker.metric("nabd_ingest_rows_total", table="observation") == 40


def test_each_class_of_bad_input_is_dead_lettered_while_good_traffic_flows(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, other_gw, dev, foreign = f"gw-b{t}", f"gw-o{t}", f"hr-b{t}", f"hr-o{t}"
    register(ingest_db, gw_id, {dev: f"p-b{t}"})
    register(ingest_db, other_gw, {foreign: f"p-o{t}"})
    worker = workers(worker_settings(nabd_stack, ingest_db, f"bad-{t}"))
    gw = gateways(gw_id)
    boot = str(uuid.uuid4())

    def good(seq: int) -> bytes:
        return valid_batch(
            gw_id, heart_rates(dev, 5, start_seq=10 * seq), batch_seq=seq, boot_id=boot
        )

    def doc(seq: int, **r: Any) -> dict[str, Any]:
        return batch_json(gw_id, [reading(dev, 900 + seq, **r)], batch_seq=seq, boot_id=boot)

    def raw(d: dict[str, Any]) -> bytes:
        return json.dumps(d).encode()

    bad: list[tuple[bytes, str, str | None, str]] = [  # payload, category, field, reason part
        (b"\xff{not json", "payload", None, "not UTF-8"),
        (b'{"schema": "nabd.obs/1", "readings": [', "payload", None, "JSON"),
        (raw(doc(101) | {"schema": "nabd.obs/9"}), "payload", "schema", "nabd.obs/1"),
        (raw(doc(102, metric="heart_rythm")), "payload", "readings.0.metric", "heart_rythm"),
        (raw(doc(103, unit="bpm")), "payload", "readings.0.unit", "'bpm' is not '/min'"),
        (raw(doc(104, value=400.0)), "payload", "readings.0.value", "outside the possible range"),
        (
            valid_batch(
                gw_id, [reading(dev, 905), reading(foreign, 1)], batch_seq=105, boot_id=boot
            ),
            "unregistered_device",
            "readings.1.device_id",
            f"registered to gateway '{other_gw}'",
        ),
        (
            valid_batch(gw_id, [reading(f"ghost-{t}", 1)], batch_seq=106, boot_id=boot),
            "unregistered_device",
            "readings.0.device_id",
            "unknown device",
        ),
        (
            raw(batch_json(other_gw, [reading(foreign, 2)], batch_seq=107, boot_id=boot)),
            "gateway_mismatch",
            "gateway_id",
            f"'{other_gw}' differs",
        ),
    ]
    gw.publish(good(0))
    for payload, *_ in bad[:5]:
        gw.publish(payload)
    gw.publish(good(1))
    for payload, *_ in bad[5:]:
        gw.publish(payload)
    gw.publish(good(2))

    wait_until(lambda: {(boot, 0), (boot, 1), (boot, 2)} <= set(gw.acked()), "the good batches")
    wait_until(lambda: count(ingest_db, "dead_letter", gw_id) == len(bad), "every dead letter")
    letters = ingest_db.query(
        "SELECT payload, topic, reason, field FROM dead_letter WHERE gateway_id = %s ORDER BY id",
        (gw_id,),
    )
    by_payload = {bytes(p): (topic, reason, field) for p, topic, reason, field in letters}
    assert set(by_payload) == {p for p, *_ in bad}  # each kept whole, byte for byte
    for payload, _, field, reason_part in bad:
        topic, reason, stored_field = by_payload[payload]
        assert topic == topics.observations(gw_id)
        assert stored_field == field
        assert reason_part in reason
    # No wrong value was stored, and the good batches are complete.
    assert [r[3] for r in stored_rows(ingest_db, gw_id)] == [
        s for b in range(3) for s in range(10 * b, 10 * b + 5)
    ]
    # Batches held as dead letters for an unregistered device are acked (re-sending cannot help).
    assert {(boot, 105), (boot, 106)} <= set(gw.acked())
    text = scrape(worker.service.metrics_port or 0)
    assert sample(text, 'nabd_ingest_dead_letters_total{category="payload"}') == 6
    assert sample(text, 'nabd_ingest_dead_letters_total{category="unregistered_device"}') == 2
    assert sample(text, 'nabd_ingest_dead_letters_total{category="gateway_mismatch"}') == 1
    assert Counter(c for _, c, _, _ in bad) == Counter(
        {"payload": 6, "unregistered_device": 2, "gateway_mismatch": 1}
    )


def test_attribution_follows_the_assignment_at_the_samples_time(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, dev, first, second = f"gw-a{t}", f"hr-a{t}", f"p1-a{t}", f"p2-a{t}"
    monday, tuesday = T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1)
    register(ingest_db, gw_id, {dev: None})
    ingest_db.execute(
        "INSERT INTO patient (id, ward_id) VALUES (%s, 'w'), (%s, 'w')", (first, second)
    )
    ingest_db.execute(
        "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by) VALUES"
        " (%s, %s, tstzrange(%s, %s), 'nurse'), (%s, %s, tstzrange(%s, NULL), 'nurse')",
        (dev, first, monday, tuesday, dev, second, tuesday),
    )
    workers(worker_settings(nabd_stack, ingest_db, f"assign-{t}"))
    gw = gateways(gw_id)
    boot = str(uuid.uuid4())
    wednesday_noon = tuesday + timedelta(days=1, hours=12)
    monday_noon = monday + timedelta(hours=12)
    sunday = monday - timedelta(hours=1)
    # Wednesday first; Monday's samples arrive late, after the device moved.
    gw.publish(valid_batch(gw_id, [reading(dev, 3, at=wednesday_noon)], batch_seq=0, boot_id=boot))
    gw.publish(
        valid_batch(
            gw_id,
            [
                reading(dev, 1, at=monday_noon),
                reading(dev, 2, at=tuesday),
                reading(dev, 0, at=sunday),
            ],
            batch_seq=1,
            boot_id=boot,
        )
    )
    wait_until(lambda: {(boot, 0), (boot, 1)} <= set(gw.acked()), "both IngestAcks")
    assert [(r[0], r[3], r[4]) for r in stored_rows(ingest_db, gw_id)] == [
        (first, 1, monday_noon),
        (second, 2, tuesday),  # the interval is half-open: Tuesday 00:00 is the second patient's
        (second, 3, wednesday_noon),
    ]
    # Before any assignment: kept and visible, not dropped, not given to anyone.
    assert ingest_db.query(
        "SELECT device_id, seq, time, value FROM unattributed_observation WHERE gateway_id = %s",
        (gw_id,),
    ) == [(dev, 0, sunday, 72.0)]


def test_two_workers_on_the_shared_subscription_store_everything_once(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_ids = [f"gw-s{t}-{i}" for i in range(2)]
    devices = {g: [f"d{j}-{g}" for j in range(3)] for g in gw_ids}
    for g in gw_ids:
        register(ingest_db, g, {d: f"p-{d}" for d in devices[g]})
    watermark = int(ingest_db.query("SELECT seq FROM observation_commit_counter")[0][0])
    pair = [
        workers(worker_settings(nabd_stack, ingest_db, f"share-{t}-{i}", flush_max_messages=8))
        for i in range(2)
    ]
    gws = [gateways(g) for g in gw_ids]
    boots = {g: str(uuid.uuid4()) for g in gw_ids}
    batches = 60
    for seq in range(batches):
        for gw in gws:
            readings = [
                reading(d, seq * 4 + k, value=60.0 + k, at=T0 + timedelta(seconds=seq * 4 + k))
                for d in devices[gw.gateway_id]
                for k in range(4)
            ]
            gw.publish(
                valid_batch(gw.gateway_id, readings, batch_seq=seq, boot_id=boots[gw.gateway_id])
            )
    wait_until(lambda: all(len(set(gw.acked())) == batches for gw in gws), "every ack")

    for g in gw_ids:
        rows = stored_rows(ingest_db, g)
        assert len(rows) == batches * 3 * 4
        assert len({(r[1], r[3]) for r in rows}) == len(rows)
        assert count(ingest_db, "ingested_batch", g) == batches
    stored = [w.metric("nabd_ingest_messages_total", outcome="stored") for w in pair]
    assert sum(stored) == 2 * batches
    assert min(stored) > 0  # the group split the stream

    # The hand-off journal, read in seq order from the watermark, yields each row exactly once.
    mine = {d for g in gw_ids for d in devices[g]}
    with psycopg.connect(ingest_db.owner_url) as conn:
        handed = [
            (o.device_id, o.seq)
            for c in handoff.commits_after(conn, watermark)
            for o in handoff.observations_of(conn, c)
            if o.device_id in mine
        ]
    assert sorted(handed) == sorted((r[1], r[3]) for g in gw_ids for r in stored_rows(ingest_db, g))


def test_a_hung_database_stops_acks_and_the_broker_holds_the_rest(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, dev = f"gw-d{t}", f"hr-d{t}"
    register(ingest_db, gw_id, {dev: f"p-d{t}"})
    worker = workers(
        worker_settings(
            nabd_stack,
            ingest_db,
            f"hung-{t}",
            receive_maximum=4,
            flush_max_messages=2,
            statement_timeout_s=0.3,
            backoff_min_s=0.05,
            backoff_max_s=0.2,
        )
    )
    gw = gateways(gw_id)
    boot = str(uuid.uuid4())
    with psycopg.connect(ingest_db.owner_url) as blocker:
        blocker.execute("LOCK TABLE ingested_batch IN ACCESS EXCLUSIVE MODE")  # until rollback
        for seq in range(12):
            gw.publish(
                valid_batch(
                    gw_id, heart_rates(dev, 3, start_seq=3 * seq), batch_seq=seq, boot_id=boot
                )
            )
        wait_until(lambda: worker.metric("nabd_ingest_db_errors_total") >= 3, "failing flushes")
        # Memory stays bounded: the broker sent only Receive Maximum unacknowledged messages.
        assert worker.metric("nabd_ingest_messages_received_total") == 4
        assert gw.acked() == []
        blocker.rollback()
    wait_until(lambda: len(set(gw.acked())) == 12, "every batch, once the database is back")
    assert len(stored_rows(ingest_db, gw_id)) == 36
    assert worker.metric("nabd_ingest_messages_received_total") == 12


def test_a_batch_the_database_refuses_is_isolated(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, dev, poison = f"gw-p{t}", f"hr-p{t}", f"poison-{t}"
    register(ingest_db, gw_id, {dev: f"p-p{t}", poison: f"q-p{t}"})
    fn = f"refuse_{t}"
    ingest_db.execute(
        f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.device_id = '{poison}' THEN RAISE check_violation USING MESSAGE = 'refused';"
        " END IF; RETURN NEW; END $$;"
        f"CREATE TRIGGER {fn} BEFORE INSERT ON observation FOR EACH ROW EXECUTE FUNCTION {fn}()"
    )
    try:
        worker = workers(worker_settings(nabd_stack, ingest_db, f"poison-{t}", flush_max_age_s=0.5))
        gw = gateways(gw_id)
        boot = str(uuid.uuid4())
        payloads = [
            valid_batch(gw_id, heart_rates(dev, 3), batch_seq=0, boot_id=boot),
            valid_batch(gw_id, [reading(poison, 1)], batch_seq=1, boot_id=boot),
            valid_batch(gw_id, heart_rates(dev, 3, start_seq=3), batch_seq=2, boot_id=boot),
        ]
        for p in payloads:
            gw.publish(p)
        wait_until(lambda: len(set(gw.acked())) == 3, "all three acks")
    finally:
        ingest_db.execute(f"DROP TRIGGER {fn} ON observation; DROP FUNCTION {fn}()")
    assert [r[3] for r in stored_rows(ingest_db, gw_id)] == list(range(6))
    assert ingest_db.query(
        "SELECT payload, reason LIKE '%%23514%%refused%%' FROM dead_letter WHERE gateway_id = %s",
        (gw_id,),
    ) == [(payloads[1], True)]
    assert worker.metric("nabd_ingest_dead_letters_total", category="database") == 1


def test_pipeline_health_is_in_the_database_for_the_dashboards(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, dev = f"gw-m{t}", f"hr-m{t}"
    register(ingest_db, gw_id, {dev: f"p-m{t}"})
    worker_id = f"health-{t}"
    workers(worker_settings(nabd_stack, ingest_db, worker_id))
    gw = gateways(gw_id)
    gw.publish(valid_batch(gw_id, heart_rates(dev, 7)))
    gw.publish(b"garbage")

    def health() -> tuple[Any, ...] | None:
        with ingest_db.as_role("nabd_dashboards") as conn:
            row = conn.execute(
                "SELECT mqtt_connected, messages, batches, rows_stored, dead_letters,"
                " last_lag_seconds IS NOT NULL FROM ingest_health WHERE worker_id = %s",
                (worker_id,),
            ).fetchone()
        return row if row is not None and row[1] == 2 else None

    assert wait_until(health, "the health row") == (True, 2, 1, 7, 1, True)
    with ingest_db.as_role("nabd_dashboards") as conn:
        conn.execute("SELECT count(*) FROM unattributed_observation, observation_commit")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT payload FROM dead_letter")
