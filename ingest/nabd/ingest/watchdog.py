"""Monitoring that stops is an alarm: ingest watches analytics' heartbeat, ward by ward.

Each analytics worker renews, at every committed tick (every second by default), the lease of
each ward it scores, and stamps it ``ticked_at`` (migration 0100; several workers share the
wards). If a worker dies or hangs and no other takes its wards over, no alert is raised for
their patients, and nothing on its own would say so. So another process, every ingest worker,
checks every ``NABD_INGEST_WATCHDOG_INTERVAL_S`` how old each ward's newest tick is (on the
database's clock). A ward with no lease yet (just admitted, or an analytics from before leases)
counts the newest ``analytics_tick`` (``written_at``, migration 0045). Older than
``NABD_INGEST_WATCHDOG_STALE_S`` (or none at all that long after the worker started): every
admitted patient of that ward whose consent allows collection now (one who withdrew is not
monitored, so nothing of theirs is interrupted; docs/consent.md) gets one open technical
alert ``monitoring_interrupted``, high priority, in the ``alert`` table (so the nurse station
and the dashboards show it), audited by the database, and published on the ward's alerts topic
after the commit, as analytics publishes its own. Like analytics' alerts it carries its facts
(how long analytics had not run) and their sentence in every language (``alert.messages``), so
a French or Arabic nurse reads it in her language on the station and on Grafana.

When ticks come back, the alert is **latched**, not resolved: it stays on the board, as the
project's unacknowledged high-priority alerts do (IEC 60601-1-8 latching), until a nurse
acknowledges it (``nabd alerts ack`` or the station); the watchdog then resolves it. A gap in
monitoring is something a nurse must know happened (readings in the gap were never checked for
alarms), not only that it is over. An acknowledged alert whose interruption goes on stays
acknowledged; one that was latched and is interrupted again is unlatched.

Every pass is one transaction under the alert lock analytics and the nurses' tools take
(``ALERT_LOCK``), with a short ``lock_timeout`` (a hung analytics can hold that lock until
PostgreSQL ends its idle transaction; the watchdog tries again at its next pass). Writes are
idempotent (one open alert per patient and condition: the unique index of migration 0030), so
several ingest workers may all watch. The analytics service never touches this condition: it
restores only the conditions it knows.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from nabd.contract import alert_text, topics
from nabd.contract.alert_text import RESUMED, render, renderings
from nabd.contract.payloads import Alert, AlertFacts, AlertPriority, AlertState, to_json

__all__ = [
    "CONDITION",
    "Change",
    "ChangeKind",
    "OpenAlert",
    "Watchdog",
    "facts",
    "interrupted",
    "message",
    "plan",
    "plan_wards",
    "resumed",
]

log = logging.getLogger(__name__)

CONDITION: Final = "monitoring_interrupted"
PRIORITY: Final = AlertPriority.HIGH
ALERT_LOCK: Final = 0x6E616C72
"""The alert lock (``nabd.analytics.service.store.ALERT_LOCK``, hard-coded in migration 0032
too): serialises the watchdog with analytics' ticks, nurses' actions and discharges."""
ALERTS_CHANNEL: Final = "nabd_alerts"
LOCK_TIMEOUT_MS: Final = 2000

Publish = Callable[[str, bytes], None]
"""(topic, payload): queue one QoS 1 message."""


class ChangeKind(StrEnum):
    RAISED = "raised"
    LATCHED = "latched"
    UNLATCHED = "unlatched"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """One open ``monitoring_interrupted`` alert as stored."""

    alert_id: uuid.UUID
    patient_id: str
    ward_id: str
    acknowledged: bool
    latched: bool
    raised_at: datetime
    message: str
    facts: AlertFacts | None = None
    """What it says now (None: written before facts, migration 0105)."""
    open_s: float = 0.0
    """How long it has been open, on the database's clock."""


@dataclass(frozen=True, slots=True)
class Change:
    """One row change of a pass: a new alert (``alert_id`` fresh) or a change of an open one."""

    kind: ChangeKind
    alert_id: uuid.UUID
    patient_id: str
    ward_id: str


def interrupted(tick_age_s: float | None, watching_s: float, stale_after_s: float) -> bool:
    """Whether analytics counts as stopped: its newest tick is older than ``stale_after_s``,
    or it has never ticked although we have been watching that long."""
    age = watching_s if tick_age_s is None else tick_age_s
    return age > stale_after_s


def plan(
    stopped: bool, admitted: Mapping[str, str], open_alerts: Sequence[OpenAlert]
) -> list[Change]:
    """The changes that make the rows agree with ``stopped`` (for every ward)."""
    wards = set(admitted.values()) if stopped else set()
    return plan_wards(wards, admitted, open_alerts)


def plan_wards(
    stopped_wards: AbstractSet[str], admitted: Mapping[str, str], open_alerts: Sequence[OpenAlert]
) -> list[Change]:
    """The changes that make the rows agree with which wards' analytics has stopped.

    ``admitted`` maps each watched patient (admitted, collection allowed) to their ward. A
    patient discharged or whose consent was withdrawn meanwhile needs nothing: the discharge or
    the withdrawal resolved their alerts (migrations 0032 and 0086).
    """
    changes: list[Change] = []
    have = {a.patient_id for a in open_alerts}
    for a in open_alerts:
        if a.patient_id not in admitted:
            continue
        stopped = admitted[a.patient_id] in stopped_wards
        if stopped and a.latched:
            changes.append(Change(ChangeKind.UNLATCHED, a.alert_id, a.patient_id, a.ward_id))
        elif not stopped and a.acknowledged:
            changes.append(Change(ChangeKind.RESOLVED, a.alert_id, a.patient_id, a.ward_id))
        elif not stopped and not a.latched:
            changes.append(Change(ChangeKind.LATCHED, a.alert_id, a.patient_id, a.ward_id))
    changes += [
        Change(ChangeKind.RAISED, uuid.uuid4(), patient, ward)
        for patient, ward in sorted(admitted.items())
        if patient not in have and ward in stopped_wards
    ]
    return changes


def message(tick_age_s: float | None) -> str:
    """The alert's text: what stopped and what it means for the patient; nothing identifying."""
    since = (
        "has not run since this watchdog started"
        if tick_age_s is None
        else f"has not run for {tick_age_s:.0f} s"
    )
    return f"Monitoring interrupted: alert analysis {since}; no alarm is raised for this patient"


def facts(tick_age_s: float | None) -> AlertFacts:
    """What raised the alert, as data, for each reader to render in its own language
    (``Surveillance interrompue : analyse des alarmes arrêtée depuis 20 s``): how long
    analytics had not run when the alert was raised (unknown if it never ran)."""
    return AlertFacts(
        condition=CONDITION, duration_s=None if tick_age_s is None else max(0.0, tick_age_s)
    )


def resumed(was: OpenAlert) -> AlertFacts:
    """What the alert says once the ward's analytics ticks again: how long it had not run,
    from before the alert was raised (its raise's ``duration_s``) to this pass (``Monitoring
    resumed: alarm analysis running again after 4 min``)."""
    before = was.facts.duration_s if was.facts is not None and was.facts.duration_s else 0.0
    return alert_text.resumed(was.facts, CONDITION, before + max(0.0, was.open_s))


_TICK_SQL: Final = """
SELECT extract(epoch FROM clock_timestamp() - coalesce(written_at, time))::float8
FROM analytics_tick ORDER BY time DESC LIMIT 1
"""
_WARDS_SQL: Final = """
SELECT w.ward_id, l.ward_id IS NOT NULL,
       extract(epoch FROM clock_timestamp() - coalesce(l.ticked_at, l.acquired_at))::float8
FROM (SELECT DISTINCT ward_id FROM patient WHERE discharged_at IS NULL) w
LEFT JOIN analytics_lease l USING (ward_id)
"""
_ADMITTED_SQL: Final = """
WITH admitted AS (SELECT id, ward_id FROM patient WHERE discharged_at IS NULL)
SELECT a.id, a.ward_id
FROM admitted a
LEFT JOIN consent_restricted_periods(ARRAY(SELECT id FROM admitted)) AS r ON r.patient_id = a.id
WHERE r.periods IS NULL OR r.periods @> now()
"""
"""The patients watched: admitted, and whose consent allows collection now (docs/consent.md):
one who withdrew is not monitored at all, so an interruption of monitoring is not theirs.
Consent is asked once for all of them (``consent_restricted_periods`` returns only patients not
collected at every instant), not once per patient, at every pass."""
_OPEN_SQL: Final = """
SELECT a.id, a.patient_id, p.ward_id, a.state = 'acknowledged', a.latched, a.raised_at, a.message,
       a.facts, extract(epoch FROM now() - a.raised_at)::float8
FROM alert a JOIN patient p ON p.id = a.patient_id
WHERE a.condition = %s AND a.state <> 'resolved'
"""
_INSERT_SQL: Final = """
INSERT INTO alert (id, patient_id, condition, kind, priority, condition_priority, state, message,
                   facts, messages, raised_at, updated_at, last_notified_at)
VALUES (%(id)s, %(patient)s, %(condition)s, 'technical', %(priority)s, %(priority)s, 'raised',
        %(message)s, %(facts)s, %(messages)s, now(), now(), now())
ON CONFLICT (patient_id, condition) WHERE state <> 'resolved' DO NOTHING
RETURNING raised_at
"""
_SAY_SQL: Final = """UPDATE alert SET facts = %(facts)s, messages = %(messages)s,
    message = %(message)s WHERE id = %(id)s"""
"""What the alert says as its state changes (migration 0142)."""
_UPDATE_SQL: Final = {
    ChangeKind.LATCHED: "UPDATE alert SET latched = true, updated_at = now() WHERE id = %s",
    ChangeKind.UNLATCHED: "UPDATE alert SET latched = false, updated_at = now() WHERE id = %s",
    ChangeKind.RESOLVED: """UPDATE alert SET state = 'resolved', resolved_at = now(),
        resolved_reason = 'cleared', latched = false, updated_at = now()
        WHERE id = %s AND state <> 'resolved'""",
}


class Watchdog:
    """One watcher of analytics' ticks, on its own database connection and thread."""

    def __init__(
        self,
        database_url: str,
        publish: Publish,
        *,
        stale_after_s: float,
        interval_s: float,
        statement_timeout_s: float,
    ) -> None:
        self._url = database_url
        self._publish = publish
        self.stale_after_s = stale_after_s
        self.interval_s = interval_s
        self._statement_timeout_ms = round(statement_timeout_s * 1000)
        self._started = time.monotonic()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self.raised = 0
        self.resolved = 0

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._conn is not None:
            self._conn.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except psycopg.Error as exc:  # the database is down or the lock is held: next pass
                log.warning("watchdog pass failed", extra={"error": str(exc).strip()})
                self._reset()
            except Exception:  # a defect must cost one pass, never the watching
                log.exception("watchdog pass failed")
                self._reset()

    def _reset(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._url,
                connect_timeout=10,
                options=f"-c statement_timeout={self._statement_timeout_ms}",
            )
        return self._conn

    def check(self) -> list[Change]:
        """One pass: one transaction, then the messages of what it committed."""
        conn = self._connection()
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (str(LOCK_TIMEOUT_MS),))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERT_LOCK,))
            row = conn.execute(_TICK_SQL).fetchone()
            newest = None if row is None else float(row[0])
            watching = time.monotonic() - self._started
            ages = {
                str(w): float(a) if leased else newest
                for w, leased, a in conn.execute(_WARDS_SQL).fetchall()
            }
            stopped = {
                w for w, age in ages.items() if interrupted(age, watching, self.stale_after_s)
            }
            admitted = {str(p): str(w) for p, w in conn.execute(_ADMITTED_SQL).fetchall()}
            open_alerts = [
                OpenAlert(
                    i,
                    p,
                    w,
                    bool(ack),
                    bool(latched),
                    raised,
                    text,
                    None if said is None else AlertFacts.model_validate(said, strict=False),
                    float(open_s),
                )
                for i, p, w, ack, latched, raised, text, said, open_s in conn.execute(
                    _OPEN_SQL, (CONDITION,)
                ).fetchall()
            ]
            changes = plan_wards(stopped, admitted, open_alerts)
            said = {w: facts(age) for w, age in ages.items()}
            messages = self._write(conn, changes, {a.alert_id: a for a in open_alerts}, said)
        for topic, payload in messages:
            self._publish(topic, payload)
        if changes:
            log.warning(
                "monitoring interrupted" if stopped else "monitoring resumed",
                extra={"wards": sorted(stopped), "tick_age_s": newest, "changes": len(changes)},
            )
        return changes

    def _write(
        self,
        conn: psycopg.Connection[tuple[Any, ...]],
        changes: Sequence[Change],
        known: Mapping[uuid.UUID, OpenAlert],
        said: Mapping[str, AlertFacts],
    ) -> list[tuple[str, bytes]]:
        """Write the changes; return the messages to publish once they are committed.

        A new alert stores its English ``message``, its facts and their sentence in every
        language (``messages``, migration 0130: what the dashboards show), as analytics does."""
        out: list[tuple[str, bytes]] = []
        for c in changes:
            if c.kind is ChangeKind.RAISED:
                what = said.get(c.ward_id, facts(None))
                text = message(what.duration_s)
                params = {
                    "id": c.alert_id,
                    "patient": c.patient_id,
                    "condition": CONDITION,
                    "priority": PRIORITY.value,
                    **_said(what, text),
                }
                row = conn.execute(_INSERT_SQL, params).fetchone()
                if row is None:  # another worker raised it first
                    continue
                self.raised += 1
                out.append(_message(c, AlertState.RAISED, row[0], text, what))
            else:
                conn.execute(_UPDATE_SQL[c.kind], (c.alert_id,))
                was = known[c.alert_id]
                now = _says(was, c.kind, said.get(c.ward_id, facts(None)))
                if now is not None:
                    conn.execute(_SAY_SQL, {"id": c.alert_id, **_said(now, render(now, "en"))})
                if c.kind is ChangeKind.RESOLVED:
                    self.resolved += 1
                    last = now or was.facts
                    text = was.message if last is None else render(last, "en")
                    out.append(_message(c, AlertState.RESOLVED, was.raised_at, text, last))
            conn.execute("SELECT pg_notify(%s, %s)", (ALERTS_CHANNEL, f"{c.kind}:{c.alert_id}"))
        return out


def _said(what: AlertFacts, message: str) -> dict[str, Any]:
    """The columns that say what the alert is: its facts, their sentence in every language
    (migration 0130) and the English ``message``."""
    return {
        "facts": Jsonb(what.model_dump(mode="json", exclude_defaults=True)),
        "messages": Jsonb(renderings(what)),
        "message": message,
    }


def _says(was: OpenAlert, kind: ChangeKind, stopped: AlertFacts) -> AlertFacts | None:
    """What the alert says after ``kind`` if that changes (None: unchanged). Ticks again
    (latched, or resolved without having been latched): what resumed, after how long; stopped
    again (unlatched): how long the ward's analytics has not run (``stopped``). A resolution of
    a latched alert keeps what the latch wrote: the analysis resumed then, not at the nurse's
    acknowledgement."""
    if kind is ChangeKind.UNLATCHED:
        return stopped
    if kind is ChangeKind.LATCHED or not was.latched:
        return resumed(was)
    if was.facts is None or RESUMED not in was.facts.items:  # latched before 0142
        return resumed(was)
    return None


def _message(
    c: Change, state: AlertState, raised_at: datetime, text: str, said: AlertFacts | None = None
) -> tuple[str, bytes]:
    payload = Alert.model_validate(
        {
            "schema": "nabd.alert/1",
            "alert_id": str(c.alert_id),
            "patient_id": c.patient_id,
            "ward_id": c.ward_id,
            "kind": CONDITION,
            "priority": PRIORITY,
            "state": state,
            "raised_at": raised_at,
            "message": text[:500],
            "facts": said,
        }
    )
    return topics.alerts(c.ward_id), to_json(payload)
