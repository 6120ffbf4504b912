"""Poison messages: nothing a gateway can send stops ingest or is dropped (issue 17, item 1).

The class: text PostgreSQL cannot hold (NUL, lone surrogates) anywhere a dead letter echoes the
message (a JSON key becomes the ``field``, a wrong unit the ``reason``), in observation batches and
in status messages; and dead letters the database refuses for a reason nobody foresaw (forced here
by a constraint), which are kept raw, or logged when even that is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nabd.contract import topics
from nabd.ingest.consumer import Delivery
from nabd.ingest.gateway_status import judge_status, record
from nabd.ingest.inbox import Pending
from nabd.ingest.settings import IngestSettings
from nabd.ingest.validate import Accepted, Category, Rejected, validate
from nabd.ingest.writer import Writer
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    RunningWorker,
    batch_json,
    heart_rates,
    register,
    worker_settings,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

# Every code point, surrogates and NUL included: what a JSON "\uXXXX" escape can produce.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
HOSTILE = st.sampled_from(["\x00", "x\x00", "\ud800", "\udfff\x00", "\x1b[2J", "\u202e", "\\"])
KEYS = st.one_of(HOSTILE, ANY_TEXT)


def _status(gateway_id: str, **extra: Any) -> bytes:
    """A valid status, plus ``extra`` keys."""
    doc = {
        "schema": "nabd.status/1",
        "gateway_id": gateway_id,
        "boot_id": "6f9619ff-8b86-4d11-b42d-00c04fc964ff",
        "state": "online",
        "at": "2025-03-03T08:00:00Z",
        "software_version": "0.1.0",
        "devices": [],
    }
    return json.dumps(doc | extra).encode()


def _writer(db: IngestDb) -> tuple[Writer, dict[str, int]]:
    writer = Writer(db.ingest_url, f"poison-{token()}")
    return writer, writer.connect()


def _delivery(topic: str, payload: bytes) -> Delivery:
    return Delivery(1, 0, 0, 1, topic, payload, 0.0)


def _letters(db: IngestDb, payload: bytes) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT category, topic, gateway_id, reason, field FROM dead_letter WHERE payload = %s",
        (payload,),
    )


LETTERS = st.builds(
    Rejected,
    topic=ANY_TEXT,
    payload=st.binary(max_size=300),
    gateway_id=st.none() | ANY_TEXT,
    category=st.sampled_from(list(Category)),
    reason=ANY_TEXT,
    field=st.none() | ANY_TEXT,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(letter=LETTERS)
def test_the_dead_letter_writer_stores_any_text_and_the_exact_bytes(
    ingest_db: IngestDb, letter: Rejected
) -> None:
    marked = replace(letter, payload=token().encode() + letter.payload)  # this example's row
    writer, _ = _writer(ingest_db)
    try:
        writer.dead_letter([marked])
    finally:
        writer.close()
    [(category, *_)] = _letters(ingest_db, marked.payload)
    assert category == letter.category.value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=KEYS, value=st.one_of(ANY_TEXT, st.integers(), st.none()), where=st.integers(0, 2))
def test_a_batch_with_any_key_or_string_is_one_dead_letter_holding_its_bytes(
    ingest_db: IngestDb, key: str, value: Any, where: int
) -> None:
    gw = f"gw-pk-{token()}"
    doc = batch_json(gw, heart_rates("dev-pk", 2))
    target = [doc, doc["readings"][0], {"unit": None}][where]
    if where == 2:  # a hostile string where the contract echoes it back: a wrong unit
        doc["readings"][0]["unit"] = f"{key}{value}"
    else:
        target[key] = value
    raw = json.dumps(doc).encode()
    writer, ids = _writer(ingest_db)
    try:
        verdict = validate(topics.observations(gw), raw, ids)
        rows, newest = (
            (verdict.rows, verdict.newest_sample) if isinstance(verdict, Accepted) else ((), None)
        )
        delivery = _delivery(topics.observations(gw), raw)
        outcome = writer.write([Pending(delivery, verdict, rows, newest)])
    finally:
        writer.close()
    if isinstance(verdict, Rejected) or outcome.dead:
        assert len(_letters(ingest_db, raw)) == 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=KEYS, value=st.one_of(ANY_TEXT, st.integers()), gw_text=ANY_TEXT)
def test_a_status_with_any_key_or_string_is_a_dead_letter_with_a_category(
    ingest_db: IngestDb, key: str, value: Any, gw_text: str
) -> None:
    gw = f"gw-ps-{token()}"
    assume(key not in json.loads(_status(gw)))  # an extra key, not a valid field's new value
    raw = _status(gw + gw_text, **{key: value})
    verdict = judge_status(topics.status(gw), raw)
    assert isinstance(verdict, Rejected)
    with psycopg.connect(ingest_db.ingest_url) as conn:
        record(conn, verdict)
    [(category, *_)] = _letters(ingest_db, raw)
    assert category == verdict.category.value


# -- through the broker into a running worker ------------------------------------------------


def _poisoned(gw: str, key: str, device: str = "dev-pw") -> bytes:
    doc = batch_json(gw, heart_rates(device, 1))
    doc["readings"][0][key] = 1
    return json.dumps(doc).encode()


def test_poison_keys_neither_stop_the_worker_nor_are_dropped(
    nabd_stack: Any,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
) -> None:
    gw = f"gw-pw-{token()}"
    register(ingest_db, gw, {"dev-pw": "p-pw"})
    worker = workers(worker_settings(nabd_stack, ingest_db, f"pw-{token()}"))
    gateway = gateways(gw)
    obs = [_poisoned(gw, k) for k in ("x\x00", "\x00", "\ud800", "a\x00b\udc80")]
    statuses = [_status(gw, **{k: 1}) for k in ("x\x00", "\udbff\x00")]
    for raw in obs:
        gateway.publish(raw)
    for raw in statuses:
        gateway.publish_status(raw, retain=False)
    good = json.dumps(batch_json(gw, heart_rates("dev-pw", 3, start_seq=100))).encode()
    gateway.publish(good)
    wait_until(
        lambda: (
            ingest_db.query("SELECT count(*) FROM observation WHERE gateway_id = %s", (gw,))[0][0]
            == 3
        ),
        "the good batch behind the poison",
    )
    wait_until(lambda: all(_letters(ingest_db, raw) for raw in obs + statuses), "every poison kept")
    assert worker.thread.is_alive()
    for raw in obs + statuses:
        [(category, *_)] = _letters(ingest_db, raw)
        assert category == Category.PAYLOAD.value
    assert worker.metric("nabd_ingest_dead_letter_fallbacks_total", how="raw") == 0


def test_a_dead_letter_the_database_refuses_is_kept_raw_or_logged(
    nabd_stack: Any,
    ingest_db: IngestDb,
    gateways: Callable[[str], FakeGateway],
    workers: Callable[[IngestSettings], RunningWorker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw = f"gw-pr-{token()}"
    register(ingest_db, gw, {"dev-pr": "p-pr"})
    # Causes nobody foresaw, played by constraints: one refuses a text column (the raw copy has
    # none of the message's text), the other any row holding certain bytes (nothing can store it).
    ingest_db.execute(
        "ALTER TABLE dead_letter ADD CONSTRAINT t_refuse_field"
        " CHECK (coalesce(field, '') NOT LIKE '%%poison%%') NOT VALID"
    )
    ingest_db.execute(
        "ALTER TABLE dead_letter ADD CONSTRAINT t_refuse_bytes"
        " CHECK (position('\\x6c6f737421'::bytea IN payload) = 0) NOT VALID"  # "lost!"
    )
    try:
        worker = workers(worker_settings(nabd_stack, ingest_db, f"pr-{token()}"))
        gateway = gateways(gw)
        raw_obs = _poisoned(gw, "poison", "dev-pr")
        lost = _poisoned(gw, "lost!", "dev-pr")
        raw_status = _status(gw, poison=1)
        gateway.publish(raw_obs)
        gateway.publish(lost)
        gateway.publish_status(raw_status, retain=False)
        good = json.dumps(batch_json(gw, heart_rates("dev-pr", 2, start_seq=200))).encode()
        gateway.publish(good)
        wait_until(
            lambda: (
                ingest_db.query("SELECT count(*) FROM observation WHERE gateway_id = %s", (gw,))[0][
                    0
                ]
                == 2
            ),
            "the good batch behind the poison",
        )
        wait_until(
            lambda: (
                worker.metric("nabd_ingest_dead_letter_fallbacks_total", how="raw") == 2
                and worker.metric("nabd_ingest_dead_letter_fallbacks_total", how="logged") == 1
            ),
            "both fallbacks counted",
        )
        assert worker.thread.is_alive()
        for raw in (raw_obs, raw_status):
            [(category, topic, gateway_id, reason, field)] = _letters(ingest_db, raw)
            assert (category, gateway_id, field) == (Category.UNSTORABLE.value, None, None)
            assert "kept raw" in reason
            assert topic.isascii()
        assert _letters(ingest_db, lost) == []
        assert any("payload_base64" in r.__dict__ for r in caplog.records)
    finally:
        ingest_db.execute("ALTER TABLE dead_letter DROP CONSTRAINT t_refuse_field")
        ingest_db.execute("ALTER TABLE dead_letter DROP CONSTRAINT t_refuse_bytes")
