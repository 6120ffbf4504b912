"""Patients at home in the analytics service, against the real database and broker: a stored
care plan makes a patient a home patient; their stored spot readings raise the home rules'
alerts (weight gain, SpO2, adherence) in the ward's ``alert`` table with its audit, no ward
condition fires on a spot reading, a restart neither duplicates nor loses an open home alert,
and a normal reading resolves one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nabd.analytics.alerts import HIGH, AlertPolicy
from nabd.analytics.arrays import NS_PER_S
from nabd.analytics.service.conditions import NAMES, column
from nabd.analytics.service.config import NO_ESCALATION, EngineConfig
from nabd.analytics.service.home import ARRIVAL_GAP_S, HomePatients
from nabd.app.stack.testing import RunningStack
from nabd.contract.careplan import Programme, default_plan
from tests.monitor.monitor_kit import (
    MonitorDb,
    admit,
    alerts,
    audit,
    now,
    running,
    set_care_plan,
    store,
    zone_where_it_is,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

DAY_S = 86_400.0
CONFIG = EngineConfig(
    policy=AlertPolicy(
        conditions=NAMES,
        resolve_after_s=0.5,
        escalate_after_s=(1800.0, 600.0, 180.0, 60.0),
        max_level=3,
        latch_priority=HIGH,
    )
)


def _open(db: MonitorDb, patient: str) -> dict[str, tuple[Any, ...]]:
    return {a[0]: a for a in alerts(db, patient) if a[1] != "resolved"}


def test_a_heart_failure_patient_at_home_from_missed_weighings_to_a_weight_gain(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-home-{token()}", ward="remote-hf")
    # 15:xx local: the morning windows (05:00-11:00) of yesterday and today are over, unweighed.
    plan = default_plan([Programme.HEART_FAILURE], timezone=zone_where_it_is(15))
    plan = plan.with_changes({"weight": {"dry_weight_kg": 78.5}})
    set_care_plan(monitor_db, patient, plan, started_ago_s=1.5 * DAY_S)
    with running(nabd_stack, monitor_db, CONFIG, home_every_s=0.5) as monitor:
        found = wait_until(
            lambda: (
                {"adherence_weight", "adherence_blood_pressure"}
                <= _open(monitor_db, patient).keys()
                or None
            ),
            "adherence alerts for the two missed mornings",
        )
        assert found
        opened = _open(monitor_db, patient)
        assert opened["adherence_weight"][2] == "low"
        message = monitor_db.query(
            "SELECT message FROM alert WHERE id = %s", (opened["adherence_weight"][5],)
        )[0][0]
        assert message == "Weight not measured as planned, missed in a row: 2"
        # The scale's first weight of the day: 81.8 kg, 3.3 kg above the dry weight.
        store(monitor_db, [(patient, "body_weight", now(), 81.8, ())])
        wait_until(lambda: "weight_gain" in _open(monitor_db, patient), "a weight-gain alert")
        gain = _open(monitor_db, patient)["weight_gain"]
        assert gain[2] == "medium"
        assert audit(monitor_db, gain[5]) == [("nabd-analytics", "alert_raised")]
        # A late weight is not the planned one: the adherence alert stays open. No ward
        # condition (no data, stale data, NEWS2) for a patient at home.
        assert set(_open(monitor_db, patient)) == {
            "adherence_weight",
            "adherence_blood_pressure",
            "weight_gain",
        }
        assert monitor.service.home.runs >= 2
    before = alerts(monitor_db, patient)
    # A restart: the open alerts are restored and judged again at once, none raised twice.
    with running(nabd_stack, monitor_db, CONFIG, home_every_s=0.5) as monitor:
        wait_until(lambda: monitor.service.home.runs >= 3, "three home runs after the restart")
        assert alerts(monitor_db, patient) == before


def test_a_copd_patient_s_low_spot_spo2_is_raised_and_resolved_by_a_normal_one(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-copd-{token()}", ward="remote-copd")
    plan = default_plan([Programme.COPD], timezone=zone_where_it_is(15))
    set_care_plan(monitor_db, patient, plan)  # enrolled now: nothing missed yet
    with running(nabd_stack, monitor_db, CONFIG, home_every_s=0.5) as monitor:
        store(monitor_db, [(patient, "spo2", now(), 85.0, ())])  # COPD target: 88 %
        wait_until(lambda: "spo2_low" in _open(monitor_db, patient), "a low SpO2 spot alert")
        assert _open(monitor_db, patient)["spo2_low"][2] == "medium"
        store(monitor_db, [(patient, "spo2", now(), 91.0, ())])
        wait_until(lambda: not _open(monitor_db, patient), "resolved by a reading in range")
        assert [(a[0], a[1]) for a in alerts(monitor_db, patient)] == [("spo2_low", "resolved")]
        assert monitor.service.home.runs >= 2


def test_a_ward_patient_without_a_plan_is_judged_as_before(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    patient = admit(monitor_db, f"p-ward-{token()}")
    with running(nabd_stack, monitor_db, CONFIG, home_every_s=0.5):
        store(monitor_db, [(patient, "systolic_bp", now(), 80.0, ())])
        wait_until(lambda: "systolic_bp_low" in _open(monitor_db, patient), "the ward's alert")
        assert "bp_low" not in _open(monitor_db, patient)  # no home rule without a plan


def test_new_home_readings_are_judged_within_seconds_but_not_at_every_tick() -> None:
    home = HomePatients(every_s=60.0)
    assert home.due(0, np.zeros(0, np.int64))  # never judged this session
    home.judged_at, home.rows = 10 * NS_PER_S, np.array([3, 7], np.int64)
    mine, other = np.array([7], np.int64), np.array([4], np.int64)
    at = home.judged_at + round(ARRIVAL_GAP_S * NS_PER_S)
    assert not home.due(at - 1, mine)  # a reading just after a run waits for the gap
    assert home.due(at, mine)
    assert not home.due(at, other)  # a ward patient's reading judges no one at home
    assert home.due(home.judged_at + 60 * NS_PER_S, other)  # the cadence: adherence windows
    home.reset()
    assert home.due(at - 1, other)


def test_a_missed_measurement_never_escalates_a_clinical_home_alert_does() -> None:
    escalating = EngineConfig().policy.escalating
    for kind in ("weight", "blood_pressure", "glucose", "spo2"):
        assert not escalating[column(f"adherence_{kind}")]
    assert not escalating[column("home_gateway_offline")]
    assert escalating[column("gateway_offline")]  # a bedside gateway's silence still does
    assert escalating[column("weight_gain")]
    assert escalating[column("glucose_low")]
    assert escalating[column("news2")]


# Every condition escalates after 1 s unacknowledged, except those the service never escalates.
FAST_ESCALATION = EngineConfig(
    policy=AlertPolicy(
        conditions=NAMES,
        resolve_after_s=0.5,
        escalate_after_s=(1.0, 1.0, 1.0, 1.0),
        max_level=3,
        latch_priority=HIGH,
        escalates=[name not in NO_ESCALATION for name in NAMES],
    )
)


def _message(db: MonitorDb, alert_id: Any) -> str:
    return str(db.query("SELECT message FROM alert WHERE id = %s", (alert_id,))[0][0])


def test_a_home_gateway_silent_for_13_hours_is_one_low_call_that_never_escalates(
    nabd_stack: RunningStack, monitor_db: MonitorDb
) -> None:
    """A heart-failure patient at home whose box was unplugged 13 h ago (02:xx local, before
    this morning's window): a low ``home_gateway_offline`` naming the gateway, no ward
    ``gateway_offline``, the two missed mornings' adherence alerts saying the gateway was
    silent; a low SpO2 spot reading escalates, the gateway alert does not; the gateway heard
    again resolves it."""
    patient = admit(monitor_db, f"p-box-{token()}", ward="remote-hf")
    gateway = f"gw-{patient}"
    monitor_db.execute("UPDATE patient SET home_gateway_id = %s WHERE id = %s", (gateway, patient))
    monitor_db.execute(
        """UPDATE gateway SET last_status = 'offline',
                              last_seen_at = now() - interval '13 hours' WHERE id = %s""",
        (gateway,),
    )
    plan = default_plan([Programme.HEART_FAILURE], timezone=zone_where_it_is(15))
    set_care_plan(monitor_db, patient, plan, started_ago_s=1.5 * DAY_S)
    with running(nabd_stack, monitor_db, FAST_ESCALATION, home_every_s=0.5) as monitor:
        wanted = {"home_gateway_offline", "adherence_weight", "adherence_blood_pressure"}
        wait_until(lambda: wanted <= _open(monitor_db, patient).keys() or None,
                   "the gateway alert and the adherence alerts")  # fmt: skip
        opened = _open(monitor_db, patient)
        assert set(opened) == wanted  # no ward gateway_offline, no stale or no data
        box = opened["home_gateway_offline"]
        assert (box[2], box[3]) == ("low", 0)
        assert _message(monitor_db, box[5]) == f"Home gateway not heard from for 13 h: {gateway}"
        assert _message(monitor_db, opened["adherence_weight"][5]) == (
            "Weight not measured as planned, missed in a row: 2 (home gateway silent, readings "
            "may be waiting in the devices)"
        )
        # A clinical home alert escalates after 1 s unacknowledged; the box's silence does not.
        store(monitor_db, [(patient, "spo2", now(), 85.0, ())])
        wait_until(lambda: (_open(monitor_db, patient).get("spo2_low") or (0,) * 4)[3] >= 1,
                   "the low SpO2 escalated")  # fmt: skip
        box = _open(monitor_db, patient)["home_gateway_offline"]
        assert (box[2], box[3]) == ("low", 0)
        assert _open(monitor_db, patient)["adherence_weight"][3] == 0
        # The box plugged in again: its first online status resolves the gateway alert.
        monitor_db.execute(
            "UPDATE gateway SET last_status = 'online', last_seen_at = now() WHERE id = %s",
            (gateway,),
        )
        wait_until(lambda: "home_gateway_offline" not in _open(monitor_db, patient),
                   "the gateway alert resolved")  # fmt: skip
        assert audit(monitor_db, box[5]) == [
            ("nabd-analytics", "alert_raised"),
            ("nabd-analytics", "alert_resolved"),
        ]
        assert monitor.service.home.runs >= 2
