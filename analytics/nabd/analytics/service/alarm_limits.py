"""Alarm limits per ward and per patient, as a clinical action (``nabd alerts limits``).

The defaults (``nabd.analytics.limits.DEFAULT_LIMITS``) suit a general ward. A ward's row in
``alarm_limit`` replaces them for its patients, a patient's row replaces the ward's, one metric
and one side at a time: a side left NULL keeps the limit above it, +/-Infinity switches that
side off (``off`` on the command line). The service reads the table at its next registry
refresh, so the next tick detects with the new limits.

Changing a limit changes which patients page a nurse, so it is a clinical action: the row
records who (``set_by``) and when (``set_at``), and the table's own trigger (migration 0041)
appends an ``audit_log`` entry in the same transaction (action ``threshold_change``, subject
``ward:<id>:<metric>`` or ``patient:<id>:<metric>``, actor ``set_by``, the limits before and
after), whoever writes the table, so this module writes no audit row of its own. ``clear``
empties the row's two sides rather than deleting it (``nabd_clinical`` may update the table,
not delete from it), which is the same as no row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

import psycopg

from nabd.analytics.limits import DEFAULT_LIMITS
from nabd.analytics.service.actions import check_admitted, check_nurse
from nabd.analytics.service.config import LIMIT_METRICS
from nabd.analytics.service.errors import MonitorInputError, Why

__all__ = ["KEEP", "LimitRow", "Scope", "clear_limit", "effective", "set_limit", "show_limits"]

Conn: TypeAlias = psycopg.Connection[tuple[Any, ...]]

KEEP: Final = math.nan
"""A side not given: the row keeps what it had (a new row: the ward's or the default)."""


@dataclass(frozen=True)
class Scope:
    """A ward or a patient (exactly one)."""

    ward: str | None = None
    patient: str | None = None

    def __post_init__(self) -> None:
        if (self.ward is None) == (self.patient is None):
            raise MonitorInputError("a limit is for a ward or for a patient: give exactly one")

    @property
    def subject(self) -> str:
        return f"ward:{self.ward}" if self.ward is not None else f"patient:{self.patient}"


@dataclass(frozen=True)
class LimitRow:
    """One override as stored (None: the side is not overridden)."""

    ward_id: str | None
    patient_id: str | None
    metric: str
    low: float | None
    high: float | None
    set_by: str
    set_at: datetime


_COLUMNS: Final = "ward_id, patient_id, metric, low, high, set_by, set_at"


def show_limits(
    conn: Conn, *, ward: str | None = None, patient: str | None = None
) -> list[LimitRow]:
    """Overrides in force, for one ward, one patient (with its ward's), or all."""
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM alarm_limit
            WHERE (low IS NOT NULL OR high IS NOT NULL)
              AND (%(ward)s::text IS NULL OR ward_id = %(ward)s)
              AND (%(patient)s::text IS NULL OR patient_id = %(patient)s
                   OR ward_id = (SELECT ward_id FROM patient WHERE id = %(patient)s))
            ORDER BY ward_id NULLS LAST, patient_id, metric""",  # noqa: S608 - constant columns
        {"ward": ward, "patient": patient},
    ).fetchall()
    return [LimitRow(*row) for row in rows]


def effective(
    rows: list[LimitRow], metric: str, ward: str, patient: str | None
) -> tuple[float, float]:
    """The limits a patient (or a ward, ``patient=None``) is watched with, from the overrides."""
    low, high = DEFAULT_LIMITS[metric].low, DEFAULT_LIMITS[metric].high
    for row in sorted(rows, key=lambda r: r.patient_id is not None):  # ward first, then patient
        mine = row.metric == metric and (
            row.ward_id == ward if row.patient_id is None else row.patient_id == patient
        )
        if mine:
            low = low if row.low is None else row.low
            high = high if row.high is None else row.high
    return low, high


def set_limit(
    conn: Conn, scope: Scope, metric: str, *, low: float = KEEP, high: float = KEEP, nurse: str
) -> LimitRow:
    """Override one metric's low and/or high limit for a ward or a patient; audited."""
    who = check_nurse(nurse)
    _check_metric(metric)
    if math.isnan(low) and math.isnan(high):
        raise MonitorInputError("give --low and/or --high", Why.LIMIT_SIDES)
    if not (math.isnan(low) or math.isnan(high) or low < high):
        raise MonitorInputError(f"low ({low:g}) must be below high ({high:g})", Why.LIMIT_ORDER,
                                low=low, high=high)  # fmt: skip
    return _write(conn, scope, metric, low, high, who)


def clear_limit(conn: Conn, scope: Scope, metric: str, *, nurse: str) -> LimitRow | None:
    """Remove a ward's or a patient's override of one metric (back to the level above); audited.

    Returns None (and writes nothing) when there was no override.
    """
    who = check_nurse(nurse)
    _check_metric(metric)
    with conn.transaction():
        before = _locked(conn, scope, metric)
        if before is None or (before.low is None and before.high is None):
            return None
        row = conn.execute(
            f"""UPDATE alarm_limit SET low = NULL, high = NULL, set_by = %s, set_at = now()
                WHERE {_where(scope)} AND metric = %s RETURNING {_COLUMNS}""",  # noqa: S608
            (who, _key(scope), metric),
        ).fetchone()
        assert row is not None
        return LimitRow(*row)


def _write(  # noqa: PLR0917 - private; the row's columns
    conn: Conn, scope: Scope, metric: str, low: float, high: float, who: str
) -> LimitRow:
    try:
        with conn.transaction():
            if scope.patient is not None:
                check_admitted(conn, scope.patient, lock=True)
            before = _locked(conn, scope, metric)
            new_low = (before.low if before else None) if math.isnan(low) else low
            new_high = (before.high if before else None) if math.isnan(high) else high
            if new_low is not None and new_high is not None and not new_low < new_high:
                raise MonitorInputError(
                    f"low ({new_low:g}) would not be below high ({new_high:g}) for {metric}",
                    Why.LIMIT_ORDER, low=new_low, high=new_high,
                )  # fmt: skip
            if before is None:
                row = conn.execute(
                    f"""INSERT INTO alarm_limit (ward_id, patient_id, metric, low, high, set_by)
                        VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",  # noqa: S608
                    (scope.ward, scope.patient, metric, new_low, new_high, who),
                ).fetchone()
            else:
                row = conn.execute(
                    f"""UPDATE alarm_limit SET low = %s, high = %s, set_by = %s, set_at = now()
                        WHERE {_where(scope)} AND metric = %s RETURNING {_COLUMNS}""",  # noqa: S608
                    (new_low, new_high, who, _key(scope), metric),
                ).fetchone()
            assert row is not None
            return LimitRow(*row)
    except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation) as exc:
        raise MonitorInputError(f"alarm limit refused: {exc.diag.message_primary}",
                                Why.LIMIT_REFUSED) from exc  # fmt: skip


def _locked(conn: Conn, scope: Scope, metric: str) -> LimitRow | None:
    """The current row, locked for this transaction (two nurses editing one limit serialise).

    A first row for a scope cannot be locked before it exists; two concurrent inserts meet the
    unique index and the second one is refused (and can simply be retried).
    """
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM alarm_limit WHERE {_where(scope)} AND metric = %s FOR UPDATE",  # noqa: S608
        (_key(scope), metric),
    ).fetchone()
    return None if row is None else LimitRow(*row)


def _where(scope: Scope) -> str:
    return "ward_id = %s" if scope.ward is not None else "patient_id = %s"


def _key(scope: Scope) -> str:
    key = scope.ward if scope.ward is not None else scope.patient
    assert key is not None
    return key


def _check_metric(metric: str) -> None:
    if metric not in LIMIT_METRICS:
        raise MonitorInputError(
            f"no alarm limits for {metric!r}; one of {', '.join(LIMIT_METRICS)}",
            Why.LIMIT_METRIC, metric=metric, metrics=", ".join(LIMIT_METRICS),
        )  # fmt: skip
