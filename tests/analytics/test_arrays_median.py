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


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 6),
    columns=st.integers(1, 40),
    kind=st.sampled_from(("spo2", "edge", "wide", "fraction", "negative zero")),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31),
)
def test_whole_numbers_sorted_as_int16_give_the_float_sort_median(
    rows: int, columns: int, kind: str, density: float, seed: int
) -> None:
    """Whole numbers within int16 (SpO2, heart rate) take the int16 sort; anything else (a
    fraction, a number beyond int16, in a valid entry) the float sort: the same medians."""
    rng = np.random.default_rng(seed)
    values = {
        "spo2": rng.integers(80, 101, (rows, columns)).astype(float),
        "edge": rng.choice([-32768.0, -1.0, 0.0, 32766.0, 32767.0], (rows, columns)),
        "wide": rng.choice([-40000.0, 5.0, 32768.0, 1e300], (rows, columns)),
        "fraction": rng.integers(80, 101, (rows, columns)) + rng.choice([0, 0.5], (rows, columns)),
        "negative zero": rng.choice([-0.0, 0.0, 1.0], (rows, columns)),
    }[kind]
    valid = rng.random((rows, columns)) < density
    values[~valid] = rng.choice([np.nan, 1e300, -5.5])  # what invalid entries hold is ignored
    median, count = masked_median(values, valid)
    expected, expected_count = _full_sort_median(values, valid)
    # Equal as numbers: which of -0.0 and 0.0 a sort puts first depends on where they stand,
    # so the sign of a zero median was never defined (the trimmed sort above can differ too).
    assert np.array_equal(median, expected, equal_nan=True)
    assert np.array_equal(count, expected_count)
