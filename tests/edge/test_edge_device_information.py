"""The Device Information strings a gateway sends in its status: whatever a device reports,
the status stays valid (issue 20 item 4)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.payloads import DEVICE_INFO_MAX_CHARS, DeviceInformation
from nabd.edge.status import wire_information

_KEYS = st.sampled_from(
    ["manufacturer", "model", "serial_number", "firmware_revision", "hardware_revision"]
)


def test_the_four_strings_are_sent_and_the_revisions_stay_local() -> None:
    info = {
        "manufacturer": "Nabd Simulators",
        "model": "virtual-glucose-meter",
        "serial_number": "gls-1",
        "firmware_revision": "sim-1",
        "hardware_revision": "B",
    }
    assert wire_information(info) == DeviceInformation(
        manufacturer="Nabd Simulators",
        model="virtual-glucose-meter",
        serial_number="gls-1",
        firmware_revision="sim-1",
    )


def test_nothing_read_sends_nothing() -> None:
    assert wire_information({}) is None
    assert wire_information({"model": " \x00\n "}) is None
    assert wire_information({"hardware_revision": "B"}) is None


def test_control_characters_and_length_are_trimmed() -> None:
    sent = wire_information({"model": "OXI\x00-200\r\n", "serial_number": "S" * 100 + " "})
    assert sent == DeviceInformation(model="OXI-200", serial_number="S" * DEVICE_INFO_MAX_CHARS)


@given(st.dictionaries(_KEYS, st.text(max_size=200)))
def test_any_strings_give_a_valid_status_part(info: dict[str, str]) -> None:
    sent = wire_information(info)
    if sent is not None:  # constructing it validated it; it survives the wire
        assert DeviceInformation.model_validate_json(sent.model_dump_json()) == sent
