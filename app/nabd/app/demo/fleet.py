"""One gateway's beds as virtual BLE devices, in a process of its own, counting what they send.

``python -m nabd.app.demo.fleet --plan PLAN --gateway GW --port PORT --record FILE`` puts the
gateway's devices on a bumble virtual link, serves that link's gateway controller over TCP on
PORT (the edge agent connects to it as to a USB dongle: ``tcp-client:127.0.0.1:PORT``), waits
for the plan's start and plays the beds' series on the wall clock until the end or SIGTERM; the
devices then go silent, and the radio stays up until the next SIGTERM (:class:`Signals`).

**What it records** (``FILE``, JSON, rewritten every second and at the end): per device and
metric, the readings the devices *delivered*: every notification or indication sent while a
central was subscribed to it, decoded with the edge's own decoder (``nabd.edge.gatt``), so the
count is in the same unit as the database's rows. A notification nobody subscribed to is lost
on air, as with a real device, and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from bumble.device import Device as BumbleDevice

from nabd.app.demo.plan import WardPlan, simulated_ward
from nabd.app.demo.timeline import cadences, onto_wall, sample_times, transport_onto_wall
from nabd.contract.gatt import LiveHealthObservations
from nabd.edge.ble.profiles import SEGMENTED
from nabd.edge.clock import DeviceTime, device_time
from nabd.edge.gatt import GattDecodeError, SegmentedObservations, decode
from nabd.edge.gatt import Reading as Sample
from nabd.edge.stamp import stamp, usable
from nabd.simulators.ble.clock import SimClock
from nabd.simulators.ble.identity import identity_of
from nabd.simulators.ble.link import VirtualRadio
from nabd.simulators.ble.peripheral import VirtualPeripheral
from nabd.simulators.ble.schedule import Cadences, DeviceFeed, Emission, Event, events, feed_of
from nabd.simulators.devices import Device

__all__ = ["REFUSED", "CountingPeripheral", "Tally", "main"]

_RECORD_EVERY_S: Final = 1.0
_UTC: Final = ZoneInfo("UTC")
REFUSED: Final = "refused"
"""Key, in a device's counts, of samples the contract refuses (not readings)."""


class Tally:
    """Readings delivered, per device and metric, by the edge's own rules: decoded
    (``nabd.edge.gatt``), test data left out, and each sample made a contract reading
    (``nabd.edge.stamp``); a sample the contract refuses (an artefact beyond the metric's possible
    range) is counted apart, under ``REFUSED``, as the gateway refuses it too. A Generic Health
    Sensor's segments are joined per device first, as the gateway joins them."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self._segments: dict[str, SegmentedObservations] = {}

    def _decoded(self, device_id: str, emission: Emission) -> list[Sample]:
        if emission.characteristic not in SEGMENTED:
            return decode(emission.characteristic, emission.data)
        joiner = self._segments.setdefault(device_id, SegmentedObservations())
        readings, _lost = joiner.push(emission.characteristic, emission.data)
        return readings or []

    def add(self, device_id: str, emission: Emission) -> None:
        counts = self.counts.setdefault(device_id, Counter())
        try:
            samples, _ = usable(self._decoded(device_id, emission))
        except GattDecodeError:
            return  # the gateway cannot read it either: no reading
        stamped = stamp(
            device_id,
            samples,
            range(len(samples)),
            datetime.now(UTC),
            _time(samples),
        )
        counts.update(r.metric for r in stamped.readings)
        counts[REFUSED] += len(stamped.rejected)

    def as_json(self) -> dict[str, dict[str, int]]:
        return {device: dict(counts) for device, counts in self.counts.items()}


def _time(samples: Sequence[Sample]) -> DeviceTime:
    if not samples:
        return device_time(None, False, _UTC)
    return device_time(samples[0].timestamp, samples[0].clock_unset, _UTC)


class CountingPeripheral(VirtualPeripheral):
    """A virtual device that counts what it delivers and skips what was due before it started."""

    def __init__(
        self, feed: DeviceFeed, host: BumbleDevice, tally: Tally, schedule: Cadences
    ) -> None:
        super().__init__(feed, host, cadences=schedule)
        self.tally = tally
        self._schedule: Iterator[Event] = events(feed, schedule)

    async def play(self, clock: SimClock) -> None:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        for event in self._schedule:
            if isinstance(event, Emission) and event.at < clock.sim_start:
                continue  # due before the devices were up: nobody could have received it
            wait = clock.delay(event.at, loop.time())
            if wait > 0:
                await asyncio.sleep(wait)
            self.stats.max_lag_s = max(self.stats.max_lag_s, loop.time() - clock.wall_at(event.at))
            await self.apply(event)

    async def apply(self, event: Event) -> None:
        if isinstance(event, Emission) and event.live and self.reachable and self._heard(event):
            self.tally.add(self.identity.device_id, event)
        await super().apply(event)

    def _heard(self, emission: Emission) -> bool:
        """Whether a central is subscribed to the emission's characteristic right now (a GHS
        observation: whether a central asked for live observations, else it is kept)."""
        if emission.characteristic == LiveHealthObservations.UUID:
            return self.observation_goes_live(emission)
        handle = self.database.characteristics[emission.characteristic].handle
        bit = 0x02 if emission.indicate else 0x01
        subscribers = self.host.gatt_server.subscribers.values()
        return any(len(c.get(handle, b"")) == 2 and c[handle][0] & bit for c in subscribers)


def gateway_feeds(plan: WardPlan, gateway_id: str) -> list[DeviceFeed]:
    """The feeds of the gateway's beds, on the wall clock, under the run's pseudonyms."""
    beds = plan.beds_of(gateway_id)
    ward = simulated_ward(plan)
    first = plan.beds.index(beds[0])
    series = onto_wall(
        ward.simulate(sample_times(plan), patients=slice(first, first + len(beds))), plan
    )
    feeds = []
    for bed in beds:
        scenarios = ward.assignments[bed.sim_patient_id]
        for planned in bed.devices:
            kind = Device(planned.kind)
            feed = feed_of(series, bed.sim_patient_id, kind, seed=plan.seed)
            feed = transport_onto_wall(feed, scenarios, plan)
            feeds.append(dataclasses.replace(feed, identity=identity_of(bed.patient_id, kind)))
    return feeds


def _write(record: Path, payload: dict[str, object]) -> None:
    partial = record.with_suffix(".part")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(partial, record)


class Signals:
    """The demo's two signals: the first (SIGTERM) ends the play if it still runs, and the
    devices go silent but the radio stays up; the second, once the gateways have stopped, closes
    the radio. So a gateway never sees its controller vanish while it shuts down (a dongle
    outlives its devices)."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.release = asyncio.Event()

    def received(self) -> None:
        (self.release if self.stop.is_set() else self.stop).set()


async def play(plan: WardPlan, gateway_id: str, port: int, record: Path, signals: Signals) -> None:
    """Serve the gateway's devices on ``port``, play them until the end or the first signal,
    then keep the radio up, silent, until the next signal (or the parent process is gone)."""
    feeds = gateway_feeds(plan, gateway_id)
    tally = Tally()
    radio = VirtualRadio()
    schedule = cadences(plan.speed)
    state: dict[str, object] = {"gateway": gateway_id, "ready": False, "finished": False}

    def save() -> None:
        _write(record, {**state, "devices": tally.as_json()})

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(radio.serve(port))
        peripherals: list[CountingPeripheral] = []
        for feed in feeds:
            host = await stack.enter_async_context(
                radio.host(feed.identity.name, feed.identity.address)
            )
            peripherals.append(CountingPeripheral(feed, host, tally, schedule))
        try:
            for peripheral in peripherals:
                await peripheral.advertise()
            state["ready"] = True
            save()
            await _until(plan.wall_start, signals.stop)
            loop = asyncio.get_running_loop()
            clock = SimClock(sim_start=time.time(), wall_start=loop.time(), speed=1.0)
            await _play_all(peripherals, clock, signals.stop, save)
        finally:
            for peripheral in peripherals:
                await peripheral.go_silent()
            await asyncio.sleep(0.1)
            state["finished"] = True
            state["max_lag_s"] = max((p.stats.max_lag_s for p in peripherals), default=0.0)
            save()
        await _released(signals)


async def _released(signals: Signals) -> None:
    """Until the second signal (the first ended the play, or came after its end), or until the
    demo is gone."""
    parent = os.getppid()
    while not signals.release.is_set() and os.getppid() == parent:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signals.release.wait(), _RECORD_EVERY_S)


async def _until(epoch: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, epoch - time.time()))


async def _play_all(
    peripherals: Sequence[CountingPeripheral],
    clock: SimClock,
    stop: asyncio.Event,
    save: Callable[[], None],
) -> None:
    async with asyncio.TaskGroup() as group:
        plays = [group.create_task(p.play(clock)) for p in peripherals]
        while not stop.is_set() and not all(p.done() for p in plays):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _RECORD_EVERY_S)
            save()
        for task in plays:
            task.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nabd.app.demo.fleet")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args(argv)
    plan = WardPlan.model_validate_json(args.plan.read_text(encoding="utf-8"))

    async def run() -> None:
        signals = Signals()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, signals.received)
        await play(plan, args.gateway, args.port, args.record, signals)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
