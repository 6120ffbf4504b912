"""``nabd.ingest.array_literals``: every literal the writer builds reads back, through the real
PostgreSQL server, as exactly the values it was built from (hypothesis: any text, including
quotes, backslashes, braces, commas, spaces and the word NULL; any finite double; any
microsecond in the contract's range, with any offset)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.app.stack.testing import RunningStack
from nabd.ingest.array_literals import float_array, int_array, text_array, time_array

pytestmark = pytest.mark.integration

texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
times = st.builds(
    lambda t, tz: t.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)),
    offsets,
)


@pytest.fixture(scope="module")
def conn(nabd_stack: RunningStack) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(nabd_stack.database_url, autocommit=True) as c:
        yield c


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, max_size=20))
def test_text_arrays_read_back_exactly(conn: psycopg.Connection, values: list[str]) -> None:
    row = conn.execute("SELECT %s::text[]", (text_array(values),)).fetchone()
    assert row is not None
    assert row[0] == values


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-(2**15), 2**15 - 1), max_size=20),
    st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), max_size=20),
)
def test_number_arrays_read_back_exactly(
    conn: psycopg.Connection, ints: list[int], floats: list[float | None]
) -> None:
    row = conn.execute(
        "SELECT %s::int2[], %s::float8[]", (int_array(ints), float_array(floats))
    ).fetchone()
    assert row is not None
    assert row[0] == ints
    assert row[1] == floats
    assert [math.copysign(1, f) for f in row[1] if f is not None] == [
        math.copysign(1, f) for f in floats if f is not None
    ]  # -0.0 stays negative


@settings(max_examples=40, deadline=None)
@given(st.lists(times, max_size=20))
def test_time_arrays_read_back_to_the_microsecond(
    conn: psycopg.Connection, values: list[datetime]
) -> None:
    row = conn.execute("SELECT %s::timestamptz[]", (time_array(values),)).fetchone()
    assert row is not None
    assert row[0] == values
