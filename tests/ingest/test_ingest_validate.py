"""Validation is total (never raises on outside input) and names each class of bad input."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from nabd.contract import topics
from nabd.contract.catalogue import METRICS
from nabd.ingest.validate import Accepted, BatchId, Category, Rejected
from nabd.ingest.validate import validate as validate_with_ids

GW = "gw-v"
TOPIC = topics.observations(GW)
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
IDS = {key: i for i, key in enumerate(sorted(METRICS))}


def validate(topic: str, payload: bytes) -> Accepted | Rejected:
    return validate_with_ids(topic, payload, IDS)


def _batch(gateway_id: str = GW, **reading: Any) -> dict[str, Any]:
    r = {"device_id": "hr-1", "seq": 4, "metric": "heart_rate", "value": 72.0, "unit": "/min"}
    r |= {"received_at": T0.isoformat()} | reading
    return {
        "schema": "nabd.obs/1",
        "gateway_id": gateway_id,
        "boot_id": "0b0c7d4e-1f2a-4b3c-8d9e-0f1a2b3c4d5e",
        "batch_seq": 9,
        "sent_at": T0.isoformat(),
        "readings": [r],
    }


def _raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_a_valid_batch_is_accepted_with_its_identity() -> None:
    verdict = validate(TOPIC, _raw(_batch()))
    assert isinstance(verdict, Accepted)
    assert verdict.batch_id == BatchId(GW, "0b0c7d4e-1f2a-4b3c-8d9e-0f1a2b3c4d5e", 9)
    assert verdict.rows[0][4] == 72.0
    assert verdict.newest_sample == T0


def _rejected(topic: str, payload: bytes) -> Rejected:
    verdict = validate(topic, payload)
    assert isinstance(verdict, Rejected)
    assert verdict.payload == payload  # kept whole, byte for byte
    assert verdict.batch_id is None  # nothing to acknowledge end to end
    return verdict


def test_bad_json_is_refused_as_a_whole() -> None:
    verdict = _rejected(TOPIC, b'{"schema": "nabd.obs/1", ')
    assert (verdict.category, verdict.field, verdict.gateway_id) == (Category.PAYLOAD, None, GW)
    assert "JSON" in verdict.reason


def test_an_unknown_schema_names_the_schema_field() -> None:
    doc = _batch() | {"schema": "nabd.obs/2"}
    verdict = _rejected(TOPIC, _raw(doc))
    assert (verdict.category, verdict.field) == (Category.PAYLOAD, "schema")


def test_an_unknown_metric_names_the_reading() -> None:
    verdict = _rejected(TOPIC, _raw(_batch(metric="heart_rhythm")))
    assert verdict.field == "readings.0.metric"
    assert "heart_rhythm" in verdict.reason


def test_a_wrong_unit_is_refused_not_converted() -> None:
    verdict = _rejected(TOPIC, _raw(_batch(unit="bpm")))
    assert verdict.field == "readings.0.unit"
    assert verdict.reason == "'bpm' is not '/min', the unit of heart_rate"


def test_an_impossible_value_is_refused() -> None:
    verdict = _rejected(TOPIC, _raw(_batch(metric="body_temperature", unit="Cel", value=98.6)))
    assert verdict.field == "readings.0.value"
    assert "outside the possible range" in verdict.reason


def test_a_payload_naming_another_gateway_is_refused() -> None:
    verdict = _rejected(TOPIC, _raw(_batch(gateway_id="gw-other")))
    assert (verdict.category, verdict.field, verdict.gateway_id) == (
        Category.GATEWAY_MISMATCH,
        "gateway_id",
        GW,
    )
    assert "gw-other" in verdict.reason


def test_a_topic_that_is_not_a_gateways_is_refused() -> None:
    verdict = _rejected("nabd/v1/ward/w1/alerts", _raw(_batch()))
    assert (verdict.category, verdict.gateway_id) == (Category.TOPIC, None)


@given(topic=st.text(max_size=60), payload=st.binary(max_size=300))
def test_validation_never_raises_on_outside_input(topic: str, payload: bytes) -> None:
    assert isinstance(validate(topic, payload), Accepted | Rejected)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(doc=st.dictionaries(st.sampled_from(sorted(_batch())), _json, max_size=6))
def test_json_objects_with_the_batch_fields_never_raise(doc: dict[str, Any]) -> None:
    assert isinstance(validate(TOPIC, json.dumps(_batch() | doc).encode()), Accepted | Rejected)


_metric_and_value = st.sampled_from(sorted(METRICS)).flatmap(
    lambda key: st.tuples(
        st.just(key),
        st.floats(METRICS[key].min_value, METRICS[key].max_value, allow_nan=False),
    )
)


@given(
    readings=st.lists(
        st.tuples(
            _metric_and_value,
            st.integers(0, 2**63 - 1),
            st.none() | st.integers(-3600, 3600),
            st.integers(-12, 14),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda r: (r[0][0], r[1]),
    )
)
def test_rows_carry_each_reading_at_its_sample_time(
    readings: list[tuple[tuple[str, float], int, int | None, int]],
) -> None:
    docs = []
    for (key, value), seq, device_offset_s, tz_hours in readings:
        doc = {"device_id": "dev-1", "seq": seq, "metric": key, "value": value}
        doc |= {"unit": METRICS[key].unit, "received_at": T0.isoformat()}
        if device_offset_s is not None:
            local = (T0 + timedelta(seconds=device_offset_s)).astimezone(
                timezone(timedelta(hours=tz_hours))
            )
            doc["device_time"] = local.isoformat()
        docs.append(doc)
    raw = _raw(_batch() | {"readings": docs, "boot_id": str(uuid.uuid4())})
    verdict = validate(TOPIC, raw)
    assert isinstance(verdict, Accepted)
    ids = IDS
    rows = verdict.rows
    expected: list[tuple[Any, ...]] = [
        (
            T0 if off is None else T0 + timedelta(seconds=off),
            "dev-1",
            ids[key],
            seq,
            value,
            [],
            T0,
            GW,
        )
        for (key, value), seq, off, _ in readings
    ]
    assert [tuple(r) for r in rows] == expected
    assert all(r[0].utcoffset() == timedelta(0) for r in rows)
    assert verdict.newest_sample == max(r[0] for r in rows)
