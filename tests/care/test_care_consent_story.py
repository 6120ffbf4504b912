"""A withdrawal stops collection at the gateway, end to end: a real edge agent on bumble's virtual
radio, the real broker and the real ingest worker (which publishes the gateway's device list).
A patient consents, their strap is assigned, the agent connects to it and its readings arrive
under the patient; ``nabd consent withdraw`` takes the strap out of the gateway's list, so the
agent releases it and the strap is disconnected, without a restart; the withdrawal is audited
with the device it released, and nothing the strap sent before it is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nabd.app.stack.testing import RunningStack
from tests.care.agent_kit import agent_from, released, serving
from tests.care.care_kit import CareCli, token
from tests.edge.agent_harness import eventually, pending, running
from tests.edge.virtual_peripherals import VirtualWorld
from tests.ingest.ingest_kit import IngestDb
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration

STRAP = "F0:0C:A2:E0:00:02"


def _observed(ingest_db: IngestDb, device: str) -> list[tuple[object, ...]]:
    return ingest_db.query(
        "SELECT o.patient_id, o.value FROM observation o JOIN metric m ON m.id = o.metric_id"
        " WHERE o.device_id = %s AND m.key = 'heart_rate' ORDER BY o.seq",
        (device,),
    )


@pytest.mark.usefixtures("worker")
def test_a_withdrawal_makes_the_gateway_release_the_device(
    nabd_stack: RunningStack,
    care_url: str,
    ingest_db: IngestDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    ward, strap, gateway = f"w-{t}", f"hr-{t}", f"gw-consent-{t}"

    nabd = CareCli(capsys, care_url)

    nabd("ward", "add", ward, "--name", "Home monitoring")
    nabd("gateway", "add", gateway, "--ward", ward)
    nabd("ward", "add-beds", ward, "1", "--gateway", gateway)

    async def scenario() -> str:
        async with VirtualWorld.running() as world:
            peripheral = await world.add("heart_rate", STRAP, "strap")
            out = tmp_path / gateway
            nabd(
                *f"gateway provision {gateway} --out {out} --data-dir data".split(),
                *("--bumble", world.transport_spec, "--state-dir", str(nabd_stack.state_dir)),
            )
            async with running(agent_from(out / "edge.toml")) as agent:
                patient = nabd(
                    *f"patient admit --ward {ward} --bed 1 --mrn M{t}".split(),
                    *("--name", "EL IDRISSI, Samir"),
                ).strip()
                nabd(
                    *f"consent record {patient} --scope remote-monitoring".split(),
                    *("--text-version", "2026-11", "--collected-by", "Nurse Amal"),
                    by=None,
                )
                nabd("device", "add", strap, "--kind", "heart_rate_strap", "--address", STRAP)
                nabd("device", "assign", strap, patient)
                await serving(agent, strap)
                for bpm in (71, 72):
                    await peripheral.send_heart_rate(bpm)
                await asyncio.to_thread(
                    wait_until,
                    lambda: len(_observed(ingest_db, strap)) == 2,
                    "two readings stored under the patient",
                )
                withdrawn = nabd("consent", "withdraw", patient, "--scope", "remote-monitoring")
                assert f"device {strap}: removed from gateway {gateway}'s list" in withdrawn
                await released(agent, strap)
                await eventually(lambda: not peripheral.connections, "the strap disconnected")
                await eventually(
                    lambda: agent.sender is not None and not agent.sender.window.in_flight,
                    "every batch acknowledged",
                )
                assert await pending(agent) == 0
        return patient

    patient = asyncio.run(scenario())
    assert _observed(ingest_db, strap) == [(patient, 71.0), (patient, 72.0)]
    audited = ingest_db.query(
        "SELECT actor, details->'devices_released' FROM audit_log"
        " WHERE action = 'consent_withdrawn' AND subject = %s",
        (f"patient:{patient}",),
    )
    assert audited == [("Nurse Ines", [f"{strap}@{gateway}"])]
