"""NEWS2 behaviour the chart leaves to us: Scale 2, missing values, rounding, bad input, shapes."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.analytics.errors import AnalyticsInputError
from nabd.analytics.news2 import (
    MISSING,
    NO_RISK,
    PARAMETERS,
    News2,
    News2InputError,
    missing,
    score,
)

NORMAL: dict[str, Any] = {
    "respiration_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "temperature": 37.0,
    "systolic_bp": 120,
    "heart_rate": 70,
    "consciousness": "A",
}
SUB_SCORES = PARAMETERS


def news2(**changes: Any) -> News2:
    return score(**(NORMAL | changes))


# ---- Scale 2 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "scale2", "spo2_points", "total"),
    [
        (97, True, True, 3, 5),  # the reference's worked example: 3 (SpO2) + 2 (oxygen)
        (97, False, True, 0, 0),  # >=93 on air scores 0 on Scale 2
        (97, True, False, 0, 2),  # Scale 1: high SpO2 on oxygen is fine, oxygen still adds 2
        (93, True, True, 1, 3),
        (95, True, True, 2, 4),
        (90, True, True, 0, 2),  # inside the 88-92 target on oxygen
        (90, False, True, 0, 0),
        (90, False, False, 3, 3),  # the same saturation on Scale 1 is <=91
        (85, False, True, 2, 2),
    ],
)
def test_scale_2(spo2: float, on_oxygen: bool, scale2: bool, spo2_points: int, total: int) -> None:
    result = news2(spo2=spo2, on_oxygen=on_oxygen, scale2=scale2)
    assert (int(result.spo2), int(result.total)) == (spo2_points, total)
    assert bool(result.scale2) is scale2


def test_scale_2_is_per_patient() -> None:
    result = news2(spo2=97, on_oxygen=True, scale2=np.array([False, True]))
    assert result.spo2.tolist() == [0, 3]
    assert result.scale2.tolist() == [False, True]


def test_scale_1_is_the_default() -> None:
    assert int(score(16, 90, False, 37.0, 120, 70, "A").spo2) == 3


# ---- Missing values ----------------------------------------------------------------------------

MISSING_FORMS: list[tuple[str, Any]] = [
    ("respiration_rate", np.nan),
    ("respiration_rate", None),
    ("spo2", np.nan),
    ("spo2", np.ma.masked_array(97.0, mask=True)),
    ("temperature", float("nan")),
    ("systolic_bp", np.nan),
    ("heart_rate", np.nan),
    ("on_oxygen", None),
    ("on_oxygen", np.nan),
    ("on_oxygen", np.ma.masked_array(True, mask=True)),
    ("consciousness", None),
    ("consciousness", ""),
    ("consciousness", np.ma.masked_array("A", mask=True)),
]


@pytest.mark.parametrize(("parameter", "missing"), MISSING_FORMS)
def test_a_missing_parameter_is_never_scored_as_normal(parameter: str, missing: Any) -> None:
    sick = NORMAL | {"respiration_rate": 22, "heart_rate": 120}  # 2 + 2, both present
    if parameter in sick and sick[parameter] != NORMAL[parameter]:
        sick = NORMAL | {"systolic_bp": 95, "temperature": 39.5}  # 2 + 2
    result = score(**(sick | {parameter: missing}))
    field = "air_or_oxygen" if parameter == "on_oxygen" else parameter
    assert int(getattr(result, field)) == MISSING
    assert not bool(result.complete)
    assert int(result.total) == 4
    others = [int(getattr(result, name)) for name in SUB_SCORES if name != field]
    assert MISSING not in others


def test_nothing_present_is_no_score_not_zero_or_low() -> None:
    # Issue 20: with no parameter present there is no score and no Chart 3 risk band.
    result = score(np.nan, np.nan, None, np.nan, np.nan, np.nan, None)
    assert [int(getattr(result, name)) for name in SUB_SCORES] == [MISSING] * 7
    assert (int(result.total), bool(result.complete), bool(result.scored)) == (
        MISSING,
        False,
        False,
    )
    assert str(result.risk) == NO_RISK == ""
    assert missing(result) == PARAMETERS


_PRESENT_SUBSET = st.sets(st.sampled_from(sorted(NORMAL)))
_FIELD_OF = {"on_oxygen": "air_or_oxygen"}


@settings(max_examples=200)
@given(
    absent=_PRESENT_SUBSET,
    values=st.fixed_dictionaries(
        {
            "respiration_rate": st.integers(0, 60),
            "spo2": st.integers(60, 100),
            "on_oxygen": st.booleans(),
            "temperature": st.floats(30.0, 43.0),
            "systolic_bp": st.integers(50, 260),
            "heart_rate": st.integers(20, 200),
            "consciousness": st.sampled_from("ACVPU"),
        }
    ),
)
def test_any_missing_subset_is_incomplete_naming_exactly_what_is_missing(
    absent: set[str], values: dict[str, Any]
) -> None:
    inputs: dict[str, Any] = {k: None if k in absent else v for k, v in values.items()}
    result = score(**inputs)
    expected = tuple(p for p in PARAMETERS if p in {_FIELD_OF.get(k, k) for k in absent})
    assert missing(result) == expected
    assert bool(result.complete) == (not absent)
    if absent == set(NORMAL):
        assert (int(result.total), str(result.risk), bool(result.scored)) == (MISSING, "", False)
    else:
        assert bool(result.scored)
        assert 0 <= int(result.total) <= 20
        assert str(result.risk) in {"low", "low-medium", "medium", "high"}


@settings(max_examples=100)
@given(
    st.lists(st.sampled_from([None, 18.0, 30.0]), min_size=7, max_size=7),
    st.integers(0, 5),
)
def test_a_ward_scores_each_patient_alone_including_those_with_nothing(
    template: list[float | None], n: int
) -> None:
    # Row i drops the first i parameters: rows 7 on have nothing, beside scored rows.
    rows = [[None if j < i else v for j, v in enumerate(template)] for i in range(n + 8)]
    columns = [np.array([r[j] for r in rows], dtype=float) for j in range(7)]
    oxygen = np.array([None if r[2] is None else False for r in rows], dtype=object)
    acvpu = np.array(["" if r[6] is None else "A" for r in rows])
    ward = score(columns[0], columns[1], oxygen, columns[3], columns[4], columns[5], acvpu)
    for i, r in enumerate(rows):
        alone = score(r[0], r[1], None if r[2] is None else False, r[3], r[4], r[5],
                      None if r[6] is None else "A")  # fmt: skip
        assert (ward.total[i], ward.risk[i], ward.scored[i]) == (
            alone.total,
            alone.risk,
            alone.scored,
        )
    assert not ward.scored[7:].any()
    assert (ward.risk[7:] == NO_RISK).all()


@pytest.mark.parametrize(
    ("changes", "risk"),
    [
        ({"respiration_rate": 30}, "low-medium"),  # a single 3 is a 3 whatever else is missing
        ({"respiration_rate": 22, "heart_rate": 120, "systolic_bp": 95, "spo2": 95}, "high"),
        ({"respiration_rate": 22, "heart_rate": 120, "temperature": 38.5}, "medium"),
    ],
)
def test_incomplete_risk_is_what_the_present_values_already_imply(
    changes: dict[str, Any], risk: str
) -> None:
    result = news2(**changes, consciousness=None)
    assert (str(result.risk), bool(result.complete)) == (risk, False)


def test_missing_oxygen_on_scale_1_still_scores_spo2() -> None:
    result = news2(spo2=93, on_oxygen=None)
    assert (int(result.spo2), int(result.air_or_oxygen)) == (2, MISSING)


@pytest.mark.parametrize(("spo2", "points"), [(95, MISSING), (93, MISSING), (92, 0), (85, 2)])
def test_missing_oxygen_on_scale_2_scores_spo2_only_where_oxygen_is_irrelevant(
    spo2: float, points: int
) -> None:
    result = news2(spo2=spo2, on_oxygen=None, scale2=True)
    assert int(result.spo2) == points
    assert not bool(result.complete)


def test_masked_arrays_mark_elements_missing() -> None:
    heart_rate = np.ma.masked_array([70.0, 140.0, 70.0], mask=[False, False, True])
    consciousness = np.ma.masked_array(["A", "A", "V"], mask=[False, True, False])
    on_oxygen = np.ma.masked_array([False, True, False], mask=[True, False, False])
    result = news2(heart_rate=heart_rate, consciousness=consciousness, on_oxygen=on_oxygen)
    assert result.heart_rate.tolist() == [0, 3, MISSING]
    assert result.consciousness.tolist() == [0, MISSING, 3]
    assert result.air_or_oxygen.tolist() == [MISSING, 2, 0]
    assert result.complete.tolist() == [False, False, False]
    assert result.total.tolist() == [0, 5, 3]


def test_object_arrays_carry_none_as_missing() -> None:
    result = news2(
        on_oxygen=np.array([True, None, False], dtype=object),
        consciousness=np.array(["C", None, "A"], dtype=object),
    )
    assert result.air_or_oxygen.tolist() == [2, MISSING, 0]
    assert result.consciousness.tolist() == [3, MISSING, 0]
    assert result.complete.tolist() == [True, False, True]


# ---- Values between the chart's bands: rounded half-up to the chart's resolution ---------------


@pytest.mark.parametrize(
    ("parameter", "value", "points"),
    [
        ("temperature", 38.05, 1),  # -> 38.1, although stored as 38.04999...
        ("temperature", 38.04, 0),  # -> 38.0
        ("temperature", 35.05, 1),  # -> 35.1
        ("temperature", 35.04, 3),  # -> 35.0
        ("temperature", 36.04, 1),  # -> 36.0 (Open eObs's "<= upper edge" would say 0)
        ("temperature", 36.05, 0),  # -> 36.1
        ("temperature", 39.05, 2),  # -> 39.1
        ("respiration_rate", 8.5, 1),  # -> 9 (round-half-even would give 8 and score 3)
        ("respiration_rate", 8.49, 3),
        ("respiration_rate", 20.5, 2),  # -> 21
        ("respiration_rate", 20.49, 0),
        ("respiration_rate", 24.5, 3),  # -> 25 (round-half-even: 24, scores 2)
        ("spo2", 95.5, 0),  # -> 96
        ("spo2", 95.49, 1),
        ("spo2", 91.5, 2),  # -> 92
        ("spo2", 100.0, 0),
        ("systolic_bp", 90.5, 2),  # -> 91
        ("systolic_bp", 90.49, 3),
        ("systolic_bp", 219.5, 3),  # -> 220
        ("heart_rate", 40.5, 1),  # -> 41
        ("heart_rate", 50.5, 0),  # -> 51
        ("heart_rate", 130.5, 3),  # -> 131
    ],
)
def test_between_band_values_round_half_up(parameter: str, value: float, points: int) -> None:
    assert int(getattr(news2(**{parameter: value}), parameter)) == points


@pytest.mark.parametrize(("spo2", "points"), [(92.5, 1), (92.49, 0), (87.5, 0), (96.5, 3)])
def test_between_band_values_on_scale_2(spo2: float, points: int) -> None:
    assert int(news2(spo2=spo2, on_oxygen=True, scale2=True).spo2) == points


# ---- Impossible input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("respiration_rate", -1),
        ("respiration_rate", np.inf),
        ("respiration_rate", "fast"),
        ("spo2", 101),
        ("spo2", 100.4),
        ("spo2", -0.5),
        ("temperature", 98.6),  # degF
        ("temperature", 310.15),  # kelvin
        ("temperature", -1.0),
        ("systolic_bp", -5),
        ("heart_rate", -1),
        ("heart_rate", np.array([70, 80, -np.inf])),
        ("on_oxygen", 2),
        ("on_oxygen", "yes"),
        ("consciousness", "X"),
        ("consciousness", "a"),
        ("consciousness", "Alert"),
        ("consciousness", 3),
        ("consciousness", np.array(["A", "CV"])),
        ("scale2", None),
        ("scale2", 1),
        ("scale2", np.array([1, 0])),
    ],
)
def test_impossible_input_raises_naming_the_parameter(parameter: str, value: Any) -> None:
    with pytest.raises(News2InputError, match=parameter) as raised:
        news2(**{parameter: value})
    assert raised.value.parameter == parameter
    assert isinstance(raised.value, ValueError)


def test_the_error_points_at_the_first_bad_element() -> None:
    with pytest.raises(News2InputError, match=r"2 value\(s\).*-3\.0 at \(1, 0\)"):
        news2(heart_rate=np.array([[70.0, 80.0], [-3.0, -4.0]]))


def test_bad_input_is_part_of_the_analytics_exception_tree() -> None:
    with pytest.raises(AnalyticsInputError) as raised:
        news2(heart_rate=-5.0)
    assert isinstance(raised.value, News2InputError)
    assert isinstance(raised.value, ValueError)
    assert raised.value.parameter == "heart_rate"
    assert str(raised.value).startswith("NEWS2 heart_rate: ")


def test_inputs_that_do_not_broadcast_raise() -> None:
    with pytest.raises(News2InputError, match="broadcast") as raised:
        news2(respiration_rate=np.zeros(3) + 16, heart_rate=np.zeros(4) + 70)
    assert raised.value.parameter == "inputs"


# ---- Shapes and types ---------------------------------------------------------------------------


def test_scalars_give_zero_dimensional_arrays() -> None:
    result = news2(respiration_rate=22)
    assert result.total.shape == ()
    assert int(result.total) == 2
    assert str(result.risk) == "low"


def test_scalars_broadcast_against_arrays() -> None:
    rates = np.array([5.0, 16.0, 22.0, 30.0])
    result = news2(respiration_rate=rates)
    assert result.total.tolist() == [3, 0, 2, 3]
    assert result.risk.tolist() == ["low-medium", "low", "low", "low-medium"]
    assert result.single_parameter_3.tolist() == [True, False, False, True]
    for name in (*SUB_SCORES, "total", "risk", "complete", "single_parameter_3", "scale2"):
        assert getattr(result, name).shape == (4,), name


def test_two_dimensional_broadcasting_matches_scalar_calls() -> None:
    rates = np.array([[8.0], [16.0], [25.0]])
    pulses = np.array([40.0, 70.0, 120.0, 131.0])
    consciousness = np.array(["A", "C", "A", "U"])
    result = news2(respiration_rate=rates, heart_rate=pulses, consciousness=consciousness)
    assert result.total.shape == (3, 4)
    for i, rate in enumerate(rates[:, 0]):
        for j, (pulse, level) in enumerate(zip(pulses, consciousness, strict=True)):
            alone = news2(respiration_rate=rate, heart_rate=pulse, consciousness=str(level))
            assert result.total[i, j] == alone.total
            assert result.risk[i, j] == alone.risk


def test_result_dtypes() -> None:
    result = news2(respiration_rate=[10, 30])
    assert result.total.dtype.kind == "i"
    assert result.risk.dtype.kind == "U"
    assert result.complete.dtype == np.bool_
    assert result.single_parameter_3.dtype == np.bool_
    assert all(getattr(result, name).dtype.kind == "i" for name in SUB_SCORES)


def test_results_are_immutable_and_do_not_alias_inputs() -> None:
    scale2 = np.array([False, True])
    result = news2(spo2=97, on_oxygen=True, scale2=scale2)
    scale2[0] = True
    assert result.scale2.tolist() == [False, True]
    with pytest.raises(ValueError, match="read-only"):
        result.total[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = np.zeros(2, dtype=np.int64)  # type: ignore[misc]
