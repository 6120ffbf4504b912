"""Raw MQTT message in, verdict out: an :class:`Accepted` batch or a :class:`Rejected` message.

Pure and total: whatever bytes arrive on whatever topic, :func:`validate` returns a value and
never raises, so outside input cannot stop the consumer. A rejected message keeps its raw bytes
and says why (``reason``) and where (``field``, a dotted path into the JSON), which is exactly
what goes into ``dead_letter``.

A batch is accepted or rejected *whole*: the contract's :func:`~nabd.contract.payloads.parse_batch`
refuses the batch on the first invalid reading. The good readings of a refused batch are not lost
(the raw bytes sit in ``dead_letter``), they are only not stored as observations; and a wrong
value is never stored.

Valid batches are judged by :mod:`nabd.ingest.compiled`, the same rules compiled into one
pydantic-core schema that yields the rows directly; whatever it refuses is judged again by the
contract's own ``parse_batch``, so the verdict and a dead letter's reason are the contract's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from nabd.contract.errors import ContractError, PayloadError
from nabd.contract.payloads import parse_batch
from nabd.contract.topics import gateway_of
from nabd.ingest.compiled import CheckedBatch, check_batch
from nabd.ingest.sample_times import Window, restamp
from nabd.ingest.staging import Row, rows_of, sample_time

__all__ = ["Accepted", "BatchId", "Category", "Rejected", "refuse", "validate"]


class Category(StrEnum):
    """Why a message became a dead letter, coarse enough to count (a Prometheus label)."""

    TOPIC = "topic"
    """Not a gateway observation topic (the broker's ACL should make this impossible)."""
    PAYLOAD = "payload"
    """Refused by the contract: not JSON, unknown schema or metric, wrong unit, impossible value."""
    GATEWAY_MISMATCH = "gateway_mismatch"
    """The payload names another gateway than the topic it was published on."""
    UNREGISTERED_DEVICE = "unregistered_device"
    """A reading comes from a device that is not registered to the publishing gateway."""
    DATABASE = "database"
    """The database refused the rows themselves (a constraint), alone, after validation."""
    INTERNAL = "internal"
    """Ingest itself failed on this message (a bug): kept whole rather than lost or retried."""
    IMPLAUSIBLE_TIME = "implausible_time"
    """A record, not a refusal: the batch was stored, some readings at their receipt time
    because their own was implausible (:mod:`nabd.ingest.sample_times`); the row keeps the
    message's exact bytes with the device's times, marked replayed."""
    NO_CONSENT = "no_consent"
    """Some readings are of a patient no consent covers at their sample time (docs/consent.md):
    those were withheld, the others stored; the row keeps the whole message, pending, so a
    consent recorded late can still let a replay store them (:mod:`nabd.ingest.consent`)."""
    UNSTORABLE = "unstorable"
    """The database refused even this message's dead letter: kept raw, with a fixed reason
    (:mod:`nabd.ingest.dead_letter_rows`)."""


@dataclass(frozen=True, slots=True)
class BatchId:
    """What names a batch: the key of ``ingested_batch`` and what an ``IngestAck`` lists."""

    gateway_id: str
    boot_id: str
    batch_seq: int


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid batch, published on its own gateway's topic, as the rows it stores."""

    topic: str
    payload: bytes
    batch_id: BatchId
    rows: tuple[Row, ...]
    """One staging row per reading, in the batch's order (:data:`~nabd.ingest.staging.Row`)."""
    newest_sample: datetime
    """Sample time of the newest reading: commit minus this is the pipeline's lag."""
    implausible: int = 0
    """How many readings were moved to their receipt time (:mod:`nabd.ingest.sample_times`)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that will not be stored as observations; kept whole in ``dead_letter``.

    ``batch_id`` is set when the batch itself parsed and came from the gateway it names (so the
    rejection came later: an unregistered device, a database refusal). Such a batch is held
    durably in ``dead_letter`` and the gateway is told so by its ``IngestAck``: re-sending it
    would fail again.
    """

    topic: str
    payload: bytes
    gateway_id: str | None
    category: Category
    reason: str
    field: str | None = None
    batch_id: BatchId | None = None


def validate(
    topic: str,
    payload: bytes,
    metric_ids: Mapping[str, int],
    *,
    window: Window | None = None,
    now: datetime | None = None,
) -> Accepted | Rejected:
    """Judge one message from ``nabd/v1/gw/<gw>/obs``; never raises.

    ``metric_ids`` maps every catalogue key to its ``metric.id`` in the database (the rows
    carry ids). With a ``window``, sample times implausibly far from ``now`` (when ingest
    received the message; default: the current time) are restamped and flagged
    (:func:`~nabd.ingest.sample_times.restamp`).
    """
    try:
        gateway_id = gateway_of(topic)
    except ContractError as exc:
        return Rejected(topic, payload, None, Category.TOPIC, str(exc))
    checked = check_batch(payload, metric_ids)
    if checked is None:  # refused by the fast path: the contract gives the verdict and reason
        try:
            checked = _by_contract(payload, metric_ids)
        except PayloadError as exc:
            field = exc.field or None
            return Rejected(topic, payload, gateway_id, Category.PAYLOAD, exc.reason, field)
        except (ValueError, RecursionError) as exc:  # defensive: the contract raises PayloadError
            return Rejected(topic, payload, gateway_id, Category.PAYLOAD, f"unparseable: {exc}")
    if checked.gateway_id != gateway_id:
        reason = (
            f"payload gateway_id {checked.gateway_id!r} differs from {gateway_id!r}, "
            "the gateway of the topic it was published on"
        )
        return Rejected(topic, payload, gateway_id, Category.GATEWAY_MISMATCH, reason, "gateway_id")
    batch_id = BatchId(checked.gateway_id, checked.boot_id, checked.batch_seq)
    if window is None:
        return Accepted(topic, payload, batch_id, checked.rows, checked.newest_sample)
    rows, moved = restamp(checked.rows, now or datetime.now(UTC), window)
    newest = max(row[0] for row in rows) if moved else checked.newest_sample
    return Accepted(topic, payload, batch_id, rows, newest, moved)


def _by_contract(payload: bytes, metric_ids: Mapping[str, int]) -> CheckedBatch:
    """The contract's own judgement (raises :class:`PayloadError`), as the fast path's result."""
    batch = parse_batch(payload)
    newest = max(sample_time(r) for r in batch.readings)
    rows = rows_of(batch, metric_ids)
    return CheckedBatch(batch.gateway_id, batch.boot_id, batch.batch_seq, rows, newest)


def refuse(accepted: Accepted, category: Category, reason: str, field: str | None) -> Rejected:
    """Turn a valid batch into a dead letter for a reason found later (registry, database)."""
    return Rejected(
        accepted.topic,
        accepted.payload,
        accepted.batch_id.gateway_id,
        category,
        reason,
        field,
        accepted.batch_id,
    )
