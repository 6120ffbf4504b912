"""The compiled fast path accepts only what the contract accepts, with the contract's rows, and
accepts every ordinary valid batch (or ingest would silently fall back to the slow path)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract.catalogue import METRICS
from nabd.contract.errors import PayloadError
from nabd.contract.payloads import Quality, parse_batch
from nabd.ingest.compiled import check_batch
from nabd.ingest.staging import rows_of, sample_time

IDS = {key: 100 + i for i, key in enumerate(sorted(METRICS))}
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def _mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
    """Valid nine times out of ten, so that whole batches are often valid too."""
    return st.integers(0, 9).flatmap(lambda i: invalid if i == 0 else valid)


_ids = _mostly(
    st.sampled_from(["hr-1", "ox-2", "a", "x" * 63]),
    st.sampled_from(["Hr-1", "hr/1", "hr-1\n", "", "x" * 64]),
)
_times = _mostly(
    st.integers(-3 * 10**8, 3 * 10**8)
    .flatmap(
        lambda s: st.integers(-14, 14).map(
            lambda h: (T0 + timedelta(seconds=s)).astimezone(timezone(timedelta(hours=h)))
        )
    )
    .map(lambda t: t.isoformat()),
    st.sampled_from(
        [
            "2019-12-31T23:30:00-01:00",  # 2020-01-01T00:30Z: inside
            "2020-01-01T00:30:00+01:00",  # before EARLIEST once in UTC
            "2100-01-01T00:30:00+01:00",  # just before LATEST
            "2025-03-03T08:00:00",  # no offset
            "1970-01-01T00:00:00Z",
            "2025-03-03T08:00:00+01:60",  # read as +02:00 by fromisoformat, refused by pydantic
            "2025-03-03T08:00:00+23:59",
            "2025-02-29T08:00:00Z",  # no such day
            "2024-02-29T08:00:00.5Z",
            "2025-03-03 08:00:00Z",  # pydantic accepts a space: left to the contract
            "2025-03-03T08:00:00.1234567Z",  # pydantic truncates to microseconds
            "2025-03-03t08:00:00z",
            "2025-03-03T08:00:00\u0661Z",
        ]
    )
    | st.integers(0, 2**40),
)
_flags = st.lists(
    _mostly(st.sampled_from([q.value for q in Quality]), st.just("bogus")), max_size=3
)


@st.composite
def _reading(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(_mostly(st.sampled_from(sorted(METRICS)), st.just("heart_rhythm")))
    m = METRICS.get(key, METRICS["heart_rate"])
    span = m.max_value - m.min_value
    value = draw(
        _mostly(
            st.floats(m.min_value - span / 10, m.max_value + span / 10, allow_nan=False)
            | st.sampled_from([m.min_value, m.max_value])
            | st.integers(-5, 400),
            st.sampled_from([None, True, "72"]),
        )
    )
    doc: dict[str, Any] = {
        "device_id": draw(_ids),
        "seq": draw(_mostly(st.integers(0, 3), st.sampled_from([-1, 2**63, 1.0]))),
        "metric": key,
        "value": value,
        "unit": draw(_mostly(st.just(m.unit), st.just("bpm"))),
        "received_at": draw(_times),
    }
    if draw(st.booleans()):
        doc["quality"] = draw(_flags)
    if draw(st.booleans()):
        doc["device_time"] = draw(st.none() | _times)
    if draw(st.integers(0, 30)) == 0:
        doc["extra"] = 1
    return doc


@st.composite
def _batch(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "schema": draw(_mostly(st.just("nabd.obs/1"), st.just("nabd.obs/2"))),
        "gateway_id": draw(_ids),
        "boot_id": draw(
            _mostly(
                st.just("0b0c7d4e-1f2a-4b3c-8d9e-0f1a2b3c4d5e"),
                st.just("0B0C7D4E-1F2A-4B3C-8D9E-0F1A2B3C4D5E"),
            )
        ),
        "batch_seq": draw(_mostly(st.integers(0, 2**63 - 1), st.sampled_from([-1, 2**63]))),
        "sent_at": draw(_times),
        "readings": draw(st.lists(_reading(), max_size=4)),
    }


@settings(max_examples=600)
@given(doc=_batch())
def test_the_fast_path_never_accepts_what_the_contract_refuses(doc: dict[str, Any]) -> None:
    raw = json.dumps(doc).encode()
    checked = check_batch(raw, IDS)
    try:
        batch = parse_batch(raw)
    except PayloadError:
        assert checked is None
        return
    if checked is not None:  # same identity, same rows, in UTC
        assert (checked.gateway_id, checked.boot_id, checked.batch_seq) == (
            batch.gateway_id,
            batch.boot_id,
            batch.batch_seq,
        )
        assert checked.rows == rows_of(batch, IDS)
        assert checked.newest_sample == max(sample_time(r) for r in batch.readings)
        assert all(r[0].utcoffset() == timedelta(0) == r[6].utcoffset() for r in checked.rows)


@given(
    readings=st.lists(
        st.tuples(
            st.sampled_from(sorted(METRICS)),
            st.integers(0, 2**63 - 1),
            st.lists(st.sampled_from([q.value for q in Quality]), unique=True, max_size=3),
            st.floats(0, 1),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
        unique_by=lambda r: (r[0], r[1]),
    )
)
def test_every_valid_batch_takes_the_fast_path(
    readings: list[tuple[str, int, list[str], float, bool]],
) -> None:
    docs = []
    for key, seq, flags, where, clock in readings:
        m = METRICS[key]
        unavailable = Quality.UNAVAILABLE.value in flags
        value = None if unavailable else m.min_value + where * (m.max_value - m.min_value)
        doc = {"device_id": "dev-1", "seq": seq, "metric": key, "value": value, "unit": m.unit}
        doc |= {"quality": flags, "received_at": T0.isoformat()}
        if clock and Quality.DEVICE_CLOCK_UNSET.value not in flags:
            doc["device_time"] = (T0 - timedelta(seconds=seq % 1000)).isoformat()
        docs.append(doc)
    raw = json.dumps(
        {
            "schema": "nabd.obs/1",
            "gateway_id": "gw-1",
            "boot_id": "0b0c7d4e-1f2a-4b3c-8d9e-0f1a2b3c4d5e",
            "batch_seq": 3,
            "sent_at": T0.isoformat(),
            "readings": docs,
        }
    ).encode()
    checked = check_batch(raw, IDS)
    assert checked is not None
    assert checked.rows == rows_of(parse_batch(raw), IDS)


def test_oversized_and_non_utf8_payloads_are_left_to_the_contract() -> None:
    assert check_batch(b"\xff\xfe{}", IDS) is None
    assert check_batch(b" " * (1024 * 1024 + 1), IDS) is None
