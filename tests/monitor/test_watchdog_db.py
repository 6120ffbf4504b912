"""The watchdog's passes against the real database, under the ingest login, without processes:
several watchdogs raise each alert once, a held alert lock delays a pass but does not hang it,
a discharge or a consent withdrawal ends the alert (and the watchdog leaves a withdrawn
patient alone), and the ingest login can touch no other alert."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from nabd.app.stack.testing import RunningStack
from nabd.care.consents import COLLECTION_SCOPE, record_consent, withdraw_consent
from nabd.contract.payloads import Alert, AlertFacts, parse
from nabd.dashboards.i18n import Lang, strings
from nabd.dashboards.macros import QueryContext, Variable, expand
from nabd.dashboards.panels import panel_queries
from nabd.dashboards.registry import build_all
from nabd.ingest.watchdog import ALERT_LOCK, CONDITION, LOCK_TIMEOUT_MS, ChangeKind, Watchdog
from tests.ingest.ingest_kit import IngestDb, ingest_database
from tests.monitor.monitor_kit import MonitorDb, admit
from tests.stack_kit import token

pytestmark = pytest.mark.integration


class Sent:
    """The watchdog's publish seam: what it would put on the broker, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Alert]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, parse(Alert, payload)))


@pytest.fixture(scope="module")
def ingest_db(nabd_stack: RunningStack, monitor_db: MonitorDb, fresh_database: str) -> IngestDb:
    return ingest_database(nabd_stack, fresh_database)


@pytest.fixture
def watchdogs(ingest_db: IngestDb) -> Iterator[list[tuple[Watchdog, Sent]]]:
    made = []
    for _ in range(2):
        sent = Sent()
        dog = Watchdog(
            ingest_db.ingest_url, sent, stale_after_s=5, interval_s=1, statement_timeout_s=10
        )
        made.append((dog, sent))
    yield made
    for dog, _ in made:
        dog.stop(1)


def _tick(db: MonitorDb, seconds_ago: float) -> None:
    """Make analytics' newest tick ``seconds_ago`` old."""
    db.execute("DELETE FROM analytics_tick")
    db.execute(
        "INSERT INTO analytics_tick (time, duration_ms, patients, written_at)"
        " VALUES (now() - make_interval(secs => %s), 1, 0, now() - make_interval(secs => %s))",
        (seconds_ago, seconds_ago),
    )


def _open(db: MonitorDb, patient: str) -> list[tuple[object, ...]]:
    return db.query(
        "SELECT state, latched FROM alert WHERE patient_id = %s AND condition = %s"
        " AND state <> 'resolved'",
        (patient, CONDITION),
    )


def test_two_watchdogs_raise_each_alert_once_and_only_the_writer_publishes(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    ward = f"wdb-{token()}"
    patient = admit(monitor_db, f"p-wdb-{token()}", ward=ward)
    _tick(monitor_db, 60)
    (a, sent_a), (b, sent_b) = watchdogs
    first = a.check()
    assert (ChangeKind.RAISED, patient) in [(c.kind, c.patient_id) for c in first]
    assert [c.patient_id for c in b.check() if c.kind is ChangeKind.RAISED] == []
    assert _open(monitor_db, patient) == [("raised", False)]
    mine = [(t, m) for t, m in sent_a.messages if m.patient_id == patient]
    assert [(t, m.state, m.priority, m.ward_id) for t, m in mine] == [
        (f"nabd/v1/ward/{ward}/alerts", "raised", "high", ward)
    ]
    assert [m for _, m in sent_b.messages if m.patient_id == patient] == []

    _tick(monitor_db, 0)  # analytics is back: latched, then a discharge ends it
    a.check()
    assert _open(monitor_db, patient) == [("raised", True)]
    monitor_db.execute("UPDATE patient SET discharged_at = now() WHERE id = %s", (patient,))
    assert _open(monitor_db, patient) == []
    assert monitor_db.query(
        "SELECT resolved_reason FROM alert WHERE patient_id = %s AND condition = %s",
        (patient, CONDITION),
    ) == [("discharged",)]
    assert [c for c in a.check() if c.patient_id == patient] == []


def test_a_watchdog_alert_reads_in_the_language_of_each_dashboard(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    """The watchdog stores its alert's facts and their sentence in every language (migration
    0130), so the French Grafana dashboards say it in French, as the station does."""
    ward = f"wdf-{token()}"
    patient = admit(monitor_db, f"p-wdf-{token()}", ward=ward)
    _tick(monitor_db, 60)
    dog, sent = watchdogs[0]
    assert (ChangeKind.RAISED, patient) in [(c.kind, c.patient_id) for c in dog.check()]
    ((said, messages, message),) = monitor_db.query(
        "SELECT facts, messages, message FROM alert WHERE patient_id = %s AND condition = %s",
        (patient, CONDITION),
    )
    facts = AlertFacts.model_validate(said, strict=False)
    assert facts.condition == CONDITION
    assert facts.duration_s is not None
    assert 60 <= facts.duration_s < 70
    seconds = math.floor(facts.duration_s)
    assert messages == {
        "fr": f"Surveillance interrompue : analyse des alarmes arrêtée depuis {seconds} s",
        "en": f"Monitoring interrupted: alarm analysis stopped for {seconds} s",
        "ar": f"انقطاع المراقبة: تحليل الإنذارات متوقف منذ {seconds} ثانية",
    }
    assert message.startswith("Monitoring interrupted: alert analysis has not run for")
    ((_, published),) = [(t, m) for t, m in sent.messages if m.patient_id == patient]
    assert published.facts == facts  # readers of the topic render it too
    boards = {b.uid: b for b in build_all()}
    context = QueryContext(
        time_from=datetime.now(UTC) - timedelta(hours=1),
        time_to=datetime.now(UTC),
        interval=timedelta(minutes=1),
        variables={"ward": Variable((ward,), multi=True, include_all=True)},
    )
    for lang in Lang:
        title = strings(lang).table_open_alerts
        query = next(q for q in panel_queries(boards[f"nabd-alerts-{lang}"]) if q.title == title)
        with psycopg.connect(monitor_db.owner_url) as conn:
            conn.execute("GRANT nabd_dashboards TO current_user")  # rolled back below
            conn.execute("SET ROLE nabd_dashboards")
            cur = conn.execute(expand(query.sql, context))
            assert cur.description is not None
            columns = [d.name for d in cur.description]
            rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
            conn.rollback()
        assert [r["message"] for r in rows if r["patient"] == patient] == [messages[lang]]


def test_a_held_alert_lock_fails_the_pass_in_bounded_time_not_for_ever(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    patient = admit(monitor_db, f"p-wdl-{token()}")
    _tick(monitor_db, 60)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # a hung analytics in the middle of its tick transaction
        with psycopg.connect(monitor_db.owner_url) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ALERT_LOCK,))
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        dog, _ = watchdogs[0]
        started = time.monotonic()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            dog.check()
        assert time.monotonic() - started < LOCK_TIMEOUT_MS / 1000 + 3
    finally:
        release.set()
        holder.join(10)
    dog.check()  # the lock is free: the next pass does the work, on the same connection
    assert _open(monitor_db, patient) == [("raised", False)]


def test_the_ingest_login_touches_no_other_alert(
    monitor_db: MonitorDb, ingest_db: IngestDb
) -> None:
    patient = admit(monitor_db, f"p-wdr-{token()}")
    monitor_db.execute(
        "INSERT INTO alert (patient_id, condition, kind, priority, message, raised_at)"
        " VALUES (%s, 'spo2_low', 'physiological', 'high', 'SpO2 low: 85 %%', now())",
        (patient,),
    )
    with psycopg.connect(ingest_db.ingest_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM alert WHERE patient_id = %s AND condition = 'spo2_low'",
            (patient,),
        ).fetchone() == (0,)
        changed = conn.execute(
            "UPDATE alert SET state = 'resolved', resolved_at = now() WHERE patient_id = %s",
            (patient,),
        ).rowcount
        assert changed == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO alert (patient_id, condition, kind, priority, message, raised_at)"
                " VALUES (%s, 'spo2_low', 'physiological', 'high', 'forged', now())",
                (patient,),
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM audit_log")
    assert monitor_db.query(
        "SELECT state FROM alert WHERE patient_id = %s AND condition = 'spo2_low'", (patient,)
    ) == [("raised",)]


def test_with_several_workers_only_the_ward_whose_owner_stopped_is_interrupted(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    """Each ward's age is its lease's newest tick (migration 0100): a worker that stopped, its
    ward not taken over, interrupts that ward only, although another worker's ticks are fresh."""
    live, stopped = f"wdl-{token()}", f"wds-{token()}"
    patients = {w: admit(monitor_db, f"p-{w}", ward=w) for w in (live, stopped)}
    _tick(monitor_db, 0)  # analytics as a whole is ticking
    for ward, age in ((live, 0), (stopped, 60)):
        monitor_db.execute(
            "INSERT INTO analytics_lease (ward_id, worker_id, epoch, acquired_at, expires_at,"
            " ticked_at) VALUES (%s, 'w', 1, now() - interval '1 hour',"
            " now() - make_interval(secs => %s) + interval '3 s',"
            " now() - make_interval(secs => %s))",
            (ward, age, age),
        )
    try:
        dog, sent = watchdogs[0]
        raised = [(c.kind, c.patient_id) for c in dog.check() if c.ward_id in (live, stopped)]
        assert raised == [(ChangeKind.RAISED, patients[stopped])]
        assert _open(monitor_db, patients[live]) == []
        ((_, message),) = [(t, m) for t, m in sent.messages if m.ward_id == stopped]
        assert "has not run for 60 s" in message.message
        # Another worker takes the ward over and ticks: the alert is latched, not resolved.
        monitor_db.execute(
            "UPDATE analytics_lease SET worker_id = 'x', epoch = 2, ticked_at = now()"
            " WHERE ward_id = %s",
            (stopped,),
        )
        dog.check()
        assert _open(monitor_db, patients[stopped]) == [("raised", True)]
    finally:
        monitor_db.execute(
            "DELETE FROM analytics_lease WHERE ward_id = ANY(%s)", ([live, stopped],)
        )


def _consent(db: MonitorDb, patient: str, *, withdraw: bool = False) -> None:
    """Record (or withdraw) the patient's consent to remote-monitoring, as `nabd consent` does."""
    with psycopg.connect(db.owner_url) as conn:
        if withdraw:
            withdraw_consent(conn, patient, scope=COLLECTION_SCOPE, by="Nurse Ines")
        else:
            record_consent(
                conn, patient, scope=COLLECTION_SCOPE, text_version="v1", collected_by="Amal"
            )


def test_a_withdrawal_ends_the_alerts_and_the_watchdog_no_longer_watches_the_patient(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    """Consent withdrawn (docs/consent.md): the patient's open alerts, the watchdog's and a
    clinical one, are resolved with the reason, each audited once; no new interruption is raised
    for them while their neighbour in the ward still gets one."""
    ward = f"wdc-{token()}"
    leaving, staying = (admit(monitor_db, f"p-{ward}-{n}", ward=ward) for n in ("a", "b"))
    _consent(monitor_db, leaving)
    monitor_db.execute(
        "INSERT INTO alert (patient_id, condition, kind, priority, message, raised_at)"
        " VALUES (%s, 'spo2_low', 'physiological', 'high', 'SpO2 low: 85 %%', now())",
        (leaving,),
    )
    _tick(monitor_db, 60)
    (dog, _), _ = watchdogs
    raised = {c.patient_id for c in dog.check() if c.kind is ChangeKind.RAISED}
    assert {leaving, staying} <= raised

    _consent(monitor_db, leaving, withdraw=True)
    rows = monitor_db.query(
        "SELECT id, condition, state, resolved_reason FROM alert WHERE patient_id = %s"
        " ORDER BY condition",
        (leaving,),
    )
    assert [(c, s, r) for _, c, s, r in rows] == [
        (CONDITION, "resolved", "consent_withdrawn"),
        ("spo2_low", "resolved", "consent_withdrawn"),
    ]
    for alert_id, *_ in rows:
        resolved = monitor_db.query(
            "SELECT details->>'reason' FROM audit_log WHERE subject = %s"
            " AND action = 'alert_resolved'",
            (f"alert:{alert_id}",),
        )
        assert resolved == [("consent_withdrawn",)]

    assert [c for c in dog.check() if c.patient_id == leaving] == []
    assert _open(monitor_db, leaving) == []
    # Analytics' "worsened" of an alert it still holds before its registry refresh: skipped.
    monitor_db.execute(
        "UPDATE alert SET state = 'raised', priority = 'critical' WHERE patient_id = %s",
        (leaving,),
    )
    assert monitor_db.query(
        "SELECT DISTINCT state FROM alert WHERE patient_id = %s", (leaving,)
    ) == [("resolved",)]
    assert _open(monitor_db, staying) == [("raised", False)]


def test_a_withdrawn_patient_gets_no_interruption_alert(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    ward = f"wdw-{token()}"
    patient = admit(monitor_db, f"p-{ward}", ward=ward)
    _consent(monitor_db, patient)
    _consent(monitor_db, patient, withdraw=True)
    _tick(monitor_db, 60)
    (dog, sent), _ = watchdogs
    assert [c for c in dog.check() if c.patient_id == patient] == []
    assert _open(monitor_db, patient) == []
    assert [m for _, m in sent.messages if m.patient_id == patient] == []


def test_the_alert_says_what_resumed_and_after_how_long_in_every_language(
    monitor_db: MonitorDb, watchdogs: list[tuple[Watchdog, Sent]]
) -> None:
    """Ticks back: the latched alert's facts and sentences say the analysis resumed and after
    how long it had stopped (from before the raise); stopped again: they say it stopped again;
    resolved once acknowledged: the resolution published carries what resumed, not the raise's
    sentence."""
    ward = f"wdr-{token()}"
    patient = admit(monitor_db, f"p-wdr-{token()}", ward=ward)
    _tick(monitor_db, 60)
    dog, sent = watchdogs[0]
    dog.check()
    said = "SELECT facts, messages, message FROM alert WHERE patient_id = %s AND condition = %s"

    _tick(monitor_db, 0)
    dog.check()
    assert _open(monitor_db, patient) == [("raised", True)]
    ((facts, messages, message),) = monitor_db.query(said, (patient, CONDITION))
    resumed = AlertFacts.model_validate(facts, strict=False)
    assert resumed.duration_s is not None
    assert 60 <= resumed.duration_s < 70  # 60 s stopped before the raise, then one pass
    seconds = math.floor(resumed.duration_s)
    assert messages == {
        "fr": f"Surveillance rétablie : analyse des alarmes relancée après {seconds} s",
        "en": f"Monitoring resumed: alarm analysis running again after {seconds} s",
        "ar": f"استئناف المراقبة: تحليل الإنذارات يعمل من جديد بعد {seconds} ثانية",
    }
    assert message == messages["en"]

    _tick(monitor_db, 30)  # stopped again: unlatched, and it says so
    dog.check()
    assert _open(monitor_db, patient) == [("raised", False)]
    ((facts, messages, _),) = monitor_db.query(said, (patient, CONDITION))
    assert messages["en"].startswith("Monitoring interrupted: alarm analysis stopped for 3")

    _tick(monitor_db, 0)
    dog.check()
    monitor_db.execute(
        "UPDATE alert SET state = 'acknowledged', acknowledged_at = now(),"
        " acknowledged_by = 'nurse-a' WHERE patient_id = %s AND condition = %s"
        " AND state <> 'resolved'",
        (patient, CONDITION),
    )
    dog.check()
    assert _open(monitor_db, patient) == []
    ((facts, messages, _),) = monitor_db.query(said, (patient, CONDITION))
    assert messages["fr"].startswith("Surveillance rétablie : analyse des alarmes relancée après")
    (resolution,) = [
        m for _, m in sent.messages if m.patient_id == patient and m.state == "resolved"
    ]
    assert resolution.facts == AlertFacts.model_validate(facts, strict=False)
    assert resolution.message == messages["en"]
