"""The gateway's TOML file and the environment: valid files load, bad ones say which field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from nabd.edge.ble.profiles import HealthService
from nabd.edge.config import EdgeConfig, parse_config
from nabd.edge.errors import EdgeConfigError
from nabd.edge.settings import EdgeSettings, resolve

EXAMPLE = """
gateway_id = "gw-ward3-01"
site = "Cardiology 3"
data_dir = "state"
device_timezone = "Europe/Paris"

[broker]
host = "mqtt.hospital.example"
port = 8883
ca_file = "tls/ca.crt"
cert_file = "tls/gw.crt"
key_file = "tls/gw.key"

[ble]
backend = "bumble"
transport = "usb:0"
reconnect_max_s = 30

[outbox]
max_readings = 500000
batch_max_readings = 250

[discovery]
enabled = true
services = ["heart_rate", "pulse_oximeter"]

[[devices]]
id = "hr-01"
address = "f0:f1:f2:f3:f4:05"
patient = "p-7f3a9c"

[[devices]]
id = "plx-01"
address = "F0:F1:F2:F3:F4:06"
timezone = "UTC"
"""


def _parse(text: str, base: Path = Path("/etc/nabd")) -> EdgeConfig:
    return parse_config(text, base, "edge.toml")


def test_the_example_loads_with_paths_relative_to_the_file() -> None:
    config = _parse(EXAMPLE)
    assert config.gateway_id == "gw-ward3-01"
    assert config.broker.ca_file == Path("/etc/nabd/tls/ca.crt")
    assert config.outbox_path == Path("/etc/nabd/state/outbox.sqlite3")
    assert config.status_path == Path("/etc/nabd/state/status.json")
    assert config.devices[0].address == "F0:F1:F2:F3:F4:05"  # normalised
    assert config.discovery.services == (HealthService.HEART_RATE, HealthService.PULSE_OXIMETER)
    assert config.ble.connect_timeout_s == 20.0  # defaults fill the rest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("port = 8883", 'port = "8883"'), "broker.port"),
        (('backend = "bumble"', 'backend = "bluetooth"'), "ble.backend"),
        (('transport = "usb:0"', ""), "needs a transport"),
        (('address = "f0:f1:f2:f3:f4:05"', 'address = "f0:f1"'), "not a Bluetooth address"),
        (('id = "plx-01"', 'id = "hr-01"'), "device id listed twice"),
        (('patient = "p-7f3a9c"', 'patient = "Jane Doe"'), "devices.0.patient"),
        (('timezone = "UTC"', 'timezone = "Mars/Olympus"'), "not a time zone"),
        (("batch_max_readings = 250", "batch_max_readings = 5000"), "outbox.batch_max_readings"),
        (('site = "Cardiology 3"', 'sight = "Cardiology 3"'), "sight"),
        (('gateway_id = "gw-ward3-01"', 'gateway_id = "GW/1"'), "gateway_id"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(EdgeConfigError, match=message) as caught:
        _parse(EXAMPLE.replace(old, new))
    assert str(caught.value).startswith("edge.toml: ")


def test_broken_toml_is_refused_with_its_position() -> None:
    with pytest.raises(EdgeConfigError, match=r"not valid TOML.*line 2"):
        _parse('gateway_id = "gw-1"\n[ble\n')


def test_a_gateway_with_no_devices_listed_waits_for_the_servers_list() -> None:
    assert _parse('gateway_id = "gw-1"\n').devices == ()


def _settings(**values: object) -> EdgeSettings:
    # Every field given: the test's own environment must not leak in.
    fields: dict[str, object] = dict.fromkeys(EdgeSettings.model_fields)
    fields.update(values)
    return EdgeSettings.model_validate(fields)


def test_the_environment_wins_over_the_file_and_supplies_the_secret() -> None:
    config = _parse(EXAMPLE)
    gateway_id, broker = resolve(
        config,
        _settings(
            gateway_id="gw-ward3-01",
            mqtt_host="127.0.0.1",
            mqtt_port=18883,
            edge_mqtt_password=SecretStr("s3cret"),
        ),
    )
    assert gateway_id == "gw-ward3-01"
    assert (broker.host, broker.port) == ("127.0.0.1", 18883)
    assert broker.ca_file == Path("/etc/nabd/tls/ca.crt")  # from the file
    assert broker.username == "gw-ward3-01"  # defaults to the gateway id
    assert broker.password == "s3cret"
    assert "s3cret" not in repr(broker)


def test_a_conflicting_gateway_id_is_refused() -> None:
    with pytest.raises(EdgeConfigError, match="NABD_GATEWAY_ID='gw-other'"):
        resolve(
            _parse(EXAMPLE), _settings(gateway_id="gw-other", edge_mqtt_password=SecretStr("x"))
        )


def test_tls_is_not_optional() -> None:
    text = EXAMPLE.replace('cert_file = "tls/gw.crt"\n', "")
    with pytest.raises(EdgeConfigError, match="NABD_EDGE_MQTT_CERT_FILE"):
        resolve(_parse(text), _settings(edge_mqtt_password=SecretStr("x")))


def test_the_password_may_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("from-a-file\n")
    text = EXAMPLE.replace("[broker]\n", '[broker]\npassword_file = "password"\n')
    _, broker = resolve(_parse(text, tmp_path), _settings())
    assert broker.password == "from-a-file"
    # Neither the environment nor the file gives one: a certificate-bound account, none sent.
    _, certificate_only = resolve(_parse(EXAMPLE, tmp_path), _settings())
    assert certificate_only.password is None
    missing = EXAMPLE.replace("[broker]\n", '[broker]\npassword_file = "absent"\n')
    with pytest.raises(EdgeConfigError, match="password_file: cannot read"):
        resolve(_parse(missing, tmp_path), _settings())


def test_environment_variables_are_read_with_their_documented_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NABD_MQTT_PORT", "1884")
    monkeypatch.setenv("NABD_EDGE_MQTT_PASSWORD", "pw")
    monkeypatch.setenv("NABD_DATABASE_URL", "postgresql://elsewhere")  # other services' vars
    settings = EdgeSettings()
    assert settings.mqtt_port == 1884
    assert settings.edge_mqtt_password is not None
    assert settings.edge_mqtt_password.get_secret_value() == "pw"
