"""A glucose meter on a real gateway, end to end (issue 20, items 4 and 5): the simulators'
virtual meter on bumble's virtual radio, a production agent started from its provisioned folder,
the real broker and the real ingest worker.

The meter was registered as another model than it reports: its Device Information reaches the
device row and ``nabd device show`` warns. Readings it took before the gateway first connected,
while the gateway was away, and while the agent was stopped are each stored once in the
database under the patient.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.simulators.ble.identity import identity_of
from nabd.simulators.devices import Device
from tests.care.agent_kit import agent_from, serving
from tests.care.care_kit import CareCli, token
from tests.edge.agent_harness import eventually, running
from tests.edge.record_keepers import Meter, glucose_of, keeper_on_radio
from tests.ingest.ingest_kit import IngestDb
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration


def _glucose(ingest_db: IngestDb, device: str) -> list[tuple[object, ...]]:
    return ingest_db.query(
        "SELECT patient_id, seq, round(value::numeric, 1)::float8 FROM observation o"
        " JOIN metric m ON m.id = o.metric_id WHERE o.device_id = %s AND m.key = 'glucose'"
        " ORDER BY value",
        (device,),
    )


@pytest.mark.usefixtures("worker")
def test_a_meters_records_are_stored_once_and_its_reported_model_is_checked(
    nabd_stack: RunningStack,
    care_url: str,
    ingest_db: IngestDb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    ward, gateway = f"w-{t}", f"gw-gls-{t}"
    identity = identity_of(f"p-gls-{t}", Device.GLUCOSE_METER)
    meter_id = f"gls-{t}"

    nabd = CareCli(capsys, care_url, by="Tech Sami")

    nabd("ward", "add", ward, "--name", "Diabetology")
    nabd("gateway", "add", gateway, "--ward", ward)
    nabd("ward", "add-beds", ward, "1", "--gateway", gateway)
    admit = f"patient admit --ward {ward} --bed 1 --mrn M{t}".split()
    patient = nabd(*admit, "--name", "HADDAD, Karim").strip()
    nabd(
        *f"device add {meter_id} --kind glucose_meter --address {identity.address}".split(),
        *("--model", "GM-100", "--manufacturer", "Nabd Simulators"),
    )
    nabd("device", "assign", meter_id, patient)

    def stored(count: int) -> None:
        wait_until(lambda: len(_glucose(ingest_db, meter_id)) >= count, f"{count} records")

    async def scenario() -> list[str]:
        # The meter's clock: record n taken n seconds after the assignment.
        async with keeper_on_radio(Meter, identity, time.time() + 1, 1.0) as (meter, port):
            out = tmp_path / gateway
            nabd(
                *f"gateway provision {gateway} --out {out} --data-dir data".split(),
                *("--bumble", f"tcp-client:127.0.0.1:{port}"),
                *("--state-dir", str(nabd_stack.state_dir)),
            )
            await asyncio.sleep(2.5)  # the records' times are after the assignment
            for number in (0, 1):  # before the gateway ever connected
                await meter.take(number)
            async with running(agent_from(out / "edge.toml")) as agent:
                await serving(agent, meter_id)
                await asyncio.to_thread(stored, 2)
                await meter.away()
                await meter.take(2)
                await meter.back()
                await eventually(lambda: agent.devices[meter_id].connections >= 2, "reconnected")
                await asyncio.to_thread(stored, 3)
            await meter.take(3)  # while the agent is stopped
            async with running(agent_from(out / "edge.toml")) as agent:
                await serving(agent, meter_id)
                await asyncio.to_thread(stored, 4)
                await eventually(lambda: len(meter.requests) >= 3, "the restarted agent asked")
                await asyncio.sleep(0.5)  # anything a wrong request would bring back
            return meter.requests

    requests = asyncio.run(scenario())
    rows = _glucose(ingest_db, meter_id)
    assert [v for _, _, v in rows] == [glucose_of(n) for n in range(4)]
    assert {p for p, _, _ in rows} == {patient}
    assert len({s for _, s, _ in rows}) == 4  # none stored twice
    assert requests == ["01 01", "01 03 01 02 00", "01 03 01 03 00"]

    # Its Device Information reached the device row; the model differs from the registration.
    capsys.readouterr()
    assert main(["device", "show", meter_id, "--database-url", care_url]) == 0
    shown = capsys.readouterr()
    assert "model virtual-glucose-meter" in shown.out
    assert "NOT AS REGISTERED: reports model 'virtual-glucose-meter', registered as 'GM-100'" in (
        shown.out
    )
    assert "nabd: warning" in shown.err
