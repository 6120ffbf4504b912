"""What the nurse's view shows, as plain data, and the read-only adapter that fetches it.

The view and the summary are pure functions of a :class:`WardSnapshot`; only
:class:`WardReader` talks to the database, through the dashboards' read-only login
(``NABD_DASHBOARDS_DATABASE_URL``): the same rights as Grafana's ward overview, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import psycopg
from psycopg import sql

__all__ = [
    "VITALS",
    "AlertRow",
    "GatewayRow",
    "News2Counts",
    "PatientRow",
    "WardReader",
    "WardSnapshot",
]

VITALS: Final = (
    "heart_rate",
    "pulse_rate",
    "spo2",
    "respiration_rate",
    "body_temperature",
    "systolic_bp",
    "diastolic_bp",
)
"""The metrics the ward view shows (pulse rate stands in for a missing heart rate)."""

UNCOUNTED: Final = frozenset({"battery_level"})
"""Left out of generated vs ingested: the gateway also *reads* battery levels on connection,
which no device emission stands for (docs/demo.md)."""


@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    patient_id: str
    condition: str
    priority: str
    state: str
    raised_at: float
    resolved_at: float | None = None
    acknowledged_by: str | None = None
    text: str = ""
    """What it says, in English (``alert.messages``, rendered from its facts: the station's
    and the dashboards' words); empty: show the condition."""

    @property
    def open(self) -> bool:
        return self.state != "resolved"


@dataclass(frozen=True)
class News2Counts:
    """The run's NEWS2 scores: how many, how many complete, how many with a respiratory rate."""

    scores: int = 0
    complete: int = 0
    with_respiration_rate: int = 0


@dataclass(frozen=True)
class PatientRow:
    bed: int
    patient_id: str
    scenario: str
    gateway_id: str
    vitals: Mapping[str, float | None] = field(default_factory=dict)
    news2_total: int | None = None
    news2_risk: str | None = None
    news2_complete: bool = False
    alerts: tuple[AlertRow, ...] = ()


@dataclass(frozen=True)
class GatewayRow:
    gateway_id: str
    running: bool
    broker_connected: bool | None = None
    devices_connected: int = 0
    devices: int = 0
    pending: int | None = None


@dataclass(frozen=True)
class WardSnapshot:
    ward_id: str
    elapsed_s: float
    play_s: float
    speed: float
    patients: tuple[PatientRow, ...]
    gateways: tuple[GatewayRow, ...]
    generated: int
    ingested: int
    alerts_raised: int
    keys: Mapping[str, str] = field(default_factory=dict)
    """Alert id -> the key that acknowledges it in the view."""
    message: str = ""
    station: str = ""
    """Where the nurse station is and how to sign in (empty: not opened)."""


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


class WardReader:
    """Read-only queries for the view and the summary (one short connection per call)."""

    def __init__(self, url: str, patient_ids: Sequence[str], device_ids: Sequence[str]) -> None:
        self.url = url
        self.patient_ids = list(patient_ids)
        self.device_ids = list(device_ids)

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def latest(self) -> dict[str, dict[str, float | None]]:
        """Newest value per patient and metric (None: the device said it has no value)."""
        out: dict[str, dict[str, float | None]] = {p: {} for p in self.patient_ids}
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT l.patient_id, m.key, l.value FROM observation_latest l "
                "JOIN metric m ON m.id = l.metric_id "
                "WHERE l.patient_id = ANY (%s) AND m.key = ANY (%s)",
                (self.patient_ids, list(VITALS)),
            ).fetchall()
        for patient, key, value in rows:
            out[str(patient)][str(key)] = None if value is None else float(str(value))
        return out

    def news2(self) -> dict[str, tuple[int | None, str | None, bool]]:
        """Newest NEWS2 per patient: total, risk, complete; total and risk are None when no
        parameter was present (no score, migration 0011), never 0 / 'low'."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (patient_id) patient_id, total, risk, complete "
                "FROM news2_score WHERE patient_id = ANY (%s) ORDER BY patient_id, time DESC",
                (self.patient_ids,),
            ).fetchall()
        return {
            str(p): (None if t is None else int(str(t)), None if r is None else str(r), bool(c))
            for p, t, r, c in rows
        }

    def news2_counts(self) -> News2Counts:
        """How many NEWS2 scores the run's patients got, how many were complete (all seven
        parameters, RCP 2017) and how many had a respiratory rate (-1: the parameter was
        missing, migration 0010)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE complete), "
                "count(*) FILTER (WHERE respiration_rate >= 0) "
                "FROM news2_score WHERE patient_id = ANY (%s)",
                (self.patient_ids,),
            ).fetchone()
        scores, complete, with_rr = (int(str(v)) for v in row) if row else (0, 0, 0)
        return News2Counts(scores=scores, complete=complete, with_respiration_rate=with_rr)

    def alerts(self) -> list[AlertRow]:
        """Every alert of the ward's patients, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id::text, patient_id, condition, priority, state, raised_at, "
                "resolved_at, acknowledged_by, coalesce(messages ->> 'en', message) "
                "FROM alert WHERE patient_id = ANY (%s) "
                "ORDER BY raised_at, id",
                (self.patient_ids,),
            ).fetchall()
        return [
            AlertRow(
                alert_id=str(i),
                patient_id=str(p),
                condition=str(c),
                priority=str(pr),
                state=str(s),
                raised_at=float(r.timestamp()) if isinstance(r, datetime) else 0.0,
                resolved_at=_epoch(z) if isinstance(z, datetime) else None,
                acknowledged_by=None if a is None else str(a),
                text=str(t or ""),
            )
            for i, p, c, pr, s, r, z, a, t in rows
        ]

    def ingested(self) -> int:
        """Rows stored for the run's devices (attributed or not), battery levels left out."""
        query = sql.SQL(
            "SELECT count(*) FROM {table} o JOIN metric m ON m.id = o.metric_id "
            "WHERE o.device_id = ANY (%s) AND NOT (m.key = ANY (%s))"
        )
        total = 0
        with self._connect() as conn:
            for table in ("observation", "unattributed_observation"):
                row = conn.execute(
                    query.format(table=sql.Identifier(table)),
                    (self.device_ids, list(UNCOUNTED)),
                ).fetchone()
                total += int(str(row[0])) if row else 0
        return total
