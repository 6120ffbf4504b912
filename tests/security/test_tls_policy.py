"""The one TLS policy of every MQTT client (``nabd.contract.tls``), against the real broker: our
CA's broker is accepted; a broker certificate from another CA, or one that does not name the host
connected to, is refused before a byte of MQTT is sent; nothing older than TLS 1.2 is offered."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from nabd.app.stack import mosquitto, wire
from nabd.app.stack.testing import RunningStack
from nabd.app.stack.tls import ensure_authority, ensure_leaf
from nabd.contract.tls import client_context

pytestmark = pytest.mark.integration


def _handshake(stack: RunningStack, context: ssl.SSLContext, server_hostname: str) -> None:
    with (
        socket.create_connection((stack.mqtt_host, stack.mqtt_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_the_policy_accepts_our_broker_and_logs_in(nabd_stack: RunningStack) -> None:
    ingest = nabd_stack.service("ingest")
    probe = wire.ProbeCredentials(
        ca=nabd_stack.ca_file,
        cert=ingest.cert_file,
        key=ingest.key_file,
        username=ingest.username,
        password=ingest.password or "",
    )
    assert mosquitto.connack_code(nabd_stack.mqtt_port, probe) == 0


def test_a_broker_certificate_from_another_ca_is_refused(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    ensure_authority(tmp_path / "rogue-ca.pem", tmp_path / "rogue-ca.key")
    ingest = nabd_stack.service("ingest")
    trusting_rogue = client_context(tmp_path / "rogue-ca.pem", ingest.cert_file, ingest.key_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(nabd_stack, trusting_rogue, nabd_stack.mqtt_host)


def test_a_broker_certificate_for_another_host_is_refused(nabd_stack: RunningStack) -> None:
    ingest = nabd_stack.service("ingest")
    context = client_context(nabd_stack.ca_file, ingest.cert_file, ingest.key_file)
    _handshake(nabd_stack, context, nabd_stack.mqtt_host)  # the name the certificate carries
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        _handshake(nabd_stack, context, "broker.example.org")


def test_nothing_older_than_tls_1_2_and_missing_files_raise(tmp_path: Path) -> None:
    ca = ensure_authority(tmp_path / "ca.pem", tmp_path / "ca.key")
    ensure_leaf(ca, "c", server=False, cert_path=tmp_path / "c.pem", key_path=tmp_path / "c.key")
    context = client_context(tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "c.key")
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(FileNotFoundError):
        client_context(tmp_path / "missing.pem", tmp_path / "c.pem", tmp_path / "c.key")
