"""An overloaded pipeline, in the real database, through the running analytics service: every
reading is stored 20 s after it was taken. The ward's lease row and the ticks say how late
(``readings_delay_s``, ``readings_delay_ms``, migration 0153), no patient gets ``stale_data``
for it; once readings stop arriving at all, the delay is forgotten and the silence is alarmed."""

from __future__ import annotations

import time

import pytest

from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import MonitorDb, admit, ago, alerts, running, store
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

LATE_S = 20.0


def _delay(db: MonitorDb, ward: str) -> float | None:
    rows = db.query("SELECT readings_delay_s FROM analytics_lease WHERE ward_id = %s", (ward,))
    return None if not rows or rows[0][0] is None else float(rows[0][0])


def test_late_readings_are_one_delay_for_the_ward_not_an_alarm_per_patient(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    ward = f"w-late-{token()}"
    patients = [admit(monitor_db, f"p-late-{token()}", ward=ward) for _ in range(3)]
    with running(nabd_stack, monitor_db, tick_s=0.5, min_tick_s=0.05) as monitor:
        ended = time.monotonic() + 14.0
        while time.monotonic() < ended:
            taken = ago(LATE_S)
            vitals = (("heart_rate", 72.0 + int(time.monotonic()) % 3), ("spo2", 97.0))
            store(monitor_db, [(p, m, taken, v, ()) for p in patients for m, v in vitals])
            time.sleep(0.5)
        delay = _delay(monitor_db, ward)
        assert delay is not None
        assert LATE_S - 1 <= delay <= LATE_S + 3, delay
        ticks = monitor_db.query(
            "SELECT max(readings_delay_ms) FROM analytics_tick WHERE time > now() - interval '5 s'"
        )
        assert ticks[0][0] is not None
        assert ticks[0][0] >= (LATE_S - 1) * 1000
        for p in patients:  # 20 s of silence each, yet data arrives: no "monitoring interrupted"
            assert [a[0] for a in alerts(monitor_db, p)] == [], alerts(monitor_db, p)
        # Nothing arrives any more: within the 10-s window the delay is gone, the silence alarmed.
        wait_until(lambda: _delay(monitor_db, ward) is None, "the delay to be forgotten", 15.0)
        wait_until(
            lambda: all(any(a[0] == "stale_data" for a in alerts(monitor_db, p)) for p in patients),
            "stale_data for every silent patient",
            10.0,
        )
        assert monitor.service.stats.samples >= len(patients) * 2 * 20
