"""High-rate data as one summary per metric, device and period.

A chest strap sends a heart rate every second and an RR interval every beat; an oximeter an SpO2
and a pulse rate every second. One FHIR resource per sample would be ~350 000 resources per
patient-day, which no receiving system wants. Streamed metrics are therefore exported as one
Observation per (metric, device, period), by default one minute:

* ``valueQuantity`` is the period's **average** (for the cumulative energy counter, its
  **maximum**, i.e. its latest total), so the Observation still satisfies the vital-signs profile
  (heart rate, respiratory rate and oxygen saturation fix a Quantity value and its unit);
* ``effectivePeriod`` is the period ``[start, start + period)``;
* components carry the **minimum**, **maximum** and **count** of the values, coded with FHIR's
  own ``observation-statistics`` code system (the codes of the ``$stats`` operation), and
  ``method`` says which statistic ``valueQuantity`` is;
* readings the device could not measure (``unavailable``, no value) are not averaged; quality
  flags seen in the period are listed.

SampledData was rejected: it needs evenly spaced samples (RR intervals are one per beat) and the
vital-signs profiles do not allow it as the value. Periods divide a day, so buckets start at the
same instants whether computed from 1970 or from TimescaleDB's ``time_bucket`` origin
(2000-01-03, itself a whole number of days after 1970). The averaging itself is SQL
(``time_bucket`` in ``query``): a day of a ward's samples never leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

SECONDS_PER_DAY: Final = 86_400
DEFAULT_PERIOD_S: Final = 60
STATISTICS: Final = ("average", "minimum", "maximum")


def check_period(period_s: int) -> int:
    """A summary period in seconds: at least 1 and a divisor of a day."""
    if period_s < 1 or SECONDS_PER_DAY % period_s:
        raise ValueError(f"a summary period must divide a day (86400 s), not {period_s} s")
    return period_s


def bucket_start(time: datetime, period_s: int) -> datetime:
    """Start of the period containing ``time`` (periods are aligned on midnight UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    seconds = (time - epoch) // timedelta(seconds=1)
    return epoch + timedelta(seconds=seconds - seconds % check_period(period_s))


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """One streamed metric of one patient from one device over one period."""

    patient_id: str
    device_id: str
    key: str
    start: datetime
    period_s: int
    count: int
    """Readings with a value in the period (unavailable readings are not counted)."""
    average: float | None
    minimum: float | None
    maximum: float | None
    quality: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_period(self.period_s)
        if bucket_start(self.start, self.period_s) != self.start:
            raise ValueError(f"{self.start} is not the start of a {self.period_s} s period")
        stats = (self.average, self.minimum, self.maximum)
        if self.count < 0 or (self.count == 0) != all(s is None for s in stats):
            raise ValueError("a summary has statistics exactly when it counts values")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and low > high:
            raise ValueError(f"minimum {self.minimum} above maximum {self.maximum}")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.period_s)

    def extremes(self) -> tuple[float, float] | None:
        """(minimum, maximum), or None for a period without values."""
        if self.minimum is None or self.maximum is None:
            return None
        return self.minimum, self.maximum

    def statistic(self, name: str) -> float | None:
        """One of :data:`STATISTICS` by its observation-statistics code."""
        if name not in STATISTICS:
            raise ValueError(f"unknown statistic {name!r}")
        value: float | None = getattr(self, name)
        return value
