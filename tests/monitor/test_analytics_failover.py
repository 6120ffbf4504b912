"""Analytics without a single point of failure (issue 22, item 1), with real processes.

Two ``nabd analytics run`` workers share two wards by leases in the database: the first holds
both, the second joins and takes one (the gentle rebalance hands a ward over with its alerts);
then the owner of a ward is killed with ``kill -9`` while an alert is open there (one of them
acknowledged) and a second condition is building up. The survivor must take the ward within
5 s (measured: lease expiry + one tick + adoption), continue the open alerts from the database
(same rows, the acknowledgement kept) and raise the building condition once: every alert of
the scenario is counted in the database, none lost, none doubled.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nabd.analytics.service import actions
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import (
    MonitorDb,
    admit,
    analytics_process,
    end_process,
    now,
    store,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

TICK_S = 0.5
LEASE_S = 3.0
SILENCE_S = 7.0
"""Longer than a takeover, so the silence ends under the new owner."""
TAKEOVER_BOUND_S = 5.0
"""The issue's bound: a killed worker's wards tick again under another worker within 5 s."""


def _holders(db: MonitorDb) -> dict[str, tuple[str, bool, Any]]:
    """ward -> (worker, lease live, ticked_at)."""
    rows = db.query(
        "SELECT ward_id, worker_id, expires_at > clock_timestamp(), ticked_at FROM analytics_lease"
    )
    return {str(w): (str(k), bool(live), t) for w, k, live, t in rows}


def _held_by(db: MonitorDb, worker: str) -> set[str]:
    return {w for w, (k, live, t) in _holders(db).items() if k == worker and live and t}


def _rows(db: MonitorDb, patient: str, condition: str) -> list[tuple[Any, ...]]:
    """Every alert row (open or not) of one patient and condition: (id, state)."""
    return db.query(
        "SELECT id, state FROM alert WHERE patient_id = %s AND condition = %s ORDER BY raised_at",
        (patient, condition),
    )


def _takeover(workers: Workers, signum: signal.Signals, ward: str) -> float:
    """Signal worker b (``ward``'s owner); return the seconds until worker a has committed a
    tick of ``ward``."""
    db, heir = workers.db, workers.ids["a"]
    before = db.query("SELECT clock_timestamp()")[0][0]
    workers.processes["b"].send_signal(signum)
    started = time.monotonic()
    wait_until(
        lambda: (
            (h := _holders(db).get(ward)) and h[0] == heir and h[2] is not None and h[2] > before
        ),
        f"worker {heir} ticking ward {ward}",
        timeout_s=TAKEOVER_BOUND_S + 15,
    )
    return time.monotonic() - started


def _wait_rows(
    db: MonitorDb, patient: str, condition: str, timeout_s: float = 15
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = wait_until(
        lambda: _rows(db, patient, condition), f"{condition} of {patient}", timeout_s
    )
    return rows


def _raised_audits(db: MonitorDb, alert_id: Any) -> int:
    rows = db.query(
        "SELECT count(*) FROM audit_log WHERE subject = %s AND action = 'alert_raised'",
        (f"alert:{alert_id}",),
    )
    return int(rows[0][0])


class Feeder:
    """Stores one low SpO2 per patient every half second, as ingest would, until stopped."""

    def __init__(self, db: MonitorDb, patients: list[str]) -> None:
        self._db, self._patients = db, patients
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            store(self._db, [(p, "spo2", now(), 85.0, ()) for p in self._patients])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


class Workers:
    """The test's ``nabd analytics run`` processes, ``a`` and ``b``, with their ids and logs."""

    def __init__(self, stack: RunningStack, db: MonitorDb, folder: Path) -> None:
        self._stack, self.db, self.folder = stack, db, folder
        self.ids = {name: f"{name}-{token()}" for name in ("a", "b")}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        self.processes[name] = analytics_process(
            self._stack,
            self.db,
            self.folder / f"{name}.log",
            tick_s=TICK_S,
            worker_id=self.ids[name],
            NABD_ANALYTICS_LEASE_S=str(LEASE_S),
        )

    def held(self, name: str) -> set[str]:
        return _held_by(self.db, self.ids[name])

    def one_ward_each(self) -> None:
        wait_until(lambda: len(self.held("a")) == len(self.held("b")) == 1, "one ward each", 30)


@pytest.fixture
def workers(nabd_stack: RunningStack, monitor_db: MonitorDb, tmp_path: Path) -> Iterator[Workers]:
    """Ended afterwards, and the module's patients discharged, so the next test's workers
    share only its own wards."""
    made = Workers(nabd_stack, monitor_db, tmp_path)
    yield made
    for process in made.processes.values():
        end_process(process)
    monitor_db.execute("UPDATE patient SET discharged_at = now() WHERE discharged_at IS NULL")
    for log in sorted(tmp_path.glob("*.log")):
        print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")


def test_a_killed_workers_wards_move_within_5_s_with_no_alert_lost_or_doubled(
    monitor_db: MonitorDb, workers: Workers
) -> None:
    wards = sorted(f"fo{n}-{token()}" for n in range(2))
    bp = {w: admit(monitor_db, f"p-fo-bp-{token()}", ward=w) for w in wards}
    low_spo2 = {w: admit(monitor_db, f"p-fo-sp-{token()}", ward=w) for w in wards}

    # One worker alone holds every ward (no configuration) and raises two alerts; a nurse
    # acknowledges one.
    workers.start("a")
    wait_until(lambda: workers.held("a") == set(wards), "worker a on both wards")
    store(monitor_db, [(bp[w], "systolic_bp", now(), 82.0, ()) for w in wards])
    alerts = {w: _wait_rows(monitor_db, bp[w], "systolic_bp_low") for w in wards}
    with monitor_db.connect() as conn:
        actions.acknowledge(conn, alerts[wards[1]][0][0], "nurse-fo")
    wait_until(
        lambda: monitor_db.query("SELECT 1 FROM alert_action WHERE applied_at IS NOT NULL"),
        "the acknowledgement applied",
    )

    # A second worker joins and takes one ward (handed over with its open alert).
    joined = time.monotonic()
    workers.start("b")
    workers.one_ward_each()
    rebalance_s = time.monotonic() - joined

    # A condition builds up in both wards (SpO2 low must hold 10 s), then the owner of the ward
    # that moved is killed.
    (moved,) = workers.held("b")
    feeder = Feeder(monitor_db, list(low_spo2.values()))
    try:
        time.sleep(2.0)
        takeover_s = _takeover(workers, signal.SIGKILL, moved)
        print(f"\nrebalance after a join: {rebalance_s:.2f} s; takeover after kill -9: "
              f"{takeover_s:.2f} s (lease {LEASE_S} s, tick {TICK_S} s)")  # fmt: skip
        assert takeover_s <= TAKEOVER_BOUND_S, f"ward moved after {takeover_s:.1f} s"
        raised = {w: _wait_rows(monitor_db, low_spo2[w], "spo2_low", 30) for w in wards}
        time.sleep(4 * TICK_S)  # a few more ticks: nothing may be raised again
    finally:
        feeder.stop()

    # Every alert of the scenario exactly once: the open ones continued (same row, the
    # acknowledgement kept), the one that built up across the kill raised once.
    for ward in wards:
        state = "acknowledged" if ward == wards[1] else "raised"
        assert _rows(monitor_db, bp[ward], "systolic_bp_low") == [(alerts[ward][0][0], state)]
        assert _rows(monitor_db, low_spo2[ward], "spo2_low") == [(raised[ward][0][0], "raised")]
        for alert_id in (alerts[ward][0][0], raised[ward][0][0]):
            assert _raised_audits(monitor_db, alert_id) == 1
    assert workers.held("a") == set(wards)
    assert workers.processes["a"].poll() is None


def _audits(db: MonitorDb, alert_id: Any) -> list[str]:
    rows = db.query(
        "SELECT action FROM audit_log WHERE subject = %s ORDER BY seq", (f"alert:{alert_id}",)
    )
    return [str(r[0]) for r in rows]


def test_a_hung_worker_loses_its_ward_and_once_resumed_writes_nothing_for_it(
    monitor_db: MonitorDb, workers: Workers
) -> None:
    """SIGSTOP, not kill: the process keeps its connections. Its lease expires all the same and
    the other worker takes the ward; the change due meanwhile (a nurse's silence ending) is
    written by the new owner alone: the resumed worker, whose memory still holds the silence, is
    fenced (unfenced, it would end the silence a second time, audit included)."""
    wards = sorted(f"fh{n}-{token()}" for n in range(2))
    patients = {w: admit(monitor_db, f"p-fh-{token()}", ward=w) for w in wards}
    workers.start("a")
    workers.start("b")
    workers.one_ward_each()
    (ward,) = workers.held("b")
    patient = patients[ward]
    store(monitor_db, [(patient, "systolic_bp", now(), 82.0, ())])
    ((alert_id, _),) = _wait_rows(monitor_db, patient, "systolic_bp_low")
    with monitor_db.connect() as conn:
        actions.silence(conn, alert_id, "nurse-fh", SILENCE_S)
    wait_until(
        lambda: monitor_db.query(
            "SELECT 1 FROM alert_action WHERE alert_id = %s AND applied_at IS NOT NULL",
            (alert_id,),
        ),
        "the silence applied by worker b",
    )

    takeover_s = _takeover(workers, signal.SIGSTOP, ward)
    print(f"\ntakeover after SIGSTOP: {takeover_s:.2f} s")
    assert takeover_s <= TAKEOVER_BOUND_S, f"ward moved after {takeover_s:.1f} s"

    # The silence ends under the new owner.
    wait_until(
        lambda: "alert_silence_ended" in _audits(monitor_db, alert_id),
        "the silence ended by worker a",
        timeout_s=SILENCE_S + 10,
    )

    # The hung worker wakes with its old view of the alert: silenced, the silence now over.
    workers.processes["b"].send_signal(signal.SIGCONT)
    wait_until(lambda: workers.held("b"), "worker b back with a share", timeout_s=30)
    time.sleep(4 * TICK_S)
    assert _audits(monitor_db, alert_id) == [
        "alert_raised",
        "alert_silenced",
        "alert_silence_ended",
    ]
    assert monitor_db.query(
        "SELECT state, silenced_until FROM alert WHERE patient_id = %s", (patient,)
    ) == [("raised", None)]
    assert all(p.poll() is None for p in workers.processes.values())
