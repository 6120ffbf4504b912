"""The alert lifecycle in the real database, under random event sequences (hypothesis): random
conditions and priorities tick after tick, and nurses acknowledge and silence random open alerts
through ``nabd.analytics.service.actions`` (what ``nabd alerts`` runs) between ticks. The service
side writes as the ``analytics`` login, so its privileges are exercised too.

After every tick the database agrees with the service's lifecycle state; the unique index never
fires (one open alert per patient x condition); a high-priority alert is never resolved before
someone acknowledged it; and every transition, the service's and the nurses', is in the
hash-chained audit log with who did it, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from nabd.analytics.alerts import HIGH, MEDIUM, AlertEventKind, AlertPolicy
from nabd.analytics.arrays import NEVER
from nabd.analytics.service import actions
from nabd.analytics.service.conditions import NAMES
from nabd.analytics.service.errors import AlertActionError
from nabd.analytics.service.lifecycle import AlertBook, Transition
from nabd.analytics.service.state import PatientIndex
from nabd.analytics.service.store import AlertStore
from nabd.contract.alert_text import render, renderings
from nabd.contract.payloads import AlertFacts
from tests.monitor.monitor_kit import MonitorDb, admit
from tests.stack_kit import token

pytestmark = pytest.mark.integration

S = 1_000_000_000
CONDITIONS = 3  # the first three: news2, heart_rate_high, heart_rate_low
PATIENTS = 2
POLICY = AlertPolicy(
    conditions=NAMES,
    resolve_after_s=2,
    escalate_after_s=(5, 4, 3, 2),
    max_level=2,
    latch_priority=HIGH,
)
K = AlertEventKind


@dataclass
class Tick:
    active: list[list[bool]]
    priority: list[list[int]]
    acks: list[int]
    silences: list[tuple[int, float]]


cells = st.lists(
    st.lists(st.booleans(), min_size=CONDITIONS, max_size=CONDITIONS),
    min_size=PATIENTS,
    max_size=PATIENTS,
)
script = st.lists(
    st.builds(
        Tick,
        active=cells,
        priority=st.lists(
            st.lists(st.integers(0, 3), min_size=CONDITIONS, max_size=CONDITIONS),
            min_size=PATIENTS,
            max_size=PATIENTS,
        ),
        acks=st.lists(st.integers(0, 9), max_size=2),
        silences=st.lists(st.tuples(st.integers(0, 9), st.sampled_from([1.0, 3.0])), max_size=1),
    ),
    min_size=3,
    max_size=20,
)


def _wide(rows: list[list[Any]], fill: Any, dtype: Any) -> np.ndarray:
    """``(PATIENTS, CONDITIONS)`` padded to every condition of the service."""
    out = np.full((PATIENTS, len(NAMES)), fill, dtype=dtype)
    out[:, :CONDITIONS] = np.array(rows, dtype=dtype)
    return out


def _nurse(
    db: MonitorDb, patients: list[str], tick: Tick, log: dict[uuid.UUID, list[tuple[str, str]]]
) -> int:
    """Acknowledge and silence random open alerts as nurses; return how many succeeded."""
    open_ids = [
        r[0]
        for r in db.query(
            "SELECT id FROM alert WHERE patient_id = ANY(%s) AND state <> 'resolved' ORDER BY id",
            (patients,),
        )
    ]
    done = 0
    with psycopg.connect(db.owner_url, autocommit=True) as conn:
        for pick in tick.acks:
            if open_ids:
                alert = open_ids[pick % len(open_ids)]
                try:
                    actions.acknowledge(conn, alert, "Nurse Ada")
                except AlertActionError:
                    continue
                log[alert].append(("Nurse Ada", "alert_acknowledged"))
                done += 1
        for pick, seconds in tick.silences:
            if open_ids:
                alert = open_ids[pick % len(open_ids)]
                try:
                    actions.silence(conn, alert, "Nurse Ben", seconds)
                except AlertActionError:
                    continue
                log[alert].append(("Nurse Ben", "alert_silenced"))
                done += 1
    return done


def _agree(db: MonitorDb, patients: list[str], book: AlertBook, index: PatientIndex) -> None:
    rows = db.query(
        """SELECT id, patient_id, condition, state, priority, escalation_level, latched,
                  silenced_until IS NOT NULL
           FROM alert WHERE patient_id = ANY(%s) AND state <> 'resolved'""",
        (patients,),
    )
    state = book.state
    mine = {}
    for r in range(PATIENTS):
        for c in range(CONDITIONS):
            alert = book.alert_id(r, c)
            if alert is not None:
                mine[alert] = (
                    index.id_of(r),
                    NAMES[c],
                    "acknowledged" if state.acknowledged[r, c] else "raised",
                    ("low", "medium", "high", "critical")[int(state.priority[r, c])],
                    int(state.level[r, c]),
                    bool(state.latched[r, c]),
                    bool(state.silenced_until[r, c] != NEVER),
                )
    assert {row[0]: tuple(row[1:]) for row in rows} == mine


async def _drive(db: MonitorDb, ticks: list[Tick]) -> None:
    patients = [admit(db, f"p-h{token()}") for _ in range(PATIENTS)]
    index = PatientIndex()
    index.admit(patients)
    book = AlertBook(POLICY, PATIENTS)
    expected: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    resolved_unseen: list[Transition] = []
    acknowledged: set[uuid.UUID] = set()
    nurse_actions = service_saw = 0
    start = (await _db_now(db)) * 1  # the fake clock starts at the database's now
    async with await psycopg.AsyncConnection.connect(db.analytics_url, autocommit=True) as conn:
        store = AlertStore(conn)
        for second, tick in enumerate(ticks):
            nurse_actions += _nurse(db, patients, tick, expected)
            now = start + second * S
            async with conn.transaction():
                await store.lock()
                pending = await store.pending_actions(["w1"])
                found = book.step(
                    now,
                    _wide(tick.active, False, np.bool_),
                    _wide(tick.priority, 0, np.int8),
                    pending,
                )
                messages = {(t.row, t.condition): f"test {t.condition}" for t in found}
                await store.write(found, index, np.zeros(PATIENTS, np.int64), ["w1"], messages)
                await store.mark_applied(pending)
            for t in found:
                service_saw += len(t.actions)
                if t.kind is K.ACKNOWLEDGED:
                    acknowledged.add(t.alert_id)
                if t.kind in (K.ACKNOWLEDGED, K.SILENCED):
                    continue
                if t.kind is K.WORSENED:
                    acknowledged.discard(t.alert_id)
                if t.kind is K.RESOLVED and t.alert_id not in acknowledged:
                    resolved_unseen.append(t)
                expected[t.alert_id].append(("nabd-analytics", f"alert_{t.kind.value}"))
            _agree(db, patients, book, index)
    # Every nurse action reached the lifecycle: applied by a tick, and (unless its alert
    # resolved in that very tick) the cause of an acknowledged/silenced/silence_ended event.
    applied = db.query(
        """SELECT count(*), count(applied_at) FROM alert_action x JOIN alert a ON a.id = x.alert_id
           WHERE a.patient_id = ANY(%s)""",
        (patients,),
    )[0]
    assert applied == (nurse_actions, nurse_actions)
    assert service_saw <= nurse_actions
    assert [t for t in resolved_unseen if t.priority.value in ("high", "critical")] == []
    for alert, entries in expected.items():
        audited = db.query(
            "SELECT actor, action FROM audit_log WHERE subject = %s ORDER BY seq",
            (f"alert:{alert}",),
        )
        assert [tuple(a) for a in audited] == entries


async def _db_now(db: MonitorDb) -> int:
    async with await psycopg.AsyncConnection.connect(db.owner_url) as conn:
        row = await (
            await conn.execute("SELECT (extract(epoch FROM now()) * 1e9)::int8")
        ).fetchone()
        assert row is not None
        return int(row[0])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ticks=script)
def test_random_sequences_keep_database_and_lifecycle_in_step(
    monitor_db: MonitorDb, ticks: list[Tick]
) -> None:
    asyncio.run(_drive(monitor_db, ticks))


def test_the_database_refuses_a_second_open_alert(monitor_db: MonitorDb) -> None:
    patient = admit(monitor_db, f"p-u{token()}")
    insert = """INSERT INTO alert (patient_id, condition, priority, message, raised_at)
                VALUES (%s, 'spo2_low', 'high', 'x', now())"""
    with psycopg.connect(monitor_db.owner_url, autocommit=True) as conn:
        conn.execute(insert, (patient,))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, (patient,))


def test_restoring_gives_older_open_alerts_their_sentences(monitor_db: MonitorDb) -> None:
    """An open alert written before migration 0130 (facts, no ``messages``) gets its sentences
    when analytics restores it, so the dashboards stop showing its English after an upgrade;
    one that has them keeps them, and a resolved one is left as it was."""
    patient = admit(monitor_db, f"p-r{token()}")
    facts = {"condition": "spo2_low", "value": 86.0, "unit": "%", "limit": 90.0}
    insert = """INSERT INTO alert (patient_id, condition, priority, message, facts, messages,
                                   raised_at, state, resolved_at)
                VALUES (%s, %s, 'high', 'SpO2 low: 86 %% (limit 90 %%)', %s, %s, now(), %s, %s)
                RETURNING id"""
    with psycopg.connect(monitor_db.owner_url, autocommit=True) as conn:
        old, kept, closed = (
            conn.execute(insert, (patient, condition, Jsonb(facts), said, state, ended)).fetchall()[
                0
            ][0]
            for condition, said, state, ended in (
                ("spo2_low", None, "raised", None),
                ("heart_rate_high", Jsonb({"fr": "déjà dit"}), "raised", None),
                ("heart_rate_low", None, "resolved", datetime.now(UTC)),
            )
        )
    index = PatientIndex()
    index.admit([patient])

    async def restore() -> int:
        async with await psycopg.AsyncConnection.connect(
            monitor_db.analytics_url, autocommit=True
        ) as conn:
            return len(await AlertStore(conn).open_alerts(index, [patient]))

    assert asyncio.run(restore()) == 2
    stored = dict(
        monitor_db.query(
            "SELECT id, messages FROM alert WHERE id = ANY(%s)", ([old, kept, closed],)
        )
    )
    assert stored[old] == {
        "fr": "SpO2 basse : 86 % (seuil 90 %)",
        "en": "SpO2 low: 86 % (limit 90 %)",
        "ar": "انخفاض تشبع الأكسجين SpO2: 86 % (الحد 90 %)",
    }
    assert stored[kept] == {"fr": "déjà dit"}
    assert stored[closed] is None


def test_a_worsening_says_the_current_state_with_or_without_new_facts(
    monitor_db: MonitorDb,
) -> None:
    """An alert worsens (priority up): what every reader shows follows its current state. With
    new facts, the sentences in every language are theirs; without (a writer that has none),
    the earlier facts no longer describe the alert, so they are not kept next to the new
    message: the station and the dashboards then show the current message."""
    patients = [admit(monitor_db, f"p-w{token()}") for _ in range(2)]
    index = PatientIndex()
    index.admit(patients)
    book = AlertBook(POLICY, 2)
    col = NAMES.index("spo2_low")
    before = AlertFacts(condition="spo2_low", value=89.0, unit="%", limit=90.0)
    after = AlertFacts(condition="spo2_low", value=84.0, unit="%", limit=90.0)

    async def drive() -> None:
        async with await psycopg.AsyncConnection.connect(
            monitor_db.analytics_url, autocommit=True
        ) as conn:
            store = AlertStore(conn)
            now = int(datetime.now(UTC).timestamp()) * S
            for level, said, at in ((MEDIUM, before, now), (HIGH, after, now + S)):
                active = np.zeros((2, len(NAMES)), np.bool_)
                priority = np.zeros((2, len(NAMES)), np.int8)
                active[:, col], priority[:, col] = True, level
                found = book.step(at, active, priority)
                assert {t.kind for t in found} == (
                    {AlertEventKind.RAISED} if level == MEDIUM else {AlertEventKind.WORSENED}
                )
                text = {(r, "spo2_low"): render(said, "en") for r in range(2)}
                # Patient 0's writer gives the facts each time; patient 1's only at the raise.
                facts = {(0, "spo2_low"): said}
                if level == MEDIUM:
                    facts[(1, "spo2_low")] = said
                async with conn.transaction():
                    await store.write(
                        found, index, np.zeros(2, np.int64), ["w1"], text, facts=facts
                    )

    asyncio.run(drive())
    rows = dict(
        (p, (prio, message, said, messages))
        for p, prio, message, said, messages in monitor_db.query(
            "SELECT patient_id, priority, message, facts, messages FROM alert"
            " WHERE patient_id = ANY(%s)",
            (patients,),
        )
    )
    assert rows[patients[0]][0] == "high"
    assert rows[patients[0]][1:] == (
        render(after, "en"),
        after.model_dump(mode="json", exclude_defaults=True),
        renderings(after),
    )
    assert rows[patients[1]][0] == "high"
    assert rows[patients[1]][1:] == (render(after, "en"), None, None)
