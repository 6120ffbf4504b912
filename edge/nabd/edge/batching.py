"""Which outbox readings travel in which batch, and when a batch is sent again.

The agent's sender is a loop around this pure state. Readings are taken from the outbox in
insertion order (``cursor`` is the highest row id already in a batch); each batch gets the next
``batch_seq`` of this boot (from 0, as the contract requires) and stays *in flight* until ingest
acknowledges it. A batch not acknowledged within ``ack_timeout`` is sent again under the same
``(gateway_id, boot_id, batch_seq)`` with the readings it still has: ingest is idempotent, so a
second copy of a committed batch is harmless, and a batch lost with a crashed broker is not lost
for the patient. At most ``max_in_flight`` batches are unacknowledged at a time, which bounds what
a re-send costs and paces the catch-up after an outage together with the rate limit.

Nothing here is persisted: batch identities belong to one boot. After a restart the agent has a
new ``boot_id``, acknowledgements for the old one are stale, and every reading still in the outbox
is simply batched again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["BatchWindow", "InFlight", "TokenBucket", "ready_to_send"]


@dataclass
class InFlight:
    """A published, unacknowledged batch."""

    batch_seq: int
    ids: tuple[int, ...]
    sent_at: float
    """Monotonic time of the last (re)send."""
    sends: int = 1


@dataclass
class BatchWindow:
    """Batches in flight for one boot; times are monotonic seconds."""

    max_in_flight: int
    ack_timeout: float
    cursor: int = 0
    next_batch_seq: int = 0
    in_flight: dict[int, InFlight] = field(default_factory=dict)

    @property
    def has_room(self) -> bool:
        return len(self.in_flight) < self.max_in_flight

    def open(self, ids: Iterable[int], now: float) -> InFlight:
        """A new batch of outbox rows ``ids`` (all above the cursor), sent at ``now``."""
        batch = InFlight(self.next_batch_seq, tuple(ids), now)
        if not batch.ids:
            raise ValueError("a batch needs readings")
        self.next_batch_seq += 1
        self.cursor = max(self.cursor, *batch.ids)
        self.in_flight[batch.batch_seq] = batch
        return batch

    def overdue(self, now: float) -> list[InFlight]:
        """Batches whose acknowledgement is late, oldest first."""
        return sorted(
            (b for b in self.in_flight.values() if now - b.sent_at >= self.ack_timeout),
            key=lambda b: b.batch_seq,
        )

    def resent(self, batch: InFlight, ids: tuple[int, ...], now: float) -> None:
        """``batch`` went out again at ``now`` with the rows ``ids`` still in the outbox."""
        batch.ids = ids
        batch.sent_at = now
        batch.sends += 1

    def forget(self, batch_seq: int) -> None:
        """Stop tracking a batch (all its readings left the outbox otherwise)."""
        self.in_flight.pop(batch_seq, None)

    def acknowledged(self, committed: Iterable[int]) -> list[int]:
        """Outbox rows of the newly committed batches; unknown or repeated seqs are ignored."""
        ids: list[int] = []
        for batch_seq in committed:
            batch = self.in_flight.pop(batch_seq, None)
            if batch is not None:
                ids.extend(batch.ids)
        return ids

    def next_deadline(self) -> float | None:
        """When the next acknowledgement becomes overdue."""
        if not self.in_flight:
            return None
        return min(b.sent_at for b in self.in_flight.values()) + self.ack_timeout


def ready_to_send(available: int, oldest_age: float, batch_max: int, linger: float) -> bool:
    """Send now: a full batch is waiting, or the oldest waiting reading has lingered enough."""
    return available >= batch_max or (available > 0 and oldest_age >= linger)


@dataclass
class TokenBucket:
    """At most ``rate`` readings per second on average, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate and burst must be positive")
        if self.tokens < 0:
            self.tokens = self.burst

    def wait_for(self, count: int, now: float) -> float:
        """Seconds until ``count`` readings may go (0: go now, and they are taken)."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        need = min(float(count), self.burst)
        if self.tokens >= need:
            self.tokens -= need
            return 0.0
        return (need - self.tokens) / self.rate
