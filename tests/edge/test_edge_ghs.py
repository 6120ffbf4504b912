"""A Generic Health Sensor read by the production agent, end to end to the broker.

The simulators' virtual GHS respiration sensor (the one the demo wears) serves Live Health
Observations in 20-octet segments on bumble's virtual link; the agent's bumble host reaches the
gateway controller over TCP, writes "start" to the GHS Control Point, joins the segments and
publishes respiratory rates to the session's TLS Mosquitto, where :class:`IngestPeer` reads them.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from nabd.app.stack.testing import RunningStack
from nabd.edge.status import DeviceState
from nabd.simulators import scenarios as sc
from nabd.simulators.ble.link import VirtualRadio
from nabd.simulators.ble.peripheral import VirtualPeripheral
from nabd.simulators.ble.schedule import Cadences, Emission, events, feed_of
from nabd.simulators.devices import Device
from nabd.simulators.patient import draw_profiles, simulate
from nabd.simulators.timebase import DEFAULT_START, regular_times
from tests.edge.agent_harness import (
    eventually,
    gateway_env,
    make_agent,
    running,
    state_of,
    write_config,
)
from tests.edge.ingest_peer import IngestPeer

pytestmark = pytest.mark.integration

SEED = 3
CADENCES = Cadences(respiration_s=30.0)


def test_a_ghs_respiration_sensor_reaches_the_broker(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway = "gw-agent-ghs"
    creds = nabd_stack.add_gateway(gateway)
    ingest = IngestPeer(nabd_stack, gateway)
    (profile,) = draw_profiles(1, SEED)
    start = DEFAULT_START
    # A 10-minute run with the probe off for two minutes in the middle.
    lost = sc.sensor_off(Device.RESPIRATION_SENSOR, [(start + 240.0, start + 360.0)])
    series = simulate(
        (profile,),
        regular_times(start, 600.0, 1.0),
        seed=SEED,
        scenarios={profile.patient_id: [lost]},
    )
    feed = feed_of(series, profile.patient_id, Device.RESPIRATION_SENSOR, [lost], seed=SEED)
    played = [e for e in events(feed, CADENCES) if isinstance(e, Emission)]
    measured = [e.at for e in played if e.characteristic == 0x2B8B and e.data[0] & 0x01]
    expected = [
        float(feed.values["respiration_rate"][int(np.searchsorted(feed.times, at))])
        for at in measured
    ]
    device_id = feed.identity.device_id

    async def scenario() -> None:
        radio = VirtualRadio()
        async with (
            radio.serve() as port,
            radio.host(feed.identity.name, feed.identity.address) as host,
        ):
            peripheral = VirtualPeripheral(feed, host, cadences=CADENCES)
            await peripheral.advertise()
            config = write_config(
                tmp_path,
                transport=f"tcp-client:127.0.0.1:{port}",
                devices={device_id: feed.identity.address},
            )
            agent = make_agent(config, gateway_env(nabd_stack, gateway, creds))
            async with running(agent):
                await eventually(
                    lambda: state_of(agent, device_id) is DeviceState.CONNECTED, "connected"
                )
                # the sensor keeps, rather than sends, what it observes before "start"
                await eventually(lambda: peripheral.taking_live, "live observations started")
                for event in played:
                    await peripheral.apply(event)
                await asyncio.to_thread(
                    ingest.wait_until,
                    lambda: len(_rates(ingest, device_id)) >= len(expected),
                    "every respiratory rate",
                )
                assert agent.devices[device_id].decode_errors == 0
                assert "ghs_start_refused" not in agent.runtime.events.kinds()
            await peripheral.go_silent()

    try:
        asyncio.run(scenario())
    finally:
        ingest.close()
    values = _rates(ingest, device_id)
    assert len(values) == len(expected)
    assert [v is None for v in values] == [math.isnan(x) for x in expected]
    assert [v for v in values if v is not None] == [
        round(x, 1) for x in expected if not math.isnan(x)
    ]
    assert None in values  # the probe-off window arrives as "unavailable", not as a number


def _rates(ingest: IngestPeer, device_id: str) -> list[float | None]:
    return [v for _, m, v in sorted(ingest.readings_of(device_id)) if m == "respiration_rate"]
