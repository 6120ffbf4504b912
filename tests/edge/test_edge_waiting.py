"""``nabd.edge.waiting.at_most``: the edge loops' wait must return on the event or the timer, and
must never swallow a cancellation that arrives with the event (Python 3.11's ``wait_for`` can:
CPython gh-86296), or the loop, and the agent's stop, would never end."""

from __future__ import annotations

import asyncio
import time

import pytest

from nabd.edge.waiting import at_most


def test_returns_when_the_event_is_set_or_the_time_is_up() -> None:
    async def scenario() -> tuple[float, float]:
        event = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, event.set)
        t0 = time.monotonic()
        await at_most(event.wait(), 5.0)
        woken = time.monotonic() - t0
        t0 = time.monotonic()
        await at_most(asyncio.Event().wait(), 0.05)
        return woken, time.monotonic() - t0

    woken, timed_out = asyncio.run(scenario())
    assert woken < 2.0
    assert 0.04 <= timed_out < 2.0


@pytest.mark.parametrize("rounds", [200])
def test_a_cancellation_that_comes_with_the_event_is_never_swallowed(rounds: int) -> None:
    async def loop(event: asyncio.Event) -> None:
        while True:  # as the edge loops do: wait, work, wait again
            await at_most(event.wait(), 10.0)
            event.clear()

    async def scenario() -> int:
        swallowed = 0
        for _ in range(rounds):
            event = asyncio.Event()
            task = asyncio.create_task(loop(event))
            await asyncio.sleep(0)  # the loop is now waiting
            event.set()
            task.cancel()  # in the same step as the event: the race
            try:
                await asyncio.wait_for(asyncio.shield(task), 1.0)
            except asyncio.CancelledError:
                continue
            except TimeoutError:
                swallowed += 1
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return swallowed

    assert asyncio.run(scenario()) == 0
