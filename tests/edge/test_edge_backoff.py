"""Reconnection delays: exponential, capped, jittered, reset on success, never giving up."""

from __future__ import annotations

import pytest

from nabd.edge.backoff import Backoff


def test_the_ceiling_doubles_up_to_the_cap_and_the_delay_is_drawn_below_it() -> None:
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return high / 2

    backoff = Backoff(1.0, 10.0, uniform)
    delays = [backoff.next_delay() for _ in range(6)]
    assert [high for _, high in draws] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert all(low == 0.0 for low, _ in draws)
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.ceiling() == 1.0


def test_weeks_of_failures_do_not_overflow() -> None:
    backoff = Backoff(0.5, 60.0)
    for _ in range(100_000):
        assert 0.0 <= backoff.next_delay() <= 60.0


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(5.0, 1.0)
