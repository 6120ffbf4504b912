"""Wait for an event, at most so long: the edge loops' one way to wake on a signal or a timer.

Why not ``asyncio.wait_for``: on Python 3.11 it can swallow the cancellation of the task that
waits, when the cancellation and the event come together (CPython gh-86296, fixed in 3.12 by
rewriting ``wait_for`` on ``asyncio.timeout``). A loop that swallows its cancellation never ends,
and the agent's stop then hangs (seen twice in ``test_edge_ghs`` under load). ``asyncio.timeout``
turns only its own expiry into ``TimeoutError`` and lets any other cancellation through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

__all__ = ["at_most"]


async def at_most(awaitable: Awaitable[object], seconds: float) -> None:
    """Await ``awaitable`` for at most ``seconds``; return either way (a cancellation of the
    caller still propagates)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await awaitable
