"""GHS observations -> catalogue samples: MDC observation types and units (IEEE 11073-10101).

Only observation types the catalogue knows become samples, and only in a unit that makes sense for
them (a respiratory rate in degC is dropped, not misfiled). The codes are the catalogue's own
``mdc_code`` (partition 2, SCADA: ``2 * 65536 + term``); tests check the two agree.

====================================  ========  ===================  =========================
observation type (IEEE 11073-10101)   MDC code  catalogue key        units accepted
====================================  ========  ===================  =========================
MDC_RESP_RATE                         151562    respiration_rate     MDC_DIM_RESP_PER_MIN 2784
MDC_PULS_OXIM_SAT_O2                  150456    spo2                 MDC_DIM_PERCENT 544
MDC_PULS_OXIM_PULS_RATE               149530    pulse_rate           MDC_DIM_BEAT_PER_MIN 2720
MDC_PULS_RATE_NON_INV                 149546    pulse_rate           MDC_DIM_BEAT_PER_MIN 2720
MDC_ECG_HEART_RATE                    147842    heart_rate           MDC_DIM_BEAT_PER_MIN 2720
MDC_TEMP_BODY                         150364    body_temperature     MDC_DIM_DEGC 6048,
                                                                     MDC_DIM_FAHR 4416
MDC_PRESS_BLD_NONINV_SYS / _DIA /     150021 /  systolic_bp /        MDC_DIM_MMHG 3872,
_MEAN (numeric, or components of a    150022 /  diastolic_bp /       MDC_DIM_KILO_PASCAL 3843
compound MDC_PRESS_BLD_NONINV 150020) 150023    mean_arterial_pres.
====================================  ========  ===================  =========================

Measurement Status bit 0 (invalid) flags a sample ``invalid``, bit 1 ``questionable``, bit 2 (not
available) makes it ``None`` + ``unavailable``, as a special FLOAT does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Final

from nabd.contract.gatt.ghs_observation import (
    STATUS_INVALID,
    STATUS_NOT_AVAILABLE,
    STATUS_QUESTIONABLE,
    CompoundValue,
    HealthObservation,
    NumericValue,
)
from nabd.contract.gatt.ieee11073 import MedFloat
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag, sample
from nabd.contract.gatt.units import convert, fahrenheit_to_celsius, kpa_to_mmhg

__all__ = [
    "MDC_ECG_HEART_RATE",
    "MDC_PRESS_BLD_NONINV",
    "MDC_PRESS_BLD_NONINV_DIA",
    "MDC_PRESS_BLD_NONINV_MEAN",
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PULS_OXIM_PULS_RATE",
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_PULS_RATE_NON_INV",
    "MDC_RESP_RATE",
    "MDC_TEMP_BODY",
    "METRIC_OF",
    "Unit",
    "observation_samples",
]

MDC_RESP_RATE: Final = 151562
MDC_PULS_OXIM_SAT_O2: Final = 150456
MDC_PULS_OXIM_PULS_RATE: Final = 149530
MDC_PULS_RATE_NON_INV: Final = 149546
MDC_ECG_HEART_RATE: Final = 147842
MDC_TEMP_BODY: Final = 150364
MDC_PRESS_BLD_NONINV: Final = 150020
MDC_PRESS_BLD_NONINV_SYS: Final = 150021
MDC_PRESS_BLD_NONINV_DIA: Final = 150022
MDC_PRESS_BLD_NONINV_MEAN: Final = 150023


class Unit:
    """MDC unit term codes (partition 4, IEEE 11073-10101 dimensions) a GHS unit field holds."""

    PERCENT: Final = 544
    BEAT_PER_MIN: Final = 2720
    RESP_PER_MIN: Final = 2784
    DEGC: Final = 6048
    FAHR: Final = 4416
    MMHG: Final = 3872
    KILO_PASCAL: Final = 3843


def _same(value: float) -> float:
    return value


METRIC_OF: Final[Mapping[int, MetricKey]] = MappingProxyType(
    {
        MDC_RESP_RATE: MetricKey.RESPIRATION_RATE,
        MDC_PULS_OXIM_SAT_O2: MetricKey.SPO2,
        MDC_PULS_OXIM_PULS_RATE: MetricKey.PULSE_RATE,
        MDC_PULS_RATE_NON_INV: MetricKey.PULSE_RATE,
        MDC_ECG_HEART_RATE: MetricKey.HEART_RATE,
        MDC_TEMP_BODY: MetricKey.BODY_TEMPERATURE,
        MDC_PRESS_BLD_NONINV_SYS: MetricKey.SYSTOLIC_BP,
        MDC_PRESS_BLD_NONINV_DIA: MetricKey.DIASTOLIC_BP,
        MDC_PRESS_BLD_NONINV_MEAN: MetricKey.MEAN_ARTERIAL_PRESSURE,
    }
)
"""Observation type (MDC code) -> catalogue key."""

_RATE: Final = {Unit.BEAT_PER_MIN: _same}
_PRESSURE: Final = {Unit.MMHG: _same, Unit.KILO_PASCAL: kpa_to_mmhg}
_CONVERSIONS: Final[Mapping[MetricKey, Mapping[int, Callable[[float], float]]]] = {
    MetricKey.RESPIRATION_RATE: {Unit.RESP_PER_MIN: _same},
    MetricKey.SPO2: {Unit.PERCENT: _same},
    MetricKey.PULSE_RATE: _RATE,
    MetricKey.HEART_RATE: _RATE,
    MetricKey.BODY_TEMPERATURE: {Unit.DEGC: _same, Unit.FAHR: fahrenheit_to_celsius},
    MetricKey.SYSTOLIC_BP: _PRESSURE,
    MetricKey.DIASTOLIC_BP: _PRESSURE,
    MetricKey.MEAN_ARTERIAL_PRESSURE: _PRESSURE,
}


def _flags(status: int | None) -> set[SampleFlag]:
    flags: set[SampleFlag] = set()
    if status is None:
        return flags
    if status & STATUS_INVALID:
        flags.add(SampleFlag.INVALID)
    if status & STATUS_QUESTIONABLE:
        flags.add(SampleFlag.QUESTIONABLE)
    if status & STATUS_NOT_AVAILABLE:
        flags.add(SampleFlag.UNAVAILABLE)
    return flags


def _one(code: int | None, unit: int, value: MedFloat, flags: set[SampleFlag]) -> Sample | None:
    metric = METRIC_OF.get(code) if code is not None else None
    if metric is None:
        return None
    conversion = _CONVERSIONS[metric].get(unit)
    if conversion is None:
        return None
    return sample(metric, convert(value, conversion), flags)


def _parts(observation: HealthObservation) -> Iterator[Sample | None]:
    flags = _flags(observation.status)
    value = observation.value
    if isinstance(value, NumericValue):
        yield _one(observation.observation_type, value.unit, value.value, flags)
    elif isinstance(value, CompoundValue):
        for part in value.components:
            yield _one(part.observation_type, part.unit, part.value, flags)


def observation_samples(observation: HealthObservation) -> list[Sample]:
    """The catalogue samples of one observation: none for an unknown type or unit, a waveform,
    a discrete or raw value."""
    return [s for s in _parts(observation) if s is not None]
