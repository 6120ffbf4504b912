"""Health devices heard but not read, for the status: recent, unread, strongest first, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.payloads import MAX_NEARBY_DEVICES, GatewayState, GatewayStatus, parse, to_json
from nabd.edge.ble.nearby import HEARD_WITHIN_S, Nearby
from nabd.edge.ble.profiles import HealthService

NOW = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)
HR, PLX = HealthService.HEART_RATE.uuid, HealthService.PULSE_OXIMETER.uuid
BATTERY = "0000180f-0000-1000-8000-00805f9b34fb"


def test_only_health_devices_not_read_and_recently_heard_are_listed() -> None:
    nearby = Nearby()
    nearby.record("f0:00:00:00:00:01", "Polar H10", [HR, BATTERY], -60, NOW)
    nearby.record("F0:00:00:00:00:02", "Nonin", [PLX], -40, NOW)
    nearby.record("F0:00:00:00:00:03", "Headphones", [BATTERY], -30, NOW)  # no health service
    nearby.record(
        "F0:00:00:00:00:04", "Old", [HR], -20, NOW - timedelta(seconds=HEARD_WITHIN_S + 1)
    )
    nearby.record("F0:00:00:00:00:05", "Read", [HR], -10, NOW)
    listed = nearby.report(NOW, {"F0:00:00:00:00:05"})
    assert [(d.address, d.services, d.rssi_dbm) for d in listed] == [
        ("F0:00:00:00:00:02", ("pulse_oximeter",), -40),
        ("F0:00:00:00:00:01", ("heart_rate",), -60),
    ]
    # The advertised names stay on the gateway: free text an owner may set to a person's name.
    assert all("name" not in d.model_dump() for d in listed)


def test_the_latest_advertisement_wins_and_an_impossible_rssi_is_unknown() -> None:
    nearby = Nearby()
    nearby.record("F0:00:00:00:00:01", "A", [HR], -60, NOW - timedelta(seconds=5))
    nearby.record("F0:00:00:00:00:01", None, [HR], 127, NOW)
    (device,) = nearby.report(NOW, set())
    assert (device.rssi_dbm, device.heard_at) == (None, NOW)


@given(
    names=st.lists(st.text(max_size=300), min_size=1, max_size=MAX_NEARBY_DEVICES * 5),
    rssi=st.integers(-1000, 1000),
)
def test_whatever_the_radio_says_the_status_stays_valid_and_bounded(
    names: list[str], rssi: int
) -> None:
    nearby = Nearby()
    for n, name in enumerate(names):
        nearby.record(f"F0:00:00:00:{n // 256:02X}:{n % 256:02X}", name, [HR], rssi, NOW)
    listed = nearby.report(NOW, set())
    assert len(listed) == min(len(names), MAX_NEARBY_DEVICES)
    status = GatewayStatus.model_validate(
        {
            "schema": "nabd.status/1",
            "gateway_id": "gw-1",
            "boot_id": "0b7e6a52-34c1-4d0e-9a57-6f1b1e2d3c4f",
            "state": GatewayState.ONLINE,
            "at": NOW,
            "nearby": listed,
        }
    )
    assert parse(GatewayStatus, to_json(status)) == status
