"""Care plans for patients monitored at home: what is measured, when, and the thresholds.

A home patient has no bed: admission is to one or more remote-monitoring **programmes** (heart
failure, hypertension, diabetes, COPD). Each programme brings default scheduled measurements
(:class:`Slot`: a kind and a local-time window) and default thresholds; :func:`default_plan`
joins the programmes a patient is on, and :meth:`CarePlan.with_changes` applies a clinician's
per-patient override as a *validated* copy (a typo or an impossible value is refused, never
stored). The model is plain pydantic so it can be stored as JSON, exported as a FHIR CarePlan and
edited by ``nabd careplan set`` without another representation.

Every default comes from a published source, cited next to it (docs/home-monitoring.md has the
table and where sources disagree). They are defaults for the programme's clinical lead to
approve, not clinical advice.

Glucose: the contract stores readings in **mmol/L** (catalogue key ``glucose``). A plan states
its thresholds in the unit the patient and clinician use (mg/dL or mmol/L);
:meth:`GlucoseThresholds.in_mmol_per_l` converts them with 1 mmol/L = 18.016 mg/dL (glucose,
180.16 g/mol) for the rules, which compare in mmol/L.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nabd.contract.errors import ContractError

__all__ = [
    "MG_DL_PER_MMOL_L",
    "AdherenceSettings",
    "BloodPressureThresholds",
    "CarePlan",
    "CarePlanError",
    "GatewaySettings",
    "GlucoseThresholds",
    "GlucoseUnit",
    "MeasurementKind",
    "Programme",
    "Slot",
    "Spo2Thresholds",
    "WeightThresholds",
    "default_plan",
]

MG_DL_PER_MMOL_L: Final = 18.016
"""mg/dL per mmol/L of glucose (molar mass 180.16 g/mol; Nightscout rounds to 18)."""


class CarePlanError(ContractError):
    """A care plan or an override that cannot be used; the message says which field and why."""


class Programme(StrEnum):
    HEART_FAILURE = "heart_failure"
    HYPERTENSION = "hypertension"
    DIABETES = "diabetes"
    COPD = "copd"


class MeasurementKind(StrEnum):
    """What a scheduled slot expects; each maps to contract metric keys (:attr:`metrics`)."""

    WEIGHT = "weight"
    BLOOD_PRESSURE = "blood_pressure"
    GLUCOSE = "glucose"
    SPO2 = "spo2"

    @property
    def metrics(self) -> tuple[str, ...]:
        return _METRICS[self]


_METRICS: Final[Mapping[MeasurementKind, tuple[str, ...]]] = {
    MeasurementKind.WEIGHT: ("body_weight",),
    MeasurementKind.BLOOD_PRESSURE: ("systolic_bp", "diastolic_bp"),
    MeasurementKind.GLUCOSE: ("glucose",),
    MeasurementKind.SPO2: ("spo2",),
}


class GlucoseUnit(StrEnum):
    MG_DL = "mg/dL"
    MMOL_L = "mmol/L"


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )


Kg = Annotated[float, Field(gt=0, le=20)]
Mmhg = Annotated[float, Field(gt=0, le=300)]
Percent = Annotated[float, Field(gt=50, le=100)]


class Slot(_Strict):
    """One scheduled measurement: ``kind`` expected in ``[start, end)`` local time, every day.

    A slot ends on the day it starts (no window across midnight): a measurement is judged on
    the patient's local calendar day, the unit adherence counts in ([CMS21]).
    """

    kind: MeasurementKind
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("slot times are local times of day, without a time zone")
        if not self.end > self.start:
            raise ValueError(f"slot {self.name}: end {self.end} must be after start {self.start}")
        return self

    @property
    def window_s(self) -> tuple[int, int]:
        """``(start, end)`` in seconds after local midnight."""
        return _seconds(self.start), _seconds(self.end)


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class WeightThresholds(_Strict):
    """Heart-failure weight gain, morning weight against earlier mornings and the dry weight.

    * ``three_day_gain_kg`` 2.0: "> 2 kg in 3 days" (ESC 2021 HF guidelines, patient-education
      table [ESC-HF21]; ESC-HFA patient site [HFM], secondary).
    * ``day_gain_kg`` 1.5 and ``week_gain_kg`` 2.0: "more than 2-3 lb (1-1.5 kg) in a day or
      5 lb (2 kg) in a week" (NLM MedlinePlus [MLP]); the upper end of the day range is the
      default, a plan may lower it to 1.0 (the "1 kg overnight" variant has no primary source).
    * ``above_dry_kg`` 2.0 above ``dry_weight_kg``: no guideline figure; our default for the
      clinician who sets the dry weight. ``None`` disables the comparison; without a dry weight
      it is not made.
    """

    dry_weight_kg: Annotated[float, Field(gt=0.25, le=635)] | None = None
    day_gain_kg: Kg = 1.5
    three_day_gain_kg: Kg = 2.0
    week_gain_kg: Kg = 2.0
    above_dry_kg: Kg | None = 2.0


class BloodPressureThresholds(_Strict):
    """Home blood pressure (HBPM).

    * ``severe_sbp`` 180 / ``severe_dbp`` 110 (>=): ESH 2023 grade 3 [ESH23]; AHA hypertensive
      crisis >= 180/120 [AHA-crisis]. One severe reading asks for a repeat (AHA: after 1-5 min);
      the rule raises more when the repeat is severe too.
    * ``low_sbp`` 90 (<=): NEWS2 scores SBP <= 90 as 3 [NEWS2]; no home-specific source.
    * ``mean_sbp`` 135 / ``mean_dbp`` 85 (>=) over ``mean_days`` 7 with at least
      ``mean_min_readings`` 12 readings (3 days x 2 occasions x 2 readings): ESH/ISH/Hypertension
      Canada home thresholds [ESH23] [ISH20] [HC]. A plan following AHA/ACC sets 130/80
      [ACC17] [AHA25].
    """

    severe_sbp: Mmhg = 180
    severe_dbp: Mmhg = 110
    low_sbp: Mmhg = 90
    mean_sbp: Mmhg = 135
    mean_dbp: Mmhg = 85
    mean_days: Annotated[int, Field(ge=3, le=28)] = 7
    mean_min_readings: Annotated[int, Field(ge=1, le=200)] = 12

    @model_validator(mode="after")
    def _order(self) -> Self:
        if not self.low_sbp < self.mean_sbp <= self.severe_sbp:
            raise ValueError("need low_sbp < mean_sbp <= severe_sbp")
        if not self.mean_dbp <= self.severe_dbp:
            raise ValueError("need mean_dbp <= severe_dbp")
        return self


class GlucoseThresholds(_Strict):
    """Glucose levels in the plan's ``unit`` (International consensus [Battelino19], ADA [ADA25]).

    Level 2 hypoglycaemia ``< level2_low`` (54 mg/dL, 3.0 mmol/L); level 1 ``< level1_low``
    (70 mg/dL, 3.9 mmol/L; "54-69 mg/dL"); level 2 hyperglycaemia ``> level2_high`` (250 mg/dL,
    13.9 mmol/L); time in range ``[range_low, range_high]`` = 70-180 mg/dL (3.9-10.0 mmol/L).
    """

    unit: GlucoseUnit = GlucoseUnit.MMOL_L
    level2_low: Annotated[float, Field(gt=0)] = 3.0
    level1_low: Annotated[float, Field(gt=0)] = 3.9
    range_low: Annotated[float, Field(gt=0)] = 3.9
    range_high: Annotated[float, Field(gt=0)] = 10.0
    level2_high: Annotated[float, Field(gt=0)] = 13.9

    @model_validator(mode="after")
    def _order(self) -> Self:
        if not self.level2_low < self.level1_low <= self.range_low < self.range_high:
            raise ValueError("need level2_low < level1_low <= range_low < range_high")
        if not self.range_high < self.level2_high:
            raise ValueError("need range_high < level2_high")
        high = 600.0 if self.unit is GlucoseUnit.MG_DL else 600.0 / MG_DL_PER_MMOL_L
        if self.level2_high > high:
            raise ValueError(f"level2_high above {high:g} {self.unit}: is the unit right?")
        if self.unit is GlucoseUnit.MG_DL and self.level1_low < 20:
            raise ValueError(f"level1_low {self.level1_low:g} mg/dL: is the unit mmol/L?")
        return self

    @classmethod
    def mg_dl(cls) -> GlucoseThresholds:
        """The same consensus levels as the mg/dL figures the sources print."""
        return cls(
            unit=GlucoseUnit.MG_DL,
            level2_low=54,
            level1_low=70,
            range_low=70,
            range_high=180,
            level2_high=250,
        )

    @property
    def factor(self) -> float:
        """The plan's unit per mmol/L: 18.016 for mg/dL, 1 for mmol/L."""
        return MG_DL_PER_MMOL_L if self.unit is GlucoseUnit.MG_DL else 1.0

    def in_mmol_per_l(self) -> tuple[float, float, float, float, float]:
        """``(level2_low, level1_low, range_low, range_high, level2_high)`` in mmol/L."""
        factor = 1.0 if self.unit is GlucoseUnit.MMOL_L else 1.0 / MG_DL_PER_MMOL_L
        values = (self.level2_low, self.level1_low, self.range_low, self.range_high,
                  self.level2_high)  # fmt: skip
        return tuple(v * factor for v in values)  # type: ignore[return-value]


class Spo2Thresholds(_Strict):
    """The prescribed SpO2 target range (BTS 2017 [BTS17]): 94-98 % for most patients, 88-92 %
    for those at risk of hypercapnic respiratory failure (the COPD programme's default). A spot
    reading below ``target_low`` alerts; the upper bound is a titration target for oxygen,
    not an alarm on room air. A fall of ``fall_points`` (3) or more below the patient's own
    baseline alerts too ([BTS17] summary): the median of the readings of the previous
    ``baseline_days`` (7) days, once there are ``baseline_min_readings`` (6) of them."""

    target_low: Percent = 94
    target_high: Percent = 98
    fall_points: Annotated[float, Field(gt=0, le=20)] | None = 3
    baseline_days: Annotated[int, Field(ge=1, le=28)] = 7
    baseline_min_readings: Annotated[int, Field(ge=1, le=100)] = 6

    @model_validator(mode="after")
    def _order(self) -> Self:
        if not self.target_low < self.target_high:
            raise ValueError("need target_low < target_high")
        return self


class AdherenceSettings(_Strict):
    """A low-priority adherence alert after ``misses_before_alert`` scheduled measurements of
    one kind in a row were not taken in their windows (our default: one forgotten measurement
    is common and not worth a call; [ITEC20] counts >= 4 weighing days a week as adherent)."""

    misses_before_alert: Annotated[int, Field(ge=1, le=14)] = 2


class GatewaySettings(_Strict):
    """A low-priority ``home_gateway_offline`` alert once the home gateway has not been heard
    from for ``silent_after_h`` hours (docs/home-monitoring.md, "Home gateway silent").

    Our default, no guideline gives a figure: the gateway publishes its status every 30 s
    (``edge.toml`` ``[status] interval_s``), so 12 h is no network blip; it is longer than a
    night with the box switched off (evening to morning, about 10 h) and short enough that a
    box unplugged after the morning measurements is reported the same evening, before the next
    morning's slot is missed. A plan may shorten it (a patient on four glucose slots a day) or
    lengthen it (a box known to be off for a working day)."""

    silent_after_h: Annotated[float, Field(gt=0, le=168)] = 12.0

    @property
    def silent_after_s(self) -> float:
        return self.silent_after_h * 3600.0


class CarePlan(_Strict):
    """A patient's plan: programmes, schedule, thresholds. Build it with :func:`default_plan`."""

    programmes: tuple[Programme, ...] = Field(min_length=1)
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    schedule: tuple[Slot, ...]
    weight: WeightThresholds = WeightThresholds()
    blood_pressure: BloodPressureThresholds = BloodPressureThresholds()
    glucose: GlucoseThresholds = GlucoseThresholds()
    spo2: Spo2Thresholds = Spo2Thresholds()
    adherence: AdherenceSettings = AdherenceSettings()
    gateway: GatewaySettings = GatewaySettings()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r} (an IANA name, e.g. "
                             "Africa/Tunis)") from exc  # fmt: skip
        if len(set(self.programmes)) != len(self.programmes):
            raise ValueError("a programme is listed twice")
        names = [(slot.kind, slot.name) for slot in self.schedule]
        if len(set(names)) != len(names):
            raise ValueError("two slots of one kind share a name")
        by_kind: dict[MeasurementKind, list[Slot]] = {}
        for slot in self.schedule:
            by_kind.setdefault(slot.kind, []).append(slot)
        for kind, slots in by_kind.items():
            ordered = sorted(slots, key=lambda s: s.start)
            if any(a.end > b.start for a, b in itertools.pairwise(ordered)):
                raise ValueError(f"{kind} slots overlap: one reading would count twice")
        return self

    def utc_offset_s(self, at: dt.datetime) -> int:
        """Seconds east of UTC in the patient's time zone at ``at`` (aware): the rules judge
        local calendar days with one offset per patient per call."""
        if at.tzinfo is None:
            raise CarePlanError("utc_offset_s needs an aware datetime")
        offset = at.astimezone(zoneinfo.ZoneInfo(self.timezone)).utcoffset()
        return 0 if offset is None else int(offset.total_seconds())

    def slots(self, kind: MeasurementKind) -> tuple[Slot, ...]:
        """The slots of one kind, in the order of the day."""
        return tuple(sorted((s for s in self.schedule if s.kind is kind), key=lambda s: s.start))

    def with_changes(self, changes: Mapping[str, Any]) -> CarePlan:
        """A validated copy with ``changes`` merged in (nested sections are merged key by key):
        ``plan.with_changes({"weight": {"dry_weight_kg": 78.5}})``. Raises CarePlanError."""
        merged = _merge(self.model_dump(mode="python"), changes)
        try:
            return CarePlan.model_validate(merged)
        except ValidationError as exc:
            raise CarePlanError(_problem(exc)) from exc


def _merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _problem(exc: ValidationError) -> str:
    """One line per problem: the field path and pydantic's short message (no input dump)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: "
        f"{err['msg'].removeprefix('Value error, ')}"
        for err in exc.errors()
    )


def _slot(kind: MeasurementKind, name: str, start: str, end: str) -> Slot:
    return Slot(kind=kind, name=name, start=dt.time.fromisoformat(start),
                end=dt.time.fromisoformat(end))  # fmt: skip


_W, _BP, _G, _O2 = (MeasurementKind.WEIGHT, MeasurementKind.BLOOD_PRESSURE,
                    MeasurementKind.GLUCOSE, MeasurementKind.SPO2)  # fmt: skip

PROGRAMME_SLOTS: Final[Mapping[Programme, tuple[Slot, ...]]] = {
    # Weigh every morning after voiding, before eating [MLP].
    Programme.HEART_FAILURE: (_slot(_W, "morning", "05:00", "11:00"),),
    # Morning (before medication) and evening (before supper) [HC] [ESH-HBPM21].
    Programme.HYPERTENSION: (
        _slot(_BP, "morning", "05:00", "11:00"),
        _slot(_BP, "evening", "17:00", "22:00"),
    ),
    # Before meals and at bedtime for intensive insulin therapy [ADA25] sec. 7.
    Programme.DIABETES: (
        _slot(_G, "breakfast", "05:00", "10:00"),
        _slot(_G, "lunch", "11:00", "14:30"),
        _slot(_G, "dinner", "17:00", "20:30"),
        _slot(_G, "bedtime", "21:00", "23:59"),
    ),
    # A spot check twice daily (NHS oximetry @home diary practice [NHSE-Ox], secondary).
    Programme.COPD: (
        _slot(_O2, "morning", "06:00", "12:00"),
        _slot(_O2, "evening", "17:00", "22:00"),
    ),
}
"""The scheduled measurements each programme brings (windows are local times)."""


def default_plan(programmes: Iterable[Programme], *, timezone: str = "UTC") -> CarePlan:
    """The programmes' default plan: their slots joined, COPD's SpO2 target 88-92 % [BTS17].

    Heart failure also asks for a morning blood pressure when hypertension is not on the plan
    (HF drugs lower it), which the hypertension programme's morning slot already covers.
    """
    chosen = tuple(dict.fromkeys(programmes))
    slots: dict[tuple[MeasurementKind, str], Slot] = {}
    for programme in chosen:
        for slot in PROGRAMME_SLOTS[programme]:
            slots.setdefault((slot.kind, slot.name), slot)
    if Programme.HEART_FAILURE in chosen:
        slots.setdefault((_BP, "morning"), _slot(_BP, "morning", "05:00", "11:00"))
    spo2 = Spo2Thresholds(target_low=88, target_high=92) if Programme.COPD in chosen else None
    try:
        return CarePlan(
            programmes=chosen,
            timezone=timezone,
            schedule=tuple(slots.values()),
            spo2=spo2 or Spo2Thresholds(),
        )
    except ValidationError as exc:
        raise CarePlanError(_problem(exc)) from exc
