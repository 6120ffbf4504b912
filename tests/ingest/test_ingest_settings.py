"""Ingest reads the shared variable names of docs/stack.md and checks its own knobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from nabd.ingest.consumer import SUBSCRIPTION
from nabd.ingest.settings import IngestSettings

ENV = {
    "NABD_INGEST_DATABASE_URL": "postgresql://ingest:pw@127.0.0.1:5999/nabd",
    "NABD_MQTT_HOST": "broker.local",
    "NABD_MQTT_PORT": "8883",
    "NABD_MQTT_CA_FILE": "/etc/nabd/ca.crt",
    "NABD_INGEST_MQTT_USERNAME": "ingest",
    "NABD_INGEST_MQTT_PASSWORD": "secret",
    "NABD_INGEST_MQTT_CERT_FILE": "/etc/nabd/ingest.crt",
    "NABD_INGEST_MQTT_KEY_FILE": "/etc/nabd/ingest.key",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("env")
def test_connection_settings_come_from_the_stack_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NABD_INGEST_WORKER_ID", "ward-3-a")
    monkeypatch.setenv("NABD_INGEST_FLUSH_MAX_AGE_S", "0.5")
    s = IngestSettings()
    assert (s.database_url, s.mqtt_host, s.mqtt_port) == (
        ENV["NABD_INGEST_DATABASE_URL"],
        "broker.local",
        8883,
    )
    assert (s.mqtt_ca_file, s.mqtt_cert_file, s.mqtt_key_file) == (
        Path("/etc/nabd/ca.crt"),
        Path("/etc/nabd/ingest.crt"),
        Path("/etc/nabd/ingest.key"),
    )
    assert (s.mqtt_username, s.mqtt_password) == ("ingest", "secret")
    assert s.flush_max_age_s == 0.5
    assert s.client_id == "nabd-ingest-ward-3-a"
    assert "secret" not in repr(s)


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("worker_id", ["Ward/3", "+", "", "a" * 64])
def test_a_worker_id_must_be_usable_as_a_client_id(worker_id: str) -> None:
    with pytest.raises(ValidationError):
        IngestSettings(worker_id=worker_id)


def test_missing_connection_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match="NABD_INGEST_DATABASE_URL"):
        IngestSettings()


def test_the_subscription_is_the_shared_one() -> None:
    assert SUBSCRIPTION == "$share/nabd-ingest/nabd/v1/gw/+/obs"
