"""``nabd gateway provision``: the folder a gateway starts from, written from the registry.

The ``edge.toml`` is checked by the edge agent's own loader (whatever ids, addresses and broker
names go in, it parses back to them); the files are its owner's only; the credentials log in to
the real broker; and a refusal (no device yet) creates neither an account nor a file."""

from __future__ import annotations

import contextlib
import ssl
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.care.errors import CareInputError
from nabd.care.provisioning import BrokerAccess, GatewayDevice, edge_toml
from nabd.edge.config import load_config, parse_config
from tests.care.care_kit import token
from tests.stack_kit import wait_until

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)
addresses = st.lists(
    st.text("0123456789ABCDEF", min_size=2, max_size=2), min_size=6, max_size=6
).map(":".join)


@pytest.fixture
def care_env(care_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The care login in ``NABD_CARE_DATABASE_URL``, as a desk's shell has it; its URL."""
    monkeypatch.setenv("NABD_CARE_DATABASE_URL", care_url)
    return care_url


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
    broker = BrokerAccess(host, 8883, gateway, password=len(devices) % 2 == 0)
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
    password_file = Path("/b/mqtt-password") if broker.password else None
    assert config.broker.password_file == password_file


@contextlib.contextmanager
def _session(config_path: Path) -> Iterator[tuple[bool, threading.Event]]:
    """A broker session opened with the bundle's credentials: (accepted, closed by the broker)."""
    broker = load_config(config_path).broker
    for value in (broker.ca_file, broker.cert_file, broker.key_file, broker.username):
        assert value, "the bundle's edge.toml names every broker setting"
    assert broker.password_file is None, "a gateway's certificate is its account: no password"
    assert broker.host is not None
    assert broker.port is not None
    assert broker.username is not None
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=broker.username,  # the broker takes it from the certificate anyway
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.tls_set(
        ca_certs=str(broker.ca_file),
        certfile=str(broker.cert_file),
        keyfile=str(broker.key_file),
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    client.username_pw_set(broker.username)
    outcome: list[bool] = []
    answered, closed = threading.Event(), threading.Event()

    def on_connect(*args: Any) -> None:
        outcome.append(not args[3].is_failure)
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_: closed.set()
    client.reconnect_delay_set(60, 60)  # a refused or dropped session stays closed
    try:
        client.connect(broker.host, broker.port)
    except (OSError, ssl.SSLError):  # a revoked certificate can fail the handshake right here
        yield False, closed
        return
    client.loop_start()
    try:
        # A revoked certificate fails at TLS (the broker's CRL): closed without any CONNACK.
        wait_until(lambda: answered.is_set() or closed.is_set(), "a CONNACK or a closed link", 15)
        yield outcome == [True], closed
    finally:
        client.disconnect()
        client.loop_stop()


def _logs_in(config_path: Path) -> bool:
    with _session(config_path) as (accepted, _):
        return accepted


@pytest.mark.integration
@pytest.mark.usefixtures("care_env")
def test_a_gateway_is_provisioned_from_the_registry(
    nabd_stack: RunningStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    # No device yet: the bundle lists none; the agent waits for the server's list.
    assert main(provision) == 0
    assert load_config(out / "edge.toml").devices == ()
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
    assert names == ["ca.crt", "client.crt", "client.key", "edge.toml"]
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


@pytest.mark.integration
def test_a_revoked_gateway_is_cut_off_at_once_and_given_nothing_new(
    nabd_stack: RunningStack, care_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ward, gateway, out = f"w-{token()}", f"gw-{token()}", tmp_path / "bundle"
    by, stack = ["--by", "Tech Sami"], ["--state-dir", str(nabd_stack.state_dir)]
    assert main(["ward", "add", ward, "--name", "W", *by]) == 0
    assert main(["gateway", "add", gateway, "--ward", ward, *by]) == 0
    assert main(["ward", "add-beds", ward, "1", "--gateway", gateway, *by]) == 0
    device = f"hr-{token()}"
    add = f"device add {device} --kind heart_rate_strap --address {_hex_address()}"
    assert main([*add.split(), "--gateway", gateway, *by]) == 0
    assert main(["gateway", "provision", gateway, "--out", str(out), *stack, *by]) == 0
    capsys.readouterr()
    with _session(out / "edge.toml") as (accepted, closed):
        assert accepted
        assert main(["gateway", "revoke", gateway, *stack, *by]) == 0
        assert "revoked at" in capsys.readouterr().out
        assert closed.wait(15), "the broker kept the revoked gateway's connection"
    assert not _logs_in(out / "edge.toml")
    assert main(["gateway", "revoke", gateway, *stack, *by]) == 0
    assert "revoked already; no broker account" in capsys.readouterr().out
    # Nothing new goes to it: no bed, and an assignment leaves the device where it was.
    assert main(["ward", "add-beds", ward, "2", "--gateway", gateway, *by]) == 1
    assert f"gateway '{gateway}' was revoked" in capsys.readouterr().err
    admit = f"patient admit --ward {ward} --bed 1 --mrn M{token()} --name Ana --by Nurse"
    assert main(admit.split()) == 0
    patient = capsys.readouterr().out.strip()
    other = f"ox-{token()}"
    assert (
        main(["device", "add", other, "--kind", "pulse_oximeter", "--address", _hex_address(), *by])
        == 0
    )
    assert main(["device", "assign", other, patient, *by]) == 0
    assert "has no gateway" in capsys.readouterr().err
    with psycopg.connect(care_env) as conn:
        trail = conn.execute(
            "SELECT actor, action FROM audit_log WHERE subject = %s ORDER BY seq",
            (f"gateway:{gateway}",),
        ).fetchall()
    assert trail == [
        ("Tech Sami", a) for a in ("gateway_added", "gateway_provisioned", "gateway_revoked")
    ]


@pytest.mark.integration
def test_devices_a_gateway_sees_but_does_not_have_are_listed_to_pick_from(
    care_env: str, owner_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway, elsewhere, by = f"gw-{token()}", f"gw-{token()}", ["--by", "Tech"]
    mine, theirs, found = f"hr-{token()}", f"hr-{token()}", f"ble-f0f1f2f3{token()[:4]}"
    for g in (gateway, elsewhere):
        assert main(["gateway", "add", g, *by]) == 0
    for d, g in ((mine, gateway), (theirs, elsewhere)):
        assert (
            main(
                [
                    "device",
                    "add",
                    d,
                    "--kind",
                    "scale",
                    "--address",
                    _hex_address(),
                    "--gateway",
                    g,
                    *by,
                ]
            )
            == 0
        )
    with psycopg.connect(owner_url) as conn:  # what ingest records from the gateway's status
        conn.cursor().executemany(
            """INSERT INTO gateway_device_state (gateway_id, device_id, state, since, rssi_dbm,
                                                 battery_percent, status_at)
               VALUES (%s, %s, %s, now(), %s, %s, now())""",
            [
                (gateway, mine, "connected", -50, 90),
                (gateway, theirs, "searching", -80, None),
                (gateway, found, "connected", -60, 40),
            ],
        )
    capsys.readouterr()
    assert main(["gateway", "seen", gateway]) == 0
    lines = capsys.readouterr().out.splitlines()
    address = ":".join(found[4:][i : i + 2] for i in range(0, 12, 2)).upper()
    assert [line.split() for line in lines[1:]] == [
        [found, address, "connected", "-60", "40%", "no"],
        [theirs, "-", "searching", "-80", "-", "to", elsewhere],
    ]
    assert main(["gateway", "show", gateway]) == 0
    shown = capsys.readouterr().out
    assert mine in shown
    assert found not in shown
    assert main(["gateway", "seen", "gw-nowhere"]) == 1


def _hex_address() -> str:
    raw = token() + token()
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2)).upper()
