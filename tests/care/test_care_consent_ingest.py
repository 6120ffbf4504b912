"""Consent with the real ingest worker and broker (docs/consent.md): with consent required, one
batch carrying the readings of a patient with consent and of one without stores the first under
their patient and keeps the second out of ``observation``, as a pending ``no_consent`` dead
letter that a consent recorded late lets a replay store; and a withdrawal takes the patient's
device out of the gateway's device list (the list ingest publishes, read by the real publisher
with a capturing ``publish``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.ingest.gateway_configs import ConfigPublisher
from tests.care.care_kit import token
from tests.ingest.ingest_kit import (
    FakeGateway,
    IngestDb,
    heart_rates,
    valid_batch,
)
from tests.stack_kit import wait_until

pytestmark = pytest.mark.integration

BY = ("--by", "Nurse Ines")


@pytest.fixture
def care(care_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The care commands on this module's database; consent policy off again afterwards."""
    monkeypatch.setenv("NABD_CARE_DATABASE_URL", care_url)
    yield
    assert main(["consent", "policy", "--required", "off", *BY]) == 0


def _nabd(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _address() -> str:
    raw = token() + token()
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2)).upper()


def _ward(capsys: pytest.CaptureFixture[str], nabd_stack: RunningStack) -> tuple[str, FakeGateway]:
    ward, gateway_id = f"w-{token()}", f"gw-{token()}"
    _nabd(capsys, "ward", "add", ward, "--name", "Ward", *BY)
    _nabd(capsys, "gateway", "add", gateway_id, "--ward", ward, *BY)
    _nabd(capsys, "ward", "add-beds", ward, "1", "2", "--gateway", gateway_id, *BY)
    return ward, FakeGateway(nabd_stack, gateway_id)


def _worn(capsys: pytest.CaptureFixture[str], ward: str, bed: str) -> tuple[str, str]:
    """A patient admitted to ``bed`` wearing a new strap: (patient, device)."""
    admit = ("patient", "admit", "--ward", ward, "--bed", bed, "--mrn", f"M{token()}")
    patient = _nabd(capsys, *admit, "--name", "Jean Dupont", *BY).strip()
    device = f"hr-{token()}"
    _nabd(capsys, "device", "add", device, "--kind", "heart_rate_strap",
          "--address", _address(), *BY)  # fmt: skip
    _nabd(capsys, "device", "assign", device, patient, *BY)
    return patient, device


def _record(capsys: pytest.CaptureFixture[str], patient: str, *extra: str) -> None:
    _nabd(capsys, "consent", "record", patient, "--scope", "remote-monitoring",
          "--text-version", "v1", "--collected-by", "Nurse Amal", *extra)  # fmt: skip


def _observed(db: IngestDb, device: str) -> list[str]:
    rows = db.query("SELECT patient_id FROM observation WHERE device_id = %s", (device,))
    return [str(r[0]) for r in rows]


@pytest.mark.usefixtures("worker", "care")
def test_with_consent_required_readings_without_consent_are_kept_out_and_replayable(
    nabd_stack: RunningStack, ingest_db: IngestDb, capsys: pytest.CaptureFixture[str]
) -> None:
    ward, gateway = _ward(capsys, nabd_stack)
    try:
        consenting, ok_device = _worn(capsys, ward, "1")
        silent, no_device = _worn(capsys, ward, "2")  # assigned while consent is not required
        _record(capsys, consenting)
        _nabd(capsys, "consent", "policy", "--required", "on", *BY)

        now = datetime.now(UTC)
        readings = heart_rates(ok_device, 3, t0=now) + heart_rates(no_device, 2, t0=now)
        gateway.publish(valid_batch(gateway.gateway_id, readings, batch_seq=1))
        wait_until(lambda: len(gateway.acked()) == 1, "the batch acknowledged")
        assert _observed(ingest_db, ok_device) == [consenting] * 3
        assert _observed(ingest_db, no_device) == []  # not an observation
        letters = ingest_db.query(
            "SELECT id, reason, replayed_at FROM dead_letter"
            " WHERE gateway_id = %s AND category = 'no_consent'",
            (gateway.gateway_id,),
        )
        assert len(letters) == 1
        letter, reason, replayed = letters[0]
        assert replayed is None  # pending: kept for an operator, not silently dropped
        assert f"2 of 5 readings are of patient(s) {silent}" in reason
        assert ingest_db.query(
            "SELECT count(*) FROM unattributed_observation WHERE device_id = %s", (no_device,)
        ) == [(0,)]

        # Consent given on paper before the readings, entered late: a replay stores them.
        _record(capsys, silent, "--at", (now - timedelta(minutes=5)).isoformat())
        replay = ["ingest", "dead-letters", "replay", str(letter)]
        out = _nabd(capsys, *replay, "--database-url", ingest_db.ingest_url)
        assert "stored" in out
        assert sorted(_observed(ingest_db, no_device)) == [silent] * 2
        assert sorted(_observed(ingest_db, ok_device)) == [consenting] * 3  # none twice
    finally:
        gateway.close()


@pytest.mark.usefixtures("care")
def test_a_withdrawal_takes_the_devices_out_of_the_gateway_list(
    nabd_stack: RunningStack, ingest_db: IngestDb, capsys: pytest.CaptureFixture[str]
) -> None:
    ward, gateway = _ward(capsys, nabd_stack)
    gateway.close()  # only its registry rows are needed here
    staying, kept = _worn(capsys, ward, "1")
    leaving, released = _worn(capsys, ward, "2")
    _record(capsys, leaving)
    published: dict[str, list[str]] = {}

    def publish(gateway_id: str, payload: bytes) -> bool:
        devices = json.loads(payload)["devices"] if payload else []
        published[gateway_id] = sorted(d["device_id"] for d in devices)
        return True

    publisher = ConfigPublisher(
        ingest_db.ingest_url, f"t-{token()}", publish, lambda: 1,
        interval_s=0, statement_timeout_s=10,
    )  # fmt: skip
    try:
        publisher.pass_once()
        assert published[gateway.gateway_id] == sorted([kept, released])
        out = _nabd(capsys, "consent", "withdraw", leaving, "--scope", "remote-monitoring", *BY)
        assert f"device {released}: removed from gateway {gateway.gateway_id}'s list" in out
        publisher.pass_once()
        assert published[gateway.gateway_id] == [kept]
    finally:
        publisher.stop(1.0)
    assert staying  # the other patient's device is still read
