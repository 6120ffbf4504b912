"""Broker password hashes and account names, checked against the real ``mosquitto_passwd``."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from nabd.app.stack import dynsec, mosquitto, tls
from nabd.app.stack.accounts import (
    ALERTS_READER,
    PROBE_ACCOUNT,
    RESERVED,
    SERVICES,
    check_gateway_id,
    hash_password,
    pbkdf2,
    render_acl,
    verify_password,
)
from nabd.app.stack.errors import StackInputError
from nabd.app.stack.layout import Layout
from nabd.app.stack.ports import LOCALHOST
from nabd.app.stack.state import Account, GatewayAccount, MqttState
from nabd.contract import topics


def _mosquitto_passwd(tmp_path: Path, user: str, password: str) -> str:
    path = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(path), user, password],
        check=True,
        capture_output=True,
    )
    name, hashed = path.read_text().strip().split(":", 1)
    assert name == user
    return hashed


def test_our_hash_equals_mosquitto_passwd_for_the_same_salt(tmp_path: Path) -> None:
    theirs = _mosquitto_passwd(tmp_path, "gw-1", "correct horse battery staple")
    salt = base64.b64decode(theirs.split("$")[3])
    assert hash_password("correct horse battery staple", salt) == theirs


def test_hashes_written_by_mosquitto_passwd_verify(tmp_path: Path) -> None:
    theirs = _mosquitto_passwd(tmp_path, "ingest", "s3cret")
    assert verify_password("s3cret", theirs)
    assert not verify_password("s3cret ", theirs)


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=64))
def test_any_password_verifies_against_its_own_hash_only(password: str) -> None:
    hashed = hash_password(password)
    assert verify_password(password, hashed)
    assert not verify_password(password + "x", hashed)


def test_salts_differ_so_equal_passwords_hash_differently() -> None:
    assert hash_password("same") != hash_password("same")


def test_not_a_mosquitto_hash_is_rejected() -> None:
    with pytest.raises(StackInputError):
        verify_password("x", "$6$salt$digest")


@pytest.mark.parametrize("bad", ["GW-1", "gw/1", "gw+", "gw#", "", "-gw", "a" * 64])
def test_gateway_ids_that_cannot_be_a_topic_level_are_refused(bad: str) -> None:
    with pytest.raises(StackInputError):
        check_gateway_id(bad)


@pytest.mark.parametrize("reserved", sorted(RESERVED))
def test_service_account_names_are_not_gateway_ids(reserved: str) -> None:
    with pytest.raises(StackInputError, match="service account"):
        check_gateway_id(reserved)


def test_acl_confines_gateways_by_username_pattern_only() -> None:
    rules = [line for line in render_acl().splitlines() if line and not line.startswith("#")]
    patterns = [line for line in rules if line.startswith("pattern ")]
    assert patterns == [
        "pattern write nabd/v1/gw/%u/obs",
        "pattern write nabd/v1/gw/%u/status",
        "pattern read nabd/v1/gw/%u/ack",
        "pattern read nabd/v1/gw/%u/cmd",
        "pattern read nabd/v1/gw/%u/config",
    ]
    # No rule grants anything on a bare wildcard, and every service has a `user` section.
    assert not any(line.split()[-1] in {"#", "+"} for line in rules)
    assert {line.split()[1] for line in rules if line.startswith("user ")} >= set(SERVICES)


def test_the_alerts_reader_may_only_read_ward_alerts() -> None:
    lines = render_acl().splitlines()
    start = lines.index(f"user {ALERTS_READER}")
    section = lines[start + 1 : lines.index("", start)]
    assert section == ["topic read nabd/v1/ward/+/alerts"]
    assert ALERTS_READER in RESERVED


def _mqtt_state() -> MqttState:
    services = {n: Account(password=SecretStr(f"pw-{n}")) for n in (*SERVICES, PROBE_ACCOUNT)}
    gateways = {g: GatewayAccount() for g in ("gw-1", "gw-2")}
    return MqttState(port=18883, gateway_port=18884, services=services, gateways=gateways)


def test_dynamic_security_denies_by_default_and_gateways_have_no_password() -> None:
    text = dynsec.render_config(_mqtt_state())
    config = json.loads(text)
    assert config["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": False,
        "subscribe": False,
        "unsubscribe": True,
    }
    assert "pw-ingest" not in text
    clients = {c["username"]: c for c in config["clients"]}
    roles = {r["rolename"]: r["acls"] for r in config["roles"]}
    for gateway_id in ("gw-1", "gw-2"):
        # The username is the certificate's common name, which the gateway listener takes as
        # the username and the client id; no password: it cannot log in on the services'.
        client = clients[topics.gateway_client_id(gateway_id)]
        assert client["clientid"] == topics.gateway_client_id(gateway_id)
        assert not {"password", "salt", "iterations"} & set(client)
        (role,) = [r["rolename"] for r in client["roles"]]
        subscriptions = {a["topic"] for a in roles[role] if a["acltype"].startswith("subscribe")}
        assert subscriptions == {
            topics.ack(gateway_id),
            topics.commands(gateway_id),
            topics.gateway_config(gateway_id),
        }
        assert {a["acltype"] for a in roles[role]} == {
            "publishClientSend",
            "publishClientReceive",
            "subscribeLiteral",  # exact names: no wildcard, no $share
        }
    assert all("clientid" not in clients[s] for s in SERVICES)  # services pick their own ids
    for service in SERVICES:
        salt = base64.b64decode(clients[service]["salt"])
        assert base64.b64decode(clients[service]["password"]) == pbkdf2(f"pw-{service}", salt)
    admins = [u for u, c in clients.items() if any("admin" in r["rolename"] for r in c["roles"])]
    assert admins == [PROBE_ACCOUNT]


def test_the_broker_has_a_services_listener_and_a_certificate_bound_gateway_listener(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    text = mosquitto.render_config(layout, (18883, 18884), None, Path("/p.so"))
    services, gateways = text.split(f"listener 18884 {LOCALHOST}")
    assert f"listener 18883 {LOCALHOST}" in services
    assert f"cafile {layout.mqtt_ca}" in services
    assert "use_identity_as_username false" in services
    assert f"crlfile {layout.mqtt_crl}" in services
    assert f"cafile {layout.mqtt_gateway_ca}" in gateways
    assert "use_identity_as_username true" in gateways
    assert "use_username_as_clientid true" in gateways
    assert f"crlfile {layout.mqtt_gateway_crl}" in gateways
    assert gateways.count("require_certificate true") == 1


def test_the_crl_lists_revoked_serials_and_outlives_no_ca(tmp_path: Path) -> None:
    ca = tls.ensure_authority(tmp_path / "ca.crt", tmp_path / "ca.key")
    tls.write_crl(ca, [7, 42, 7], tmp_path / "revoked.crl")
    crl = x509.load_pem_x509_crl((tmp_path / "revoked.crl").read_bytes())
    assert crl.is_signature_valid(ca.key.public_key())
    assert sorted(r.serial_number for r in crl) == [7, 42]
    assert crl.next_update_utc == ca.cert.not_valid_after_utc  # never expires before the CA
