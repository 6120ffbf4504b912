"""The vectorised NEWS2 against a plain one-patient-at-a-time reference written from the chart.

The reference below shares nothing with the module: it rounds with `decimal` (half-up, as the
module documents) and bands with if/elif chains read off Chart 1 and Chart 3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.news2 import MISSING, NO_RISK, PARAMETERS, News2, score

SUB_SCORES = PARAMETERS


@dataclass(frozen=True)
class Patient:
    respiration_rate: float  # NaN = missing, as are None below
    spo2: float
    on_oxygen: bool | None
    temperature: float
    systolic_bp: float
    heart_rate: float
    consciousness: str | None
    scale2: bool


def charted(value: float, places: int) -> Decimal:
    """The value as written on the chart: half-up to `places` decimals of its decimal form."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def ref_respiration(value: float) -> int:
    r = charted(value, 0)
    if r <= 8:
        return 3
    if r <= 11:
        return 1
    if r <= 20:
        return 0
    if r <= 24:
        return 2
    return 3


def ref_spo2(value: float, on_oxygen: bool | None, scale2: bool) -> int | None:
    r = charted(value, 0)
    if not scale2:
        return 3 if r <= 91 else 2 if r <= 93 else 1 if r <= 95 else 0
    if r <= 92:
        return 3 if r <= 83 else 2 if r <= 85 else 1 if r <= 87 else 0
    if on_oxygen is None:
        return None  # 0 on air, 1-3 on oxygen: cannot tell
    if not on_oxygen:
        return 0
    return 1 if r <= 94 else 2 if r <= 96 else 3


def ref_systolic(value: float) -> int:
    r = charted(value, 0)
    return 3 if r <= 90 else 2 if r <= 100 else 1 if r <= 110 else 0 if r <= 219 else 3


def ref_pulse(value: float) -> int:
    r = charted(value, 0)
    if r <= 40:
        return 3
    if r <= 50:
        return 1
    if r <= 90:
        return 0
    if r <= 110:
        return 1
    if r <= 130:
        return 2
    return 3


def ref_temperature(value: float) -> int:
    r = charted(value, 1)
    if r <= Decimal("35.0"):
        return 3
    if r <= Decimal("36.0"):
        return 1
    if r <= Decimal("38.0"):
        return 0
    if r <= Decimal("39.0"):
        return 1
    return 2


def reference(p: Patient) -> dict[str, object]:
    def numeric(value: float, scorer: Callable[[float], int]) -> int | None:
        return None if math.isnan(value) else scorer(value)

    subs: dict[str, int | None] = {
        "respiration_rate": numeric(p.respiration_rate, ref_respiration),
        "spo2": None if math.isnan(p.spo2) else ref_spo2(p.spo2, p.on_oxygen, p.scale2),
        "air_or_oxygen": None if p.on_oxygen is None else (2 if p.on_oxygen else 0),
        "systolic_bp": numeric(p.systolic_bp, ref_systolic),
        "heart_rate": numeric(p.heart_rate, ref_pulse),
        "consciousness": None if p.consciousness is None else (p.consciousness != "A") * 3,
        "temperature": numeric(p.temperature, ref_temperature),
    }
    present = [s for s in subs.values() if s is not None]
    total = sum(present)
    any_3 = 3 in present
    if not present:  # nothing measured: no score and no band, never 0 / "low" (RCP 2017)
        total, risk = MISSING, NO_RISK
    elif total >= 7:
        risk = "high"
    elif total >= 5:
        risk = "medium"
    elif any_3:
        risk = "low-medium"
    else:
        risk = "low"
    expected: dict[str, object] = {k: MISSING if v is None else v for k, v in subs.items()}
    return expected | {
        "total": total,
        "risk": risk,
        "single_parameter_3": any_3,
        "complete": len(present) == len(subs),
        "scale2": p.scale2,
    }


def score_all(patients: list[Patient]) -> News2:
    def column(name: str, dtype: type) -> npt.NDArray[np.generic]:
        return np.array([getattr(p, name) for p in patients], dtype=dtype)

    return score(
        column("respiration_rate", float),
        column("spo2", float),
        column("on_oxygen", object),
        column("temperature", float),
        column("systolic_bp", float),
        column("heart_rate", float),
        column("consciousness", object),
        scale2=column("scale2", bool),
    )


def assert_matches_reference(patients: list[Patient], result: News2) -> None:
    fields = (*SUB_SCORES, "total", "risk", "single_parameter_3", "complete", "scale2")
    for i, patient in enumerate(patients):
        got = {name: getattr(result, name)[i].item() for name in fields}
        assert got == reference(patient), patient


def in_hundredths(low: int, high: int) -> st.SearchStrategy[float]:
    """Device-like readings to two decimals, so half-way cases between chart values occur."""
    present = st.integers(low * 100, high * 100).map(lambda k: k / 100)
    return st.one_of(present, st.just(math.nan))


patients = st.builds(
    Patient,
    respiration_rate=in_hundredths(0, 60),
    spo2=in_hundredths(60, 100),
    on_oxygen=st.sampled_from([True, False, None]),
    temperature=in_hundredths(30, 43),
    systolic_bp=in_hundredths(50, 260),
    heart_rate=in_hundredths(20, 200),
    consciousness=st.sampled_from(["A", "C", "V", "P", "U", None]),
    scale2=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(patients, min_size=1, max_size=40))
def test_vectorised_scores_equal_the_scalar_reference(batch: list[Patient]) -> None:
    assert_matches_reference(batch, score_all(batch))


def test_ten_thousand_patients_score_correctly() -> None:
    rng = np.random.default_rng(20171219)
    n = 10_000

    def readings(low: int, high: int) -> list[float]:
        values = rng.integers(low * 100, high * 100, n, endpoint=True) / 100
        with_gaps: list[float] = np.where(rng.random(n) < 0.03, np.nan, values).tolist()
        return with_gaps

    oxygen = rng.choice(np.array([True, False, None], dtype=object), n, p=[0.3, 0.67, 0.03])
    levels = rng.choice(np.array(["A", "C", "V", "P", "U", None], dtype=object), n)
    batch = [
        Patient(*row)
        for row in zip(
            readings(0, 45),
            readings(75, 100),
            oxygen.tolist(),
            readings(33, 42),
            readings(60, 240),
            readings(25, 180),
            levels.tolist(),
            (rng.random(n) < 0.2).tolist(),
            strict=True,
        )
    ]
    result = score_all(batch)
    assert result.total.shape == (n,)
    assert_matches_reference(batch, result)
    # The sample reaches every risk band, complete and incomplete.
    assert set(result.risk.tolist()) == {"low", "low-medium", "medium", "high"}
    assert 0 < int(result.complete.sum()) < n


def test_every_two_decimal_temperature_rounds_as_written() -> None:
    """38.05 is stored as 38.04999...; it must still chart as 38.1 (and so on for every value)."""
    temperatures = np.arange(2000, 4501) / 100
    result = score(16, 97, False, temperatures, 120, 70, "A")
    expected = [ref_temperature(t) for t in temperatures.tolist()]
    assert result.temperature.tolist() == expected
