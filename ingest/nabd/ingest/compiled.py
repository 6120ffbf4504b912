"""The contract's observation-batch rules compiled into one pydantic-core schema: the fast path.

Why: :func:`nabd.contract.payloads.parse_batch` runs seven Python validators per reading (ids,
metric, unit, range, two UTC conversions, flags) and builds frozen models that ingest turns into
rows at once; that was ~6 µs of the worker's ~12 µs of Python per row. Here every per-reading
rule that can be declared is checked inside pydantic-core (Rust) in one ``validate_json`` call:
a tagged union on ``metric`` with, per catalogue key, ``Literal`` unit and ``ge``/``le`` range
(so metric, unit and range checks cost no Python), id and UUID patterns, timestamp bounds with
any offset, strict types, unknown fields refused. What cannot be declared is checked in Python
while the rows are built, in the same pass: flags unique, ``value`` null exactly when
``unavailable``, no ``device_time`` with ``device_clock_unset``, ``(device_id, seq, metric)``
unique in the batch.

**Timestamps** are matched in the schema as RFC 3339 text (``Z`` or ``±hh:mm``, at most
microseconds) and parsed by the standard library's ``datetime.fromisoformat``: pydantic-core's
own datetimes carry a ``TzInfo`` object per value whose ``utcoffset()`` is a call back into the
extension, which made every later comparison (attribution, newest per metric, journal bounds)
and every COPY of a timestamp cost ~0.4-0.7 µs; the standard library's ``timezone.utc`` costs
nothing. A form pydantic would accept that the pattern does not (a space for ``T``, seven
fraction digits) only falls back to the contract.

**Soundness, not equality.** The fast path may refuse more than the contract, never less: a
message it refuses is judged again by the contract itself (:mod:`nabd.ingest.validate`), which
gives the dead letter its exact reason and field, or accepts it. So a message is stored only if
the contract accepts it, and its rows are those :func:`nabd.ingest.staging.rows_of` would build
(``tests/ingest/test_ingest_compiled.py`` checks both on generated batches). Everything is derived
from the catalogue, the :class:`~nabd.contract.payloads.Quality` flags and the contract's limits,
so a new metric or flag needs no change here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final

from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from nabd.contract.catalogue import METRICS
from nabd.contract.payloads import (
    EARLIEST,
    LATEST,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS,
    MAX_SEQ,
    OBS_SCHEMA,
    Quality,
)
from nabd.contract.topics import ID_RE
from nabd.ingest.staging import Row

__all__ = ["CheckedBatch", "check_batch"]

_UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
"""The contract's ``Uuid`` pattern; were they to drift, batches would only go to the contract."""
_RFC3339: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_UNAVAILABLE: Final = Quality.UNAVAILABLE.value
_CLOCK_UNSET: Final = Quality.DEVICE_CLOCK_UNSET.value
_NO_FLAGS: Final[list[str]] = []


def _timestamp() -> cs.CoreSchema:
    return cs.str_schema(pattern=_RFC3339, strict=True)


def _id() -> cs.CoreSchema:
    return cs.str_schema(pattern=ID_RE.pattern, strict=True)


def _seq() -> cs.IntSchema:
    return cs.int_schema(ge=0, le=MAX_SEQ, strict=True)


def _reading(key: str) -> cs.TypedDictSchema:
    m = METRICS[key]
    flags = cs.list_schema(cs.literal_schema([q.value for q in Quality]), strict=True)
    value = cs.float_schema(ge=m.min_value, le=m.max_value, allow_inf_nan=False, strict=True)
    return cs.typed_dict_schema(
        {
            "device_id": cs.typed_dict_field(_id()),
            "seq": cs.typed_dict_field(_seq()),
            "metric": cs.typed_dict_field(cs.literal_schema([key])),
            "quality": cs.typed_dict_field(
                cs.with_default_schema(flags, default=None), required=False
            ),
            "value": cs.typed_dict_field(cs.nullable_schema(value)),
            "unit": cs.typed_dict_field(cs.literal_schema([m.unit])),
            "device_time": cs.typed_dict_field(
                cs.with_default_schema(cs.nullable_schema(_timestamp()), default=None),
                required=False,
            ),
            "received_at": cs.typed_dict_field(_timestamp()),
        },
        extra_behavior="forbid",
        strict=True,
    )


def _batch_schema() -> cs.TypedDictSchema:
    readings = cs.list_schema(
        cs.tagged_union_schema({key: _reading(key) for key in METRICS}, discriminator="metric"),
        min_length=1,
        max_length=MAX_READINGS,
        strict=True,
    )
    return cs.typed_dict_schema(
        {
            "schema": cs.typed_dict_field(cs.literal_schema([OBS_SCHEMA])),
            "gateway_id": cs.typed_dict_field(_id()),
            "boot_id": cs.typed_dict_field(cs.str_schema(pattern=_UUID_PATTERN, strict=True)),
            "batch_seq": cs.typed_dict_field(_seq()),
            "sent_at": cs.typed_dict_field(_timestamp()),
            "readings": cs.typed_dict_field(readings),
        },
        extra_behavior="forbid",
        strict=True,
    )


_VALIDATOR: Final = SchemaValidator(_batch_schema())


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """A batch the fast path accepted, as its identity and its rows (reading order)."""

    gateway_id: str
    boot_id: str
    batch_seq: int
    rows: tuple[Row, ...]
    newest_sample: datetime
    """The newest sample time among the rows."""


class _Refused(ValueError):
    """A rule checked in Python failed: the contract will say which."""


def _utc(text: str, parse: Any = datetime.fromisoformat) -> datetime:
    """An RFC 3339 timestamp (pattern-checked) in UTC, or :class:`_Refused`."""
    try:
        t: datetime = parse(text)
    except ValueError as exc:  # e.g. February 30th
        raise _Refused from exc
    if not EARLIEST <= t < LATEST:  # compared before converting: no overflow at the extremes
        raise _Refused
    return t if t.tzinfo is UTC else t.astimezone(UTC)


def check_batch(raw: bytes, metric_ids: Mapping[str, int]) -> CheckedBatch | None:
    """The batch's rows if every contract rule holds; ``None`` means "ask the contract"."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        return None
    try:
        raw.decode("utf-8")
        doc: dict[str, Any] = _VALIDATOR.validate_json(raw)
        _utc(doc["sent_at"])
        rows = _rows(doc["readings"], doc["gateway_id"], metric_ids)
    except (ValueError, RecursionError):  # ValidationError, UnicodeDecodeError, _Refused
        return None
    newest = max(map(itemgetter(0), rows))
    return CheckedBatch(doc["gateway_id"], doc["boot_id"], doc["batch_seq"], rows, newest)


def _rows(
    readings: list[dict[str, Any]], gateway: str, metric_ids: Mapping[str, int]
) -> tuple[Row, ...]:
    """Rows of core-validated readings, or :class:`_Refused` if a rule checked here fails."""
    out: list[Row] = []
    append = out.append  # local names: this loop is the hot path
    identities = set()
    for r in readings:
        flags, value, device_time = r["quality"], r["value"], r["device_time"]
        if flags:
            if len(set(flags)) != len(flags) or (value is None) != (_UNAVAILABLE in flags):
                raise _Refused
            if device_time is not None and _CLOCK_UNSET in flags:
                raise _Refused
            flags = sorted(flags)
        elif value is None:
            raise _Refused
        else:
            flags = _NO_FLAGS
        device, seq, metric = r["device_id"], r["seq"], r["metric"]
        identities.add((device, seq, metric))
        received = _utc(r["received_at"])
        append(
            (
                received if device_time is None else _utc(device_time),
                device,
                metric_ids[metric],
                seq,
                value,
                flags,
                received,
                gateway,
            )
        )
    if len(identities) != len(out):
        raise _Refused
    return tuple(out)
