"""Many gateway accounts at once (what a load test needs): no broker reload, every account live,
existing accounts untouched, and nothing written when one id is bad."""

from __future__ import annotations

import pytest

from nabd.app.cli import main
from nabd.app.stack import mosquitto, tls, wire
from nabd.app.stack.accounts import RESERVED
from nabd.app.stack.layout import Layout
from nabd.app.stack.state import load_state
from nabd.app.stack.testing import MqttCredentials, RunningStack
from nabd.contract.topics import gateway_client_id

pytestmark = pytest.mark.integration


def _reloads(stack: RunningStack) -> int:
    return Layout(stack.state_dir).mqtt_log.read_bytes().count(b"Reloading config")


def _connack(
    stack: RunningStack, creds: MqttCredentials, password: str | None = None, port: int = 0
) -> int:
    probe = wire.ProbeCredentials(
        ca=stack.ca_file,
        cert=creds.cert_file,
        key=creds.key_file,
        username=creds.username,
        password=(creds.password or "") if password is None else password,
    )
    client_id = None if creds.username in RESERVED else creds.username
    return mosquitto.connack_code(port or creds.port, probe, client_id=client_id)


def _certificates(stack: RunningStack) -> dict[str, int | None]:
    """Each gateway in the state, with its certificate's serial."""
    layout = Layout(stack.state_dir)
    state = load_state(layout)
    assert state is not None
    return {g: tls.serial_of(layout.client_cert(g)) for g in state.mqtt.gateways}


def test_many_gateways_are_added_without_a_reload(nabd_stack: RunningStack) -> None:
    before = _reloads(nabd_stack)
    ids = [f"bulk-{i:03d}" for i in range(40)]
    creds = nabd_stack.add_gateways(ids)
    assert _reloads(nabd_stack) == before  # dynamic security: commands, no SIGHUP
    assert list(creds) == ids
    assert {c.username for c in creds.values()} == {gateway_client_id(g) for g in ids}
    assert all(_connack(nabd_stack, c) == 0 for c in creds.values())
    with pytest.raises((OSError, ConnectionError)):  # not trusted on the services' listener
        _connack(nabd_stack, creds[ids[0]], password="any", port=nabd_stack.mqtt_port)


def test_adding_again_keeps_existing_accounts(nabd_stack: RunningStack) -> None:
    first = nabd_stack.add_gateways(["keep-a", "keep-b"])
    serials = _certificates(nabd_stack)
    again = nabd_stack.add_gateways(["keep-a", "keep-b", "keep-c", "keep-c"])
    assert list(again) == ["keep-a", "keep-b", "keep-c"]
    after = _certificates(nabd_stack)
    assert after["keep-a"] == serials["keep-a"] == tls.serial_of(first["keep-a"].cert_file)
    assert after["keep-b"] == serials["keep-b"]
    assert _connack(nabd_stack, again["keep-c"]) == 0


def test_the_cli_adds_several_ids_or_none(
    nabd_stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = str(nabd_stack.state_dir)
    assert main(["-q", "stack", "gateway", "add", "cli-a", "cli-b", "--state-dir", state_dir]) == 0
    assert {"cli-a", "cli-b"} <= set(_certificates(nabd_stack))
    capsys.readouterr()
    code = main(["stack", "gateway", "add", "cli-c", "Bad/Id", "--state-dir", state_dir])
    assert code == 1
    assert "must match" in capsys.readouterr().err
    assert "cli-c" not in _certificates(nabd_stack)
