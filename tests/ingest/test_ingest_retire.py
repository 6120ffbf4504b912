"""``nabd ingest retire``: a worker taken out of service leaves the shared subscription at once.

A stopped worker's persistent session stays in the share group until it expires and keeps
receiving its share of observations, which then wait for a worker that is not coming back (late
readings, delivered only when gateways re-send). Retiring the worker makes the broker discard
the session: reconnecting with its client id finds none.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.ingest.consumer import SUBSCRIPTION
from tests.stack_kit import DEADLINE_S, stack_client, token

pytestmark = pytest.mark.integration

HOUR: Final = 3600


def _session_present(stack: RunningStack, client_id: str, *, subscribe: bool) -> bool:
    """Connect as ``client_id`` keeping any session (expiry one hour); was one on the broker?"""
    client = stack_client(stack, stack.service("ingest"), client_id)
    present: list[bool] = []
    ready = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, *_: Any) -> None:
        present.append(bool(flags.session_present))
        if subscribe:
            client.subscribe(SUBSCRIPTION, qos=1)
        else:
            ready.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: ready.set()
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = HOUR
    client.connect(stack.mqtt_host, stack.mqtt_port, clean_start=False, properties=props)
    client.loop_start()
    try:
        assert ready.wait(DEADLINE_S), f"{client_id}: no connection"
    finally:
        client.disconnect()
        client.loop_stop()
    return present[0]


def test_retire_ends_a_stopped_workers_session(
    nabd_stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = f"retired-{token()}"
    client_id = f"nabd-ingest-{worker}"
    _session_present(nabd_stack, client_id, subscribe=True)  # a worker that ran, then stopped
    assert _session_present(nabd_stack, client_id, subscribe=False)  # its session outlives it

    for name, value in nabd_stack.env.items():
        monkeypatch.setenv(name, value)
    assert main(["-q", "ingest", "retire", "--worker-id", worker]) == 0
    assert f"{client_id}: broker session ended" in capsys.readouterr().out

    assert not _session_present(nabd_stack, client_id, subscribe=False)
