"""``masked_median`` sorts only the band of columns in use: the same medians as a full sort."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.arrays import masked_median


def _full_sort_median(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference: the first implementation, sorting every column."""
    count = valid.sum(axis=-1, dtype=np.int64)
    if values.shape[-1] == 0:
        return np.full(count.shape, np.nan), count
    ordered = np.sort(np.where(valid, values, np.inf), axis=-1)
    low = np.maximum(count - 1, 0) // 2
    high = np.minimum(count // 2, values.shape[-1] - 1)
    lower = np.take_along_axis(ordered, low[..., None], axis=-1)[..., 0]
    upper = np.take_along_axis(ordered, high[..., None], axis=-1)[..., 0]
    return np.where(count > 0, (lower + upper) / 2.0, np.nan), count


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 6),
    columns=st.integers(0, 40),
    band=st.tuples(st.integers(0, 40), st.integers(0, 40)),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_the_trimmed_median_equals_the_full_sort(
    rows: int, columns: int, band: tuple[int, int], density: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(90, 100, (rows, columns)).astype(float) + rng.random((rows, columns))
    valid = rng.random((rows, columns)) < density
    start, stop = sorted(band)
    valid[:, :start] = False  # a time range of a time-ordered window: a band of columns
    valid[:, stop:] = False
    median, count = masked_median(values, valid)
    expected, expected_count = _full_sort_median(values, valid)
    assert np.array_equal(median, expected, equal_nan=True)
    assert np.array_equal(count, expected_count)


def test_a_one_dimensional_series_and_no_valid_entry() -> None:
    median, count = masked_median(np.array([3.0, 1.0, 2.0]), np.array([True, True, False]))
    assert (float(median), int(count)) == (2.0, 2)
    median, count = masked_median(np.ones((2, 3)), np.zeros((2, 3), dtype=bool))
    assert np.isnan(median).all()
    assert count.tolist() == [0, 0]
