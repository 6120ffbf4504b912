"""Client ids are bound to accounts, and a removed gateway is gone at once (issue 17, item 3).

A gateway logs in on the gateway listener, where its certificate is its account: the broker
takes the certificate's common name, ``nabd-edge-<gateway id>``, as its username *and* its
client id, whatever id it asks for. So the holder of the id it asks for (ingest, analytics,
another gateway) is not disconnected and keeps its session, and another gateway's name or
password buys nothing. Its certificate is not trusted on the services' listener, nor theirs on
the gateway listener. Removing a gateway deletes its account (the broker disconnects it at
once), discards its stored session and revokes its certificate on both listeners.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from nabd.app.stack.testing import MqttCredentials, RunningStack
from nabd.contract import topics
from tests.mqtt.broker_kit import ACCEPTED, DEADLINE, NOT_AUTHORIZED, Peer
from tests.security.fuzz_budget import examples as fuzz_examples

pytestmark = pytest.mark.integration


def _kept_copy(creds: MqttCredentials, folder: Path) -> MqttCredentials:
    """The gateway's credentials copied aside, as a thief or a stale gateway would keep them
    after the stack removed the account and its files."""
    return MqttCredentials(
        creds.username,
        creds.password,
        Path(shutil.copy(creds.cert_file, folder)),
        Path(shutil.copy(creds.key_file, folder)),
        creds.port,
    )


def _alive(holder: Peer, topic: str) -> None:
    """The holder is still connected and still works (a PUBACK proves the session lives)."""
    assert holder.client.is_connected()
    assert not holder.closed.is_set()
    assert holder.publish(topic, b"still here") in ACCEPTED


def test_a_gateway_asking_for_a_service_or_another_gateways_client_id_gets_its_own(
    nabd_stack: RunningStack,
) -> None:
    tag = secrets.token_hex(3)
    attacker, victim = f"gw-att-{tag}", f"gw-vic-{tag}"
    creds = nabd_stack.add_gateway(attacker)
    ingest_id, analytics_id = f"nabd-ingest-{tag}", f"nabd-analytics-{tag}"
    holders = [
        (Peer(nabd_stack, nabd_stack.service("ingest"), client_id=ingest_id), topics.ack(victim)),
        (
            Peer(nabd_stack, nabd_stack.service("analytics"), client_id=analytics_id),
            topics.alerts("ward-a"),
        ),
        (Peer(nabd_stack, nabd_stack.add_gateway(victim)), topics.observations(victim)),
    ]
    peers = [h for h, _ in holders]
    try:
        for holder, _ in holders:
            holder.connected()
        for stolen in (ingest_id, analytics_id, topics.gateway_client_id(victim), "nabd-ingest-1"):
            itself = Peer(nabd_stack, creds).connected()  # the attacker under its own id
            thief = Peer(nabd_stack, creds, client_id=stolen)
            peers += [itself, thief]
            thief.connected()  # accepted, under the certificate's id: it takes over itself
            assert itself.closed.wait(DEADLINE), stolen
            assert thief.publish(topics.observations(victim), b"x") == NOT_AUTHORIZED
            thief.close()
        for holder, topic in holders:
            _alive(holder, topic)
    finally:
        for p in peers:
            p.close()


def test_no_client_id_a_gateway_asks_for_takes_over_a_session(nabd_stack: RunningStack) -> None:
    gateway_id = f"gw-ids-{secrets.token_hex(3)}"
    creds = nabd_stack.add_gateway(gateway_id)
    own = topics.gateway_client_id(gateway_id)
    ingest = nabd_stack.service("ingest")

    @settings(max_examples=fuzz_examples(25), deadline=None)
    @given(
        st.one_of(
            st.from_regex(r"[A-Za-z0-9_./:-]{1,40}", fullmatch=True),
            st.builds(lambda s: f"{own}{s}", st.from_regex(r"[a-z0-9-]{1,6}", fullmatch=True)),
            st.builds(lambda s: f"nabd-{s}-1", st.sampled_from(["ingest", "analytics"])),
            st.just(own.upper()),
            st.just(own[:-1]),
        )
    )
    def kept(client_id: str) -> None:
        if client_id == own:
            return
        holder = Peer(nabd_stack, ingest, client_id=client_id).connected()
        thief = Peer(nabd_stack, creds, client_id=client_id)
        try:
            thief.connected()
            _alive(holder, topics.ack(gateway_id))
        finally:
            thief.close()
            holder.close()

    kept()


def test_a_removed_gateways_session_ends_and_nothing_of_it_is_kept(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway_id = f"gw-gone-{secrets.token_hex(3)}"
    creds = nabd_stack.add_gateway(gateway_id)
    kept = _kept_copy(creds, tmp_path)
    expiry = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    expiry.SessionExpiryInterval = 3600
    live = Peer(nabd_stack, kept).connected(clean_start=False, properties=expiry)
    peers = [live]
    try:
        live.subscribe(topics.ack(gateway_id))  # a stored session: subscription, queue
        nabd_stack.remove_gateway(gateway_id)
        assert live.closed.wait(DEADLINE), "the removed gateway's connection is still open"
        again = Peer(nabd_stack, kept)
        peers.append(again)
        assert again.connect() is None  # certificate revoked: no TLS handshake
        # The same id added back (new password, new certificate) finds no stored session.
        fresh = Peer(nabd_stack, nabd_stack.add_gateway(gateway_id))
        peers.append(fresh)
        fresh.connected(clean_start=False, properties=expiry)
        assert fresh.session_present is False
    finally:
        for p in peers:
            p.close()


def _mixed(a: MqttCredentials, b: MqttCredentials, port: int) -> MqttCredentials:
    """B's account name (and password, if any) with A's certificate, on ``port``."""
    return MqttCredentials(b.username, b.password, a.cert_file, a.key_file, port)


def test_a_gateways_certificate_acts_as_no_other_account(nabd_stack: RunningStack) -> None:
    """The certificate is the account on the gateway listener: for any two gateways A and B,
    A's certificate with B's name and client id is A (B's topics refused, B's session kept);
    on the services' listener it is not trusted at all (no service password makes it one)."""
    victim_id = f"gw-v-{secrets.token_hex(3)}"
    victim = Peer(nabd_stack, nabd_stack.add_gateway(victim_id)).connected()
    ingest = nabd_stack.service("ingest")
    try:

        @settings(max_examples=fuzz_examples(10), deadline=None)
        @given(st.from_regex(r"gw-[a-z0-9]{1,8}", fullmatch=True))
        def as_another(attacker_id: str) -> None:
            if attacker_id == victim_id:
                return
            a = nabd_stack.add_gateway(attacker_id)
            b = nabd_stack.add_gateway(victim_id)
            thief = Peer(
                nabd_stack, _mixed(a, b, a.port), client_id=topics.gateway_client_id(victim_id)
            )
            services = Peer(nabd_stack, _mixed(a, ingest, nabd_stack.mqtt_port))
            try:
                thief.connected()  # accepted, but as A: the broker took A's name and id
                assert thief.publish(topics.observations(victim_id), b"x") == NOT_AUTHORIZED
                assert thief.publish(topics.observations(attacker_id), b"x") in ACCEPTED
                assert services.connect() is None  # not even a TLS handshake
            finally:
                thief.close()
                services.close()

        as_another()
        _alive(victim, topics.observations(victim_id))  # no attempt took B's session
    finally:
        victim.close()


def test_a_services_certificate_cannot_log_in_as_a_gateway(nabd_stack: RunningStack) -> None:
    gateway = nabd_stack.add_gateway(f"gw-s-{secrets.token_hex(3)}")
    for name in ("ingest", "analytics", "dashboards", "alerts_reader"):
        service = nabd_stack.service(name)
        as_gateway = Peer(nabd_stack, _mixed(service, gateway, gateway.port))
        try:
            assert as_gateway.connect() is None, name  # the gateway listener refuses it at TLS
        finally:
            as_gateway.close()


def test_a_revoked_certificate_fails_at_tls_on_both_listeners(
    nabd_stack: RunningStack, tmp_path: Path
) -> None:
    gateway_id = f"gw-rv-{secrets.token_hex(3)}"
    creds = nabd_stack.add_gateway(gateway_id)
    kept = _kept_copy(creds, tmp_path)
    nabd_stack.remove_gateway(gateway_id)
    ingest = nabd_stack.service("ingest")
    for port, as_whom in ((creds.port, kept), (nabd_stack.mqtt_port, _mixed(kept, ingest, 0))):
        peer = Peer(nabd_stack, as_whom, port=port)
        try:
            assert peer.connect() is None, port
        finally:
            peer.close()
