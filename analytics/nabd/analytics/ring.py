"""Rolling windows of one metric for every patient, in one preallocated ring buffer.

One :class:`RingBuffer` holds one metric (heart rate, SpO2, RR intervals, ...) for the whole
ward: ``values`` and ``times`` are ``(patients, capacity)`` arrays, and each patient row is a
circular buffer with its own write index (``head``, the slot the next sample goes to) and
``count``. Rows are indexed by a patient *index* the shell assigns on admission; nothing here
knows patient ids.

Timestamps are int64 nanoseconds since the Unix epoch (``nabd.analytics.arrays``).

**Pushing a micro-batch without a loop over samples.** A batch holds samples for any patients in
any order, several per patient. :meth:`RingBuffer.push` sorts it by (patient, time) with one
stable ``np.lexsort``; marks where each patient's run starts; drops samples not newer than the
previous one kept for that patient (duplicates from re-sent batches, and stragglers older than
what is already stored: the window is strictly time-ordered, and the database, not this buffer,
is the record); gives each remaining sample its rank within its patient's run
(``arange - start of run``); and writes sample ``rank`` of a run to slot
``(head + rank) % capacity``. When a run is longer than the capacity only its newest
``capacity`` samples are written, so no slot is written twice in one assignment (NumPy does not
promise which of two writes to one slot wins). Heads and counts then advance by the run
lengths. Everything is a fixed number of NumPy passes over the batch.

**Reading.** :meth:`RingBuffer.window` returns ``(patients, columns)`` arrays ordered oldest to
newest and *right-aligned*: the newest sample of every patient is in the last column, so
``window.values[:, -1]`` is the latest value and ``[:, -k:]`` the last ``k`` samples; missing
entries (fewer samples than columns, or older than ``since``) are NaN with ``valid`` False.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from nabd.analytics.arrays import NEVER, BoolArray, FloatArray, IntArray, flat_view, pad_rows
from nabd.analytics.errors import AnalyticsInputError

__all__ = ["RingBuffer", "Window"]


@dataclass(frozen=True)
class Window:
    """Samples of one metric, ``(patients, columns)``, oldest to newest, newest in the last column.

    ``values`` is NaN and ``times`` is 0 wherever ``valid`` is False.
    """

    times: IntArray
    values: FloatArray
    valid: BoolArray

    @property
    def count(self) -> IntArray:
        """Valid samples per patient."""
        result: IntArray = self.valid.sum(axis=1, dtype=np.int64)
        return result

    @property
    def latest_time(self) -> IntArray:
        """Time of each patient's newest sample in the window (NEVER if none)."""
        if not self._has_columns:
            return np.full(self.times.shape[0], NEVER, dtype=np.int64)
        return np.where(self.valid[:, -1], self.times[:, -1], NEVER)

    @property
    def latest_value(self) -> FloatArray:
        """Each patient's newest value in the window (NaN if none)."""
        if not self._has_columns:
            return np.full(self.values.shape[0], np.nan)
        result: FloatArray = self.values[:, -1].copy()
        return result

    @property
    def oldest_time(self) -> IntArray:
        """Time of each patient's oldest sample in the window (NEVER if none)."""
        if not self._has_columns:
            return np.full(self.times.shape[0], NEVER, dtype=np.int64)
        first = np.argmax(self.valid, axis=1)
        rows = np.arange(self.times.shape[0])
        return np.where(self.valid.any(axis=1), self.times[rows, first], NEVER)

    @property
    def _has_columns(self) -> bool:
        return bool(self.times.shape[1] > 0)


class RingBuffer:
    """A fixed-capacity rolling window of one metric for every patient.

    ``capacity`` is per patient. Memory is ``patients * capacity * 16`` bytes (float64 value plus
    int64 time): a 60-bed ward keeping 6 h of one-per-second samples is 60 * 21600 * 16 B =
    21 MB per metric, so long baselines are better fed one-per-minute summaries.

    ``doubled`` keeps a second copy of the values, each written twice (slots ``s`` and
    ``s + capacity`` of a row twice as wide), so that the newest ``k`` values of any row are one
    contiguous slice whatever the write index: :meth:`newest_values` then copies whole rows of
    ``k`` values instead of gathering every cell by its own index (about 9 times cheaper, for
    ``capacity * 8`` more bytes per patient). The AF detector reads its 128 beats this way.
    """

    def __init__(self, patients: int, capacity: int, *, doubled: bool = False) -> None:
        if patients < 0:
            raise AnalyticsInputError("patients", f"must be >= 0, got {patients}")
        if capacity < 1:
            raise AnalyticsInputError("capacity", f"must be >= 1, got {capacity}")
        self._capacity = capacity
        self._times: IntArray = np.zeros((patients, capacity), dtype=np.int64)
        self._values: FloatArray = np.full((patients, capacity), np.nan, dtype=np.float64)
        self._head: IntArray = np.zeros(patients, dtype=np.int64)
        self._count: IntArray = np.zeros(patients, dtype=np.int64)
        self._newest: IntArray = np.full(patients, NEVER, dtype=np.int64)
        self._doubled: FloatArray | None = (
            np.full((patients, 2 * capacity), np.nan, dtype=np.float64) if doubled else None
        )

    @property
    def patients(self) -> int:
        return int(self._head.shape[0])

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def count(self) -> IntArray:
        """Samples held per patient (at most ``capacity``); a read-only copy."""
        return self._count.copy()

    @property
    def newest_time(self) -> IntArray:
        """Time of each patient's newest sample ever kept (NEVER if none since admission)."""
        return self._newest.copy()

    def push(
        self, patient: npt.ArrayLike, times: npt.ArrayLike, values: npt.ArrayLike
    ) -> BoolArray:
        """Append a micro-batch of samples; return which were kept, in the order given.

        ``patient`` (int indices), ``times`` (int64 ns) and ``values`` (finite floats) are 1-D and
        of equal length, in any order. A sample is dropped (False) when its time is not later
        than the newest sample already kept for that patient, in the buffer or earlier in this
        batch; of samples with equal times the first given is kept.
        """
        index, stamp, value = self._checked(patient, times, values)
        if _distinct(index, self.patients):
            return self._push_distinct(index, stamp, value)
        order = np.lexsort((stamp, index))
        index, stamp, value = index[order], stamp[order], value[order]
        keep = stamp > self._floor(index, stamp)
        kept = np.zeros(order.shape[0], dtype=np.bool_)
        kept[order[keep]] = True
        self._write(index[keep], stamp[keep], value[keep])
        return kept

    def window(
        self,
        since: npt.ArrayLike | None = None,
        columns: int | None = None,
        rows: npt.ArrayLike | None = None,
    ) -> Window:
        """The newest ``columns`` (default: all) slots of every patient, oldest to newest.

        ``since`` (int64 ns, a scalar or one per patient) hides samples older than it. ``rows``
        (patient indices) reads only those patients, in that order (a cohort); default all.
        """
        width = self._capacity if columns is None else columns
        if not 0 <= width <= self._capacity:
            raise AnalyticsInputError("columns", f"must be in 0..{self._capacity}, got {width}")
        index = self._rows(rows)
        offsets = np.arange(self._capacity - width, self._capacity)
        times, values = self._rotated(width, index)
        valid = offsets[None, :] >= (self._capacity - self._count[index])[:, None]
        if since is not None:
            valid &= times >= self._since(since)[index][:, None]
        np.copyto(times, 0, where=~valid)
        np.copyto(values, np.nan, where=~valid)
        return Window(times=times, values=values, valid=valid)

    def stored(self) -> Window:
        """Every slot of every patient **in storage order** (not time order): read-only views.

        For detectors that only reduce over a time range (flatline's peak-to-peak, counts,
        medians), which do not care about the order of the columns: no copy is made. An empty
        slot holds NaN and time 0 (values pushed are finite, and :meth:`clear` resets both), so
        ``valid`` is exactly "the value is not NaN". ``latest_*`` and ``oldest_time`` of the
        result mean nothing (they assume time order); use :meth:`latest` instead.
        """
        times, values = self.storage()
        return Window(times=times, values=values, valid=~np.isnan(values))

    def storage(self) -> tuple[IntArray, FloatArray]:
        """:meth:`stored`'s times and values alone (read-only views), for a detector that
        reads them a block of patients at a time and would not use a whole-ward ``valid``."""
        times, values = self._times.view(), self._values.view()
        times.flags.writeable = False
        values.flags.writeable = False
        return times, values

    def latest(self) -> tuple[IntArray, FloatArray]:
        """Each patient's newest sample: ``(time, value)``, NEVER and NaN when there is none.

        The same as ``window(columns=1)``'s ``latest_time`` and ``latest_value`` with a single
        gather: the shell reads every metric's newest value on every tick.
        """
        slot = (self._head - 1) % self._capacity
        rows = np.arange(self.patients)
        has = self._count > 0
        return (
            np.where(has, self._times[rows, slot], NEVER),
            np.where(has, self._values[rows, slot], np.nan),
        )

    def back(self, rows: IntArray, skip: int, columns: int) -> Window:
        """For each of ``rows``, the ``columns`` samples before its newest ``skip``, **newest
        first** (column 0 is the ``skip``-th newest sample, 0-based).

        For detectors that walk back from the newest sample and stop early (flatline stops at
        the first sample that breaks the flat run): one flat gather of ``rows * columns`` cells,
        no rotation of whole rows. Slots beyond a row's ``count`` are NaN, time 0, not valid.
        """
        if skip < 0 or columns < 0:
            raise AnalyticsInputError("back", f"need skip, columns >= 0, got {skip}, {columns}")
        index = self._rows(rows)
        offset = skip + np.arange(columns, dtype=np.int64)
        valid = offset[None, :] < self._count[index][:, None]
        slot = (self._head[index][:, None] - 1 - offset[None, :]) % self._capacity
        cell = index[:, None] * self._capacity + slot
        times = np.where(valid, flat_view(self._times)[cell], 0)
        values = np.where(valid, flat_view(self._values)[cell], np.nan)
        return Window(times=times, values=values, valid=valid)

    def newest_values(self, rows: IntArray, columns: int) -> FloatArray:
        """The newest ``columns`` values of each of ``rows``, oldest first (a fresh array).

        Values only, no times or validity: for detectors that have already checked, from
        :meth:`back`, that the rows hold enough recent samples. Slots beyond a row's ``count``
        are NaN (an unfilled slot holds NaN). With ``doubled`` each row's values are one
        contiguous slice, copied as a row of a strided view; otherwise one gather by cell.
        """
        if not 0 <= columns <= self._capacity:
            raise AnalyticsInputError("columns", f"must be in 0..{self._capacity}, got {columns}")
        index = self._rows(rows)
        cap = self._capacity
        if self._doubled is not None and columns:
            flat = np.reshape(self._doubled, -1, copy=False)
            starts = index * (2 * cap) + self._head[index] + (cap - columns)
            result: FloatArray = sliding_window_view(flat, columns)[starts]
            return result
        slot = self._head[index][:, None] - columns + np.arange(columns, dtype=np.int64)
        slot += np.where(slot < 0, cap, 0)
        slot += (index * cap)[:, None]
        gathered: FloatArray = flat_view(self._values)[slot]
        return gathered

    def grow(self, patients: int) -> None:
        """Make room for ``patients`` patients in all (admissions); existing rows are kept."""
        if self._doubled is not None:
            self._doubled = pad_rows(self._doubled, patients, fill=np.nan)
        self._times = pad_rows(self._times, patients, fill=0)
        self._values = pad_rows(self._values, patients, fill=np.nan)
        self._head = pad_rows(self._head, patients, fill=0)
        self._count = pad_rows(self._count, patients, fill=0)
        self._newest = pad_rows(self._newest, patients, fill=NEVER)

    def clear(self, patient: npt.ArrayLike) -> None:
        """Forget every sample of these patients (discharge), so their rows can be reused."""
        index = np.asarray(patient, dtype=np.int64)
        self._check_indices(index)
        self._head[index] = 0
        self._count[index] = 0
        self._newest[index] = NEVER
        self._values[index] = np.nan
        self._times[index] = 0
        if self._doubled is not None:
            self._doubled[index] = np.nan

    # ---- internals ---------------------------------------------------------------------------

    def _rows(self, rows: npt.ArrayLike | None) -> IntArray:
        if rows is None:
            return np.arange(self.patients)
        index = np.asarray(rows)
        if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
            raise AnalyticsInputError("rows", f"must be 1-D patient indices, got {index!r}")
        index = index.astype(np.int64)
        self._check_indices(index)
        return index

    def _rotated(self, width: int, index: IntArray) -> tuple[IntArray, FloatArray]:
        """The newest ``width`` slots of the rows ``index``, oldest first (fresh arrays).

        Rows are grouped by their write index, and each group is copied with two slices: a loop
        over the (at most ``capacity``) distinct heads, never over patients. Row copies are
        contiguous, so this is several times faster than gathering every element by its own
        (row, slot) index, which dominated every window detector's cost.
        """
        cap, n = self._capacity, index.shape[0]
        times: IntArray = np.empty((n, width), dtype=np.int64)
        values: FloatArray = np.empty((n, width), dtype=np.float64)
        if width == 0 or n == 0:
            return times, values
        heads = self._head[index]
        order = np.argsort(heads, kind="stable")
        bounds = np.searchsorted(heads[order], np.arange(cap + 1), side="left")
        for head in np.flatnonzero(np.diff(bounds)).tolist():
            out = order[bounds[head] : bounds[head + 1]]
            rows = index[out]
            start = (head + cap - width) % cap
            first = min(width, cap - start)  # slots start.. up to the end of the ring
            for target, source in ((times, self._times), (values, self._values)):
                target[out, :first] = source[rows, start : start + first]
                if first < width:
                    target[out, first:] = source[rows, : width - first]
        return times, values

    def _push_distinct(self, index: IntArray, stamp: IntArray, value: FloatArray) -> BoolArray:
        """:meth:`push` of a batch with at most one sample per patient (a one-second tick's
        usual batch): no order among samples to keep, so no sort."""
        keep: BoolArray = stamp > self._newest[index]
        rows = index[keep]
        slot = self._head[rows]
        cell = rows * self._capacity + slot
        flat_view(self._times)[cell] = stamp[keep]
        flat_view(self._values)[cell] = value[keep]
        self._write_doubled(rows, slot, value[keep])
        self._head[rows] = (slot + 1) % self._capacity
        self._count[rows] = np.minimum(self._count[rows] + 1, self._capacity)
        self._newest[rows] = stamp[keep]
        return keep

    def _write_doubled(self, rows: IntArray, slot: IntArray, value: FloatArray) -> None:
        """The doubled copy's two cells of each written slot (no-op without ``doubled``)."""
        if self._doubled is None:
            return
        flat = np.reshape(self._doubled, -1, copy=False)
        cell = rows * (2 * self._capacity) + slot
        flat[cell] = value
        flat[cell + self._capacity] = value

    def _floor(self, index: IntArray, stamp: IntArray) -> IntArray:
        """Per sorted sample: the time it must exceed (previous in its run, or newest stored)."""
        previous = np.empty_like(stamp)
        previous[:1] = NEVER
        previous[1:] = np.where(index[1:] == index[:-1], stamp[:-1], NEVER)
        return np.maximum(previous, self._newest[index])

    def _write(self, index: IntArray, stamp: IntArray, value: FloatArray) -> None:
        """Write runs of sorted, strictly increasing samples per patient into their rings."""
        total = index.shape[0]
        if total == 0:
            return
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        lengths = np.diff(np.r_[starts, total])
        run = np.repeat(np.arange(starts.shape[0]), lengths)
        rank = np.arange(total) - starts[run]
        fits = rank >= (lengths - self._capacity)[run]
        slot = (self._head[index] + rank) % self._capacity
        cell = index[fits] * self._capacity + slot[fits]
        flat_view(self._times)[cell] = stamp[fits]
        flat_view(self._values)[cell] = value[fits]
        self._write_doubled(index[fits], slot[fits], value[fits])
        patients = index[starts]
        self._head[patients] = (self._head[patients] + lengths) % self._capacity
        self._count[patients] = np.minimum(self._count[patients] + lengths, self._capacity)
        self._newest[patients] = stamp[starts + lengths - 1]

    def _checked(
        self, patient: npt.ArrayLike, times: npt.ArrayLike, values: npt.ArrayLike
    ) -> tuple[IntArray, IntArray, FloatArray]:
        index = np.asarray(patient)
        stamp = np.asarray(times)
        value = np.asarray(values)
        if index.ndim != 1 or stamp.shape != index.shape or value.shape != index.shape:
            raise AnalyticsInputError(
                "push",
                f"patient, times and values must be 1-D of equal length, got shapes "
                f"{index.shape}, {stamp.shape}, {value.shape}",
            )
        if index.size == 0:  # an empty batch of any dtype (``[]`` is float) is a no-op
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        if index.dtype.kind not in "iu" or stamp.dtype.kind not in "iu":
            raise AnalyticsInputError(
                "push", f"patient and times must be integers, got {index.dtype}, {stamp.dtype}"
            )
        if value.dtype.kind not in "iuf":
            raise AnalyticsInputError("values", f"must be numbers, got dtype {value.dtype}")
        index = index.astype(np.int64)
        self._check_indices(index)
        value = value.astype(np.float64)
        if not np.isfinite(value).all():
            raise AnalyticsInputError(
                "values", "must be finite: a reading without a value is not a sample"
            )
        return index, stamp.astype(np.int64), value

    def _check_indices(self, index: IntArray) -> None:
        if index.size and (index.min() < 0 or index.max() >= self.patients):
            raise AnalyticsInputError(
                "patient",
                f"indices must be in 0..{self.patients - 1}, got {index.min()}..{index.max()}",
            )

    def _since(self, since: npt.ArrayLike) -> IntArray:
        array = np.asarray(since)
        if (
            array.dtype.kind not in "iu"
            or array.ndim > 1
            or (array.ndim == 1 and array.shape != (self.patients,))
        ):
            raise AnalyticsInputError(
                "since", f"must be int64 ns, a scalar or one per patient, got {array!r}"
            )
        return np.broadcast_to(array.astype(np.int64), (self.patients,))


def _distinct(index: IntArray, patients: int) -> bool:
    """No patient twice in ``index`` (indices checked to be in ``0..patients-1``)."""
    return index.size < 2 or int(np.bincount(index, minlength=patients).max()) <= 1
