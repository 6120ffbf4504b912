"""Measurement: from latent physiology to what devices report.

Each device adds its own error and rounds the way it reports:

| metric | from | error (1 SD) | reported as |
|---|---|---|---|
| heart_rate | beats, mean over 5 s | (from the beats) | integer /min |
| pulse_rate | beats, mean over 8 s | 1 /min | integer /min |
| spo2 | latent | 0.6 % | integer %, at most 100 |
| respiration_rate | latent | 0.6 /min | integer /min |
| body_temperature | latent | 0.05 degC | 0.1 degC |
| systolic_bp, diastolic_bp | latent | 3, 2.5 mm[Hg] | integer mm[Hg] |
| mean_arterial_pressure | DBP + (SBP - DBP)/3 of the cuff's own readings | | integer mm[Hg] |
| glucose | latent | 4 % | 0.1 mmol/L |
| body_weight | latent | 0.1 kg | 0.1 kg |

Rounding is half-up, as NEWS2 charting does. Errors are independent per sample and per patient,
each from its own random stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.simulators.heartbeat import (
    HEART_RATE_WINDOW_S,
    PULSE_RATE_WINDOW_S,
    heart_rate_from_beats,
)
from nabd.simulators.physiology import Physiology
from nabd.simulators.streams import stream
from nabd.simulators.timebase import FloatArray

__all__ = ["DECIMALS", "ERROR_SD", "measure", "quantised"]

ERROR_SD: Final[Mapping[str, float]] = MappingProxyType(
    {
        "pulse_rate": 1.0,
        "spo2": 0.6,
        "respiration_rate": 0.6,
        "body_temperature": 0.05,
        "systolic_bp": 3.0,
        "diastolic_bp": 2.5,
        "glucose": 0.04,  # relative: meters are specified in percent (ISO 15197)
        "body_weight": 0.1,
    }
)

DECIMALS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "heart_rate": 0,
        "pulse_rate": 0,
        "spo2": 0,
        "respiration_rate": 0,
        "body_temperature": 1,
        "systolic_bp": 0,
        "diastolic_bp": 0,
        "mean_arterial_pressure": 0,
        "glucose": 1,
        "body_weight": 1,
    }
)

MIN_PULSE_PRESSURE: Final = 10.0
"""A cuff never reports a diastolic within 10 mm[Hg] of its systolic."""


def quantised(values: FloatArray, decimals: int) -> FloatArray:
    """Rounded half-up to ``decimals`` (NaN stays NaN); a new array."""
    return _quantise(np.array(values, dtype=np.float64), decimals)


def _quantise(values: FloatArray, decimals: int) -> FloatArray:
    """:func:`quantised`, in place (a ward-day is 4 million samples per metric)."""
    scale = 10.0**decimals
    if decimals:
        values *= scale
    values += 0.5
    np.floor(values, out=values)
    if decimals:
        values /= scale
    return values


def measure(
    physiology: Physiology,
    beats: Sequence[FloatArray],
    patient_ids: Sequence[str],
    times: FloatArray,
    seed: int,
    *,
    glucose_error_sd: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """Every metric as devices report it, before device faults: (patients, times) each.

    ``glucose_error_sd`` is each patient's relative glucose error (default: the meter's 4 %;
    a CGM wearer's is larger, :data:`nabd.simulators.cohort.CGM_ERROR_SD`)."""
    rows = slice(0, len(patient_ids))

    def error(metric: str) -> FloatArray:
        noise = np.empty((len(patient_ids), times.size))
        for row, patient_id in enumerate(patient_ids):
            draws = stream(seed, patient_id, "measurement", metric)
            noise[row] = draws.standard_normal(times.size)
        noise *= ERROR_SD[metric]
        return noise

    def latent_plus_error(metric: str) -> FloatArray:
        value = physiology.latent(metric, times, rows)
        value += error(metric)
        return value

    values: dict[str, FloatArray] = {
        "heart_rate": np.stack(
            [heart_rate_from_beats(b, times, HEART_RATE_WINDOW_S) for b in beats]
        )
    }
    pulse = np.stack([heart_rate_from_beats(b, times, PULSE_RATE_WINDOW_S) for b in beats])
    pulse += error("pulse_rate")
    values["pulse_rate"] = np.maximum(pulse, 0.0, out=pulse)
    spo2 = latent_plus_error("spo2")
    values["spo2"] = np.clip(spo2, 0.0, 100.0, out=spo2)
    breathing = latent_plus_error("respiration_rate")
    values["respiration_rate"] = np.maximum(breathing, 0.0, out=breathing)
    values["body_temperature"] = latent_plus_error("body_temperature")
    glucose = error("glucose")
    if glucose_error_sd is not None:
        glucose *= (np.asarray(glucose_error_sd, dtype=np.float64) / ERROR_SD["glucose"])[:, None]
    glucose += 1.0
    glucose *= physiology.latent("glucose", times, rows)
    values["glucose"] = np.maximum(glucose, 0.5, out=glucose)
    values["body_weight"] = latent_plus_error("body_weight")
    systolic = latent_plus_error("systolic_bp")
    diastolic = latent_plus_error("diastolic_bp")
    np.minimum(diastolic, systolic - MIN_PULSE_PRESSURE, out=diastolic)
    values["mean_arterial_pressure"] = diastolic + (systolic - diastolic) / 3.0
    values["systolic_bp"], values["diastolic_bp"] = systolic, diastolic
    return {metric: _quantise(array, DECIMALS[metric]) for metric, array in values.items()}
