"""A token bucket: the load generator's aggregate publishing rate, and nothing else.

Pure (the caller passes the time), so its arithmetic is tested without waiting. Tokens accrue at
``rate`` per second up to ``burst``; each publish spends one. A publisher that falls behind (a
slow poll, a busy broker) may catch up by at most ``burst`` messages, so the rate over any window
longer than ``burst / rate`` stays within the configured one: what a benchmark needs to be able
to claim "N messages per second were sustained".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nabd.simulators.errors import LoadError

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved; starts empty at ``now``."""

    rate: float
    burst: float
    now: float
    tokens: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise LoadError(f"rate must be a positive number per second, got {self.rate}")
        if not (math.isfinite(self.burst) and self.burst >= 1):
            raise LoadError(f"burst must be at least 1, got {self.burst}")
        if not math.isfinite(self.now):
            raise LoadError("the bucket's clock must be finite")

    def _refill(self, now: float) -> None:
        if now > self.now:
            self.tokens = min(self.burst, self.tokens + (now - self.now) * self.rate)
            self.now = now

    def take(self, now: float, wanted: int | None = None) -> int:
        """Spend and return as many whole tokens as are available (at most ``wanted``)."""
        self._refill(now)
        count = math.floor(self.tokens + 1e-9)
        if wanted is not None:
            count = min(count, wanted)
        self.tokens -= count
        return count

    def give_back(self, count: int) -> None:
        """Return tokens that could not be spent (no publisher was ready)."""
        self.tokens = min(self.burst, self.tokens + count)

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until the next whole token."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate)
