"""End-to-end acknowledgements: which committed batches to name in which ``IngestAck``.

The broker's PUBACK only says the broker has the message; a broker that dies before delivering
loses it. A gateway may forget a batch only on an ``IngestAck``, sent after the commit, naming
its batches per boot session (acks for another ``boot_id`` are stale to the gateway).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from nabd.contract.payloads import ACK_SCHEMA, MAX_ACKED, IngestAck
from nabd.ingest.validate import BatchId

__all__ = ["ingest_acks"]


def ingest_acks(batches: Iterable[BatchId]) -> list[IngestAck]:
    """One ack per (gateway, boot) naming its batches once each, split at ``MAX_ACKED``."""
    by_session: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for b in batches:
        by_session[(b.gateway_id, b.boot_id)].add(b.batch_seq)
    acks: list[IngestAck] = []
    for (gateway_id, boot_id), seqs in sorted(by_session.items()):
        ordered = sorted(seqs)
        for start in range(0, len(ordered), MAX_ACKED):
            acks.append(
                IngestAck.model_validate(
                    {
                        "schema": ACK_SCHEMA,
                        "gateway_id": gateway_id,
                        "boot_id": boot_id,
                        "committed": tuple(ordered[start : start + MAX_ACKED]),
                    }
                )
            )
    return acks
