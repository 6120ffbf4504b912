"""NEWS2, the National Early Warning Score 2, scored for whole wards at once.

Source: Royal College of Physicians, *National Early Warning Score (NEWS) 2*, December 2017,
Chart 1 (scoring) and Chart 3 (thresholds and triggers). (c) Royal College of Physicians 2017.

The chart rows below are data, written in the chart's own order and units, so a clinician can
check them against the printed chart; the scoring is one NumPy pass over every patient.

Decisions the chart leaves open (docs/analytics.md, "NEWS2 scoring", says why):

* Values between bands are rounded half-up to the chart's resolution (temperature 0.1 degC,
  everything else whole numbers) before banding, so the score always matches the value as it
  would be charted and shown.
* A missing parameter (NaN, None, '' or masked) is never taken as normal: its sub-score is
  ``MISSING`` (-1), ``complete`` is False, ``total`` sums only the parameters present (a lower
  bound) and ``risk`` is the risk those present values already imply (also a lower bound);
  :func:`missing` names the parameters that are absent.
* With no parameter present there is no score at all: ``scored`` is False, ``total`` is
  ``MISSING`` (-1, never 0) and ``risk`` is ``NO_RISK`` (''), which is no Chart 3 band. Chart 3
  gives "low" to an aggregate of 0 from *measured* normal values; nothing measured is not that.
  Staleness is the caller's to judge: pass a stale value as missing.
* Physically impossible input (negative rates, SpO2 above 100 %, a temperature that cannot be
  degC, an unknown ACVPU letter) raises ``News2InputError`` naming the parameter: such values
  should have been rejected at the contract boundary, so reaching here is a bug to surface.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.errors import AnalyticsInputError

__all__ = [
    "AGGREGATE_RISK",
    "AIR_OR_OXYGEN",
    "CONSCIOUSNESS",
    "HEART_RATE",
    "HIGH",
    "LOW",
    "LOW_MEDIUM",
    "MEDIUM",
    "MISSING",
    "NO_RISK",
    "PARAMETERS",
    "PARAMETER_NAMES",
    "RESPIRATION_RATE",
    "SPO2_SCALE_1",
    "SPO2_SCALE_2_ON_AIR",
    "SPO2_SCALE_2_ON_OXYGEN",
    "SYSTOLIC_BP",
    "TEMPERATURE",
    "Bands",
    "News2",
    "News2InputError",
    "missing",
    "score",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]
MaybeArrayLike = npt.ArrayLike | None
"""Array-like input where None (a scalar or an object-array element) means missing."""

MISSING: Final = -1
"""Sub-score of a parameter that was not supplied (or cannot be scored without another one)."""

LOW: Final = "low"
LOW_MEDIUM: Final = "low-medium"
MEDIUM: Final = "medium"
HIGH: Final = "high"
NO_RISK: Final = ""
"""The ``risk`` of a score with no parameter present: no Chart 3 band (not "low")."""

PARAMETERS: Final = (
    "respiration_rate",
    "spo2",
    "air_or_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)
"""The seven Chart 1 parameters, named as the sub-score fields of :class:`News2`, in chart order."""

PARAMETER_NAMES: Final = MappingProxyType(
    {
        "respiration_rate": "respiratory rate",
        "spo2": "SpO2",
        "air_or_oxygen": "air or oxygen",
        "systolic_bp": "systolic blood pressure",
        "heart_rate": "pulse",
        "consciousness": "consciousness",
        "temperature": "temperature",
    }
)
"""Each parameter as Chart 1 names it (English), for messages that list what is missing."""


class News2InputError(AnalyticsInputError):
    """An input that no patient can have (or that cannot be read), named by parameter.

    Part of the scoring core's one exception tree (:class:`AnalyticsInputError`, a
    ``ValueError``), so the shell catches bad NEWS2 input with every other detector's.
    """

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"NEWS2 {parameter}", problem)
        self.parameter = parameter


@dataclass(frozen=True)
class Bands:
    """One numeric chart row: contiguous (lowest, highest, score) bands at the chart's resolution.

    ``None`` is the open end of "<=" and ">=" bands. ``decimals`` is the resolution the chart is
    written at; values are rounded half-up to it before they are banded.
    """

    decimals: int
    bands: tuple[tuple[float | None, float | None, int], ...]
    _upper_edges: IntArray = field(init=False, repr=False, compare=False)
    _scores: IntArray = field(init=False, repr=False, compare=False)
    _table: IntArray = field(init=False, repr=False, compare=False)
    """Sub-score of every chart unit from the first upper edge to one past the last: values
    beyond either end score as that end's band, so a clipped lookup replaces a search."""

    def __post_init__(self) -> None:
        units = [(self._units(low), self._units(high), sub) for low, high, sub in self.bands]
        if units[0][0] is not None or units[-1][1] is not None:
            raise ValueError("a chart row must be open at both ends")
        for (_, high, _), (low, _, _) in itertools.pairwise(units):
            if high is None or low is None or low != high + 1:
                raise ValueError(f"chart bands must be contiguous: {self.bands}")
        edges = np.array([high for _, high, _ in units[:-1]], dtype=np.int64)
        scores = np.array([s for *_, s in units], dtype=np.int64)
        every_unit = np.arange(edges[0], edges[-1] + 2)
        table = scores[np.searchsorted(edges, every_unit, side="left")]
        object.__setattr__(self, "_upper_edges", edges)
        object.__setattr__(self, "_scores", scores)
        object.__setattr__(self, "_table", table)

    def _units(self, edge: float | None) -> int | None:
        """A chart edge in whole chart units (tenths of a degree, whole beats, ...)."""
        return None if edge is None else round(edge * 10**self.decimals)

    def recorded(self, values: FloatArray) -> IntArray:
        """Values as charted: rounded half-up to the chart's resolution, in chart units.

        NaN must already be replaced. ``np.round`` is not used: it rounds half to even. Scaling
        by a power of ten (not dividing by 0.1) lands decimal halves such as 38.05, stored as
        38.04999..., exactly on 380.5, so they round up as written.
        """
        scaled = values * 10.0**self.decimals
        return np.floor(scaled + 0.5).astype(np.int64)

    def score(self, values: FloatArray) -> IntArray:
        """Sub-score of each value; NaN (missing: the caller masks it) scores as the top band.

        The value as charted (:meth:`recorded`), clipped to the table's ends, looks its score
        up: a few passes over a ward, however many bands the row has. ``fmin``/``fmax`` pass
        NaN through to the clip's end rather than to an integer cast.
        """
        low, high = int(self._upper_edges[0]), int(self._upper_edges[-1]) + 1
        scaled = values * 10.0**self.decimals
        units = np.fmax(np.fmin(np.floor(scaled + 0.5), high), low)
        scores: IntArray = self._table[units.astype(np.intp) - low]
        return scores


# ---- Chart 1: scoring. Columns run 3 | 2 | 1 | 0 | 1 | 2 | 3 on the chart. -------------------

RESPIRATION_RATE: Final = Bands(
    decimals=0,  # breaths/min
    bands=(
        (None, 8, 3),  # <=8
        (9, 11, 1),  # 9-11
        (12, 20, 0),  # 12-20
        (21, 24, 2),  # 21-24
        (25, None, 3),  # >=25
    ),
)

SPO2_SCALE_1: Final = Bands(
    decimals=0,  # %
    bands=(
        (None, 91, 3),  # <=91
        (92, 93, 2),  # 92-93
        (94, 95, 1),  # 94-95
        (96, None, 0),  # >=96
    ),
)

SPO2_SCALE_2_ON_AIR: Final = Bands(
    decimals=0,  # % ; hypercapnic respiratory failure, breathing air
    bands=(
        (None, 83, 3),  # <=83
        (84, 85, 2),  # 84-85
        (86, 87, 1),  # 86-87
        (88, None, 0),  # 88-92, or >=93 on air
    ),
)

SPO2_SCALE_2_ON_OXYGEN: Final = Bands(
    decimals=0,  # % ; hypercapnic respiratory failure, on supplemental oxygen
    bands=(
        (None, 83, 3),  # <=83
        (84, 85, 2),  # 84-85
        (86, 87, 1),  # 86-87
        (88, 92, 0),  # 88-92
        (93, 94, 1),  # 93-94 on oxygen
        (95, 96, 2),  # 95-96 on oxygen
        (97, None, 3),  # >=97 on oxygen
    ),
)

AIR_OR_OXYGEN: Final = MappingProxyType({"air": 0, "oxygen": 2})

SYSTOLIC_BP: Final = Bands(
    decimals=0,  # mmHg
    bands=(
        (None, 90, 3),  # <=90
        (91, 100, 2),  # 91-100
        (101, 110, 1),  # 101-110
        (111, 219, 0),  # 111-219
        (220, None, 3),  # >=220
    ),
)

HEART_RATE: Final = Bands(
    decimals=0,  # pulse, beats/min
    bands=(
        (None, 40, 3),  # <=40
        (41, 50, 1),  # 41-50
        (51, 90, 0),  # 51-90
        (91, 110, 1),  # 91-110
        (111, 130, 2),  # 111-130
        (131, None, 3),  # >=131
    ),
)

CONSCIOUSNESS: Final = MappingProxyType({"A": 0, "C": 3, "V": 3, "P": 3, "U": 3})
"""ACVPU. 'C' is *new* confusion (unclear = new); known baseline confusion is charted 'A'."""

TEMPERATURE: Final = Bands(
    decimals=1,  # degC
    bands=(
        (None, 35.0, 3),  # <=35.0
        (35.1, 36.0, 1),  # 35.1-36.0
        (36.1, 38.0, 0),  # 36.1-38.0
        (38.1, 39.0, 1),  # 38.1-39.0
        (39.1, None, 2),  # >=39.1
    ),
)

# ---- Chart 3: aggregate score -> clinical risk. ----------------------------------------------

AGGREGATE_RISK: Final = (
    (0, LOW),  # 0
    (1, LOW),  # 1-4; but 3 in any single parameter (aggregate < 5): low-medium
    (5, MEDIUM),  # 5-6
    (7, HIGH),  # >=7
)
"""(lowest aggregate of the band, clinical risk), in ascending order."""
_AGGREGATE_LOWEST: Final = np.array([lowest for lowest, _ in AGGREGATE_RISK], dtype=np.int64)
_AGGREGATE_NAMES: Final = np.array([name for _, name in AGGREGATE_RISK])
_RISK_NAMES: Final = np.array([*_AGGREGATE_NAMES, LOW_MEDIUM, NO_RISK])
_LOW_BANDS: Final = _AGGREGATE_NAMES == LOW
_NO_BAND: Final = len(_AGGREGATE_NAMES) + 1
"""Risk by band number; one past the last band is low-medium (the single-parameter-3 rule),
and the one after it ``NO_RISK`` (nothing scored)."""

# ---- What no patient can have. -----------------------------------------------------------------

# Inclusive, finite. Temperature: no one survives a core temperature outside these bounds, and a
# value outside them is almost always degF or kelvin sent by mistake, which must not score as
# "3 for hyperthermia".
_POSSIBLE: Final = {
    "respiration_rate": (0.0, math.inf),
    "spo2": (0.0, 100.0),
    "temperature": (0.0, 50.0),
    "systolic_bp": (0.0, math.inf),
    "heart_rate": (0.0, math.inf),
}


@dataclass(frozen=True)
class News2:
    """NEWS2 for every patient (one element per broadcast position); all arrays are read-only.

    Sub-scores are ``MISSING`` (-1) where the parameter was missing, never 0. ``total`` is the
    sum of the sub-scores present, so when ``complete`` is False it is a lower bound, and
    ``risk`` is the risk already implied by the present values (also a lower bound): an
    incomplete score must be shown as incomplete, never as the patient's NEWS2. Where no
    parameter is present there is no score: ``total`` is ``MISSING`` and ``risk`` ``NO_RISK``.
    """

    total: IntArray
    respiration_rate: IntArray
    spo2: IntArray
    air_or_oxygen: IntArray
    systolic_bp: IntArray
    heart_rate: IntArray
    consciousness: IntArray
    temperature: IntArray
    single_parameter_3: BoolArray
    complete: BoolArray
    scale2: BoolArray
    """The SpO2 scale each score used; RCP asks for it to be stored with the score."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            frozen = np.array(value, copy=True)
            frozen.flags.writeable = False
            object.__setattr__(self, name, frozen)

    @functools.cached_property
    def scored(self) -> BoolArray:
        """Whether any parameter is present, i.e. whether there is a score at all."""
        scored = np.asarray(self.total != MISSING)
        scored.flags.writeable = False
        return scored

    @functools.cached_property
    def risk(self) -> StrArray:
        """Chart 3 clinical risk: 'low', 'low-medium', 'medium' or 'high' (a lower bound when
        the score is incomplete), ``NO_RISK`` where nothing was scored. Made on first use: an
        engine tick needs the numbers only, and a ward's worth of strings is the costliest
        array here."""
        band = _risk_band(self.total, self.single_parameter_3)
        risk = np.asarray(_RISK_NAMES[np.where(self.scored, band, _NO_BAND)])
        risk.flags.writeable = False
        return risk


def missing(result: News2, index: tuple[int, ...] = ()) -> tuple[str, ...]:
    """The parameters (names from :data:`PARAMETERS`) missing from the score at ``index``.

    Empty for a complete score; all seven where nothing was scored.
    """
    return tuple(name for name in PARAMETERS if int(getattr(result, name)[index]) == MISSING)


def score(  # noqa: PLR0917 - the chart's seven parameters, in the chart's order
    respiration_rate: MaybeArrayLike,
    spo2: MaybeArrayLike,
    on_oxygen: MaybeArrayLike,
    temperature: MaybeArrayLike,
    systolic_bp: MaybeArrayLike,
    heart_rate: MaybeArrayLike,
    consciousness: MaybeArrayLike,
    *,
    scale2: npt.ArrayLike = False,
) -> News2:
    """Score NEWS2 for scalars or arrays, broadcast together like any NumPy operation.

    Numeric parameters take NaN (or None, or a masked value) for missing. ``on_oxygen`` takes
    bools (or 0/1), with None/NaN/masked for missing. ``consciousness`` takes 'A', 'C', 'V',
    'P' or 'U', with None/''/masked for missing. ``scale2`` must be bool: Scale 1 is the
    default and Scale 2 is a clinician's per-patient decision, so it is never unknown.

    Raises News2InputError for impossible or unreadable input, or shapes that do not broadcast.
    """
    converted = (
        *_numeric("respiration_rate", respiration_rate),
        *_numeric("spo2", spo2),
        *_on_oxygen(on_oxygen),
        *_numeric("temperature", temperature),
        *_numeric("systolic_bp", systolic_bp),
        *_numeric("heart_rate", heart_rate),
        _consciousness(consciousness),
        _scale2(scale2),
    )
    try:
        (rr, rr_ok, sat, sat_ok, oxygen, oxygen_ok, temp, temp_ok, sbp, sbp_ok, hr, hr_ok, acvpu,
         scale) = np.broadcast_arrays(*converted)  # fmt: skip
    except ValueError as exc:
        raise News2InputError("inputs", f"shapes do not broadcast together: {exc}") from exc
    subs: dict[str, IntArray] = {
        "respiration_rate": _banded(RESPIRATION_RATE, rr, rr_ok),
        "spo2": _spo2(sat, sat_ok, oxygen, oxygen_ok, scale),
        "air_or_oxygen": np.where(
            oxygen_ok,
            np.where(oxygen, AIR_OR_OXYGEN["oxygen"], AIR_OR_OXYGEN["air"]),
            MISSING,
        ),
        "systolic_bp": _banded(SYSTOLIC_BP, sbp, sbp_ok),
        "heart_rate": _banded(HEART_RATE, hr, hr_ok),
        "consciousness": acvpu,
        "temperature": _banded(TEMPERATURE, temp, temp_ok),
    }
    return _aggregate(subs, scale)


def _aggregate(subs: dict[str, IntArray], scale: BoolArray) -> News2:
    """Total, completeness and Chart 3 risk from the seven sub-scores.

    One pass per parameter and per Chart 3 row (no stacked copy of the sub-scores), and the
    risk names looked up by band number rather than compared as strings.
    """
    first = next(iter(subs.values()))
    total = np.zeros(first.shape, dtype=np.int64)
    single_3 = np.zeros(first.shape, dtype=np.bool_)
    complete = np.ones(first.shape, dtype=np.bool_)
    scored = np.zeros(first.shape, dtype=np.bool_)
    for sub in subs.values():
        total += np.maximum(sub, 0)
        single_3 |= sub == 3
        complete &= sub != MISSING
        scored |= sub != MISSING
    total[~scored] = MISSING
    return _frozen(
        total=total,
        single_parameter_3=single_3,
        complete=complete,
        scale2=scale.copy(),
        **subs,
    )


def _risk_band(total: IntArray, single_3: BoolArray) -> npt.NDArray[np.intp]:
    """Index into ``_RISK_NAMES``: Chart 3's band of the total, or low-medium where a single
    parameter scores 3 and the total alone says low."""
    band = np.zeros(total.shape, dtype=np.intp)
    for lowest in _AGGREGATE_LOWEST[1:]:
        band += total >= lowest
    band[_LOW_BANDS[band] & single_3] = len(_AGGREGATE_NAMES)
    return band


def _frozen(**fields: npt.NDArray[Any]) -> News2:
    """A :class:`News2` of arrays made for it here (no one else holds them): frozen in place,
    without the copies the public constructor makes of whatever it is given."""
    result = object.__new__(News2)
    for name, value in fields.items():
        frozen = np.asarray(value)  # a scalar input gives NumPy scalars: make them 0-d arrays
        frozen.flags.writeable = False
        object.__setattr__(result, name, frozen)
    return result


def _banded(bands: Bands, values: FloatArray, present: BoolArray) -> IntArray:
    return np.where(present, bands.score(values), MISSING)


def _spo2(
    values: FloatArray,
    present: BoolArray,
    oxygen: BoolArray,
    oxygen_present: BoolArray,
    scale2: BoolArray,
) -> IntArray:
    """SpO2 sub-score; on Scale 2 it depends on oxygen, unless both Scale 2 rows agree (<=92).

    The Scale 2 rows are looked up only when some patient is on Scale 2 (few are).
    """
    sub = SPO2_SCALE_1.score(values)
    if scale2.any():
        on_air = SPO2_SCALE_2_ON_AIR.score(values)
        on_oxygen = SPO2_SCALE_2_ON_OXYGEN.score(values)
        known = oxygen_present | (on_air == on_oxygen)
        scale_2 = np.where(known, np.where(oxygen & oxygen_present, on_oxygen, on_air), MISSING)
        sub = np.where(scale2, scale_2, sub)
    return np.where(present, sub, MISSING)


def _numeric(name: str, value: MaybeArrayLike) -> tuple[FloatArray, BoolArray]:
    """Float values (NaN where missing) and where they are present; impossible values raise."""
    raw, masked = _unmask(value)
    if raw.dtype.kind not in "iufO":
        raise News2InputError(name, f"expected numbers, got dtype {raw.dtype}")
    try:
        floats = np.asarray(raw, dtype=np.float64)  # no copy of float input: it is only read
    except (TypeError, ValueError) as exc:
        raise News2InputError(name, f"expected numbers: {exc}") from exc
    present = ~np.isnan(floats)
    if masked is not None:
        present &= ~masked
    low, high = _POSSIBLE[name]
    possible = np.isfinite(floats) & (floats >= low) & (floats <= high)
    _reject(name, present & ~possible, floats, f"must be finite and within [{low}, {high}]")
    return (floats if masked is None else np.where(present, floats, np.nan)), present


def _on_oxygen(value: MaybeArrayLike) -> tuple[BoolArray, BoolArray]:
    """Whether on supplemental oxygen, and where that is known."""
    raw, maybe_masked = _unmask(value)
    masked = np.zeros(raw.shape, dtype=np.bool_) if maybe_masked is None else maybe_masked
    if raw.dtype == np.bool_:
        return raw & ~masked, ~masked
    if raw.dtype.kind not in "iufO":
        raise News2InputError("on_oxygen", f"expected bools, got dtype {raw.dtype}")
    try:
        flags = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise News2InputError("on_oxygen", f"expected bools: {exc}") from exc
    present = ~masked & ~np.isnan(flags)
    _reject("on_oxygen", present & (flags != 0) & (flags != 1), raw, "must be True or False")
    return present & (flags == 1), present


def _consciousness(value: MaybeArrayLike) -> IntArray:
    """ACVPU sub-scores, MISSING where None, '' or masked; unknown letters raise."""
    raw, maybe_masked = _unmask(value)
    if maybe_masked is None and raw.dtype == np.dtype("<U1"):
        return _consciousness_letters(raw)
    masked = np.zeros(raw.shape, dtype=np.bool_) if maybe_masked is None else maybe_masked
    if raw.dtype.kind != "U":  # str arrays compare in C; anything else may hold None
        raw = raw.astype(object)
        masked = masked | np.equal(raw, _NONE)
    missing = masked | np.asarray(raw == "", dtype=np.bool_)
    sub = np.full(raw.shape, MISSING, dtype=np.int64)
    known = np.zeros(raw.shape, dtype=np.bool_)
    for letter, points in CONSCIOUSNESS.items():
        is_letter = np.asarray(raw == letter, dtype=np.bool_) & ~missing
        sub[is_letter] = points
        known |= is_letter
    _reject("consciousness", ~missing & ~known, raw, f"must be one of {''.join(CONSCIOUSNESS)}")
    return sub


def _consciousness_letters(raw: npt.NDArray[np.str_]) -> IntArray:
    """ACVPU sub-scores of one-letter strings (the engine's array), by code point: one lookup
    instead of a comparison per letter. '' is code point 0, missing."""
    codes = np.minimum(raw.view(np.uint32), _ACVPU_BY_CODE.shape[0] - 1)
    sub: IntArray = _ACVPU_BY_CODE[codes]
    _reject("consciousness", sub == _UNKNOWN, raw, f"must be one of {''.join(CONSCIOUSNESS)}")
    return sub


_UNKNOWN: Final = -2


def _by_code_point() -> IntArray:
    table = np.full(129, _UNKNOWN, dtype=np.int64)
    table[0] = MISSING
    for letter, points in CONSCIOUSNESS.items():
        table[ord(letter)] = points
    table.flags.writeable = False
    return table


_ACVPU_BY_CODE: Final = _by_code_point()
"""Sub-score by code point (the last entry stands for every code point above 127)."""


def _scale2(value: npt.ArrayLike) -> BoolArray:
    raw = np.asarray(value)
    if raw.dtype != np.bool_ or np.ma.isMaskedArray(value):
        raise News2InputError(
            "scale2", "must be bool: Scale 1 is the default, Scale 2 a clinician's choice"
        )
    return raw


def _unmask(value: MaybeArrayLike) -> tuple[npt.NDArray[Any], BoolArray | None]:
    """The values as an array, and where a masked array masks them (masked = missing; None:
    not a masked array)."""
    if isinstance(value, np.ma.MaskedArray):
        return np.asarray(value.data), np.ma.getmaskarray(value)
    return np.asarray(value), None


_NONE: Final = np.array(None, dtype=object)


def _reject(name: str, bad: BoolArray, values: npt.NDArray[np.generic], rule: str) -> None:
    """Raise naming the parameter, the rule, how many values break it and the first of them.

    The index is into the argument as passed, before broadcasting.
    """
    if not bad.any():
        return
    first = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], bad.shape))
    shown = values[first]
    if isinstance(shown, np.generic):
        shown = shown.item()
    count = int(bad.sum())
    raise News2InputError(name, f"{rule}; {count} value(s) are not, first {shown!r} at {first}")
