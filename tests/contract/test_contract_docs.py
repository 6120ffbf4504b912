"""docs/contract.md says what the code does: same catalogue, valid examples, same limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nabd.contract.catalogue import METRICS
from nabd.contract.payloads import (
    MAX_ACKED,
    MAX_MESSAGE_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS,
    MAX_STATUS_DEVICES,
    Alert,
    GatewayCommand,
    GatewayConfig,
    GatewayStatus,
    IngestAck,
    ObservationBatch,
    Payload,
    parse,
)

DOC = (Path(__file__).parents[2] / "docs" / "contract.md").read_text(encoding="utf-8")
MODELS: dict[str, type[Payload]] = {
    model.__name__: model
    for model in (ObservationBatch, IngestAck, GatewayStatus, GatewayCommand, GatewayConfig, Alert)
}
EXAMPLE = re.compile(r"<!-- example: (?P<model>\w+) -->\s*```json\n(?P<body>.*?)```", re.DOTALL)


def _number(value: float) -> str:
    return f"{value:g}"


def catalogue_table() -> str:
    """The catalogue as the Markdown table docs/contract.md carries (paste it there if it fails)."""
    lines = [
        "| key | name | nom | الاسم | unit (UCUM) | possible range | IEEE 11073-10101 | code "
        "(partition::term) | LOINC | kind |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{row.key}` | {row.name_en} | {row.name_fr} | {row.name_ar} | `{row.unit}` "
        f"| {_number(row.min_value)} to {_number(row.max_value)} | `{row.mdc_ref_id}` "
        f"| {row.mdc_code} ({row.mdc_partition}::{row.mdc_term}) | {row.loinc or 'none'} "
        f"| {row.kind} |"
        for row in METRICS.values()
    ]
    return "\n".join(lines) + "\n"


def range_table() -> str:
    """Why each range is what it is, as docs/contract.md carries it."""
    lines = ["| key | range | why |", "|---|---|---|"]
    lines += [
        f"| `{row.key}` | {_number(row.min_value)} to {_number(row.max_value)} {row.unit} "
        f"| {row.range_basis} |"
        for row in METRICS.values()
    ]
    return "\n".join(lines) + "\n"


def test_doc_carries_the_catalogue_table() -> None:
    assert catalogue_table() in DOC


def test_doc_carries_the_range_table() -> None:
    assert range_table() in DOC


def test_doc_has_an_example_of_every_payload() -> None:
    assert {match["model"] for match in EXAMPLE.finditer(DOC)} == set(MODELS)


@pytest.mark.parametrize(
    ("model", "body"),
    [(match["model"], match["body"]) for match in EXAMPLE.finditer(DOC)],
)
def test_doc_examples_are_valid_payloads(model: str, body: str) -> None:
    parse(MODELS[model], body.encode())


@pytest.mark.parametrize(
    "limit",
    [
        f"{MAX_PAYLOAD_BYTES} bytes",
        f"{MAX_READINGS} readings",
        f"1 to {MAX_ACKED}, no repeats",
        f"1 to {MAX_MESSAGE_CHARS} characters",
        f"more than **{MAX_STATUS_DEVICES} devices**",
    ],
)
def test_doc_states_the_limits(limit: str) -> None:
    assert limit in DOC
