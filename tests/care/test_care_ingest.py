"""End to end with the real ingest worker and broker: a device registered and assigned through
the care commands has its next readings stored under the patient, a late assignment
(``--from``) moves the readings it sent for nobody to the patient, and a device registered to
no gateway yet has its readings refused, not given to anyone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from tests.care.care_kit import token
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    RunningWorker,
    count,
    heart_rates,
    valid_batch,
)
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def ward(
    nabd_stack: RunningStack, care_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, FakeGateway]]:
    """A ward with bed 1 served by a gateway that has a broker account and a paho client."""
    monkeypatch.setenv("NABD_CARE_DATABASE_URL", care_url)
    ward_id, gateway_id = f"w-{token()}", f"gw-{token()}"
    gateway = FakeGateway(nabd_stack, gateway_id)
    by = ["--by", "Admin Ali"]
    assert main(["ward", "add", ward_id, "--name", "Ward", *by]) == 0
    assert main(["gateway", "add", gateway_id, "--ward", ward_id, *by]) == 0
    assert main(["ward", "add-beds", ward_id, "1", "--gateway", gateway_id, *by]) == 0
    yield ward_id, gateway
    gateway.close()


def _admit(ward_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    admit = f"patient admit --ward {ward_id} --bed 1 --mrn M{token()} --by Nurse"
    assert main([*admit.split(), "--name", "Jean Dupont"]) == 0
    return capsys.readouterr().out.strip()


def _patients_of(ingest_db: IngestDb, device: str) -> list[str]:
    rows = ingest_db.query(
        "SELECT patient_id FROM observation WHERE device_id = %s ORDER BY seq", (device,)
    )
    return [r[0] for r in rows]


def _address() -> str:
    raw = token() + token()
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2)).upper()


def test_a_newly_assigned_device_streams_for_its_patient(
    ingest_db: IngestDb,
    worker: RunningWorker,
    ward: tuple[str, FakeGateway],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ward_id, gateway = ward
    patient, device = _admit(ward_id, capsys), f"hr-{token()}"
    add = f"device add {device} --kind heart_rate_strap --address {_address()} --by Tech"
    assert main(add.split()) == 0
    assert main(["device", "assign", device, patient, "--by", "Nurse"]) == 0
    now = datetime.now(UTC)
    gateway.publish(valid_batch(gateway.gateway_id, heart_rates(device, 5, t0=now)))
    wait_until(lambda: len(_patients_of(ingest_db, device)) == 5, "five readings stored")
    assert _patients_of(ingest_db, device) == [patient] * 5


def test_a_late_assignment_gives_the_patient_what_the_device_sent_before(
    ingest_db: IngestDb,
    worker: RunningWorker,
    ward: tuple[str, FakeGateway],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ward_id, gateway = ward
    patient, device = _admit(ward_id, capsys), f"hr-{token()}"
    add = f"device add {device} --kind heart_rate_strap --address {_address()}"
    assert main([*add.split(), "--gateway", gateway.gateway_id, "--by", "Tech"]) == 0
    sent = datetime.now(UTC)
    gateway.publish(valid_batch(gateway.gateway_id, heart_rates(device, 3, t0=sent)))
    wait_until(
        lambda: (
            ingest_db.query(
                "SELECT count(*) FROM unattributed_observation WHERE device_id = %s", (device,)
            )[0][0]
            == 3
        ),
        "three readings stored for nobody",
    )
    start = (sent - timedelta(milliseconds=1)).isoformat()
    assert main(["device", "assign", device, patient, "--from", start, "--by", "Nurse"]) == 0
    reattribute = ["ingest", "reattribute", "--device", device]
    assert main([*reattribute, "--database-url", ingest_db.ingest_url]) == 0
    assert _patients_of(ingest_db, device) == [patient] * 3


def test_a_device_on_no_gateway_has_its_readings_refused(
    ingest_db: IngestDb, worker: RunningWorker, ward: tuple[str, FakeGateway]
) -> None:
    _, gateway = ward
    device = f"hr-{token()}"
    add = f"device add {device} --kind heart_rate_strap --address {_address()} --by Tech"
    assert main(add.split()) == 0
    before = count(ingest_db, "dead_letter", gateway.gateway_id)
    gateway.publish(valid_batch(gateway.gateway_id, heart_rates(device, 2)))
    wait_until(
        lambda: count(ingest_db, "dead_letter", gateway.gateway_id) == before + 1,
        "the batch dead-lettered",
    )
    reason = ingest_db.query(
        "SELECT reason FROM dead_letter WHERE gateway_id = %s ORDER BY received_at DESC LIMIT 1",
        (gateway.gateway_id,),
    )[0][0]
    assert f"device {device!r} is not registered to gateway" in reason
    assert _patients_of(ingest_db, device) == []
