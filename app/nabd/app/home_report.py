"""The monthly adherence summary as CSV: one row per patient, what RPM programmes count.

Pure formatting of :class:`nabd.analytics.adherence.MonthlySummary` (no I/O): ``nabd evaluate
--setting home --summary-csv FILE`` writes it for a simulated cohort today; ``nabd report
adherence --month`` will write the same columns from the database.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Final

from nabd.analytics.adherence import MonthlySummary
from nabd.contract.careplan import CarePlan

__all__ = ["COLUMNS", "adherence_csv"]

COLUMNS: Final = (
    "patient_id",
    "programmes",
    "days",
    "days_with_data",
    "taken",
    "planned",
    "taken_share",
    "glucose_in_range",
)
"""Shares are fractions to 3 decimals; an empty cell means not applicable (nothing planned, no
glucose readings)."""


def _share(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3f}"


def adherence_csv(
    summary: MonthlySummary, patient_ids: Sequence[str], plans: Sequence[CarePlan]
) -> str:
    """CSV text with a header of :data:`COLUMNS`, one row per patient in the summary's order."""
    if not len(patient_ids) == len(plans) == summary.days_with_data.shape[0]:
        raise ValueError("one patient id and one plan per row of the summary")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    share = summary.taken_share
    for row, (pid, plan) in enumerate(zip(patient_ids, plans, strict=True)):
        writer.writerow(
            (
                pid,
                "+".join(p.value for p in plan.programmes),
                summary.days,
                int(summary.days_with_data[row]),
                int(summary.taken[row]),
                int(summary.planned[row]),
                _share(float(share[row])),
                _share(float(summary.time_in_range[row])),
            )
        )
    return out.getvalue()
