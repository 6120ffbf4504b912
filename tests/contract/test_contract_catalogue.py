"""The metric catalogue agrees with the published nomenclatures and with itself."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from nabd.contract.catalogue import METRICS, Metric, MetricKind, metric
from nabd.contract.errors import ContractError, UnknownMetricError

# The keys and canonical units the rest of Nabd is written against (edge converts into these).
REQUIRED_UNITS = {
    "heart_rate": "/min",
    "rr_interval": "s",
    "energy_expended": "kJ",
    "spo2": "%",
    "pulse_rate": "/min",
    "respiration_rate": "/min",
    "body_temperature": "Cel",
    "systolic_bp": "mm[Hg]",
    "diastolic_bp": "mm[Hg]",
    "mean_arterial_pressure": "mm[Hg]",
    "glucose": "mmol/L",
    "body_weight": "kg",
    "bmi": "kg/m2",
    "body_height": "m",
    "battery_level": "%",
    "pulse_amplitude_index": "%",
}

# IEEE 11073-10101 (partition, term code) as listed in the nomenclature tables of the Continua/PHD
# (IEEE 11073-20601) implementations: SCADA = 2, OBJ = 1, PHD_HF = 129.
PUBLISHED_MDC = {
    "MDC_ECG_HEART_RATE": (2, 16770),
    "MDC_ECG_TIME_PD_RR_GL": (2, 16168),
    "MDC_HF_ENERGY": (129, 119),
    "MDC_PULS_OXIM_SAT_O2": (2, 19384),
    "MDC_PULS_OXIM_PULS_RATE": (2, 18458),
    "MDC_RESP_RATE": (2, 20490),
    "MDC_TEMP_BODY": (2, 19292),
    "MDC_PRESS_BLD_NONINV_SYS": (2, 18949),
    "MDC_PRESS_BLD_NONINV_DIA": (2, 18950),
    "MDC_PRESS_BLD_NONINV_MEAN": (2, 18951),
    "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD": (2, 29112),
    "MDC_MASS_BODY_ACTUAL": (2, 57664),
    "MDC_RATIO_MASS_BODY_LEN_SQ": (2, 57680),
    "MDC_LEN_BODY_ACTUAL": (2, 57668),
    "MDC_ATTR_VAL_BATT_CHARGE": (1, 2460),
    "MDC_PULS_OXIM_PERF_REL": (2, 19376),
}

# A value every metric must admit (a healthy adult, a half-charged device) and values no metric
# may admit; both in the canonical unit, so a row written in the wrong unit fails here.
TYPICAL: dict[str, float] = {
    "heart_rate": 72,
    "rr_interval": 0.83,
    "energy_expended": 8000,
    "spo2": 97,
    "pulse_rate": 72,
    "respiration_rate": 14,
    "body_temperature": 36.8,
    "systolic_bp": 120,
    "diastolic_bp": 80,
    "mean_arterial_pressure": 93,
    "glucose": 5.4,
    "body_weight": 70,
    "bmi": 22.9,
    "body_height": 1.75,
    "battery_level": 50,
    "pulse_amplitude_index": 2.5,
}
IMPOSSIBLE: dict[str, list[float]] = {
    "heart_rate": [-1, 400],
    "rr_interval": [0, 830],  # 830 is the RR interval in ms: the wrong unit
    "spo2": [-0.1, 100.1],
    "body_temperature": [98.6, 5],  # 98.6 is 37 Cel in degF
    "systolic_bp": [-5, 1000],
    "glucose": [-1, 200],  # 200 mg/dL would be plausible, 200 mmol/L is not
    "body_weight": [0, 1000],
    "body_height": [175],  # cm, not m
    "battery_level": [101],
}

# UCUM: the atoms the catalogue may use, and the metric prefixes it may put on them.
UCUM_ATOMS = {"s", "min", "h", "g", "m", "L", "mol", "J", "Cel", "%", "m[Hg]"}
UCUM_PREFIXES = {"", "k", "c", "m", "u"}


def _is_ucum(unit: str) -> bool:
    """A small UCUM check: ``[/]term(/term|.term)*`` where a term is prefix+atom[exponent]."""
    body = unit.removeprefix("/")
    if not body:
        return False
    for term in re.split(r"[./]", body):
        parsed = re.fullmatch(r"(?P<symbol>.+?)(?P<exponent>-?[1-9][0-9]*)?", term)
        if parsed is None:
            return False
        symbol = parsed["symbol"]
        if not any(symbol == prefix + atom for prefix in UCUM_PREFIXES for atom in UCUM_ATOMS):
            return False
    return True


def loinc_check_digit(number: str) -> int:
    """The LOINC mod-10 check digit, step by step as the LOINC Users' Guide describes it.

    Counting from the right, the digits in odd positions form a number that is doubled; the
    digits in even positions are written in front of it; the digits of the result are summed; the
    check digit brings that sum up to the next multiple of 10.
    """
    from_right = number[::-1]
    odd = int(from_right[0::2][::-1]) * 2
    even = from_right[1::2][::-1]
    total = sum(int(digit) for digit in f"{even}{odd}")
    return (10 - total % 10) % 10


def test_loinc_check_digit_matches_the_users_guide_example() -> None:
    assert loinc_check_digit("12345") == 5


@pytest.mark.parametrize(("code", "valid"), [("8867-4", True), ("8867-5", False), ("2708-6", True)])
def test_loinc_check_digit_tells_valid_from_invalid(code: str, valid: bool) -> None:
    number, check = code.split("-")
    assert (loinc_check_digit(number) == int(check)) is valid


def test_catalogue_has_exactly_the_required_keys_and_units() -> None:
    assert {key: row.unit for key, row in METRICS.items()} == REQUIRED_UNITS


@pytest.mark.parametrize("row", METRICS.values(), ids=lambda row: row.key)
def test_row_is_keyed_by_its_own_key(row: Metric) -> None:
    assert METRICS[row.key] is row
    assert metric(row.key) is row


@pytest.mark.parametrize("row", METRICS.values(), ids=lambda row: row.key)
def test_unit_is_ucum(row: Metric) -> None:
    assert _is_ucum(row.unit), row.unit


@pytest.mark.parametrize("unit", ["bpm", "mmHg", "degC", "kcal", "mg/dL", "lb", "", "/"])
def test_ucum_check_rejects_common_non_ucum_spellings(unit: str) -> None:
    assert not _is_ucum(unit)


@pytest.mark.parametrize("row", METRICS.values(), ids=lambda row: row.key)
def test_mdc_code_is_partition_and_term_as_published(row: Metric) -> None:
    assert re.fullmatch(r"MDC_[A-Z0-9_]+", row.mdc_ref_id)
    assert (row.mdc_partition, row.mdc_term) == PUBLISHED_MDC[row.mdc_ref_id]
    assert 0 <= row.mdc_term < 65536
    assert row.mdc_code == row.mdc_partition * 65536 + row.mdc_term


def test_spo2_code_is_the_one_fhir_us_core_uses() -> None:
    # HL7 US Core pulse-oximetry example: urn:iso:std:iso:11073:10101#150456 MDC_PULS_OXIM_SAT_O2.
    assert metric("spo2").mdc_code == 150456
    assert metric("spo2").mdc_ref_id == "MDC_PULS_OXIM_SAT_O2"


def test_mdc_codes_and_reference_ids_are_unique() -> None:
    rows = list(METRICS.values())
    assert len({row.mdc_code for row in rows}) == len(rows)
    assert len({row.mdc_ref_id for row in rows}) == len(rows)


@pytest.mark.parametrize(
    "row", [row for row in METRICS.values() if row.loinc is not None], ids=lambda row: row.key
)
def test_loinc_code_has_a_valid_check_digit(row: Metric) -> None:
    assert row.loinc is not None
    parsed = re.fullmatch(r"(?P<number>[1-9][0-9]{0,6})-(?P<check>[0-9])", row.loinc)
    assert parsed is not None, row.loinc
    assert loinc_check_digit(parsed["number"]) == int(parsed["check"])


def test_only_battery_level_lacks_a_loinc_code() -> None:
    assert [row.key for row in METRICS.values() if row.loinc is None] == ["battery_level"]


def test_loinc_codes_are_unique() -> None:
    codes = [row.loinc for row in METRICS.values() if row.loinc is not None]
    assert len(set(codes)) == len(codes)


def test_fhir_vital_signs_codes() -> None:
    # The LOINC codes the HL7 FHIR vital-signs value set prescribes for these observations.
    fhir = {
        "heart_rate": "8867-4",
        "respiration_rate": "9279-1",
        "body_temperature": "8310-5",
        "body_height": "8302-2",
        "body_weight": "29463-7",
        "bmi": "39156-5",
        "systolic_bp": "8480-6",
        "diastolic_bp": "8462-4",
    }
    assert {key: metric(key).loinc for key in fhir} == fhir


@pytest.mark.parametrize("row", METRICS.values(), ids=lambda row: row.key)
def test_range_is_finite_ordered_and_explained(row: Metric) -> None:
    assert math.isfinite(row.min_value)
    assert math.isfinite(row.max_value)
    assert row.min_value < row.max_value
    assert row.range_basis.strip()


@pytest.mark.parametrize("row", METRICS.values(), ids=lambda row: row.key)
def test_range_admits_a_typical_value_and_its_own_bounds(row: Metric) -> None:
    assert row.admits(TYPICAL[row.key])
    assert row.admits(row.min_value)
    assert row.admits(row.max_value)


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, value) for key, values in IMPOSSIBLE.items() for value in values],
)
def test_range_rejects_impossible_values(key: str, value: float) -> None:
    assert not metric(key).admits(value)


@pytest.mark.parametrize("row", METRICS.values(), ids=lambda row: row.key)
def test_names_exist_in_every_language_and_differ(row: Metric) -> None:
    assert row.name_en.strip()
    assert row.name_fr.strip()
    assert row.name_ar.strip()
    assert row.name_en != row.name_fr
    assert len({row.name_en, row.name_fr, row.name_ar}) == 3
    assert re.search(r"[\u0600-\u06ff]", row.name_ar), "an Arabic name is written in Arabic"


def test_names_are_unique_per_language() -> None:
    rows = list(METRICS.values())
    assert len({row.name_en for row in rows}) == len(rows)
    assert len({row.name_fr for row in rows}) == len(rows)
    assert len({row.name_ar for row in rows}) == len(rows)


def test_kinds() -> None:
    technical = {row.key for row in METRICS.values() if row.kind is MetricKind.TECHNICAL}
    assert technical == {"battery_level", "pulse_amplitude_index"}


def test_unknown_metric_is_a_value_error_naming_the_key() -> None:
    with pytest.raises(UnknownMetricError, match="heart_rate_avg") as caught:
        metric("heart_rate_avg")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ContractError)


def test_catalogue_is_immutable() -> None:
    row = metric("spo2")
    with pytest.raises(TypeError):
        METRICS["spo2"] = row  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.max_value = 110  # type: ignore[misc]
