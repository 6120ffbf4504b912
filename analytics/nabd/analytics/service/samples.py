"""A micro-batch of observations as columns: what the source hands to the ward state.

Columns rather than objects, so that the hot path (filing samples into ring buffers) is a fixed
number of NumPy passes whatever the batch size. Patients are already *row indices*: the source
asks the database to map pseudonymous ids to rows (a join on a temporary table of the rows the
ward state assigned), because mapping strings in Python costs more than all the scoring.
Metrics are indices into :data:`METRIC_KEYS` (the contract catalogue's order), times int64
nanoseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nabd.analytics.arrays import BoolArray, FloatArray, IntArray
from nabd.analytics.service.errors import MonitorInputError
from nabd.contract.catalogue import METRICS

__all__ = ["DOUBTFUL_FLAGS", "METRIC_KEYS", "Samples", "metric_index"]

METRIC_KEYS: Final = tuple(METRICS)
"""Metric index -> catalogue key."""
_INDEX: Final = {key: i for i, key in enumerate(METRIC_KEYS)}

DOUBTFUL_FLAGS: Final = ("artefact", "questionable", "early_estimate", "time_implausible")
"""Quality flags that keep a value out of the physiological detectors: the device itself says
it is motion artefact, questionable or not yet settled, or ingest stored it at its receipt
because its own time was implausible (so when it was measured is not known; docs/ingest.md).
``low_perfusion`` values are kept (less reliable, still real)."""


def metric_index(key: str) -> int:
    """The index of a catalogue key; raises for an unknown key."""
    try:
        return _INDEX[key]
    except KeyError as exc:
        raise MonitorInputError(f"unknown metric {key!r}") from exc


@dataclass(frozen=True)
class Samples:
    """Observations, one element per reading, in any order.

    ``value`` is NaN for a reading without a value (the device's special value, flagged
    ``unavailable``); ``contact_lost`` and ``doubtful`` summarise its quality flags.
    """

    row: IntArray
    """The patient's row in the ward state."""
    metric: IntArray
    time: IntArray
    value: FloatArray
    contact_lost: BoolArray
    doubtful: BoolArray

    def __post_init__(self) -> None:
        n = self.row.shape[0]
        for name in ("metric", "time", "value", "contact_lost", "doubtful"):
            if getattr(self, name).shape != (n,):
                raise MonitorInputError(f"samples: column {name} must have shape ({n},)")
        if n and (self.metric.min() < 0 or self.metric.max() >= len(METRIC_KEYS)):
            raise MonitorInputError("samples: metric index out of range")

    def __len__(self) -> int:
        return int(self.row.shape[0])

    @classmethod
    def empty(cls) -> Samples:
        return cls.of([], [], [], [])

    @classmethod
    def of(
        cls,
        row: npt.ArrayLike,
        metric: npt.ArrayLike,
        time: npt.ArrayLike,
        value: npt.ArrayLike,
        *,
        contact_lost: npt.ArrayLike | None = None,
        doubtful: npt.ArrayLike | None = None,
    ) -> Samples:
        """Columns from anything array-like; metrics may be keys or indices."""
        metrics = np.asarray(metric)
        if metrics.dtype.kind in "UO":
            metrics = np.array([metric_index(str(k)) for k in metrics], dtype=np.int64)
        n = metrics.shape[0]
        return cls(
            row=np.asarray(row, dtype=np.int64).reshape(n),
            metric=metrics.astype(np.int64),
            time=np.asarray(time, dtype=np.int64).reshape(n),
            value=np.asarray(value, dtype=np.float64).reshape(n),
            contact_lost=np.zeros(n, np.bool_)
            if contact_lost is None
            else np.asarray(contact_lost, dtype=np.bool_),
            doubtful=np.zeros(n, np.bool_) if doubtful is None else np.asarray(doubtful, np.bool_),
        )

    def concat(self, other: Samples) -> Samples:
        return Samples(
            **{
                name: np.concatenate([getattr(self, name), getattr(other, name)])
                for name in ("row", "metric", "time", "value", "contact_lost", "doubtful")
            }
        )
