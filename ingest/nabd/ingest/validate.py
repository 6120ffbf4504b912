"""Raw MQTT message in, verdict out: an :class:`Accepted` batch or a :class:`Rejected` message.

Pure and total: whatever bytes arrive on whatever topic, :func:`validate` returns a value and
never raises, so outside input cannot stop the consumer. A rejected message keeps its raw bytes
and says why (``reason``) and where (``field``, a dotted path into the JSON), which is exactly
what goes into ``dead_letter``.

A batch is accepted or rejected *whole*: the contract's :func:`~nabd.contract.payloads.parse_batch`
refuses the batch on the first invalid reading. The good readings of a refused batch are not lost
(the raw bytes sit in ``dead_letter``), they are only not stored as observations; and a wrong
value is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nabd.contract.errors import ContractError, PayloadError
from nabd.contract.payloads import ObservationBatch, parse_batch
from nabd.contract.topics import gateway_of

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


@dataclass(frozen=True, slots=True)
class BatchId:
    """What names a batch: the key of ``ingested_batch`` and what an ``IngestAck`` lists."""

    gateway_id: str
    boot_id: str
    batch_seq: int

    @classmethod
    def of(cls, batch: ObservationBatch) -> BatchId:
        return cls(batch.gateway_id, batch.boot_id, batch.batch_seq)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid batch, published on its own gateway's topic."""

    topic: str
    payload: bytes
    batch: ObservationBatch

    @property
    def batch_id(self) -> BatchId:
        return BatchId.of(self.batch)


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


def validate(topic: str, payload: bytes) -> Accepted | Rejected:
    """Judge one message from ``nabd/v1/gw/<gw>/obs``; never raises."""
    try:
        gateway_id = gateway_of(topic)
    except ContractError as exc:
        return Rejected(topic, payload, None, Category.TOPIC, str(exc))
    try:
        batch = parse_batch(payload)
    except PayloadError as exc:
        return Rejected(topic, payload, gateway_id, Category.PAYLOAD, exc.reason, exc.field or None)
    except (ValueError, RecursionError) as exc:  # defensive: the contract promises PayloadError
        return Rejected(topic, payload, gateway_id, Category.PAYLOAD, f"unparseable: {exc}")
    if batch.gateway_id != gateway_id:
        reason = (
            f"payload gateway_id {batch.gateway_id!r} differs from {gateway_id!r}, "
            "the gateway of the topic it was published on"
        )
        return Rejected(topic, payload, gateway_id, Category.GATEWAY_MISMATCH, reason, "gateway_id")
    return Accepted(topic, payload, batch)


def refuse(accepted: Accepted, category: Category, reason: str, field: str | None) -> Rejected:
    """Turn a valid batch into a dead letter for a reason found later (registry, database)."""
    return Rejected(
        accepted.topic,
        accepted.payload,
        accepted.batch.gateway_id,
        category,
        reason,
        field,
        accepted.batch_id,
    )
