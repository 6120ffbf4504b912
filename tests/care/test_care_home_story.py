"""A patient at home end to end (issue 21's done-when): through the commands only, a heart
failure patient is admitted to a remote-monitoring ward with a home gateway, their care plan is
set (a dry weight, a weighing window a few seconds from now), a virtual scale on bumble's
virtual radio is registered and assigned; the real edge agent, provisioned from the registry,
connects to it; the real ingest worker stores what it sends; the real analytics service judges
the stored readings. The weighing window ends with no weight: a low adherence alert. Then the
scale sends 81.8 kg, 3.3 kg above the dry weight: a weight-gain alert, while the (late) weight
leaves the adherence alert open.

The plan's window is real time: it opens 8 s after the plan is set and lasts 12 s, in a
fixed-offset zone where it is midday now (no day boundary to cross), so nothing is stamped in
the past and no clock is faked.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nabd.app.stack.testing import RunningStack
from tests.care.agent_kit import agent_from, serving
from tests.care.care_kit import CareCli, token
from tests.edge.agent_harness import eventually, pending, running
from tests.edge.virtual_peripherals import VirtualWorld
from tests.ingest.ingest_kit import IngestDb
from tests.monitor.monitor_kit import alerts, monitor_database, zone_where_it_is
from tests.monitor.monitor_kit import running as analytics_running
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration

SCALE = "F0:0C:A2:E0:00:5C"
OPENS_IN_S, LASTS_S = 8, 12


def _open(ingest_db: IngestDb, patient: str) -> dict[str, tuple[Any, ...]]:
    return {
        str(r[0]): r
        for r in ingest_db.query(
            "SELECT condition, priority, message, state FROM alert"
            " WHERE patient_id = %s AND state <> 'resolved'",
            (patient,),
        )
    }


def _window(zone: str) -> str:
    """Today's weighing window in the plan's zone: opens in OPENS_IN_S, lasts LASTS_S."""
    start = datetime.now(ZoneInfo(zone)) + timedelta(seconds=OPENS_IN_S)
    end = start + timedelta(seconds=LASTS_S)
    slot = {"kind": "weight", "name": "now", "start": f"{start:%H:%M:%S}", "end": f"{end:%H:%M:%S}"}
    return f"schedule={json.dumps([slot])}"


@pytest.mark.usefixtures("worker")
def test_a_patient_at_home_misses_a_weighing_then_gains_weight(
    nabd_stack: RunningStack,
    care_url: str,
    ingest_db: IngestDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    ward, gateway, scale = f"remote-hf-{t}", f"gw-home-{t}", f"scale-{t}"

    nabd = CareCli(capsys, care_url)

    nabd("ward", "add", ward, "--name", "Remote monitoring, heart failure")
    nabd("gateway", "add", gateway, "--ward", ward)
    patient = nabd(*f"patient admit --ward {ward} --home-gateway {gateway} --mrn M{t}".split(),
                   "--name", "Amina Ben Salah").strip()  # fmt: skip
    nabd("device", "add", scale, "--kind", "scale", "--address", SCALE)
    nabd("device", "assign", scale, patient)
    zone = zone_where_it_is(12)
    nabd(*f"careplan set {patient} --programme heart_failure --set timezone={zone}".split(),
         "--set", "weight.dry_weight_kg=78.5", "--set", "adherence.misses_before_alert=1",
         "--set", _window(zone), "--reason", "discharged home after decompensation",
         by="Dr Haddad")  # fmt: skip
    monitor_db = monitor_database(nabd_stack, ingest_db.owner_url)

    async def scenario() -> None:
        async with VirtualWorld.running() as world:
            peripheral = await world.add("weight_scale", SCALE, "scale")
            out = tmp_path / gateway
            nabd(*f"gateway provision {gateway} --out {out} --data-dir data".split(),
                 "--bumble", world.transport_spec,
                 "--state-dir", str(nabd_stack.state_dir))  # fmt: skip
            async with running(agent_from(out / "edge.toml")) as agent:
                await serving(agent, scale)
                await peripheral.wait_subscribed()
                # No weight in the window: the adherence alert once it has ended.
                found = await asyncio.to_thread(
                    wait_until,
                    lambda: "adherence_weight" in _open(ingest_db, patient),
                    "a low adherence alert when the weighing window ends",
                    OPENS_IN_S + LASTS_S + 15,
                )
                assert found
                await peripheral.send_weight(81.8)
                await asyncio.to_thread(
                    wait_until,
                    lambda: "weight_gain" in _open(ingest_db, patient),
                    "a weight-gain alert from the scale's reading",
                )
                await eventually(
                    lambda: agent.sender is not None and not agent.sender.window.in_flight,
                    "the batch acknowledged",
                )
                assert await pending(agent) == 0

    with analytics_running(nabd_stack, monitor_db, home_every_s=1.0) as monitor:
        asyncio.run(scenario())
        assert monitor.service.home.runs >= 2
    stored = ingest_db.query(
        "SELECT o.patient_id, o.gateway_id, o.value FROM observation o"
        " JOIN metric m ON m.id = o.metric_id WHERE o.device_id = %s AND m.key = 'body_weight'",
        (scale,),
    )
    assert stored == [(patient, gateway, 81.8)]
    opened = _open(ingest_db, patient)
    assert set(opened) == {"adherence_weight", "weight_gain"}  # the late weight did not count
    assert opened["adherence_weight"][1:3] == (
        "low",
        "Weight not measured as planned, missed in a row: 1",
    )
    assert opened["weight_gain"][1] == "medium"
    assert opened["weight_gain"][2] == "Weight gain: 3.3 kg"
    assert [a[0] for a in alerts(monitor_db, patient)] == ["adherence_weight", "weight_gain"]
