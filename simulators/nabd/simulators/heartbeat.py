"""Beats: the heart as a sequence of R peaks, and the heart rate devices derive from them.

Beats come from an integral pulse frequency modulation model (IPFM; Mateo & Laguna, IEEE TBME
2000): the instantaneous heart rate is integrated, and a beat fires each time the integral
crosses a whole number. The rate is the latent heart rate (baseline, circadian rhythm, slow
variation, scenario excursions) modulated by

* respiratory sinus arrhythmia (RSA): in phase with the patient's own breathing, at the latent
  respiration rate, so slow breathing slows the arrhythmia too;
* a low-frequency (~0.1 Hz, Mayer wave) baroreflex oscillation;

both weaker with age. Each R peak then gets a few milliseconds of timing jitter.

In atrial fibrillation the sinus node no longer paces the ventricles: inside an AF episode RSA
and the LF oscillation are switched off, and each RR interval is multiplied by an independent
log-normal factor (coefficient of variation = the episode's irregularity), rescaled so the
episode still ends when it should. That is "irregularly irregular": uncorrelated successive
intervals with a wide spread.

Heart rate is never drawn separately: devices report the mean rate over the beats of the last
few seconds, so heart rate and RR intervals always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from nabd.simulators.physiology import Physiology
from nabd.simulators.scenarios import RhythmEpisode
from nabd.simulators.series import RR_RESOLUTION_S, BeatSeries
from nabd.simulators.streams import stream
from nabd.simulators.timebase import FloatArray

__all__ = [
    "HEART_RATE_WINDOW_S",
    "PULSE_RATE_WINDOW_S",
    "detected_beats",
    "heart_rate_from_beats",
    "true_beats",
]

GRID_STEP_S: Final = 0.25
"""Step of the rate integration: 16 points per breath at 15/min, timing error well under 1 ms.
The slow parts (latent heart and breathing rates) are evaluated every second and interpolated."""
WARMUP_S: Final = 30.0
"""Beats start this long before the first sample, so the first heart rate has beats to use."""
JITTER_S: Final = 0.004
MIN_RR_S: Final = 0.25
"""A refractory floor for AF intervals (240/min)."""
RSA_FRACTION: Final = 0.045
LF_FRACTION: Final = 0.02
HEART_RATE_WINDOW_S: Final = 5.0
"""A chest strap's heart rate: the mean over the beats of the last 5 s."""
PULSE_RATE_WINDOW_S: Final = 8.0
"""An oximeter's pulse rate averages longer."""


def age_factor(age: float) -> float:
    """How much heart-rate variability is left at ``age`` (1.0 around 40 years, 0.35 at 90)."""
    return float(np.clip(1.5 - 0.013 * age, 0.35, 1.25))


def true_beats(
    physiology: Physiology,
    row: int,
    *,
    patient_id: str,
    age: float,
    rhythms: Sequence[RhythmEpisode],
    seed: int,
    start: float,
    end: float,
) -> FloatArray:
    """Every R peak of one patient from ``start - WARMUP_S`` to ``end`` (s since the epoch)."""
    count = int(np.ceil(end - start + WARMUP_S)) + 2
    coarse = start - WARMUP_S + np.arange(count, dtype=np.float64)  # 1 s: the slow parts
    rows = slice(row, row + 1)
    heart_rate = physiology.latent("heart_rate", coarse, rows)[0]
    breathing = physiology.latent("respiration_rate", coarse, rows)[0]
    rng = stream(seed, patient_id, "hrv")
    breath_phase, lf_phase, beat_phase = rng.uniform(size=3)
    lf_hz = rng.uniform(0.08, 0.12)
    breaths = np.empty_like(breathing)
    breaths[0] = breath_phase
    breaths[1:] = breath_phase + np.cumsum(breathing[1:] + breathing[:-1]) / 120.0
    grid, heart_rate, breaths = (_upsampled(x) for x in (coarse, heart_rate, breaths))
    factor = age_factor(age)
    modulation = factor * (
        RSA_FRACTION * np.sin(2 * np.pi * breaths)
        + LF_FRACTION * np.sin(2 * np.pi * (lf_hz * (grid - grid[0]) + lf_phase))
    )
    for episode in rhythms:  # from one step in, so no beat before the onset moves
        modulation[(grid >= episode.onset + GRID_STEP_S) & (grid < episode.offset)] = 0.0
    rate_hz = heart_rate / 60.0 * (1.0 + modulation)
    cycles = np.empty_like(rate_hz)
    cycles[0] = beat_phase
    cycles[1:] = beat_phase + np.cumsum((rate_hz[1:] + rate_hz[:-1]) * (GRID_STEP_S / 2))
    numbers = np.arange(np.ceil(cycles[0]), np.floor(cycles[-1]) + 1.0)
    beats = np.interp(numbers, cycles, grid)
    beats += stream(seed, patient_id, "beat_jitter").normal(0.0, JITTER_S, beats.size)
    for index, episode in enumerate(rhythms):
        _fibrillate(beats, episode, stream(seed, patient_id, "af", str(index)))
    return beats


def _upsampled(coarse: FloatArray) -> FloatArray:
    """Linear interpolation of a 1 s series onto the GRID_STEP_S grid."""
    weight = np.arange(0.0, 1.0, GRID_STEP_S)
    inner = coarse[:-1, np.newaxis] * (1.0 - weight) + coarse[1:, np.newaxis] * weight
    fine: FloatArray = np.append(inner.ravel(), coarse[-1])
    return fine


def _fibrillate(beats: FloatArray, episode: RhythmEpisode, rng: np.random.Generator) -> None:
    """Make the intervals inside ``episode`` independent and irregular, in place.

    The last beat before the episode and the first beat after it stay where they are, so
    everything outside the episode is untouched.
    """
    first = max(int(np.searchsorted(beats, episode.onset)), 1)
    after = min(int(np.searchsorted(beats, episode.offset)), beats.size - 1)
    if after - first < 1:
        return
    before, until = beats[first - 1], beats[after]
    intervals = np.diff(beats[first - 1 : after + 1])
    sigma = np.sqrt(np.log1p(episode.irregularity**2))
    irregular = intervals * rng.lognormal(-(sigma**2) / 2, sigma, intervals.size)
    irregular = np.maximum(irregular, MIN_RR_S)
    irregular *= (until - before) / irregular.sum()
    beats[first:after] = before + np.cumsum(irregular)[:-1]


def heart_rate_from_beats(beats: FloatArray, times: FloatArray, window_s: float) -> FloatArray:
    """Mean heart rate (/min) over the beats in the ``window_s`` before each instant.

    Where fewer than two beats fall in the window (very slow rhythms), the last complete RR
    interval is used; before two beats exist, NaN. Unquantised.
    """
    last = np.searchsorted(beats, times, side="right") - 1
    first = np.searchsorted(beats, times - window_s, side="right")
    intervals = last - first
    rate = np.full(times.shape, np.nan)
    windowed = intervals >= 1
    span = beats[last[windowed]] - beats[first[windowed]]
    rate[windowed] = 60.0 * intervals[windowed] / span
    single = ~windowed & (last >= 1)
    rate[single] = 60.0 / (beats[last[single]] - beats[last[single] - 1])
    return rate


def detected_beats(
    patient_id: str,
    beats: FloatArray,
    start: float,
    end: float,
    gaps: Sequence[tuple[float, float]],
) -> BeatSeries:
    """The beats a strap reports within ``[start, end]``, none during ``gaps`` (no contact, dead
    battery), with RR intervals quantised to 1/1024 s and NaN after a missed beat."""
    missed = np.zeros(beats.shape, dtype=np.bool_)
    for onset, offset in gaps:
        missed |= (beats >= onset) & (beats < offset)
    rr = np.round(np.diff(beats, prepend=np.nan) / RR_RESOLUTION_S) * RR_RESOLUTION_S
    previous_seen = np.concatenate(([False], ~missed[:-1]))
    rr = np.where(previous_seen, rr, np.nan)
    keep = ~missed & (beats >= start) & (beats <= end)
    return BeatSeries(patient_id=patient_id, beat_times=beats[keep], rr=rr[keep])
