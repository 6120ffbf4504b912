"""A real ward through the commands only, with real edge agents on bumble's virtual radio, the
real broker and the real ingest worker (which publishes each gateway's device list): two beds
served by two gateways, both provisioned before any device exists and started from their
provisioned folders alone; the strap is heard as a nearby, unassigned device. Admit a patient,
register and assign a virtual heart-rate strap: the first agent connects to it without a
restart and its readings arrive under the patient. Transfer the patient to the bed of the other
gateway: the first agent releases the strap; the second, started only now from its folder
(which lists no device), gets the list retained by the broker, connects to the strap, and its
readings arrive under the patient too. Discharge: the second agent releases it. None lost, none
duplicated, both outboxes empty.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
from nabd.edge.agent import Agent
from tests.care.agent_kit import agent_from, released, serving
from tests.care.care_kit import CareCli, token
from tests.edge.agent_harness import eventually, pending, running
from tests.edge.virtual_peripherals import VirtualWorld
from tests.ingest.ingest_kit import IngestDb
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration

STRAP = "F0:0C:A2:E0:00:01"


def _readings(ingest_db: IngestDb, table: str, device: str) -> list[tuple[object, ...]]:
    patient = "patient_id" if table == "observation" else "NULL"
    return ingest_db.query(
        f"SELECT {patient}, seq, value FROM {table} o JOIN metric m ON m.id = o.metric_id"  # noqa: S608
        " WHERE o.device_id = %s AND m.key = 'heart_rate' ORDER BY seq",
        (device,),
    )


def _nearby(agent: Agent) -> set[str]:
    """Addresses the agent's status would list as heard but not read."""
    reading = {health.address for health in agent.devices.values()}
    return {d.address for d in agent.nearby.report(agent.runtime.clock(), reading)}


@pytest.mark.usefixtures("worker")
def test_a_patient_on_real_gateways_from_admission_to_discharge(
    nabd_stack: RunningStack,
    care_url: str,
    ingest_db: IngestDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    ward, strap = f"w-{t}", f"hr-{t}"
    first, second = f"gw-story-{t}", f"gw-story2-{t}"

    nabd = CareCli(capsys, care_url)

    nabd("ward", "add", ward, "--name", "Cardiology B")
    for bed, gateway in (("1", first), ("2", second)):
        nabd("gateway", "add", gateway, "--ward", ward)
        nabd("ward", "add-beds", ward, bed, "--gateway", gateway)

    async def scenario() -> str:
        async with VirtualWorld.running() as world:
            peripheral = await world.add("heart_rate", STRAP, "strap")

            def provisioned(gateway: str, radio: str) -> Agent:
                out = tmp_path / gateway
                nabd(
                    *f"gateway provision {gateway} --out {out} --data-dir data".split(),
                    *("--bumble", radio, "--state-dir", str(nabd_stack.state_dir)),
                )
                return agent_from(out / "edge.toml")

            radio = await world.another_gateway()
            later = provisioned(second, radio)  # provisioned now: its edge.toml lists nothing
            async with running(provisioned(first, world.transport_spec)) as agent:
                assert agent.roster.devices == later.roster.devices == ()  # nothing listed yet
                await eventually(lambda: STRAP in _nearby(agent), "the strap heard, unassigned")
                patient = nabd(
                    *f"patient admit --ward {ward} --bed 1 --mrn M{t}".split(),
                    *("--name", "BEN SALAH, Amina"),
                ).strip()
                nabd("device", "add", strap, "--kind", "heart_rate_strap", "--address", STRAP)
                nabd("device", "assign", strap, patient)
                await serving(agent, strap)
                assert agent.reporter is not None
                report = await agent.reporter.report()
                assert STRAP not in {d.address for d in report.nearby}  # read now, not nearby
                for bpm in (61, 62, 63):
                    await peripheral.send_heart_rate(bpm)
                await asyncio.to_thread(
                    wait_until,
                    lambda: len(_readings(ingest_db, "observation", strap)) == 3,
                    "three readings stored under the patient",
                )
                nabd("patient", "transfer", patient, "--ward", ward, "--bed", "2")
                await released(agent, strap)
                # The other gateway starts only now: the broker hands it the retained list.
                async with running(later) as other:
                    await serving(other, strap)
                    for bpm in (64, 65):
                        await peripheral.send_heart_rate(bpm)
                    await asyncio.to_thread(
                        wait_until,
                        lambda: len(_readings(ingest_db, "observation", strap)) == 5,
                        "the readings through the second gateway stored under the patient",
                    )
                    # An open alert of the patient's (as analytics would have raised it).
                    ingest_db.execute(
                        "INSERT INTO alert (patient_id, condition, priority, message, raised_at)"
                        " VALUES (%s, 'spo2_low', 'high', 'SpO2 86 %%', now())",
                        (patient,),
                    )
                    nabd("patient", "discharge", patient)
                    await released(other, strap)
                    await eventually(lambda: not peripheral.connections, "the strap disconnected")
                    await eventually(
                        lambda: (
                            agent.sender is not None
                            and other.sender is not None
                            and not agent.sender.window.in_flight
                            and not other.sender.window.in_flight
                        ),
                        "every batch acknowledged",
                    )
                    assert await pending(agent) == await pending(other) == 0
        return patient

    patient = asyncio.run(scenario())
    stored = _readings(ingest_db, "observation", strap)
    assert [v for _, _, v in stored] == [61.0, 62.0, 63.0, 64.0, 65.0]
    assert {p for p, _, _ in stored} == {patient}
    seqs = [s for _, s, _ in stored]
    assert len(set(seqs)) == len(seqs) == 5  # none lost, none stored twice
    assert _readings(ingest_db, "unattributed_observation", strap) == []
    # Discharge closed the patient's open alert, with its reason (migration 0032's trigger).
    assert ingest_db.query(
        "SELECT state, resolved_reason FROM alert WHERE patient_id = %s", (patient,)
    ) == [("resolved", "discharged")]
