"""Per-device reading sequence numbers: monotonic, never reused, surviving restarts.

A reading is identified by ``(device_id, seq, metric)``. Several metrics from one device message
(a cuff's systolic, diastolic and mean) share a ``seq``; a metric that appears twice in one
message (a heart-rate notification carrying three RR intervals) takes a new ``seq`` for each
repeat, so identities never collide and ingest's idempotent insert never drops a real reading.

The allocator starts from the outbox's persisted high-water marks. A number handed out but never
written (the process died before the outbox commit) may be handed out again after the restart;
that is harmless, because the reading it named never left the gateway.

A device can move from one gateway to another (its wearer changed beds), and each gateway
numbers it from its own marks: the new gateway's numbers would repeat the old one's, and ingest
would take the new readings for duplicates. So when a gateway is told by the server to read a
device, its numbering is raised to at least the current time in microseconds
(:meth:`SeqAllocator.raise_to`): the old gateway's numbers, started the same way and growing by
one per reading, stay below that unless it took more readings than microseconds elapsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["SeqAllocator", "group_seqs"]


def group_seqs(metrics: Sequence[str], first: int) -> list[int]:
    """The ``seq`` of each of ``metrics`` (one message, in order), starting at ``first``."""
    seqs: list[int] = []
    current = first
    seen: set[str] = set()
    for key in metrics:
        if key in seen:
            current += 1
            seen.clear()
        seen.add(key)
        seqs.append(current)
    return seqs


class SeqAllocator:
    """Hands out each device's next sequence numbers."""

    def __init__(self, next_seqs: Mapping[str, int] | None = None) -> None:
        self._next: dict[str, int] = dict(next_seqs or {})

    def take(self, device_id: str, metrics: Iterable[str]) -> list[int]:
        """Numbers for one message's readings (see :func:`group_seqs`)."""
        keys = list(metrics)
        seqs = group_seqs(keys, self._next.get(device_id, 0))
        if seqs:
            self._next[device_id] = seqs[-1] + 1
        return seqs

    def raise_to(self, device_id: str, floor: int) -> None:
        """Number the device's next readings from ``floor`` at least (never lower: monotonic)."""
        self._next[device_id] = max(self._next.get(device_id, 0), floor)

    def peek(self, device_id: str) -> int:
        return self._next.get(device_id, 0)
