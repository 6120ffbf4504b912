"""The ward state's hot path: a micro-batch of any size is filed with NumPy passes, and the result
is exactly what a plain per-sample model gives (newest reading per patient and metric; each
metric's clean samples pushed to its own ring). Clean values reach the windows;
readings without a value, with lost contact, a probe-off 0 or an artefact flag reach only the
newest-reading table. Registry snapshots admit patients, keep rows stable and resolve limits."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.arrays import NEVER
from nabd.analytics.ring import RingBuffer
from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.samples import METRIC_KEYS, Samples, metric_index
from nabd.analytics.service.state import WardState

S = 1_000_000_000
T0 = 1_750_000_000 * S
METRICS = ("heart_rate", "spo2", "battery_level", "rr_interval")
PATIENTS = 3


def admitted(n: int = PATIENTS, **extra: object) -> WardState:
    state = WardState(EngineConfig())
    state.apply(
        Registry(
            patient=np.array([f"p{i}" for i in range(n)]),
            ward=np.array(["w1"] * n),
            scale2=np.zeros(n, dtype=np.bool_),
            admitted_at=np.full(n, T0),
            gateway=np.array([""] * n),
            battery=np.full(n, np.nan),
            **extra,  # type: ignore[arg-type]
        )
    )
    return state


reading = st.tuples(
    st.integers(0, PATIENTS - 1),
    st.sampled_from(METRICS),
    st.integers(0, 20),
    st.one_of(st.just(math.nan), st.just(0.0), st.floats(0.3, 150, allow_nan=False)),
    st.booleans(),
    st.booleans(),
)
batches = st.lists(st.lists(reading, max_size=30), min_size=1, max_size=4)
Reading = tuple[int, str, int, float, bool, bool]


def _samples(batch: list[Reading]) -> Samples:
    if not batch:
        return Samples.empty()
    row, metric, second, value, lost, doubtful = zip(*batch, strict=True)
    return Samples.of(
        row,
        list(metric),
        np.array(second, dtype=np.int64) * S + T0,
        value,
        contact_lost=lost,
        doubtful=doubtful,
    )


@settings(max_examples=200, deadline=None)
@given(batches)
def test_a_batch_is_filed_exactly_as_a_per_sample_model_says(script: list[list[Reading]]) -> None:
    state = admitted()
    model_rings = {key: RingBuffer(PATIENTS, ring.capacity) for key, ring in state.rings.items()}
    newest: dict[tuple[int, str], tuple[int, set[float | str], set[bool]]] = {}
    for batch in script:
        state.ingest(_samples(batch))
        clean_part: dict[str, list[tuple[int, int, float]]] = {k: [] for k in model_rings}
        for row, metric, second, value, lost, doubtful in batch:
            t = T0 + second * S
            seen = newest.get((row, metric))
            shown = "nan" if math.isnan(value) else value
            if seen is None or t > seen[0]:
                newest[(row, metric)] = (t, {shown}, {lost})
            elif t == seen[0]:
                seen[1].add(shown)
                seen[2].add(lost)
            zero_off = metric == "spo2" and value == 0
            clean = not (math.isnan(value) or lost or doubtful or zero_off)
            if clean and metric in model_rings:
                clean_part[metric].append((row, t, value))
        for name, part in clean_part.items():  # the ring's own batch semantics: one push
            if part:
                rows, times, values = zip(*part, strict=True)
                model_rings[name].push(list(rows), list(times), list(values))
    for (row, metric), (t, shown_values, flags) in newest.items():
        m = metric_index(metric)
        assert state.latest_time[row, m] == t
        got = state.latest_value[row, m]
        assert ("nan" if math.isnan(got) else got) in shown_values  # one of the tied readings
        assert bool(state.latest_contact_lost[row, m]) in flags
    untouched = {(r, metric_index(k)) for r in range(PATIENTS) for k in METRIC_KEYS} - {
        (r, metric_index(k)) for r, k in newest
    }
    assert all(state.latest_time[cell] == NEVER for cell in untouched)
    for key, ring in state.rings.items():
        mine, theirs = ring.window(), model_rings[key].window()
        assert np.array_equal(mine.times, theirs.times), key
        assert np.array_equal(mine.values, theirs.values, equal_nan=True), key


def test_samples_of_unknown_rows_are_counted_not_filed() -> None:
    state = admitted()
    count = state.ingest(Samples.of([0, 7, -1], ["heart_rate"] * 3, [T0] * 3, [70.0, 71.0, 72.0]))
    assert (count.readings, count.windowed, count.unknown) == (3, 1, 2)


def test_registry_refresh_keeps_rows_and_admits_new_patients() -> None:
    state = admitted(2)
    state.ingest(Samples.of([1], ["heart_rate"], [T0], [80.0]))
    state.apply(
        Registry(
            patient=np.array(["p1", "p9"]),
            ward=np.array(["w2", "w1"]),
            scale2=np.array([True, False]),
            admitted_at=np.array([T0, T0]),
            gateway=np.array(["", ""]),
            battery=np.array([np.nan, 50.0]),
        )
    )
    assert state.index.ids == ("p0", "p1", "p9")
    assert state.monitored.tolist() == [False, True, True]  # p0 was discharged
    assert state.scale2.tolist() == [False, True, False]
    assert [state.ward_id(r) for r in (1, 2)] == ["w2", "w1"]
    assert state.rings["heart_rate"].window(columns=1).latest_value[1] == 80.0  # row kept


def test_alarm_limits_per_ward_and_per_patient() -> None:
    state = admitted(
        3,
        limit_ward=np.array(["w1", ""]),
        limit_patient=np.array(["", "p2"]),
        limit_metric=np.array(["heart_rate", "heart_rate"]),
        limit_low=np.array([45.0, np.nan]),
        limit_high=np.array([np.nan, 150.0]),
    )
    limits = state.thresholds["heart_rate"]
    assert limits.low.tolist() == [45.0, 45.0, 45.0]  # the ward's
    assert limits.high.tolist() == [131.0, 131.0, 150.0]  # default, default, the patient's
    assert state.thresholds["spo2"].low.tolist() == [91.0] * 3
