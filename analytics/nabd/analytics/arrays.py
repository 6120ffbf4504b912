"""Array types, the time base and the small checks and reductions every detector shares.

Time base: every timestamp in the detectors is an ``int64`` count of **nanoseconds since the Unix
epoch (UTC)**, the resolution of ``numpy.datetime64[ns]`` and finer than TimescaleDB's
microseconds, so a timestamp survives the round trip to the database unchanged and two readings
never collide by rounding. Durations in configuration are in seconds (what a clinician reads)
and are converted once, with :func:`seconds_to_ns`.

``NEVER`` (the smallest int64) marks "no such time" in state arrays (no breach started, no
sample yet). It is never subtracted from: comparisons are written ``since <= now - duration``
so no arithmetic can overflow.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from nabd.analytics.errors import AnalyticsInputError

__all__ = [
    "NEVER",
    "NS_PER_S",
    "BoolArray",
    "FloatArray",
    "Int8Array",
    "IntArray",
    "bool_per_patient",
    "check_duration",
    "check_now",
    "elapsed_at_least",
    "flat_view",
    "float_per_patient",
    "int_per_patient",
    "masked_median",
    "pad_rows",
    "seconds_to_ns",
]

ScalarT = TypeVar("ScalarT", bound=np.generic)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]

NS_PER_S: Final = 1_000_000_000
NEVER: Final = int(np.iinfo(np.int64).min)
"""Sentinel time: "not started" / "never seen"."""


def seconds_to_ns(seconds: float) -> int:
    """A duration in seconds as whole nanoseconds (rounded to the nearest)."""
    return round(seconds * NS_PER_S)


def check_duration(name: str, seconds: float) -> None:
    """Raise unless ``seconds`` is a finite, non-negative duration."""
    if not math.isfinite(seconds) or seconds < 0:
        raise AnalyticsInputError(name, f"must be a finite duration >= 0 s, got {seconds!r}")


def check_now(now: int) -> int:
    """``now`` as a Python int of nanoseconds; raise if it is not an integer time."""
    if isinstance(now, bool) or not isinstance(now, int | np.integer):
        raise AnalyticsInputError("now", f"must be int nanoseconds since the epoch, got {now!r}")
    value = int(now)
    if value == NEVER:
        raise AnalyticsInputError("now", "must not be the NEVER sentinel")
    return value


def elapsed_at_least(since: IntArray, now: int, duration_ns: npt.ArrayLike) -> BoolArray:
    """Where a clock started at ``since`` (NEVER = not started) has run for ``duration_ns``.

    Written as ``since <= now - duration`` so the NEVER sentinel is never subtracted from.
    """
    limit = np.int64(now) - np.asarray(duration_ns, dtype=np.int64)
    result: BoolArray = (since != NEVER) & (since <= limit)
    return result


def _per_patient(name: str, value: npt.ArrayLike, patients: int, dtype: str) -> npt.NDArray[Any]:
    array = np.asarray(value)
    if array.ndim == 0:
        array = np.full(patients, array)
    if array.shape != (patients,):
        raise AnalyticsInputError(
            name, f"expected one value per patient ({patients},), got shape {array.shape}"
        )
    if not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise AnalyticsInputError(name, f"expected {dtype} values, got dtype {array.dtype}")
    return array.astype(dtype)


def float_per_patient(name: str, value: npt.ArrayLike, patients: int) -> FloatArray:
    """``value`` (a scalar, or one per patient) as a float64 array of shape ``(patients,)``."""
    result: FloatArray = _per_patient(name, value, patients, "float64")
    return result


def int_per_patient(name: str, value: npt.ArrayLike, patients: int) -> IntArray:
    """``value`` (a scalar, or one per patient) as an int64 array of shape ``(patients,)``."""
    result: IntArray = _per_patient(name, value, patients, "int64")
    return result


def bool_per_patient(name: str, value: npt.ArrayLike, patients: int) -> BoolArray:
    """``value`` (a scalar, or one per patient) as a bool array of shape ``(patients,)``."""
    result: BoolArray = _per_patient(name, value, patients, "bool")
    return result


def masked_median(values: FloatArray, valid: BoolArray) -> tuple[FloatArray, IntArray]:
    """Median of the valid entries along the last axis, and how many there were.

    NaN where a row has no valid entry. Written with a sort instead of ``np.nanmedian`` because
    that warns on empty rows, which are normal here (a patient with no data yet); invalid entries
    become +inf so they sort last, and the median is read at the middle of each row's valid run.

    Only the span of columns where some row has a valid entry is sorted: a time range of a
    time-ordered window (the last 2 minutes of a 192-sample ring, the last 5 of 360 minutes) is
    a narrow band of columns, and the columns outside it change nothing but the cost.
    """
    count = valid.sum(axis=-1, dtype=np.int64)
    if values.ndim == 2 and values.shape[1] > 1:
        used = np.flatnonzero(valid.any(axis=0))
        if used.size:
            values, valid = values[:, used[0] : used[-1] + 1], valid[:, used[0] : used[-1] + 1]
    if values.shape[-1] == 0 or not count.any():
        return np.full(count.shape, np.nan), count
    ordered = _sorted_small_integers(values, valid)
    if ordered is None:
        ordered = np.sort(np.where(valid, values, np.inf), axis=-1)
    low = np.maximum(count - 1, 0) // 2
    high = np.minimum(count // 2, values.shape[-1] - 1)
    lower = np.take_along_axis(ordered, low[..., None], axis=-1)[..., 0].astype(np.float64)
    upper = np.take_along_axis(ordered, high[..., None], axis=-1)[..., 0].astype(np.float64)
    median = np.where(count > 0, (lower + upper) / 2.0, np.nan)
    return median, count


_SMALL: Final = 32767
"""Above every valid value of an int16 sort (a valid value equal to it reads the same)."""


def _sorted_small_integers(values: FloatArray, valid: BoolArray) -> npt.NDArray[Any] | None:
    """:func:`masked_median`'s sort when every valid value is a whole number within int16
    (SpO2 in %, heart rate in /min): the same order, sorted as int16, about 8 times faster
    than float64. None when a valid value is not such a number, or is -0.0 (the float sort
    then).
    Invalid entries are set to ``_SMALL`` as the float sort sets them to +inf: both sort last,
    and the median reads only the first ``count`` of each row.
    """
    filled = np.where(valid, values, float(_SMALL))
    with np.errstate(invalid="ignore"):  # a value beyond int16 casts to garbage: caught below
        small = filled.astype(np.int16)
    if not np.array_equal(small, filled):
        return None
    zeros = small == 0
    if zeros.any() and np.signbit(filled[zeros]).any():  # -0.0: int16 would lose its sign
        return None
    ordered: npt.NDArray[Any] = np.sort(small, axis=-1)
    return ordered


def pad_rows(
    array: npt.NDArray[ScalarT], patients: int, fill: object, *, order: Literal["C", "F"] = "C"
) -> npt.NDArray[ScalarT]:
    """``array`` grown along its first axis to ``patients`` rows, new rows set to ``fill``.

    ``order="F"`` for a ``(patients, k)`` table read one column at a time (one metric or
    condition of every patient): each column is then contiguous, several times cheaper to read
    and write across 100 000 patients than a column strided through the rows.
    """
    if patients < array.shape[0]:
        raise AnalyticsInputError(
            "patients", f"cannot shrink from {array.shape[0]} to {patients} patients"
        )
    grown: npt.NDArray[ScalarT] = np.full(
        (patients, *array.shape[1:]), fill, dtype=array.dtype, order=order
    )
    grown[: array.shape[0]] = array
    return grown


def flat_view(table: npt.NDArray[ScalarT]) -> npt.NDArray[ScalarT]:
    """A contiguous table (C- or column-major) as one flat view in its storage order, for
    scattering and gathering by flat cell number (several times faster than by index pairs).

    Raises rather than copy: writes into a copy would silently be lost.
    """
    stored = table.T if table.flags.f_contiguous and not table.flags.c_contiguous else table
    return np.reshape(stored, -1, copy=False)
