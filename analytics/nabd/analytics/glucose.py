"""Hypoglycaemia from glucose readings: the thresholds in one place, one verdict per patient.

Glucose on a ward is a spot measurement (a capillary meter before meals and at bedtime, or a
meter's stored records read after a reconnection), so the detector judges each patient's newest
clean reading while it is still current, and never a trend:

* **level 2** (clinically significant): glucose below **3.0 mmol/L** (54 mg/dL), high priority;
* **level 1** (alert value): below **3.9 mmol/L** (70 mg/dL), medium priority.

Source: Battelino T. et al., *Clinical Targets for Continuous Glucose Monitoring Data
Interpretation: Recommendations From the International Consensus on Time in Range*, Diabetes
Care 2019;42:1593-1603 (levels 1 and 2), and ADA *Standards of Care in Diabetes*, section 6
"Glycemic Goals and Hypoglycemia" (the same levels; level 3 is a clinical event, altered mental
state needing assistance, which no reading can show). The contract stores glucose in mmol/L
(catalogue key ``glucose``, MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD), so thresholds are in mmol/L.

A reading stands for ``valid_s`` (default 1 h): hypoglycaemia protocols re-test 10-15 min after
treatment, so a low reading followed by no re-test within the hour is still the last word worth
paging about, and a reading older than that says nothing about now. Care plans at home (another
module) may set other thresholds per patient; these are the ward defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.alerts import HIGH, MEDIUM
from nabd.analytics.arrays import BoolArray, check_duration, check_now, seconds_to_ns
from nabd.analytics.errors import AnalyticsInputError

__all__ = ["LEVEL_1_MMOL_L", "LEVEL_2_MMOL_L", "GlucoseConfig", "Hypoglycaemia", "hypoglycaemia"]

LEVEL_1_MMOL_L: Final = 3.9
"""Level 1 hypoglycaemia: below 3.9 mmol/L (70 mg/dL), International Consensus on TIR 2019."""
LEVEL_2_MMOL_L: Final = 3.0
"""Level 2 hypoglycaemia: below 3.0 mmol/L (54 mg/dL), International Consensus on TIR 2019."""


@dataclass(frozen=True, kw_only=True)
class GlucoseConfig:
    """Thresholds (mmol/L, strictly below) and how long a reading stands (s)."""

    level_1: float = LEVEL_1_MMOL_L
    level_2: float = LEVEL_2_MMOL_L
    valid_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.level_1) and 0 < self.level_2 < self.level_1):
            raise AnalyticsInputError("level_1/level_2", "need 0 < level_2 < level_1 (mmol/L)")
        check_duration("valid_s", self.valid_s)


@dataclass(frozen=True)
class Hypoglycaemia:
    """Per patient: hypoglycaemic now, its priority code, and the reading behind it."""

    active: BoolArray
    priority: npt.NDArray[np.int8]
    value: npt.NDArray[np.float64]


def hypoglycaemia(
    now: int, value: npt.ArrayLike, time: npt.ArrayLike, config: GlucoseConfig | None = None
) -> Hypoglycaemia:
    """Each patient's newest clean glucose (mmol/L, NaN: none) taken at ``time`` (int64 ns,
    NEVER: none), judged at ``now``: active while below level 1 and not older than
    ``valid_s``; high priority below level 2, else medium."""
    cfg = config or GlucoseConfig()
    instant = check_now(now)
    glucose = np.asarray(value, dtype=np.float64)
    taken = np.asarray(time)
    if taken.dtype.kind not in "iu" or taken.shape != glucose.shape:
        raise AnalyticsInputError("time", "must be int64 ns, one per value")
    current = (taken >= instant - seconds_to_ns(cfg.valid_s)) & ~np.isnan(glucose)
    seen = np.where(current, glucose, np.inf)
    active = seen < cfg.level_1
    priority = np.where(seen < cfg.level_2, HIGH, MEDIUM).astype(np.int8)
    return Hypoglycaemia(active=active, priority=priority, value=np.where(current, glucose, np.nan))
