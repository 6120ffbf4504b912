"""``nabd gateway provision``: the folder a gateway starts from, written from the registry.

The ``edge.toml`` is checked by the edge agent's own loader (whatever ids, addresses and broker
names go in, it parses back to them); the files are its owner's only; the credentials log in to
the real broker; and a refusal (no device yet) creates neither an account nor a file."""

from __future__ import annotations

import ssl
import stat
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from nabd.app.cli import main
from nabd.app.stack.errors import StackInputError
from nabd.app.stack.lifecycle import environment
from nabd.app.stack.testing import RunningStack
from nabd.care.errors import CareInputError
from nabd.care.provisioning import BrokerAccess, GatewayDevice, edge_toml
from nabd.edge.config import load_config, parse_config
from tests.care.care_kit import token

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)
addresses = st.lists(
    st.text("0123456789ABCDEF", min_size=2, max_size=2), min_size=6, max_size=6
).map(":".join)


def _printable(text: str) -> bool:
    return bool(text) and all(32 <= ord(c) != 127 and not 0xD800 <= ord(c) < 0xE000 for c in text)


@given(
    gateway=ids,
    devices=st.lists(
        st.tuples(ids, addresses, st.none() | ids),
        max_size=5,
        unique_by=(lambda d: d[0], lambda d: d[1]),
    ),
    host=st.text(max_size=40),
    data_dir=st.text(max_size=40),
)
def test_the_edge_toml_parses_back_to_what_the_registry_said(
    gateway: str, devices: list[tuple[str, str, str | None]], host: str, data_dir: str
) -> None:
    listed = [GatewayDevice(*d) for d in devices] or [
        GatewayDevice("hr-1", "F0:F1:F2:F3:F4:05", None)
    ]
    broker = BrokerAccess(host, 8883, gateway)
    if not (_printable(host) and _printable(data_dir)):
        with pytest.raises(CareInputError, match="give printable characters"):
            edge_toml(gateway, listed, broker, data_dir=data_dir)
        return
    config = parse_config(edge_toml(gateway, listed, broker, data_dir=data_dir), Path("/b"))
    assert config.gateway_id == gateway
    assert [(d.id, d.address, d.patient) for d in config.devices] == [
        (d.id, d.address, d.patient_id) for d in listed
    ]
    assert (config.broker.host, config.broker.port, config.broker.username) == (host, 8883, gateway)
    assert config.data_dir == Path("/b") / data_dir
    assert config.broker.ca_file == Path("/b/ca.crt")
    assert config.broker.password_file == Path("/b/mqtt-password")


def _logs_in(config_path: Path) -> bool:
    """Whether the bundle's credentials open a session on the real broker."""
    config = load_config(config_path)
    broker = config.broker
    for value in (broker.ca_file, broker.cert_file, broker.key_file, broker.password_file,
                  broker.host, broker.port, broker.username):  # fmt: skip
        assert value, "the bundle's edge.toml names every broker setting"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{broker.username}-{token()}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    assert broker.password_file is not None
    assert broker.host is not None
    assert broker.port is not None
    client.tls_set(
        ca_certs=str(broker.ca_file),
        certfile=str(broker.cert_file),
        keyfile=str(broker.key_file),
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    client.username_pw_set(broker.username, broker.password_file.read_text())
    outcome: list[bool] = []
    done = threading.Event()

    def on_connect(*args: Any) -> None:
        outcome.append(not args[3].is_failure)
        done.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert done.wait(15), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome == [True]


@pytest.mark.integration
def test_a_gateway_is_provisioned_from_the_registry(
    nabd_stack: RunningStack,
    care_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NABD_CARE_DATABASE_URL", care_url)
    ward, gateway, out = f"w-{token()}", f"gw-{token()}", tmp_path / "bundle"
    by = ["--by", "Tech Sami"]
    provision = [
        "gateway",
        "provision",
        gateway,
        "--out",
        str(out),
        "--ward",
        ward,
        "--state-dir",
        str(nabd_stack.state_dir),
        *by,
    ]
    assert main(["ward", "add", ward, "--name", "W", *by]) == 0
    capsys.readouterr()
    # Nothing to read yet: refused before any account or file exists.
    assert main(provision) == 1
    assert "has no device with an address yet" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(StackInputError, match=f"no gateway '{gateway}'"):
        environment(nabd_stack.settings, gateway)  # no broker account either
    assert main(["ward", "add-beds", ward, "1", "--gateway", gateway, *by]) == 0
    strap = f"hr-{token()}"
    assert (
        main(
            [
                "device",
                "add",
                strap,
                "--kind",
                "heart_rate_strap",
                "--address",
                "F0:F1:F2:F3:F4:05",
                "--gateway",
                gateway,
                *by,
            ]
        )
        == 0
    )
    assert main(provision) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ca.crt", "client.crt", "client.key", "edge.toml", "mqtt-password"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    config = load_config(out / "edge.toml")
    assert [(d.id, d.address, d.patient) for d in config.devices] == [
        (strap, "F0:F1:F2:F3:F4:05", None)
    ]
    assert _logs_in(out / "edge.toml")
    # A patient is admitted and wears a second device: provisioning again lists both.
    capsys.readouterr()
    admit = f"patient admit --ward {ward} --bed 1 --mrn M{token()} --name Ana --by Nurse"
    assert main(admit.split()) == 0
    patient = capsys.readouterr().out.strip()
    oximeter = f"ox-{token()}"
    assert (
        main(
            [
                "device",
                "add",
                oximeter,
                "--kind",
                "pulse_oximeter",
                "--address",
                "F0:F1:F2:F3:F4:06",
                *by,
            ]
        )
        == 0
    )
    assert main(["device", "assign", oximeter, patient, *by]) == 0
    assert main(provision) == 0
    config = load_config(out / "edge.toml")
    assert sorted((d.id, d.patient) for d in config.devices) == sorted(
        [(strap, None), (oximeter, patient)]
    )
