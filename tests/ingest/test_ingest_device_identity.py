"""Is a device what it was registered as? (nabd.ingest.device_identity, issue 20 item 4)."""

from __future__ import annotations

import pytest

from nabd.contract.payloads import DeviceInformation
from nabd.ingest.device_identity import Registered, mismatch

SAID = DeviceInformation(
    manufacturer="Acme Medical", model="OXI-200", serial_number="SN 42", firmware_revision="9"
)


@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        (Registered(None, None, None), None),  # nothing registered: nothing to contradict
        (Registered("ACME   medical", "oxi-200", "sn 42"), None),  # case and spaces only
        (Registered(None, "OXI-100", None), "reports model 'OXI-200', registered as 'OXI-100'"),
        (
            Registered("Other Co", "OXI-200", "SN 7"),
            "reports manufacturer 'Acme Medical', registered as 'Other Co'; "
            "reports serial 'SN 42', registered as 'SN 7'",
        ),
    ],
)
def test_only_what_was_registered_is_compared(registered: Registered, expected: str | None) -> None:
    assert mismatch(registered, SAID) == expected


def test_a_string_the_device_does_not_report_contradicts_nothing() -> None:
    assert mismatch(Registered("Acme", "OXI-100", "SN 1"), DeviceInformation()) is None
