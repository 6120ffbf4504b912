"""Helpers of the analytics service tests: a migrated database, patients, observations stored
exactly as ingest stores them (rows plus a hand-off journal entry and its NOTIFY, through
``nabd.ingest.handoff.record_commit``), and the service run in-process on a thread. What every
service's tests share (waits, names, the database) is in ``tests/stack_kit.py``.

Every wait polls with a deadline (:func:`wait_until`); nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from nabd.analytics.service.config import EngineConfig
from nabd.analytics.service.registry import Registry
from nabd.analytics.service.service import MonitorService
from nabd.analytics.service.settings import MonitorSettings
from nabd.analytics.service.source import load_registry
from nabd.app.stack.testing import RunningStack
from nabd.ingest.handoff import record_commit
from tests.stack_kit import ServiceDb, token, wait_until


class MonitorDb(ServiceDb):
    """The module's database: the owner's URL and the analytics login's URL to it."""

    @property
    def analytics_url(self) -> str:
        return self.service_url


def monitor_database(stack: RunningStack, fresh_url: str) -> MonitorDb:
    """Migrate the module's fresh database; the analytics login's URL points at it too."""
    return MonitorDb.migrated(stack, fresh_url, "analytics")


def admit(
    db: MonitorDb,
    patient: str,
    *,
    ward: str = "w1",
    scale2: bool = False,
    gateway: str | None = None,
) -> str:
    """A ward, a patient, and (optionally) a gateway with one device assigned to the patient."""
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO ward (id, name) VALUES (%s, 'Ward') ON CONFLICT DO NOTHING", (ward,)
        )
        conn.execute(
            "INSERT INTO patient (id, ward_id, news2_scale2) VALUES (%s, %s, %s)",
            (patient, ward, scale2),
        )
        device = f"dev-{patient}"
        gateway = gateway or f"gw-{patient}"
        conn.execute(
            "INSERT INTO gateway (id, ward_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (gateway, ward),
        )
        conn.execute(
            "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'test')", (device, gateway)
        )
        conn.execute(
            """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
               VALUES (%s, %s, tstzrange(now() - interval '1 day', NULL), 'test')""",
            (device, patient),
        )
    return patient


Reading = tuple[str, str, datetime, float | None, Sequence[str]]
"""(patient, metric key, time, value, quality flags)."""

_SEQ = iter(range(1, 1 << 62))


def store(db: MonitorDb, readings: Sequence[Reading], worker: str = "test") -> float:
    """Store readings the way an ingest flush does: rows and a journal entry, one commit.

    Returns ``time.monotonic()`` right after the COMMIT returned.
    """
    with psycopg.connect(db.owner_url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value,
                                            quality, received_at, gateway_id)
                   VALUES (%s, %s, %s, (SELECT id FROM metric WHERE key = %s), %s, %s, %s, %s,
                           %s)""",
                [
                    (t, p, f"dev-{p}", m, next(_SEQ), v, list(q), t, f"gw-{p}")
                    for p, m, t, v, q in readings
                ],
            )
        record_commit(
            conn,
            worker,
            rows_stored=len(readings),
            patients=sorted({r[0] for r in readings}),
            first_time=min(r[2] for r in readings),
            last_time=max(r[2] for r in readings),
        )
        conn.commit()
        return time.monotonic()


def now() -> datetime:
    return datetime.now(UTC)


def ago(seconds: float) -> datetime:
    return now() - timedelta(seconds=seconds)


def settings(stack: RunningStack, db: MonitorDb, **overrides: Any) -> MonitorSettings:
    env = stack.env
    values: dict[str, Any] = {
        "database_url": db.analytics_url,
        "mqtt_host": env["NABD_MQTT_HOST"],
        "mqtt_port": int(env["NABD_MQTT_PORT"]),
        "mqtt_ca_file": env["NABD_MQTT_CA_FILE"],
        "mqtt_username": env["NABD_ANALYTICS_MQTT_USERNAME"],
        "mqtt_password": env["NABD_ANALYTICS_MQTT_PASSWORD"],
        "mqtt_cert_file": env["NABD_ANALYTICS_MQTT_CERT_FILE"],
        "mqtt_key_file": env["NABD_ANALYTICS_MQTT_KEY_FILE"],
        "mqtt_client_id": f"nabd-analytics-test-{token()}",
        "tick_s": 0.2,
        "min_tick_s": 0.0,
        "registry_s": 0.5,
        "warmup_s": 600.0,
    }
    values.update(overrides)
    return MonitorSettings(**values)


class RunningMonitor:
    """A :class:`MonitorService` on its own thread and event loop; ``stop()`` ends it cleanly."""

    def __init__(self, service: MonitorService) -> None:
        self.service = service
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self.service.run(self._stop))
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self._loop.close()

    def wait_ready(self) -> None:
        wait_until(lambda: self.service.ready.is_set() or self.error, "the service to start")
        if self.error is not None:
            raise self.error

    def stop(self, timeout_s: float = 15.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the service did not stop"
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def running(
    stack: RunningStack, db: MonitorDb, config: EngineConfig | None = None, **overrides: Any
) -> Iterator[RunningMonitor]:
    monitor = RunningMonitor(MonitorService(settings(stack, db, **overrides), config))
    try:
        monitor.wait_ready()
        yield monitor
    finally:
        monitor.stop()


def alerts(db: MonitorDb, patient: str) -> list[tuple[Any, ...]]:
    """(condition, state, priority, escalation_level, latched, id) of a patient's alerts."""
    return db.query(
        """SELECT condition, state, priority, escalation_level, latched, id FROM alert
           WHERE patient_id = %s ORDER BY raised_at, condition""",
        (patient,),
    )


def audit(db: MonitorDb, alert_id: Any) -> list[tuple[str, str]]:
    """(actor, action) of an alert's audit entries, in order."""
    return [
        (str(a), str(b))
        for a, b in db.query(
            "SELECT actor, action FROM audit_log WHERE subject = %s ORDER BY seq",
            (f"alert:{alert_id}",),
        )
    ]


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset IANA zone (``Etc/GMT±N``) where the local time now is ``hour``:xx, so a
    test of daily schedules never straddles local midnight whenever it runs."""
    offset = (hour - now().hour) % 24
    if offset > 14:
        offset -= 24
    # POSIX-style names: Etc/GMT-3 is three hours *east* of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def set_care_plan(db: MonitorDb, patient: str, plan: Any, *, started_ago_s: float = 0.0) -> None:
    """Store a care plan as ``nabd careplan set`` does (``plan``: a CarePlan), enrolled
    ``started_ago_s`` ago (a patient on the programme for days, without waiting days)."""
    with db.connect() as conn:
        conn.execute(
            """INSERT INTO care_plan (patient_id, plan, programmes, set_by, started_at)
               VALUES (%s, %s::jsonb, %s, 'test', now() - make_interval(secs => %s))
               ON CONFLICT (patient_id) DO UPDATE SET plan = EXCLUDED.plan""",
            (patient, plan.model_dump_json(), [p.value for p in plan.programmes], started_ago_s),
        )


def analytics_process(
    stack: RunningStack,
    db: MonitorDb,
    log: Path,
    *,
    tick_s: float = 0.2,
    worker_id: str | None = None,
    **env: str,
) -> subprocess.Popen[bytes]:
    """``nabd analytics run`` as a real process (its log in ``log``); ``env`` adds variables."""
    variables = {
        **os.environ,
        **stack.env,
        "NABD_ANALYTICS_DATABASE_URL": db.analytics_url,
        "NABD_ANALYTICS_REGISTRY_S": "0.5",
        **env,
    }
    command = [sys.executable, "-m", "nabd.app.cli", "analytics", "run", "--tick", str(tick_s)]
    if worker_id is not None:
        command += ["--worker-id", worker_id]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=variables, stdout=out, stderr=out)


def end_process(process: subprocess.Popen[bytes]) -> None:
    """Resume (if stopped) and terminate a process; kill it if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


async def registry_of_every_ward(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> Registry:
    """The registry as the analytics service reads it, for a worker holding every ward."""
    wards = await (await conn.execute("SELECT id FROM ward")).fetchall()
    return await load_registry(conn, [str(w[0]) for w in wards])
