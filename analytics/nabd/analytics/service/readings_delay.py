"""How late readings reach analytics: one fact about the pipeline, not one alarm per patient.

Why (issue 22): on an overloaded server (bench/capacity.py, eighth session) every reading reached
analytics 17-60 s after it was taken. Every continuous metric then looked silent for longer than
its ``stale_after_s`` (10 s for heart rate and SpO2), and every patient got a ``stale_data``
alert ("Monitoring interrupted") at once: 6 000 alerts for what was one slow server, a nurse's
whole ward flagged while every device was sending.

So each tick the service tells :class:`ReadingsDelay` when it received readings and how fresh
the freshest of them was (the sample's own time, ``observation.time``, as ingest stored it:
implausible device clocks are already restamped there, ``nabd.ingest.sample_times``), of the
readings streamed live only (``Engine.arrived``: stored records uploaded later, and patients at
home, are late by design). The delay is the **smallest** such lag over the last ``window_s``:
one tick that brought only a gateway's replayed backlog (old readings) does not make the
pipeline look late as long as any other tick of the window brought fresh ones, and a pipeline
whose readings stopped altogether has no delay (its silence is ``stale_data``, as before).

While the delay is at least ``delayed_after_s`` the pipeline is *delayed*: a patient's silence
is judged beyond it (``allowance_ns``), and the service writes the delay with its tick
(``analytics_lease.readings_delay_s``, migration 0153) so the nurse station says once, for the
ward, that readings and alarms arrive that late. The allowance is capped at ``max_allowance_s``:
past that a ward's monitoring is interrupted in all but name, and each silent patient is alarmed
again, delay or not. Below the threshold nothing changes: a patient's metric is stale
``stale_after_s`` after its newest sample, exactly as before.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nabd.analytics.service.errors import MonitorInputError

__all__ = ["ReadingsDelay", "ReadingsDelayPolicy"]

_NS = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class ReadingsDelayPolicy:
    """When readings count as late, over what window, and how much silence that may excuse."""

    delayed_after_s: float = 5.0
    """Half the shortest ``stale_after_s`` (10 s): on time, a reading reaches analytics 1-2 s
    after it was taken (one batch a second, then a commit and a tick)."""
    window_s: float = 10.0
    """The delay is the smallest lag over this window; kept below the shortest
    ``stale_after_s`` so that a pipeline that stops outright is still silence."""
    max_allowance_s: float = 120.0
    """The most silence a delay excuses (the gateway timeout: by then ``gateway_offline``
    would speak for an absent gateway anyway)."""

    def __post_init__(self) -> None:
        for name in ("delayed_after_s", "window_s", "max_allowance_s"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise MonitorInputError(f"readings_delay.{name} must be finite and > 0 s")


class ReadingsDelay:
    """The lag of the freshest readings over a sliding window of ticks (int ns throughout)."""

    def __init__(self, policy: ReadingsDelayPolicy | None = None) -> None:
        self.policy = policy or ReadingsDelayPolicy()
        self._lags: deque[tuple[int, int]] = deque()

    def observe(self, now: int, times: npt.NDArray[np.int64]) -> None:
        """Readings of sample ``times`` arrived at ``now``; none arrived when ``times`` is
        empty (nothing to learn: only ticks that brought readings say how late they are)."""
        if times.size:
            self._lags.append((now, max(0, now - int(times.max()))))
        self._forget(now)

    def delay_ns(self, now: int) -> int | None:
        """The smallest lag of the window; None when no reading arrived in it."""
        self._forget(now)
        return min(lag for _, lag in self._lags) if self._lags else None

    def delayed_s(self, now: int) -> float | None:
        """The delay in seconds while readings are late (at or above the threshold), else
        None: what the tick records and the station shows."""
        lag = self.delay_ns(now)
        if lag is None or lag < round(self.policy.delayed_after_s * _NS):
            return None
        return lag / _NS

    def allowance_ns(self, now: int) -> int:
        """How much longer than ``stale_after_s`` a metric may be silent before it is stale."""
        late = self.delayed_s(now)
        if late is None:
            return 0
        return round(min(late, self.policy.max_allowance_s) * _NS)

    def _forget(self, now: int) -> None:
        oldest = now - round(self.policy.window_s * _NS)
        while self._lags and self._lags[0][0] < oldest:
            self._lags.popleft()
