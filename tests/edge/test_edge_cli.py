"""``nabd edge``: the command line an operator uses to check and run a gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from nabd.app.cli import main

CONFIG = """
gateway_id = "gw-cli"
data_dir = "data"

[broker]
ca_file = "ca.crt"
cert_file = "gw.crt"
key_file = "gw.key"

[ble]
backend = "bumble"
transport = "usb:0"

[[devices]]
id = "hr-01"
address = "F0:00:00:00:00:01"
patient = "p-1"
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NABD_GATEWAY_ID", "NABD_EDGE_MQTT_USERNAME", "NABD_MQTT_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NABD_MQTT_HOST", "mqtt.example")
    monkeypatch.setenv("NABD_EDGE_MQTT_PASSWORD", "not-printed")


@pytest.mark.usefixtures("env")
def test_check_prints_the_resolved_setup_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(CONFIG)
    assert main(["edge", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "gateway    gw-cli" in out
    assert "mqtt.example:8883 as gw-cli" in out
    assert "bumble on usb:0" in out
    assert "hr-01 F0:00:00:00:00:01 patient p-1" in out
    assert "not-printed" not in out


@pytest.mark.usefixtures("env")
def test_a_bad_file_exits_1_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(CONFIG.replace('backend = "bumble"', 'backend = "bluetooth"'))
    assert main(["edge", "run", "--config", str(config)]) == 1
    assert "ble.backend" in capsys.readouterr().err


def test_status_before_any_report_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(CONFIG)
    assert main(["edge", "status", "--config", str(config)]) == 1
    assert "no status report yet" in capsys.readouterr().err
