"""The demo's ward: who lies in which bed, with which scenario, devices and gateway.

A :class:`WardPlan` is written to a JSON file that every device process reads, so the demo and
its device processes rebuild exactly the same simulated ward (:func:`simulated_ward`, seeded).

**Pseudonyms per run.** The simulation keeps the seed's own patient ids (so a seed always gives
the same physiology), but on the wire and in the database each run's patients get fresh
pseudonymous ids (a hash of the run id and the simulated id), and with them fresh device ids
and addresses. A second run on the same stack is then a new admission, never a continuation of
the previous run's alerts or readings.

**Time.** The ward is simulated over ``[sim_start, sim_start + play_s * speed)`` and played onto
the wall clock from ``wall_start``: simulated instant ``s`` is shown at
``wall_start + (s - sim_start) / speed`` (:meth:`WardPlan.to_wall`). See docs/demo.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict

from nabd.app.demo.settings import DemoOptions
from nabd.simulators.ble.identity import identity_of
from nabd.simulators.devices import Device
from nabd.simulators.labels import Label
from nabd.simulators.patient import draw_profiles
from nabd.simulators.scenarios import Scenario, draw
from nabd.simulators.streams import stream
from nabd.simulators.ward import Ward

__all__ = [
    "DEMO_DEVICES",
    "Bed",
    "PlannedDevice",
    "WardPlan",
    "plan_ward",
    "simulated_ward",
    "wall_labels",
]

DEMO_DEVICES: Final = (
    Device.CHEST_STRAP,
    Device.PULSE_OXIMETER,
    Device.THERMOMETER,
    Device.BP_CUFF,
    Device.RESPIRATION_SENSOR,
)
"""What each bed wears: everything NEWS2 can be scored from that a BLE device sends, the
respiratory rate from a Generic Health Sensor patch (glucose and weight change too slowly to show
in a demo, and nothing scores them). Consciousness and air/oxygen come from a nurse."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PlannedDevice(_Model):
    device_id: str
    address: str
    kind: str
    name: str


class Bed(_Model):
    bed: int
    patient_id: str
    """Pseudonymous id on the wire and in the database, fresh per run."""
    sim_patient_id: str
    """The simulated patient's own id (its physiology comes from it and the seed)."""
    scenario: str
    """``+``-joined scenario kinds."""
    gateway_id: str
    devices: tuple[PlannedDevice, ...]


class WardPlan(_Model):
    run_id: str
    ward_id: str
    seed: int
    speed: float
    sim_start: float
    wall_start: float
    """Epoch seconds at which the ward starts playing."""
    play_s: float
    lead_in_s: float
    beds: tuple[Bed, ...]

    @property
    def gateways(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.gateway_id for b in self.beds))

    @property
    def sim_end(self) -> float:
        return self.sim_start + self.play_s * self.speed

    @property
    def wall_end(self) -> float:
        return self.wall_start + self.play_s

    def beds_of(self, gateway_id: str) -> tuple[Bed, ...]:
        return tuple(b for b in self.beds if b.gateway_id == gateway_id)

    def to_wall(self, sim_time: float) -> float:
        """Where the simulated instant ``sim_time`` is played on the wall clock."""
        return self.wall_start + (sim_time - self.sim_start) / self.speed

    def device_ids(self) -> tuple[str, ...]:
        return tuple(d.device_id for b in self.beds for d in b.devices)


def _pseudonym(run_id: str, sim_patient_id: str) -> str:
    digest = hashlib.sha256(f"{run_id}:{sim_patient_id}".encode()).hexdigest()
    return f"p-{digest[:12]}"


def plan_ward(options: DemoOptions, run_id: str, wall_start: float) -> WardPlan:
    """Beds in order, scenarios from the roster (cycled), ``per_gateway`` beds per gateway."""
    profiles = draw_profiles(options.patients, options.seed)
    beds = []
    for index, profile in enumerate(profiles):
        patient_id = _pseudonym(run_id, profile.patient_id)
        identities = [identity_of(patient_id, kind) for kind in DEMO_DEVICES]
        beds.append(
            Bed(
                bed=index + 1,
                patient_id=patient_id,
                sim_patient_id=profile.patient_id,
                scenario=options.scenarios[index % len(options.scenarios)],
                gateway_id=f"{options.ward_id}-gw{index // options.per_gateway + 1}",
                devices=tuple(
                    PlannedDevice(
                        device_id=i.device_id, address=i.address, kind=i.device.value, name=i.name
                    )
                    for i in identities
                ),
            )
        )
    return WardPlan(
        run_id=run_id,
        ward_id=options.ward_id,
        seed=options.seed,
        speed=options.speed,
        sim_start=float(int(wall_start)),
        wall_start=float(int(wall_start)),
        play_s=options.play_s,
        lead_in_s=options.lead_in_s,
        beds=tuple(beds),
    )


def simulated_ward(plan: WardPlan) -> Ward:
    """The ward the plan plays, in simulated time, with the simulated patient ids.

    Scenarios are drawn inside ``[sim_start + lead-in, sim_end)`` (long ones compressed to fit),
    from the same random streams as :func:`nabd.simulators.ward.build_ward`.
    """
    profiles = draw_profiles(len(plan.beds), plan.seed)
    first = plan.sim_start + plan.lead_in_s * plan.speed
    assignments: dict[str, tuple[Scenario, ...]] = {}
    for bed, profile in zip(plan.beds, profiles, strict=True):
        assignments[profile.patient_id] = tuple(
            draw(kind, stream(plan.seed, profile.patient_id, "scenario", kind), first, plan.sim_end)
            for kind in bed.scenario.split("+")
        )
    labels = tuple(
        label
        for p in profiles
        for scenario in assignments[p.patient_id]
        for label in scenario.labels(p.patient_id)
    )
    return Ward(
        seed=plan.seed,
        start=plan.sim_start,
        end=plan.sim_end,
        profiles=profiles,
        assignments=MappingProxyType(assignments),
        labels=labels,
    )


def wall_labels(plan: WardPlan, labels: Sequence[Label]) -> tuple[Label, ...]:
    """The ward's labels with the run's pseudonyms, on the wall clock."""
    wire = {b.sim_patient_id: b.patient_id for b in plan.beds}
    return tuple(
        label.model_copy(
            update={
                "patient_id": wire[label.patient_id],
                "onset": plan.to_wall(label.onset),
                "offset": plan.to_wall(label.offset),
            }
        )
        for label in labels
        if label.patient_id in wire
    )
