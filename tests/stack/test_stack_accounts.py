"""Broker password hashes and account names, checked against the real ``mosquitto_passwd``."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.app.stack.accounts import (
    ALERTS_READER,
    RESERVED,
    SERVICES,
    check_gateway_id,
    hash_password,
    render_acl,
    render_password_file,
    verify_password,
)
from nabd.app.stack.errors import StackInputError


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


def test_password_file_has_one_line_per_account_and_no_plain_password() -> None:
    text = render_password_file({"gw-2": "pw-two", "gw-1": "pw-one"})
    lines = text.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["gw-1", "gw-2"]
    assert "pw-one" not in text
    assert verify_password("pw-one", lines[0].split(":", 1)[1])


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
