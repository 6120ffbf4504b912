"""``nabd stack up`` twice, ``down``, ``up`` again, on a stack of its own (not the session's)."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nabd.app.cli import main
from nabd.app.stack import lifecycle, mosquitto, postgres, tls
from nabd.app.stack.layout import Layout
from nabd.app.stack.ports import LOCALHOST, port_is_free
from nabd.app.stack.settings import StackSettings
from nabd.app.stack.state import StackState, load_state
from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from tests.mqtt.broker_kit import Peer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private_dir() -> Iterator[Path]:
    """A state folder for this module's own stack, stopped and removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="nabd-lifecycle-"))
    try:
        yield path
    finally:
        main(["-q", "stack", "down", "--state-dir", str(path)])
        shutil.rmtree(path, ignore_errors=True)


def _stack(args: list[str], state_dir: Path) -> int:
    return main(["stack", *args, "--state-dir", str(state_dir)])


def _state(state_dir: Path) -> StackState:
    state = load_state(Layout(state_dir))
    assert state is not None
    return state


def _secrets(state: StackState) -> list[str]:
    dumped = json.loads(state.model_dump_json())
    return [
        dumped["postgres"]["superuser_password"],
        dumped["postgres"]["owner_password"],
        *(a["password"] for a in dumped["postgres"]["services"].values()),
        *(a["password"] for a in dumped["mqtt"]["services"].values()),
    ]


def _owner_url(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert _stack(["env"], state_dir) == 0
    line = next(
        line for line in capsys.readouterr().out.splitlines() if "NABD_DATABASE_URL=" in line
    )
    return line.split("=", 1)[1]


def test_up_twice_reuses_everything_and_restarts_nothing(
    private_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = Layout(private_dir)
    assert _stack(["up"], private_dir) == 0
    first = _state(private_dir)
    pids = (postgres.postmaster_pid(layout), mosquitto.running_pid(layout))
    assert None not in pids
    assert _stack(["gateway", "add", "gw-1"], private_dir) == 0

    assert _stack(["up"], private_dir) == 0
    second = _state(private_dir)
    assert (postgres.postmaster_pid(layout), mosquitto.running_pid(layout)) == pids
    assert second.postgres == first.postgres
    assert second.mqtt.port == first.mqtt.port
    assert second.mqtt.gateways.keys() == {"gw-1"}
    assert _stack(["status"], private_dir) == 0
    assert "running" in capsys.readouterr().out


def test_a_stack_made_before_the_gateway_listener_gets_it_on_up(private_dir: Path) -> None:
    """An older state (no gateway port, gateways with a password and a certificate of the
    stack's CA) and its running broker: ``up`` gives the gateways a listener, re-issues their
    certificates from the gateways' CA and restarts the broker once; the gateway logs in."""
    layout = Layout(private_dir)
    assert _stack(["up"], private_dir) == 0
    assert _stack(["gateway", "add", "gw-old"], private_dir) == 0
    old = json.loads(layout.state_file.read_text())
    del old["mqtt"]["gateway_port"]
    old["mqtt"]["gateways"]["gw-old"] = {"password": "an-old-password-of-32-characters"}
    layout.state_file.write_text(json.dumps(old))
    tls.ensure_leaf(
        tls.ensure_authority(layout.ca_cert, layout.ca_key),
        "gw-old",
        server=False,
        cert_path=layout.client_cert("gw-old"),
        key_path=layout.client_key("gw-old"),
    )
    before = mosquitto.running_pid(layout)

    assert _stack(["up"], private_dir) == 0
    state = _state(private_dir)
    assert state.mqtt.gateway_port is not None
    assert mosquitto.running_pid(layout) not in (None, before)  # restarted once
    settings = StackSettings(state_dir=private_dir)
    stack = RunningStack(settings, lifecycle.environment(settings))
    creds = stack.add_gateway("gw-old")
    assert creds.port == state.mqtt.gateway_port
    Peer(stack, creds).connected().close()
    assert "an-old-password" not in layout.state_file.read_text()


def test_no_secret_reaches_the_output_or_the_server_logs(
    private_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _stack(["up"], private_dir) == 0
    assert _stack(["status"], private_dir) == 0
    printed = capsys.readouterr()
    layout = Layout(private_dir)
    logs = layout.pg_log.read_text() + layout.mqtt_log.read_text()
    for secret in _secrets(_state(private_dir)):
        assert secret not in printed.out + printed.err
        assert secret not in logs


def test_down_stops_both_and_up_brings_back_the_same_data(
    private_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = Layout(private_dir)
    assert _stack(["up"], private_dir) == 0
    url = _owner_url(private_dir, capsys)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survives (x int)")
        conn.execute("INSERT INTO survives VALUES (42)")
    state = _state(private_dir)

    assert _stack(["down"], private_dir) == 0
    assert mosquitto.running_pid(layout) is None
    assert port_is_free(state.postgres.port)
    assert port_is_free(state.mqtt.port)
    assert _stack(["status"], private_dir) == 3
    assert capsys.readouterr().out.count("stopped") == 2
    assert _stack(["down"], private_dir) == 0  # stopping a stopped stack is fine

    assert _stack(["up"], private_dir) == 0
    assert _owner_url(private_dir, capsys) == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM survives").fetchall() == [(42,)]


def test_a_recorded_port_taken_by_another_program_is_reported(
    private_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _stack(["up"], private_dir) == 0
    mqtt_port = _state(private_dir).mqtt.port
    assert _stack(["down"], private_dir) == 0
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((LOCALHOST, mqtt_port))
        squatter.listen()
        capsys.readouterr()
        assert _stack(["up"], private_dir) == 1
        assert f"port {mqtt_port}" in capsys.readouterr().err
    assert _stack(["up"], private_dir) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gateway", "add", "Ward/3"], "must match"),
        (["gateway", "add", "ingest"], "service account"),
        (["gateway", "remove", "never-added"], "no gateway"),
        (["env", "--gateway", "never-added"], "no gateway"),
    ],
)
def test_bad_gateway_requests_are_refused_with_a_reason(
    private_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert _stack(["up"], private_dir) == 0
    capsys.readouterr()
    assert _stack(args, private_dir) == 1
    assert message in capsys.readouterr().err


def test_a_bulk_add_restarts_the_broker_once_and_keeps_stored_sessions(private_dir: Path) -> None:
    """More than ``RESTART_ABOVE`` new gateways: one restart from a file written in one go
    (commands would cost the plugin one whole-file save each), sessions kept by persistence."""
    assert _stack(["up"], private_dir) == 0
    settings = StackSettings(state_dir=private_dir)
    stack = RunningStack(settings, lifecycle.environment(settings))
    expiry = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    expiry.SessionExpiryInterval = 3600
    keeper = Peer(stack, stack.add_gateway("keeper")).connected(
        clean_start=False, properties=expiry
    )
    keeper.subscribe(topics.ack("keeper"))
    keeper.close()
    layout = Layout(private_dir)
    before = mosquitto.running_pid(layout)
    ids = [f"bulk-{i:04d}" for i in range(lifecycle.RESTART_ABOVE + 1)]
    creds = stack.add_gateways(ids)
    assert mosquitto.running_pid(layout) not in {None, before}
    for gateway_id in (ids[0], ids[-1]):
        Peer(stack, creds[gateway_id]).connected().close()
    again = Peer(stack, stack.add_gateway("keeper"))
    again.connected(clean_start=False, properties=expiry)
    try:
        assert again.session_present is True
    finally:
        again.close()
