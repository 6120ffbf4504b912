"""Messages received and not yet committed, and when to flush them.

The MQTT thread :meth:`Inbox.put` s each message (already validated, its rows built); the writer
:meth:`Inbox.take` s a flush's worth when one is due: enough messages, enough rows, or the oldest
message has waited ``max_age_s``. Size keeps COPY efficient under load, age bounds the latency
batching adds when the ward is quiet.

The inbox itself is not bounded: what bounds it is MQTT v5 Receive Maximum. Messages leave the
inbox only to be committed and acknowledged, and the broker sends no more than Receive Maximum
unacknowledged messages, so while the database is down the inbox fills up to that many and stays
there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from nabd.ingest.staging import Row
from nabd.ingest.validate import Accepted, Rejected

if TYPE_CHECKING:
    from nabd.ingest.consumer import Delivery

__all__ = ["FlushPolicy", "Inbox", "Pending"]


@dataclass(frozen=True, slots=True)
class Pending:
    """One received message with its verdict, waiting for a flush."""

    delivery: Delivery
    verdict: Accepted | Rejected
    rows: tuple[Row, ...]
    """Staging rows of an accepted batch (empty for a rejected message)."""
    newest_sample: datetime | None
    """Sample time of the batch's newest reading: commit minus this is the pipeline's lag."""

    @property
    def number(self) -> int:
        return self.delivery.number


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    """When a flush is due; pure, so it can be checked without threads or clocks."""

    max_messages: int
    max_rows: int
    max_age_s: float

    def due(self, messages: int, rows: int, oldest_age_s: float) -> bool:
        """Whether waiting messages should be written now."""
        return messages > 0 and (
            messages >= self.max_messages or rows >= self.max_rows or oldest_age_s >= self.max_age_s
        )

    def wait_s(self, messages: int, oldest_age_s: float) -> float:
        """How long a writer with ``messages`` waiting may sleep: until the oldest one's deadline
        (``0`` if a flush is already due)."""
        return 0.0 if messages >= self.max_messages else max(0.0, self.max_age_s - oldest_age_s)


class Inbox:
    """Thread-safe list of :class:`Pending` messages with the flush policy applied on take."""

    def __init__(self, policy: FlushPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._items: list[Pending] = []
        self._arrived: list[float] = []
        self._rows = 0
        self._interrupted = False
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: Pending) -> None:
        """Add a received message; wakes the writer when its deadline starts or a flush is due."""
        with self._cond:
            self._items.append(item)
            self._arrived.append(self._clock())
            self._rows += len(item.rows)
            if len(self._items) == 1 or self._due():
                self._cond.notify_all()

    def take(self, idle_s: float) -> list[Pending]:
        """Wait until a flush is due and return its messages (oldest first).

        Returns ``[]`` after ``idle_s`` with nothing waiting (time for a heartbeat), and whatever
        is waiting, due or not, once :meth:`interrupt` was called.
        """
        with self._cond:
            idle_until = self._clock() + idle_s
            while not (self._interrupted or self._due()):
                now = self._clock()
                if self._items:
                    timeout = self._policy.wait_s(len(self._items), now - self._arrived[0])
                else:
                    timeout = idle_until - now
                    if timeout <= 0:
                        return []
                self._cond.wait(timeout)
            return self._take_all()

    def drain(self) -> list[Pending]:
        """Everything waiting, now (for the last flush on shutdown)."""
        with self._cond:
            return self._take_all()

    def interrupt(self) -> None:
        """Make :meth:`take` return at once, from now on (shutdown)."""
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()

    def _due(self) -> bool:
        oldest_age = self._clock() - self._arrived[0] if self._items else 0.0
        return self._policy.due(len(self._items), self._rows, oldest_age)

    def _take_all(self) -> list[Pending]:
        items, self._items, self._arrived, self._rows = self._items, [], [], 0
        return items
