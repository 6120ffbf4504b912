"""Writing the alert lifecycle, NEWS2 scores and tick timings to the database.

One tick's writes are one transaction, which first takes :data:`ALERT_LOCK` (a transaction-level
advisory lock that ``nabd alerts ack|silence`` take too): the nurses' actions pending at that
moment are read, fed into the lifecycle, and marked applied in the same transaction that writes
the resulting transitions, so the ``alert`` rows and the service's in-memory state never
disagree about an acknowledgement or a silence.

Per transition (``nabd.analytics.service.lifecycle.Transition``):

========================  ===================================================================
event                     row change (every one also appends an ``audit_log`` entry)
========================  ===================================================================
raised                    new row, state ``raised`` (the unique index refuses a second open
                          alert for the same patient and condition)
worsened                  priority up, state back to ``raised``, acknowledgement and silence
                          cleared, message, facts and messages updated (a worsening without
                          facts clears the earlier ones: readers show the new message)
escalated                 ``escalation_level`` + 1, priority + 1 (at most critical)
latched / unlatched       ``latched`` set / cleared (condition cleared / returned); a silence
                          alert's message, facts and messages say what resumed and after how
                          long / that it is silent again (below)
silence_ended             ``silenced_until`` cleared
resolved                  state ``resolved``, ``resolved_at``; a silence alert's message,
                          facts and messages say what resumed and after how long (kept from
                          its latch if it was latched); one the patient's discharge
                          closed (``reason`` set) was resolved and audited by the database's
                          trigger (migration 0032): it is only published
acknowledged / silenced   nothing: ``nabd alerts`` changed the row and wrote the audit entry
                          when the nurse acted; the action is marked applied
========================  ===================================================================

The service's own transitions are audited as actor ``nabd-analytics``; a nurse's as the nurse.

A silence alert (``stale_data``, ``gateway_offline``, ``device_disconnected``,
``home_gateway_offline``: :data:`nabd.contract.alert_text.SILENCES`) that kept saying, once
resolved, what it said when raised ("Device disconnected for 2 min") would tell the nurse
reading the history nothing of the end of the silence. When its condition clears, its facts
become :func:`nabd.contract.alert_text.resumed`'s (what is back, after how long: from the
start of the silence its facts measured to the transition's ``cleared_at``, not to the event,
which comes after the resolve hold-down or a nurse's acknowledgement) and its sentences in
every language are rewritten with them, as ingest's watchdog does for
``monitoring_interrupted`` (migration 0142). The things it named are kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from nabd.analytics.alerts import AlertEventKind
from nabd.analytics.arrays import NEVER, BoolArray, IntArray
from nabd.analytics.news2 import MISSING, PARAMETERS, News2
from nabd.analytics.service.conditions import BY_NAME, column
from nabd.analytics.service.lifecycle import NurseAction, OpenAlert, Transition
from nabd.analytics.service.state import PatientIndex
from nabd.contract.alert_text import RESUMED, SILENCES, render, renderings, resumed
from nabd.contract.payloads import MAX_MESSAGE_CHARS, AlertFacts

__all__ = [
    "ACTOR",
    "ALERTS_CHANNEL",
    "ALERT_LOCK",
    "AlertStore",
    "News2Writer",
    "TickRecord",
    "from_ns",
]

Conn: TypeAlias = psycopg.AsyncConnection[tuple[Any, ...]]

ALERT_LOCK: Final = 0x6E616C72  # "nalr": one lock for every writer of alert lifecycle state
ACTOR: Final = "nabd-analytics"
"""Who the audit log names for the service's own transitions."""
ALERTS_CHANNEL: Final = "nabd_alerts"
"""NOTIFY channel: ``<event>:<alert id>`` for every transition, at COMMIT."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_PRIORITY_CODES: Final = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def from_ns(ns: int) -> datetime:
    """Int64 ns since the epoch as an aware datetime (microsecond resolution, as stored)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _default(condition: str) -> str:
    """The message of an alert restored without one: its condition's name."""
    return render(AlertFacts(condition=condition), "en")


def _jsonb(facts: AlertFacts | None) -> Jsonb | None:
    return None if facts is None else Jsonb(facts.model_dump(mode="json", exclude_defaults=True))


def _messages(facts: AlertFacts | None) -> Jsonb | None:
    """``alert.messages``: the facts' sentence per language, for the dashboards (0130)."""
    return None if facts is None else Jsonb(renderings(facts))


def _ns(moment: datetime | None) -> int:
    if moment is None:
        return NEVER
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_OPEN_SQL: Final = """
SELECT id, patient_id, condition, raised_at, priority, coalesce(condition_priority, priority),
       escalation_level, state = 'acknowledged', coalesce(last_notified_at, raised_at),
       silenced_until, latched, silenced_by, message, facts, messages IS NULL
FROM alert WHERE state <> 'resolved' AND (%(all)s OR patient_id = ANY (%(patients)s))
"""

_BACKFILL_SQL: Final = """
UPDATE alert a SET messages = m.messages
FROM unnest(%s::uuid[], %s::jsonb[]) AS m (id, messages)
WHERE a.id = m.id AND a.messages IS NULL
"""
"""Open alerts written before migration 0130 get their sentences once restored (``IS NULL``:
a worsening written meanwhile is newer and is kept)."""

_PENDING_SQL: Final = """
SELECT a.id, a.alert_id, a.action, a.actor, a.silence_until FROM alert_action a
JOIN alert al ON al.id = a.alert_id
JOIN patient p ON p.id = al.patient_id
WHERE a.applied_at IS NULL AND p.ward_id = ANY (%s) ORDER BY a.id
"""

_INSERT_SQL: Final = """
INSERT INTO alert (id, patient_id, condition, kind, priority, condition_priority, state,
                   metric_id, message, facts, messages, raised_at, updated_at,
                   last_notified_at, silenced_until, silenced_by)
VALUES (%(id)s, %(patient)s, %(condition)s, %(kind)s, %(priority)s, %(condition_priority)s,
        'raised', (SELECT id FROM metric WHERE key = %(metric)s), %(message)s, %(facts)s,
        %(messages)s, %(at)s, %(at)s, %(at)s, %(silenced_until)s, %(silenced_by)s)
"""

_UPDATE_SQL: Final = {
    AlertEventKind.WORSENED: """
        UPDATE alert SET priority = %(priority)s, condition_priority = %(condition_priority)s,
               state = 'raised', acknowledged_at = NULL, acknowledged_by = NULL,
               silenced_until = NULL, silenced_by = NULL, message = %(message)s,
               facts = %(facts)s, messages = %(messages)s, last_notified_at = %(at)s,
               updated_at = %(at)s
        WHERE id = %(id)s""",
    AlertEventKind.ESCALATED: """
        UPDATE alert SET priority = %(priority)s, escalation_level = %(level)s,
               last_notified_at = %(at)s, escalated_at = %(at)s, updated_at = %(at)s
        WHERE id = %(id)s""",
    AlertEventKind.LATCHED: """
        UPDATE alert SET latched = true, updated_at = %(at)s WHERE id = %(id)s""",
    AlertEventKind.UNLATCHED: """
        UPDATE alert SET latched = false, updated_at = %(at)s WHERE id = %(id)s""",
    AlertEventKind.SILENCE_ENDED: """
        UPDATE alert SET silenced_until = NULL, silenced_by = NULL,
               last_notified_at = %(notified_at)s, updated_at = %(at)s
        WHERE id = %(id)s""",
    AlertEventKind.RESOLVED: """
        UPDATE alert SET state = 'resolved', resolved_at = %(at)s, latched = false,
               updated_at = %(at)s
        WHERE id = %(id)s AND state <> 'resolved'""",
}

_SAYS: Final = frozenset({AlertEventKind.RAISED, AlertEventKind.WORSENED})
"""The events that write what the alert says (message, facts, messages)."""

_SAY_SQL: Final = """
UPDATE alert SET message = %(message)s, facts = %(facts)s, messages = %(messages)s
WHERE id = %(id)s"""
"""What a silence alert says as its condition clears or returns (on top of the event's own
statement, in the same pipeline)."""
_SILENCE_EVENTS: Final = frozenset(
    {AlertEventKind.LATCHED, AlertEventKind.UNLATCHED, AlertEventKind.RESOLVED}
)

_AUDIT_SQL: Final = """
INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s::jsonb)
"""

_NEWS2_SQL: Final = """
INSERT INTO news2_score (time, patient_id, total, risk, complete, scale2, respiration_rate,
                         spo2, air_or_oxygen, systolic_bp, heart_rate, consciousness,
                         temperature)
SELECT %s, * FROM unnest(%s::text[], %s::int2[], %s::text[], %s::bool[], %s::bool[],
                         %s::int2[], %s::int2[], %s::int2[], %s::int2[], %s::int2[],
                         %s::int2[], %s::int2[])
ON CONFLICT DO NOTHING
"""

_TICK_SQL: Final = """
INSERT INTO analytics_tick (time, duration_ms, patients, samples, events, detect_ms, store_ms,
                            handoff_lag_ms, readings_delay_ms)
VALUES (%(time)s, %(duration_ms)s, %(patients)s, %(samples)s, %(events)s, %(detect_ms)s,
        %(store_ms)s,
        CASE WHEN %(oldest)s::timestamptz IS NULL THEN NULL
             ELSE extract(epoch FROM clock_timestamp() - %(oldest)s::timestamptz) * 1000 END,
        %(delay_ms)s)
"""

_NEWS2_PARTS: Final = PARAMETERS


@dataclass(frozen=True)
class Published:
    """What the publisher needs of a transition that changes the alert's state on the wire."""

    transition: Transition
    patient_id: str
    ward_id: str
    message: str
    facts: AlertFacts | None = None


@dataclass(frozen=True)
class TickRecord:
    """One ``analytics_tick`` row."""

    time: int
    duration_ms: float
    patients: int
    samples: int
    events: int
    detect_ms: float
    store_ms: float
    oldest_commit: int
    """Commit time of the oldest hand-off entry folded in (NEVER: none)."""
    readings_delay_s: float | None = None
    """How late the freshest readings arrive, while that is late (migration 0153)."""


class AlertStore:
    """The service's writer of alert rows and audit entries (on the service's connection)."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn
        self._messages: dict[uuid.UUID, str] = {}
        self._facts: dict[uuid.UUID, AlertFacts] = {}
        self._said_at: dict[uuid.UUID, int] = {}
        """When the current facts were found (their ``duration_s`` is up to then); absent for
        a restored alert: its raise."""

    async def lock(self) -> None:
        """Serialise with nurses' actions until this transaction ends."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERT_LOCK,))

    async def open_alerts(
        self, index: PatientIndex, patients: list[str] | None = None
    ) -> list[OpenAlert]:
        """The unresolved alerts (of ``patients``, default all), for :meth:`AlertBook.restore`
        (those of patients without a row here, and unknown conditions, are skipped).

        Those with facts but no ``messages`` (written before migration 0130) get them now,
        rendered from their facts, so an upgrade leaves no open alert in English on a French
        dashboard once analytics has restarted (resolved ones keep their English message)."""
        params = {"all": patients is None, "patients": patients or []}
        rows = await (await self._conn.execute(_OPEN_SQL, params)).fetchall()
        restored = []
        unsaid: list[tuple[uuid.UUID, Jsonb | None]] = []
        for (alert_id, patient, condition, raised, priority, worst, level, acknowledged,
             notified, silenced, latched, silenced_by, text, said, unrendered) in rows:  # fmt: skip
            row = int(index.rows([patient])[0])
            if row < 0 or condition not in BY_NAME:
                continue
            restored.append(
                OpenAlert(
                    alert_id=alert_id,
                    row=row,
                    column=column(condition),
                    raised_at=_ns(raised),
                    priority=_PRIORITY_CODES[priority],
                    condition_priority=_PRIORITY_CODES[worst],
                    level=int(level),
                    acknowledged=bool(acknowledged),
                    notified_at=_ns(notified),
                    silenced_until=_ns(silenced),
                    latched=bool(latched),
                    silenced_by=silenced_by,
                )
            )
            self._messages[alert_id] = text
            if said is not None:
                self._facts[alert_id] = AlertFacts.model_validate(said, strict=False)
                if unrendered:
                    unsaid.append((alert_id, _messages(self._facts[alert_id])))
        if unsaid:
            ids, messages = zip(*unsaid, strict=True)
            await self._conn.execute(_BACKFILL_SQL, (list(ids), list(messages)))
        return restored

    async def in_wards(self, patients: list[str], wards: list[str]) -> set[str]:
        """Of ``patients``, those whose ward is one of ``wards`` now."""
        cur = await self._conn.execute(
            "SELECT id FROM patient WHERE id = ANY(%s) AND ward_id = ANY(%s)", (patients, wards)
        )
        return {str(r[0]) for r in await cur.fetchall()}

    async def discharge_head(self) -> int:
        """The newest discharge number committed (0: none yet)."""
        row = await (
            await self._conn.execute("SELECT coalesce(max(discharge_seq), 0) FROM patient")
        ).fetchone()
        return int(row[0]) if row else 0

    async def discharges(self, after: int) -> tuple[list[str], int]:
        """Patients discharged since discharge number ``after`` (migration 0032 numbers them
        under :data:`ALERT_LOCK`, so call this holding it), and the newest number."""
        rows = await (
            await self._conn.execute(
                "SELECT id, discharge_seq FROM patient WHERE discharge_seq > %s "
                "ORDER BY discharge_seq",
                (after,),
            )
        ).fetchall()
        return [str(r[0]) for r in rows], max([after, *(int(r[1]) for r in rows)])

    async def pending_actions(self, wards: list[str]) -> list[NurseAction]:
        """Nurses' actions not applied yet on alerts of patients in ``wards`` (this worker's:
        another worker applies the others)."""
        rows = await (await self._conn.execute(_PENDING_SQL, (wards,))).fetchall()
        return [
            NurseAction(
                action_id=int(action_id),
                alert_id=alert_id,
                action=action,
                actor=actor,
                silence_until=_ns(until),
            )
            for action_id, alert_id, action, actor, until in rows
        ]

    async def mark_applied(self, actions: Sequence[NurseAction]) -> None:
        if actions:
            await self._conn.execute(
                "UPDATE alert_action SET applied_at = now() WHERE id = ANY(%s)",
                ([a.action_id for a in actions],),
            )

    async def write(
        self,
        transitions: Sequence[Transition],
        index: PatientIndex,
        ward_of: IntArray,
        ward_names: Sequence[str],
        messages: dict[tuple[int, str], str],
        *,
        facts: dict[tuple[int, str], AlertFacts] | None = None,
    ) -> list[Published]:
        """Write the transitions in order; return what to publish once this commits.

        ``messages`` holds the message of each (row, condition) raised or worsened this tick,
        ``facts`` what raised it (:func:`nabd.analytics.service.engine.facts`), as data, and
        those of a silence alert whose condition returned (unlatched).
        """
        published = []
        # One pipeline: the three statements of each transition go out without waiting for the
        # previous ones' replies. Written one by one, 3 500 "stale data" alerts at once (every
        # patient after a broker restart) held the tick 2.3 s, and a clinical alert behind it.
        async with self._conn.pipeline(), self._conn.cursor() as cur:
            for t in transitions:
                patient = index.id_of(t.row)
                if t.kind in (AlertEventKind.RAISED, AlertEventKind.WORSENED):
                    self._messages[t.alert_id] = messages[(t.row, t.condition)]
                    said = (facts or {}).get((t.row, t.condition))
                    if said is not None:
                        self._facts[t.alert_id] = said
                        self._said_at[t.alert_id] = t.at
                    else:  # the earlier facts describe the earlier state: not kept as current
                        self._facts.pop(t.alert_id, None)
                if t.reason is None:  # else the database wrote, audited and notified it
                    await self._write_one(cur, t, patient)
                    if t.condition in SILENCES and t.kind in _SILENCE_EVENTS:
                        await self._silence(cur, t, (facts or {}).get((t.row, t.condition)))
                published.append(
                    Published(
                        transition=t,
                        patient_id=patient,
                        ward_id=ward_names[int(ward_of[t.row])],
                        message=self._messages.get(t.alert_id) or _default(t.condition),
                        facts=self._facts.get(t.alert_id),
                    )
                )
                if t.kind is AlertEventKind.RESOLVED:
                    self._messages.pop(t.alert_id, None)
                    self._facts.pop(t.alert_id, None)
                    self._said_at.pop(t.alert_id, None)
        return published

    async def _silence(
        self, cur: psycopg.AsyncCursor[tuple[Any, ...]], t: Transition, back: AlertFacts | None
    ) -> None:
        """Make a silence alert say what its condition does now (the module's docstring):
        cleared (latched, or resolved without a latch before it): what resumed, after how long;
        silent again (unlatched): ``back``, the current facts (none given: unchanged). A
        resolution after a latch keeps what the latch said: the silence ended then."""
        said = self._facts.get(t.alert_id)
        if t.kind is AlertEventKind.UNLATCHED:
            if back is None:
                return
            now, self._said_at[t.alert_id] = back, t.at
        elif t.kind is AlertEventKind.RESOLVED and said is not None and RESUMED in said.items:
            return
        else:
            found_at = self._said_at.get(t.alert_id, t.raised_at)
            before = (said.duration_s or 0.0) if said is not None else 0.0
            ended = t.cleared_at if t.cleared_at != NEVER else t.at
            now = resumed(said, t.condition, before + (ended - found_at) / 1e9)
        self._facts[t.alert_id] = now
        self._messages[t.alert_id] = render(now, "en")[:MAX_MESSAGE_CHARS]
        await cur.execute(
            _SAY_SQL,
            {
                "id": t.alert_id,
                "message": self._messages[t.alert_id],
                "facts": _jsonb(now),
                "messages": _messages(now),
            },
        )

    async def _write_one(
        self, cur: psycopg.AsyncCursor[tuple[Any, ...]], t: Transition, patient: str
    ) -> None:
        params = self._params(t, patient)
        if t.kind is AlertEventKind.RAISED:
            await cur.execute(_INSERT_SQL, params)
        elif t.kind in _UPDATE_SQL:
            await cur.execute(_UPDATE_SQL[t.kind], params)
        if t.kind not in (AlertEventKind.ACKNOWLEDGED, AlertEventKind.SILENCED):
            await cur.execute(_AUDIT_SQL, _audit(t, patient))
        await cur.execute(
            "SELECT pg_notify(%s, %s)", (ALERTS_CHANNEL, f"{t.kind.value}:{t.alert_id}")
        )

    def _params(self, t: Transition, patient: str) -> dict[str, Any]:
        condition = BY_NAME[t.condition]
        return {
            "id": t.alert_id,
            "patient": patient,
            "condition": t.condition,
            "kind": condition.kind.value,
            "metric": condition.metric,
            "priority": t.priority.value,
            "condition_priority": t.condition_priority.value,
            "level": t.level,
            "message": self._messages.get(t.alert_id, ""),
            "facts": _jsonb(self._facts.get(t.alert_id)),
            "messages": (_messages(self._facts.get(t.alert_id)) if t.kind in _SAYS else None),
            "at": from_ns(t.at),
            "notified_at": from_ns(t.notified_at) if t.notified_at != NEVER else None,
            "silenced_until": from_ns(t.silenced_until) if t.silenced_until != NEVER else None,
            "silenced_by": t.silenced_by,
        }

    async def write_tick(self, record: TickRecord) -> None:
        await self._conn.execute(
            _TICK_SQL,
            {
                "time": from_ns(record.time),
                "duration_ms": record.duration_ms,
                "patients": record.patients,
                "samples": record.samples,
                "events": record.events,
                "detect_ms": record.detect_ms,
                "store_ms": record.store_ms,
                "oldest": None if record.oldest_commit == NEVER else from_ns(record.oldest_commit),
                "delay_ms": None
                if record.readings_delay_s is None
                else record.readings_delay_s * 1000,
            },
        )


def _audit(t: Transition, patient: str) -> tuple[str, str, str, str]:
    details = {
        "patient_id": patient,
        "condition": t.condition,
        "priority": t.priority.value,
        "escalation_level": t.level,
        "at": from_ns(t.at).isoformat(),
        "raised_at": from_ns(t.raised_at).isoformat(),
    }
    return ACTOR, f"alert_{t.kind.value}", f"alert:{t.alert_id}", json.dumps(details)


class News2Writer:
    """Writes each monitored patient's NEWS2 when it changes, and at least every ``every_s``."""

    def __init__(self, every_s: float) -> None:
        self._every_ns = round(every_s * 1e9)
        self._last = np.zeros((0, len(_NEWS2_PARTS) + 2), dtype=np.int64)
        self._when = np.zeros(0, dtype=np.int64)

    def due(self, now: int, news: News2, monitored: BoolArray) -> IntArray:
        """Rows to write now (changed since written, or not written for ``every_s``)."""
        n = monitored.shape[0]
        if self._when.shape[0] < n:
            grown = np.full((n, self._last.shape[1]), -9, dtype=np.int64)
            grown[: self._last.shape[0]] = self._last
            self._last = grown
            self._when = np.concatenate([self._when, np.full(n - self._when.shape[0], NEVER)])
        current = np.stack(
            [getattr(news, p).astype(np.int64) for p in _NEWS2_PARTS]
            + [news.total.astype(np.int64), news.scale2.astype(np.int64)],
            axis=1,
        )
        changed = (current != self._last).any(axis=1)
        old = (self._when == NEVER) | (self._when <= now - self._every_ns)
        rows = np.flatnonzero(monitored & (changed | old))
        self._last[rows] = current[rows]
        self._when[rows] = now
        return rows

    @staticmethod
    async def write(conn: Conn, now: int, news: News2, rows: IntArray, index: PatientIndex) -> None:
        if rows.shape[0] == 0:
            return
        ids = [index.id_of(int(r)) for r in rows]
        columns: list[list[Any]] = [
            ids,
            # No parameter present: no score, stored as NULL total and risk (migration 0011).
            [t if t != MISSING else None for t in news.total[rows].tolist()],
            [r or None for r in news.risk[rows].tolist()],
            news.complete[rows].tolist(),
            news.scale2[rows].tolist(),
        ]
        columns += [getattr(news, p)[rows].tolist() for p in _NEWS2_PARTS]
        await conn.execute(_NEWS2_SQL, (from_ns(now), *columns))
