"""The contract's payload parser on hostile input: a payload or a ``PayloadError``, nothing else.

CI: 2,500 generated inputs (times 10 with ``HYPOTHESIS_PROFILE=long``); the GATT decoders are fuzzed
by ``tests/gatt/test_gatt_fuzz.py`` (≈7,800 inputs) and ``test_fuzz_gatt_long`` here.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract.errors import PayloadError
from nabd.contract.payloads import IngestAck, ObservationBatch, Payload, parse, parse_batch, to_json
from tests.ingest.ingest_kit import batch_json, heart_rates
from tests.security.fuzz_budget import examples

VALID = json.dumps(batch_json("gw-fuzz", heart_rates("dev-1", 3))).encode()
MODELS: list[type[Payload]] = [ObservationBatch, IngestAck]


def _survives(model: type[Payload], raw: bytes) -> None:
    try:
        value = parse(model, raw)
    except PayloadError:  # a ValueError, as every component's bad-input error
        return
    assert parse(model, to_json(value)) == value  # what parses, round-trips


@settings(max_examples=examples(1000), deadline=None)
@given(raw=st.binary(max_size=600))
def test_arbitrary_bytes(raw: bytes) -> None:
    _survives(ObservationBatch, raw)


@settings(max_examples=examples(1000), deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255), st.sampled_from("sid")),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_valid_batches(edits: list[tuple[int, int, str]]) -> None:
    data = bytearray(VALID)
    for position, byte, op in edits:
        at = min(position, len(data) - 1)
        if op == "s":
            data[at] = byte
        elif op == "i":
            data.insert(at, byte)
        elif len(data) > 1:
            del data[at]
    _survives(ObservationBatch, bytes(data))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=25,
)


@settings(max_examples=examples(500), deadline=None)
@given(
    model=st.sampled_from(MODELS),
    doc=st.dictionaries(st.sampled_from([*json.loads(VALID), "committed"]), _json, max_size=7),
)
def test_json_documents_with_the_fields_of_a_payload(
    model: type[Payload], doc: dict[str, Any]
) -> None:
    _survives(model, json.dumps(json.loads(VALID) | doc, allow_nan=True).encode())


def test_the_seed_is_valid() -> None:
    assert parse_batch(VALID).gateway_id == "gw-fuzz"
