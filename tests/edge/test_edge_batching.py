"""The batch window and the catch-up rate limit (pure state, explicit times)."""

from __future__ import annotations

import pytest

from nabd.edge.batching import BatchWindow, TokenBucket, ready_to_send


def test_batches_are_numbered_from_zero_and_the_cursor_follows_them() -> None:
    window = BatchWindow(max_in_flight=2, ack_timeout=10.0)
    first = window.open([1, 2, 3], now=0.0)
    second = window.open([4], now=1.0)
    assert (first.batch_seq, second.batch_seq, window.cursor) == (0, 1, 4)
    assert not window.has_room


def test_an_ack_releases_only_its_batches_and_ignores_unknown_or_repeated_ones() -> None:
    window = BatchWindow(max_in_flight=8, ack_timeout=10.0)
    window.open([1, 2], now=0.0)
    window.open([3], now=0.0)
    assert window.acknowledged([1, 99]) == [3]
    assert window.acknowledged([1]) == []
    assert list(window.in_flight) == [0]


def test_late_batches_are_due_again_with_their_own_seq() -> None:
    window = BatchWindow(max_in_flight=8, ack_timeout=10.0)
    batch = window.open([1, 2], now=0.0)
    window.open([3], now=5.0)
    assert window.next_deadline() == 10.0
    assert window.overdue(9.9) == []
    assert [b.batch_seq for b in window.overdue(10.0)] == [0]
    window.resent(batch, (2,), now=10.0)
    assert (batch.ids, batch.sends, window.next_deadline()) == ((2,), 2, 15.0)


def test_a_batch_needs_readings() -> None:
    with pytest.raises(ValueError, match="readings"):
        BatchWindow(1, 1.0).open([], now=0.0)


@pytest.mark.parametrize(
    ("available", "age", "expected"),
    [(0, 99.0, False), (3, 0.1, False), (3, 1.0, True), (500, 0.0, True)],
)
def test_a_batch_goes_when_full_or_when_it_has_lingered(
    available: int, age: float, expected: bool
) -> None:
    assert ready_to_send(available, age, batch_max=500, linger=1.0) is expected


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=100.0, burst=200.0)
    assert bucket.wait_for(200, now=0.0) == 0.0
    assert bucket.wait_for(50, now=0.0) == pytest.approx(0.5)
    assert bucket.wait_for(50, now=0.5) == 0.0
    assert bucket.wait_for(1000, now=10.0) == 0.0  # a batch larger than the burst waits for it
