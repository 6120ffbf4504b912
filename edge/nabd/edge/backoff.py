"""Reconnection delays: exponential, capped, with full jitter, and never giving up.

After the n-th consecutive failure the next attempt waits a random time in
``[0, min(cap, initial * 2**n)]`` ("full jitter"): devices that dropped together (a gateway
reboot, a ward-wide radio glitch) do not all retry in step, and a device that comes back is
found again within ``cap`` at the latest. A success resets the sequence.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays for one device's reconnection attempts."""

    def __init__(
        self, initial: float, cap: float, uniform: Callable[[float, float], float] | None = None
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError("backoff needs 0 < initial <= cap")
        self._initial = initial
        self._cap = cap
        self._uniform = uniform or random.SystemRandom().uniform
        self.failures = 0

    def ceiling(self) -> float:
        """The longest the next delay may be."""
        # The exponent is capped so that a device missing for weeks cannot overflow the float.
        return min(self._cap, self._initial * 2.0 ** min(self.failures, 64))

    def next_delay(self) -> float:
        """The delay before the next attempt; counts one more failure."""
        delay = self._uniform(0.0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
