"""Care plans: programme defaults, validated per-patient overrides, storable as JSON."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from nabd.contract.careplan import (
    CarePlan,
    CarePlanError,
    GlucoseThresholds,
    GlucoseUnit,
    MeasurementKind,
    Programme,
    default_plan,
)


def test_programme_defaults_join_and_copd_targets_88_to_92() -> None:
    plan = default_plan([Programme.HEART_FAILURE, Programme.COPD, Programme.HEART_FAILURE])
    assert plan.programmes == (Programme.HEART_FAILURE, Programme.COPD)
    assert [s.name for s in plan.slots(MeasurementKind.WEIGHT)] == ["morning"]
    assert [s.name for s in plan.slots(MeasurementKind.SPO2)] == ["morning", "evening"]
    assert plan.slots(MeasurementKind.BLOOD_PRESSURE)[0].start == dt.time(5)
    assert (plan.spo2.target_low, plan.spo2.target_high) == (88, 92)
    assert default_plan([Programme.DIABETES]).spo2.target_low == 94
    assert len(default_plan([Programme.DIABETES]).slots(MeasurementKind.GLUCOSE)) == 4


def test_an_override_is_a_validated_copy() -> None:
    plan = default_plan([Programme.HEART_FAILURE])
    changed = plan.with_changes({"weight": {"dry_weight_kg": 78.5, "day_gain_kg": 1.0}})
    assert (changed.weight.dry_weight_kg, changed.weight.day_gain_kg) == (78.5, 1.0)
    assert changed.weight.three_day_gain_kg == 2.0
    assert plan.weight.dry_weight_kg is None
    with pytest.raises(CarePlanError, match=r"weight.day_gain_kg"):
        plan.with_changes({"weight": {"day_gain_kg": -1}})
    with pytest.raises(CarePlanError, match=r"weight.dry_weigth_kg"):
        plan.with_changes({"weight": {"dry_weigth_kg": 80}})
    with pytest.raises(CarePlanError, match=r"^blood_pressure: need low_sbp < mean_sbp"):
        plan.with_changes({"blood_pressure": {"low_sbp": 140}})


def test_glucose_thresholds_in_mg_dl_convert_to_the_contract_unit() -> None:
    mg = GlucoseThresholds.mg_dl()
    assert mg.unit is GlucoseUnit.MG_DL
    level2, level1, low, high, level2_high = mg.in_mmol_per_l()
    assert (round(level2, 2), round(level1, 2), round(high, 2), round(level2_high, 2)) == (
        3.0, 3.89, 9.99, 13.88
    )  # fmt: skip
    assert low == level1
    with pytest.raises(ValueError, match="unit"):
        GlucoseThresholds(unit=GlucoseUnit.MG_DL)  # mmol/L figures in a mg/dL plan


def test_slots_must_not_overlap_or_cross_midnight() -> None:
    plan = default_plan([Programme.HYPERTENSION])
    with pytest.raises(CarePlanError, match="overlap"):
        plan.with_changes({"schedule": [*plan.model_dump()["schedule"],
                                        {"kind": "blood_pressure", "name": "noon",
                                         "start": "10:00", "end": "12:00"}]})  # fmt: skip
    with pytest.raises(CarePlanError, match="after start"):
        plan.with_changes({"schedule": [{"kind": "weight", "name": "night",
                                         "start": "23:00", "end": "01:00"}]})  # fmt: skip


def test_a_plan_round_trips_through_json() -> None:
    plan = default_plan([Programme.DIABETES, Programme.HEART_FAILURE], timezone="Africa/Tunis")
    plan = plan.with_changes({"glucose": GlucoseThresholds.mg_dl().model_dump()})
    assert CarePlan.model_validate_json(plan.model_dump_json()) == plan


def test_the_time_zone_is_checked_and_gives_the_local_offset() -> None:
    plan = default_plan([Programme.COPD], timezone="Europe/Paris")
    summer = dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC)
    assert plan.utc_offset_s(summer) == 7200
    assert plan.utc_offset_s(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) == 3600
    with pytest.raises(CarePlanError, match="unknown time zone 'Mars/Base'"):
        default_plan([Programme.COPD], timezone="Mars/Base")
    with pytest.raises(CarePlanError, match="aware"):
        plan.utc_offset_s(dt.datetime(2026, 7, 1))


def test_the_documented_example_is_the_stored_form() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "home-monitoring.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- example: CarePlan -->\s*```json\n(.*?)```", doc, re.DOTALL)
    assert found is not None
    plan = default_plan([Programme.HEART_FAILURE], timezone="Africa/Tunis")
    plan = plan.with_changes({"weight": {"dry_weight_kg": 78.5}})
    assert found.group(1) == plan.model_dump_json(indent=2) + "\n"
    assert CarePlan.model_validate_json(found.group(1)) == plan
