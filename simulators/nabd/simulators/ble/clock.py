"""Simulated time on the wall clock, at a speed factor: when to send what.

A day of a ward at ``speed=60`` plays in 24 minutes; ``speed=1`` is real time, what a gateway
under test should see. The mapping is one line of arithmetic kept apart from any I/O, so the
player's timing can be checked without waiting: simulated instant ``s`` is due at wall instant
``wall_start + (s - sim_start) / speed``. The wall clock is whatever monotonic clock the caller
uses (``loop.time()`` for asyncio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nabd.simulators.errors import SimulatorError

__all__ = ["SimClock"]


@dataclass(frozen=True, slots=True)
class SimClock:
    """``sim_start`` (epoch seconds) coincides with ``wall_start`` (monotonic seconds)."""

    sim_start: float
    wall_start: float
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise SimulatorError(f"speed must be a positive finite factor, got {self.speed}")
        if not (math.isfinite(self.sim_start) and math.isfinite(self.wall_start)):
            raise SimulatorError("clock origins must be finite")

    def wall_at(self, sim_time: float) -> float:
        """When (monotonic) the simulated instant ``sim_time`` is due."""
        return self.wall_start + (sim_time - self.sim_start) / self.speed

    def sim_at(self, wall_time: float) -> float:
        """The simulated instant at the monotonic instant ``wall_time``."""
        return self.sim_start + (wall_time - self.wall_start) * self.speed

    def delay(self, sim_time: float, now: float) -> float:
        """Seconds to wait at monotonic ``now`` before ``sim_time`` is due (0 when late)."""
        return max(0.0, self.wall_at(sim_time) - now)
