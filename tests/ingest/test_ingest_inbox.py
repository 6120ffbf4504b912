"""The inbox flushes by size at once, by age after ``max_age_s``, and wakes its writer."""

from __future__ import annotations

import threading
import time
from typing import Any

from nabd.ingest.consumer import Delivery
from nabd.ingest.inbox import FlushPolicy, Inbox, Pending
from nabd.ingest.validate import Category, Rejected


def _pending(number: int, rows: int = 0) -> Pending:
    delivery = Delivery(number, number + 1, 1, 1, "nabd/v1/gw/g/obs", b"x", time.time())
    verdict = Rejected(delivery.topic, b"x", "g", Category.PAYLOAD, "test")
    fake_rows: tuple[Any, ...] = tuple(() for _ in range(rows))
    return Pending(delivery, verdict, fake_rows, None)


def _timed_take(inbox: Inbox, idle_s: float) -> tuple[list[int], float]:
    start = time.monotonic()
    items = inbox.take(idle_s)
    return [p.number for p in items], time.monotonic() - start


def test_enough_messages_flush_at_once() -> None:
    inbox = Inbox(FlushPolicy(max_messages=3, max_rows=10_000, max_age_s=60))
    for n in range(3):
        inbox.put(_pending(n))
    numbers, elapsed = _timed_take(inbox, idle_s=60)
    assert numbers == [0, 1, 2]
    assert elapsed < 1
    assert len(inbox) == 0


def test_enough_rows_flush_at_once() -> None:
    inbox = Inbox(FlushPolicy(max_messages=100, max_rows=50, max_age_s=60))
    inbox.put(_pending(0, rows=30))
    inbox.put(_pending(1, rows=30))
    numbers, elapsed = _timed_take(inbox, idle_s=60)
    assert (numbers, elapsed < 1) == ([0, 1], True)


def test_a_lone_message_waits_max_age_then_flushes() -> None:
    inbox = Inbox(FlushPolicy(max_messages=100, max_rows=10_000, max_age_s=0.15))
    inbox.put(_pending(0))
    numbers, elapsed = _timed_take(inbox, idle_s=60)
    assert numbers == [0]
    assert 0.1 <= elapsed < 1.5


def test_an_idle_writer_is_woken_by_the_first_message() -> None:
    # The writer sleeps for idle_s when empty; the first message must restart its clock at
    # max_age_s, not leave it asleep until idle_s.
    inbox = Inbox(FlushPolicy(max_messages=100, max_rows=10_000, max_age_s=0.1))
    result: list[tuple[list[int], float]] = []
    writer = threading.Thread(target=lambda: result.append(_timed_take(inbox, idle_s=30)))
    writer.start()
    time.sleep(0.05)  # let the writer block in take() (no condition to poll for that)
    inbox.put(_pending(0))
    writer.join(10)
    assert not writer.is_alive()
    numbers, elapsed = result[0]
    assert numbers == [0]
    assert elapsed < 5


def test_an_empty_inbox_returns_nothing_after_idle() -> None:
    inbox = Inbox(FlushPolicy(max_messages=1, max_rows=1, max_age_s=1))
    numbers, elapsed = _timed_take(inbox, idle_s=0.05)
    assert numbers == []
    assert elapsed < 1


def test_interrupt_hands_over_what_is_waiting_even_if_not_due() -> None:
    inbox = Inbox(FlushPolicy(max_messages=100, max_rows=10_000, max_age_s=60))
    inbox.put(_pending(0))
    inbox.put(_pending(1))
    inbox.interrupt()
    numbers, elapsed = _timed_take(inbox, idle_s=60)
    assert (numbers, elapsed < 1) == ([0, 1], True)
    inbox.put(_pending(2))
    assert [p.number for p in inbox.drain()] == [2]


def test_policy_waits_until_the_oldest_deadline() -> None:
    policy = FlushPolicy(max_messages=10, max_rows=100, max_age_s=0.2)
    assert not policy.due(0, 0, 99.0)  # nothing waiting is never due
    assert policy.due(1, 0, 0.2)
    assert not policy.due(1, 0, 0.19)
    assert policy.wait_s(1, 0.05) == 0.2 - 0.05
    assert policy.wait_s(10, 0.0) == 0.0
