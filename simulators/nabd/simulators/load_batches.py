"""What the load generator's virtual gateways publish: contract observation batches.

Pure. Each virtual gateway has a few virtual devices (chest straps sending heart rate and an RR
interval per message, oximeters sending SpO2 and pulse rate), and each batch it publishes holds
one message from each of them, as a busy gateway forwarding 1 Hz devices would. Values come from
a few simulated patients (a 10-minute pool, so they are physiological, not random numbers), and
every batch is a validated :class:`~nabd.contract.payloads.ObservationBatch`.

**Identities.** A gateway run has a random ``boot_id``; ``batch_seq`` counts from 0. Every
device sends one message per batch, so the reading sequence number is ``seq_base + batch_seq``
for every device of the gateway: what was sent is recoverable from ``(gateway, batch_seq)``
alone, which keeps the sent record small (:mod:`~nabd.simulators.load_record`). ``seq_base``
is taken from the wall clock at the start of a run (microseconds), so the readings of two runs
never share an identity, as a real gateway's persistent counters would not.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

import numpy as np

from nabd.contract.catalogue import metric as catalogue_metric
from nabd.contract.payloads import OBS_SCHEMA, ObservationBatch, Reading, to_json
from nabd.contract.topics import check_id
from nabd.simulators.devices import Device
from nabd.simulators.errors import LoadError
from nabd.simulators.patient import draw_profiles, simulate
from nabd.simulators.timebase import DEFAULT_START, FloatArray, regular_times

__all__ = [
    "LOAD_METRICS",
    "BatchFactory",
    "GatewayPlan",
    "LoadDevice",
    "ValuePool",
    "fleet_plan",
]

LOAD_METRICS: Final[Mapping[Device, tuple[str, ...]]] = MappingProxyType(
    {
        Device.CHEST_STRAP: ("heart_rate", "rr_interval"),
        Device.PULSE_OXIMETER: ("spo2", "pulse_rate"),
    }
)
"""What one device message of each virtual device kind carries (readings sharing a seq)."""

_PREFIX: Final = {Device.CHEST_STRAP: "hr", Device.PULSE_OXIMETER: "ox"}
_POOL_PATIENTS: Final = 8
_POOL_SECONDS: Final = 600.0
_MAX_DEVICES: Final = 100


@dataclass(frozen=True, slots=True)
class LoadDevice:
    device_id: str
    kind: Device

    @property
    def metrics(self) -> tuple[str, ...]:
        return LOAD_METRICS[self.kind]


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    """One virtual gateway and its devices."""

    gateway_id: str
    devices: tuple[LoadDevice, ...]

    @property
    def readings_per_batch(self) -> int:
        return sum(len(d.metrics) for d in self.devices)


def fleet_plan(gateway_ids: Sequence[str], devices_per_gateway: int) -> tuple[GatewayPlan, ...]:
    """Gateways with alternating chest straps and oximeters, ids ``<gateway>-hr0``, ``-ox1``..."""
    if not 1 <= devices_per_gateway <= _MAX_DEVICES:
        raise LoadError(
            f"devices per gateway must be 1 to {_MAX_DEVICES}, got {devices_per_gateway}"
        )
    if len(set(gateway_ids)) != len(gateway_ids) or not gateway_ids:
        raise LoadError("need at least one gateway, with unique ids")
    kinds = (Device.CHEST_STRAP, Device.PULSE_OXIMETER)
    plans = []
    for gateway_id in gateway_ids:
        devices = []
        for k in range(devices_per_gateway):
            kind = kinds[k % 2]
            device_id = f"{gateway_id}-{_PREFIX[kind]}{k}"
            try:
                check_id("device", device_id)
            except ValueError as exc:
                raise LoadError(f"gateway id {gateway_id!r} is too long for device ids") from exc
            devices.append(LoadDevice(device_id, kind))
        plans.append(GatewayPlan(gateway_id, tuple(devices)))
    return tuple(plans)


class ValuePool:
    """Finite, quantised values of a few simulated stable patients, cycled by sequence number."""

    def __init__(self, seed: int = 0) -> None:
        profiles = draw_profiles(_POOL_PATIENTS, seed)
        series = simulate(profiles, regular_times(DEFAULT_START, _POOL_SECONDS, 1.0), seed=seed)
        self._values: dict[str, list[FloatArray]] = {}
        for metric in ("heart_rate", "spo2", "pulse_rate"):
            rows = series.values[metric]
            self._values[metric] = [row[np.isfinite(row)] for row in rows]
        self._values["rr_interval"] = [b.rr[np.isfinite(b.rr)] for b in series.beats]

    def value(self, device_id: str, metric: str, seq: int) -> float:
        rows = self._values[metric]
        row = rows[zlib.crc32(device_id.encode()) % len(rows)]
        return float(row[seq % row.size])


class BatchFactory:
    """The batches of one gateway run, in order: ``next()`` gives ``(batch_seq, payload)``."""

    def __init__(self, plan: GatewayPlan, boot_id: str, seq_base: int, pool: ValuePool) -> None:
        self.plan = plan
        self.boot_id = boot_id
        self.seq_base = seq_base
        self.next_seq = 0
        self._pool = pool
        self._units = {m: catalogue_metric(m).unit for d in plan.devices for m in d.metrics}

    def batch(self, batch_seq: int, now: datetime) -> ObservationBatch:
        """Batch ``batch_seq`` as sent at ``now`` (aware)."""
        seq = self.seq_base + batch_seq
        readings = tuple(
            Reading(
                device_id=device.device_id,
                seq=seq,
                metric=metric,
                value=self._pool.value(device.device_id, metric, seq),
                unit=self._units[metric],
                received_at=now,
            )
            for device in self.plan.devices
            for metric in device.metrics
        )
        return ObservationBatch.model_validate(
            {
                "schema": OBS_SCHEMA,
                "gateway_id": self.plan.gateway_id,
                "boot_id": self.boot_id,
                "batch_seq": batch_seq,
                "sent_at": now,
                "readings": readings,
            }
        )

    def next(self, now: datetime) -> tuple[int, bytes]:
        """The next batch's sequence number and JSON payload."""
        batch_seq = self.next_seq
        self.next_seq += 1
        return batch_seq, to_json(self.batch(batch_seq, now))
