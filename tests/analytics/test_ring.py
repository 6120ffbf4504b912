"""The ring buffer: micro-batches in any order, windows oldest to newest, growth, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.arrays import NEVER
from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.ring import RingBuffer
from nabd.analytics.technical import MetricExpectation, flatline

S = 1_000_000_000


def test_a_shuffled_batch_lands_in_time_order_per_patient() -> None:
    ring = RingBuffer(patients=3, capacity=4)
    kept = ring.push([0, 2, 0, 0, 1], [3 * S, 7 * S, 1 * S, 2 * S, 5 * S], [30.0, 70, 10, 20, 50])
    assert kept.tolist() == [True] * 5
    window = ring.window()
    assert window.times.tolist() == [
        [0, 1 * S, 2 * S, 3 * S],
        [0, 0, 0, 5 * S],
        [0, 0, 0, 7 * S],
    ]
    np.testing.assert_array_equal(
        window.values, [[np.nan, 10, 20, 30], [np.nan] * 3 + [50], [np.nan] * 3 + [70]]
    )
    assert window.valid.sum(axis=1).tolist() == [3, 1, 1]
    assert window.latest_value.tolist() == [30.0, 50.0, 70.0]
    assert window.oldest_time.tolist() == [1 * S, 5 * S, 7 * S]


def test_a_batch_longer_than_the_capacity_keeps_its_newest_samples() -> None:
    ring = RingBuffer(patients=2, capacity=3)
    ring.push([1], [0], [0.0])
    ring.push([1] * 7, np.arange(1, 8) * S, np.arange(1.0, 8.0))
    assert ring.window().values[1].tolist() == [5.0, 6.0, 7.0]
    assert ring.count.tolist() == [0, 3]
    ring.push([1, 1], [8 * S, 9 * S], [8.0, 9.0])
    assert ring.window().values[1].tolist() == [7.0, 8.0, 9.0]


def test_duplicates_and_stragglers_are_dropped_and_reported() -> None:
    ring = RingBuffer(patients=1, capacity=5)
    ring.push([0, 0], [10 * S, 20 * S], [1.0, 2.0])
    kept = ring.push([0, 0, 0, 0], [20 * S, 15 * S, 30 * S, 30 * S], [9.0, 9.0, 3.0, 4.0])
    assert kept.tolist() == [False, False, True, False]
    assert ring.window().values[0, -3:].tolist() == [1.0, 2.0, 3.0]
    assert ring.newest_time.tolist() == [30 * S]


def test_an_empty_batch_is_a_no_op() -> None:
    ring = RingBuffer(patients=1, capacity=2)
    assert ring.push([], [], []).tolist() == []
    assert ring.count.tolist() == [0]


def test_window_since_and_columns() -> None:
    ring = RingBuffer(patients=2, capacity=6)
    ring.push([0] * 6 + [1] * 2, [*range(1, 7), 5, 6], [*range(1, 7), 50, 60])
    recent = ring.window(since=np.array([4, 6]))
    assert recent.values[0].tolist()[-3:] == [4.0, 5.0, 6.0]
    assert recent.valid.sum(axis=1).tolist() == [3, 1]
    last_two = ring.window(columns=2)
    assert last_two.values.tolist() == [[5.0, 6.0], [50.0, 60.0]]
    assert ring.window(columns=0).latest_time.tolist() == [NEVER, NEVER]


def test_growing_for_admissions_keeps_every_sample() -> None:
    ring = RingBuffer(patients=2, capacity=3)
    ring.push([0, 1, 0], [1, 1, 2], [1.0, 10.0, 2.0])
    before = ring.window()
    ring.grow(5)
    after = ring.window()
    assert after.valid.shape == (5, 3)
    np.testing.assert_array_equal(after.values[:2], before.values)
    assert not after.valid[2:].any()
    ring.push([4, 0], [3, 3], [40.0, 3.0])
    assert ring.window().values[[0, 4], -1].tolist() == [3.0, 40.0]
    with pytest.raises(AnalyticsInputError, match="shrink"):
        ring.grow(1)


def test_clear_frees_a_row_for_the_next_admission() -> None:
    ring = RingBuffer(patients=2, capacity=3)
    ring.push([0, 1], [5, 5], [1.0, 2.0])
    ring.clear([0])
    assert ring.count.tolist() == [0, 1]
    assert ring.push([0], [1], [9.0]).tolist() == [True]  # an earlier time is fine after clear


@pytest.mark.parametrize(
    ("patient", "times", "values", "parameter"),
    [
        ([0], [1], [np.nan], "values"),
        ([0], [1], [np.inf], "values"),
        ([2], [1], [1.0], "patient"),
        ([-1], [1], [1.0], "patient"),
        ([0, 1], [1], [1.0, 2.0], "push"),
        ([0], [1.5], [1.0], "push"),
    ],
)
def test_bad_batches_raise(
    patient: list[int], times: list[float], values: list[float], parameter: str
) -> None:
    ring = RingBuffer(patients=2, capacity=3)
    with pytest.raises(AnalyticsInputError) as info:
        ring.push(patient, times, values)
    assert info.value.parameter == parameter
    assert ring.count.tolist() == [0, 0]


samples = st.tuples(st.integers(0, 3), st.integers(0, 40), st.floats(-1e6, 1e6))


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 6),
    batches=st.lists(st.lists(samples, max_size=15), max_size=8),
)
def test_the_window_is_the_last_capacity_samples_in_order(
    capacity: int, batches: list[list[tuple[int, int, float]]]
) -> None:
    """Against a plain model: per patient, append a sample if it is newer than the last kept."""
    ring = RingBuffer(patients=4, capacity=capacity)
    model: dict[int, list[tuple[int, float]]] = {p: [] for p in range(4)}
    for batch in batches:
        kept_expected = [False] * len(batch)
        order = sorted(range(len(batch)), key=lambda i: (batch[i][0], batch[i][1]))
        for i in order:
            patient, time, value = batch[i]
            rows = model[patient]
            if not rows or time > rows[-1][0]:
                rows.append((time, value))
                kept_expected[i] = True
        kept = ring.push(
            np.array([b[0] for b in batch], dtype=np.int64),
            np.array([b[1] for b in batch], dtype=np.int64),
            np.array([b[2] for b in batch], dtype=np.float64),
        )
        assert kept.tolist() == kept_expected
    window = ring.window()
    for patient, rows in model.items():
        tail = rows[-capacity:]
        valid = window.valid[patient]
        assert window.times[patient][valid].tolist() == [t for t, _ in tail]
        assert window.values[patient][valid].tolist() == [v for _, v in tail]
        assert valid.tolist() == [False] * (capacity - len(tail)) + [True] * len(tail)


def _gathered(ring: RingBuffer, width: int, since: int | None) -> tuple[np.ndarray, ...]:
    """The window as first written: every element gathered by its own (row, slot) index."""
    cap = ring.capacity
    offsets = np.arange(cap - width, cap)
    slots = (ring._head[:, None] + offsets) % cap
    rows = np.arange(ring.patients)[:, None]
    times = ring._times[rows, slots]
    valid = offsets[None, :] >= (cap - ring._count)[:, None]
    if since is not None:
        valid &= times >= since
    return np.where(valid, times, 0), np.where(valid, ring._values[rows, slots], np.nan), valid


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 12),
    pushes=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    seed=st.integers(0, 2**31),
)
def test_the_grouped_rotation_equals_the_elementwise_gather(
    capacity: int, pushes: list[int], seed: int
) -> None:
    """Rows at every head position, partly filled, cleared and grown: identical windows."""
    rng = np.random.default_rng(seed)
    ring = RingBuffer(patients=9, capacity=capacity)
    clock = 0
    for size in pushes:
        rows = rng.integers(0, ring.patients, size)
        clock += size + 1
        ring.push(rows, clock + rng.permutation(size), rng.normal(size=size))
        if rng.random() < 0.3:
            ring.clear([int(rng.integers(0, ring.patients))])
    ring.grow(ring.patients + 2)
    for width in {0, 1, capacity // 2, capacity}:
        for since in (None, clock - 10):
            window = ring.window(since=since, columns=width)
            times, values, valid = _gathered(ring, width, since)
            assert np.array_equal(window.times, times)
            assert np.array_equal(window.values, values, equal_nan=True)
            assert np.array_equal(window.valid, valid)
            cohort = rng.permutation(ring.patients)[: ring.patients // 2]
            part = ring.window(since=since, columns=width, rows=cohort)
            assert np.array_equal(part.times, times[cohort])
            assert np.array_equal(part.values, values[cohort], equal_nan=True)
            assert np.array_equal(part.valid, valid[cohort])


@settings(max_examples=40, deadline=None)
@given(
    capacity=st.integers(1, 12),
    pushes=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    seed=st.integers(0, 2**31),
)
def test_stored_holds_the_window_in_storage_order(
    capacity: int, pushes: list[int], seed: int
) -> None:
    """Per row the same (time, value) samples as the window, empty slots NaN and 0, and the
    flatline verdict (order-free) the same from either."""
    rng = np.random.default_rng(seed)
    ring = RingBuffer(patients=7, capacity=capacity)
    clock = 0
    for size in pushes:
        clock += size + 1
        ring.push(rng.integers(0, 7, size), (clock + rng.permutation(size)) * S,
                  rng.integers(60, 63, size).astype(float))  # fmt: skip
        if rng.random() < 0.3:
            ring.clear([int(rng.integers(0, 7))])
    stored, window = ring.stored(), ring.window()
    assert not stored.values.flags.writeable
    for row in range(7):
        kept, held = stored.valid[row], window.valid[row]
        mine = sorted(zip(stored.times[row][kept], stored.values[row][kept], strict=True))
        assert mine == list(zip(window.times[row][held], window.values[row][held], strict=True))
        assert (stored.times[row][~stored.valid[row]] == 0).all()
    expectation = MetricExpectation(interval_s=1, flatline_window_s=5, flatline_min_points=2)
    for now in (clock * S, (clock + 3) * S):
        assert np.array_equal(flatline(now, stored, expectation),
                              flatline(now, window, expectation))  # fmt: skip
