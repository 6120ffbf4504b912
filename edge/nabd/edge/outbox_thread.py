"""The outbox behind the event loop: every database call runs on one dedicated thread.

A commit with ``synchronous=FULL`` waits for the disk (milliseconds on an SD card), which must
not stall BLE callbacks or the MQTT bridge. One worker thread also means one SQLite connection
used by one thread at a time. A call whose caller is cancelled still completes: a write is never
abandoned half-way, and the caller learns its outcome before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from nabd.edge.outbox import Outbox, OutboxLimits

__all__ = ["OutboxThread"]

T = TypeVar("T")


class OutboxThread:
    """An :class:`Outbox` whose methods are awaited from the event loop."""

    def __init__(self, outbox: Outbox, executor: ThreadPoolExecutor) -> None:
        self.outbox = outbox
        self._executor = executor

    @classmethod
    async def open(cls, path: Path, limits: OutboxLimits) -> OutboxThread:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nabd-outbox")
        try:
            outbox = await asyncio.get_running_loop().run_in_executor(
                executor, partial(Outbox, path, limits)
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(outbox, executor)

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """Run ``method(*args)`` (a bound method of :attr:`outbox`) on the worker thread."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, partial(method, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await future
            raise

    async def close(self) -> None:
        await self.call(self.outbox.close)
        self._executor.shutdown(wait=True)
