"""The simulators' time axis: float seconds since the Unix epoch, UTC.

One plain number per instant keeps every series a NumPy array and makes labels exact (a float
round-trips through CSV and JSON unchanged, a formatted date does not always). Shells convert to
aware datetimes when they build payloads.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.simulators.errors import SimulatorError

__all__ = ["DAY_S", "DEFAULT_START", "FloatArray", "checked_times", "local_hours", "regular_times"]

FloatArray = npt.NDArray[np.float64]

DAY_S: Final = 86400.0

DEFAULT_START: Final = 1740787200.0
"""2025-03-01T00:00:00Z: inside the contract's accepted window (2020 to 2100), at local midnight
when the UTC offset is 0, so a one-day simulation shows one whole circadian cycle."""


def regular_times(start: float, duration_s: float, step_s: float) -> FloatArray:
    """Instants ``start, start + step, ...`` strictly before ``start + duration``."""
    if not (np.isfinite(start) and duration_s > 0 and step_s > 0):
        raise SimulatorError(
            f"need a finite start and positive duration and step, got {start}, {duration_s}, "
            f"{step_s}"
        )
    count = int(np.ceil(duration_s / step_s - 1e-9))
    return start + step_s * np.arange(count, dtype=np.float64)


def checked_times(times: npt.ArrayLike) -> FloatArray:
    """``times`` as a read-only float array, or SimulatorError unless 1-D, finite, increasing."""
    try:
        array = np.array(times, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SimulatorError(f"times must be numbers: {exc}") from exc
    if array.ndim != 1 or array.size == 0:
        raise SimulatorError(f"times must be a non-empty 1-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise SimulatorError("times must be finite")
    if (np.diff(array) <= 0).any():
        raise SimulatorError("times must be strictly increasing")
    array.flags.writeable = False
    return array


def local_hours(times: FloatArray, utc_offset_s: float) -> FloatArray:
    """Hour of the local day (0 to 24) of each instant: what circadian rhythms follow."""
    hours: FloatArray = np.mod(times + utc_offset_s, DAY_S) / 3600.0
    return hours
