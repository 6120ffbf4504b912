"""``bench/lean_publisher.py``, the capacity benchmark's MQTT client: its byte codecs against
MQTT 5.0 (the end-to-end use against a real Mosquitto is ``test_capacity``'s smoke run)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # --import-mode=importlib puts no folder on sys.path
    sys.path.insert(0, str(_ROOT))

from bench import lean_publisher as lean  # noqa: E402


@pytest.mark.parametrize(
    ("n", "encoded"),
    [  # MQTT 5.0 section 1.5.5, table 1-1: the bounds of each size
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integers_are_those_of_the_standard(n: int, encoded: bytes) -> None:
    assert lean.varint(n) == encoded
    assert lean.decode_varint(b"\xaa" + encoded + b"\x55", 1) == (n, 1 + len(encoded))


@given(st.integers(0, 268_435_455), st.binary(max_size=8))
def test_a_variable_byte_integer_decodes_to_itself_and_a_cut_one_asks_for_more(
    n: int, rest: bytes
) -> None:
    encoded = lean.varint(n)
    assert lean.decode_varint(encoded + rest, 0) == (n, len(encoded))
    assert lean.decode_varint(encoded[:-1], 0) is None


def test_too_large_or_malformed_integers_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        lean.varint(268_435_456)
    with pytest.raises(ValueError, match="more than 4 bytes"):
        lean.decode_varint(b"\x80\x80\x80\x80\x01", 0)


def test_a_publish_packet_is_qos_1_with_its_topic_id_and_payload() -> None:
    payload = b"x" * 300
    packet = lean.publish_packet(b"\x00\x03a/b", 513, payload)
    size, at = lean.decode_varint(packet, 1) or (0, 0)
    assert packet[0] == 0x32  # PUBLISH, QoS 1, no DUP, no RETAIN
    assert size == len(packet) - at == 5 + 2 + 1 + 300
    assert packet[at : at + 5] == b"\x00\x03a/b"
    assert packet[at + 5 : at + 7] == (513).to_bytes(2, "big")
    assert packet[at + 7] == 0  # no properties
    assert packet[at + 8 :] == payload


def test_a_connect_packet_says_mqtt_5_clean_start_and_who() -> None:
    packet = lean.connect_packet("nabd-gw-a", "gw-a", None, 60)
    size, at = lean.decode_varint(packet, 1) or (0, 0)
    body = packet[at:]
    assert packet[0] == 0x10
    assert size == len(body)
    assert body[:6] == b"\x00\x04MQTT"
    assert body[6] == 5
    assert body[7] == 0x82  # username, clean start; no password
    assert body[8:10] == (60).to_bytes(2, "big")
    assert body[10] == 0
    assert body[11:] == b"\x00\x09nabd-gw-a\x00\x04gw-a"


def test_receive_maximum_is_found_after_other_connack_properties() -> None:
    fleet = lean.LeanFleet("localhost", 1, Path("ca.pem"), lambda *_: None)
    props = (
        b"\x27" + (1 << 20).to_bytes(4, "big")  # Maximum Packet Size
        + b"\x12" + b"\x00\x03abc"  # Assigned Client Identifier
        + b"\x26" + b"\x00\x01k\x00\x02vv"  # User Property
        + b"\x21" + (20).to_bytes(2, "big")  # Receive Maximum
    )  # fmt: skip
    session = lean._Session(0, None, None, b"")  # type: ignore[arg-type]
    fleet._connack(session, b"\x00\x00" + lean.varint(len(props)) + props)
    assert session.connected
    assert session.receive_maximum == 20
