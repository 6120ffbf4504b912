"""The stack's Mosquitto: TLS + client certificate + password, and the ACL between accounts.

Every check waits on an event with a deadline (no sleeps): a CONNACK, a SUBACK, a PUBACK, or
the next message. "X is not delivered" is checked with a sentinel: the same publisher then
publishes an allowed message, and the subscriber's next message must be the sentinel (a broker
keeps one publisher's messages in order for each subscriber).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nabd.app.cli import main
from nabd.app.stack import mosquitto, tls
from nabd.app.stack.layout import Layout
from nabd.app.stack.testing import MqttCredentials, RunningStack
from nabd.contract import topics
from tests.mqtt.broker_kit import ACCEPTED, DEADLINE, NOT_AUTHORIZED, peers

pytestmark = pytest.mark.integration


@pytest.fixture
def peer(nabd_stack: RunningStack) -> Iterator[Any]:
    """A factory of connected-or-not clients, all closed at the end of the test."""
    with peers(nabd_stack) as make:
        yield make


def _payload() -> bytes:
    return uuid.uuid4().bytes


def test_a_gateway_observation_reaches_ingest_on_the_shared_subscription(
    nabd_stack: RunningStack, peer: Any
) -> None:
    ingest = peer(nabd_stack.service("ingest")).connected()
    ingest.subscribe(topics.shared(topics.INGEST_SHARE_GROUP, topics.ALL_OBSERVATIONS))
    gateway = peer(nabd_stack.add_gateway("gw-own")).connected()
    payload = _payload()
    assert gateway.publish(topics.observations("gw-own"), payload) in ACCEPTED
    message = ingest.next_message()
    assert (message.topic, message.payload, message.qos) == (
        topics.observations("gw-own"),
        payload,
        1,
    )


def test_a_gateway_cannot_publish_as_another_gateway(nabd_stack: RunningStack, peer: Any) -> None:
    ingest = peer(nabd_stack.service("ingest")).connected()
    ingest.subscribe(topics.ALL_OBSERVATIONS)
    nabd_stack.add_gateway("gw-victim")
    forger = peer(nabd_stack.add_gateway("gw-forger")).connected()
    assert forger.publish(topics.observations("gw-victim"), b"forged") == NOT_AUTHORIZED
    assert forger.publish(topics.commands("gw-forger"), b"not mine to send") == NOT_AUTHORIZED
    sentinel = _payload()
    assert forger.publish(topics.observations("gw-forger"), sentinel) in ACCEPTED
    assert ingest.next_message().payload == sentinel  # the forged batch never arrived
    assert forger.client.is_connected()  # refused, not disconnected: the gateway carries on


def test_a_gateway_reads_its_own_acks_only(nabd_stack: RunningStack, peer: Any) -> None:
    nabd_stack.add_gateway("gw-other")
    gateway = peer(nabd_stack.add_gateway("gw-reader")).connected()
    assert gateway.suback(f"{topics.ROOT}/gw/+/ack") == NOT_AUTHORIZED  # everyone's: refused
    gateway.subscribe(topics.ack("gw-reader"))
    ingest = peer(nabd_stack.service("ingest")).connected()
    assert ingest.publish(topics.ack("gw-other"), b"not for you") in ACCEPTED
    own = _payload()
    assert ingest.publish(topics.ack("gw-reader"), own) in ACCEPTED
    message = gateway.next_message()
    assert (message.topic, message.payload) == (topics.ack("gw-reader"), own)


def test_analytics_reads_statuses_not_observations_and_writes_alerts(
    nabd_stack: RunningStack, peer: Any
) -> None:
    analytics = peer(nabd_stack.service("analytics")).connected()
    assert analytics.suback("#") == NOT_AUTHORIZED
    assert analytics.suback(topics.ALL_OBSERVATIONS) == NOT_AUTHORIZED
    analytics.subscribe(topics.ALL_STATUSES)
    dashboards = peer(nabd_stack.service("dashboards")).connected()
    assert dashboards.suback("#") == NOT_AUTHORIZED
    gateway = peer(nabd_stack.add_gateway("gw-status")).connected()
    assert gateway.publish(topics.observations("gw-status"), b"obs") in ACCEPTED
    status = _payload()
    assert gateway.publish(topics.status("gw-status"), status) in ACCEPTED
    # Other tests' gateways left retained statuses on this shared broker: read up to ours, and
    # check that nothing analytics received on the way was an observation.
    seen = [analytics.next_message()]
    while seen[-1].topic != topics.status("gw-status"):
        seen.append(analytics.next_message())
    assert seen[-1].payload == status
    assert [m.topic for m in seen if m.topic.endswith("/obs")] == []
    assert dashboards.messages.empty()  # reads nothing (its data comes from the database)
    assert analytics.publish(topics.alerts("ward-a"), b"alert") in ACCEPTED
    # Ingest's watchdog publishes "monitoring interrupted" (nabd.ingest.watchdog); a gateway
    # may not publish any alert.
    ingest = peer(nabd_stack.service("ingest")).connected()
    assert ingest.publish(topics.alerts("ward-a"), b"alert") in ACCEPTED
    assert gateway.publish(topics.alerts("ward-a"), b"fake alert") == NOT_AUTHORIZED
    assert dashboards.publish(topics.alerts("ward-a"), b"fake alert") == NOT_AUTHORIZED


def test_anonymous_clients_are_refused(nabd_stack: RunningStack, peer: Any) -> None:
    ingest = nabd_stack.service("ingest")
    anonymous = peer(None, client_cert=(ingest.cert_file, ingest.key_file))
    code = anonymous.connect()
    assert code is not None
    assert code.value == NOT_AUTHORIZED


def test_a_wrong_password_is_refused(nabd_stack: RunningStack, peer: Any) -> None:
    real = nabd_stack.service("dashboards")
    assert real.password is not None
    wrong = MqttCredentials(
        real.username, real.password + "x", real.cert_file, real.key_file, real.port
    )
    code = peer(wrong).connect()
    assert code is not None
    assert code.value == NOT_AUTHORIZED


def test_a_client_without_a_certificate_is_refused(nabd_stack: RunningStack, peer: Any) -> None:
    creds = nabd_stack.add_gateway("gw-nocert")
    assert peer(creds, present_cert=False).connect() is None


def test_a_certificate_from_another_ca_is_refused(
    nabd_stack: RunningStack, peer: Any, tmp_path: Path
) -> None:
    creds = nabd_stack.add_gateway("gw-foreign")
    stranger = tls.ensure_authority(tmp_path / "ca.crt", tmp_path / "ca.key")
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    tls.ensure_leaf(stranger, creds.username, server=False, cert_path=cert, key_path=key)
    assert peer(creds, client_cert=(cert, key)).connect() is None


def test_plaintext_mqtt_on_the_port_gets_no_connack(nabd_stack: RunningStack, peer: Any) -> None:
    creds = nabd_stack.add_gateway("gw-plain")
    plain = peer(creds, use_tls=False)
    assert plain.connect() is None
    assert plain.closed.is_set()


def test_removing_a_gateway_revokes_it_without_restarting_the_broker(
    nabd_stack: RunningStack, peer: Any, tmp_path: Path
) -> None:
    layout = Layout(nabd_stack.state_dir)
    broker_pid = mosquitto.running_pid(layout)
    creds = nabd_stack.add_gateway("gw-revoked")
    # Keep a copy: the removal deletes the gateway's certificate and key from the state folder.
    kept = MqttCredentials(
        creds.username,
        creds.password,
        Path(shutil.copy(creds.cert_file, tmp_path)),
        Path(shutil.copy(creds.key_file, tmp_path)),
        creds.port,
    )
    live = peer(kept).connected()
    assert live.publish(topics.observations("gw-revoked"), b"before") in ACCEPTED

    argv = ["-q", "stack", "gateway", "remove", "gw-revoked", "--state-dir", str(layout.root)]
    assert main(argv) == 0

    assert live.closed.wait(DEADLINE)  # deleting the account disconnected the live session
    assert peer(kept).connect() is None  # its certificate is in the CRL: no TLS handshake
    assert peer(kept, port=nabd_stack.mqtt_port).connect() is None  # nor on the services'
    assert not creds.cert_file.exists()
    assert not creds.key_file.exists()
    assert mosquitto.running_pid(layout) == broker_pid


def test_the_alerts_reader_reads_alerts_only_and_publishes_nothing(
    nabd_stack: RunningStack, peer: Any
) -> None:
    reader = peer(nabd_stack.service("alerts_reader")).connected()
    assert reader.connack is not None
    assert reader.suback("#") == NOT_AUTHORIZED  # asks for everything: refused
    reader.subscribe(topics.ALL_ALERTS)
    gateway = peer(nabd_stack.add_gateway("gw-display")).connected()
    assert gateway.publish(topics.observations("gw-display"), b"obs") in ACCEPTED
    assert gateway.publish(topics.status("gw-display"), _payload()) in ACCEPTED
    ingest = peer(nabd_stack.service("ingest")).connected()
    assert ingest.publish(topics.ack("gw-display"), b"ack") in ACCEPTED
    # Mosquitto routes a QoS 1 message before it sends the PUBACK: everything above was queued
    # for the reader before this alert, so its first message must be the alert.
    alert = _payload()
    analytics = peer(nabd_stack.service("analytics")).connected()
    assert analytics.publish(topics.alerts("ward-display"), alert) in ACCEPTED
    message = reader.next_message()
    assert (message.topic, message.payload) == (topics.alerts("ward-display"), alert)
    assert reader.publish(topics.alerts("ward-display"), b"forged") == NOT_AUTHORIZED
    assert reader.publish(topics.observations("gw-display"), b"forged") == NOT_AUTHORIZED
    assert reader.publish(topics.status("gw-display"), b"forged") == NOT_AUTHORIZED
    assert reader.client.is_connected()
