"""The gateway-list pass reads every list only when ``registry_version`` moved, or every
``RECHECK_S`` (migration 0151, :mod:`nabd.ingest.gateway_configs`), against the real database.

The class: each change that alters a list (an address, an assignment, a revocation) is published
at the next pass; changes that alter none (a battery level) and unchanged registries cost only
the counter's read.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from nabd.ingest.gateway_configs import RECHECK_S, ConfigPublisher
from tests.ingest.ingest_kit import IngestDb
from tests.stack_kit import token

pytestmark = pytest.mark.integration


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _owner(db: IngestDb, sql: str, *params: object) -> None:
    with psycopg.connect(db.owner_url) as conn:
        conn.execute(sql, params)


def test_a_pass_reads_the_lists_only_when_the_registry_changed(ingest_db: IngestDb) -> None:
    gw, device, patient = f"gw-cf-{token()}", f"dev-cf-{token()}", f"p-cf-{token()}"
    _owner(ingest_db, "INSERT INTO ward (id, name) VALUES ('w', 'Ward') ON CONFLICT DO NOTHING")
    _owner(ingest_db, "INSERT INTO gateway (id, ward_id) VALUES (%s, 'w')", gw)
    _owner(
        ingest_db,
        "INSERT INTO device (id, gateway_id, kind, address)"
        " VALUES (%s, %s, 'heart_rate_strap', 'C0:00:00:00:00:01')",
        device,
        gw,
    )
    _owner(ingest_db, "INSERT INTO patient (id, ward_id) VALUES (%s, 'w')", patient)
    published: dict[str, list[str]] = {}

    def publish(gateway_id: str, payload: bytes) -> bool:
        devices = json.loads(payload)["devices"] if payload else None
        published[gateway_id] = (
            ["<cleared>"]
            if devices is None
            else sorted(f"{d['device_id']}@{d['address']}" for d in devices)
        )
        return True

    clock = _Clock()
    publisher = ConfigPublisher(
        ingest_db.ingest_url, f"cf-{token()}", publish, lambda: 1,
        interval_s=0, statement_timeout_s=10, clock=clock,
    )  # fmt: skip
    try:
        publisher.pass_once()
        assert published[gw] == []  # registered, worn by nobody
        reads = publisher.reads

        publisher.pass_once()
        assert publisher.reads == reads  # nothing changed: only the counter was read

        _owner(
            ingest_db,
            "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
            " VALUES (%s, %s, tstzrange(now(), NULL), 'test')",
            device,
            patient,
        )
        publisher.pass_once()
        assert published[gw] == [f"{device}@C0:00:00:00:00:01"]

        _owner(ingest_db, "UPDATE device SET battery_level = 40 WHERE id = %s", device)
        reads = publisher.reads
        publisher.pass_once()
        assert publisher.reads == reads  # a battery level changes no list

        _owner(ingest_db, "UPDATE device SET address = 'C0:00:00:00:00:02' WHERE id = %s", device)
        publisher.pass_once()
        assert published[gw] == [f"{device}@C0:00:00:00:00:02"]

        reads = publisher.reads
        clock.now += RECHECK_S
        publisher.pass_once()
        assert publisher.reads == reads + 1  # a time set in advance may have come

        _owner(ingest_db, "UPDATE gateway SET revoked_at = now() WHERE id = %s", gw)
        publisher.pass_once()
        assert published[gw] == ["<cleared>"]
    finally:
        publisher.stop(1.0)
