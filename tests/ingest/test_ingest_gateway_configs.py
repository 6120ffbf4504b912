"""The device lists ingest sends to gateways: one per gateway, changes only, revoked cleared."""

from __future__ import annotations

from nabd.contract.payloads import ConfiguredDevice
from nabd.ingest.gateway_configs import desired_lists, plan


def _device(device: str, address: str, kind: str = "heart_rate_strap") -> ConfiguredDevice:
    services = ("heart_rate",) if kind == "heart_rate_strap" else ()
    return ConfiguredDevice(device_id=device, address=address, kind=kind, services=services)


def test_rows_become_one_list_per_gateway_with_the_kinds_services() -> None:
    lists = desired_lists(
        [
            ("gw-a", "hr-1", "F0:00:00:00:00:01", "heart_rate_strap"),
            ("gw-a", "ox-1", "F0:00:00:00:00:02", "pulse_oximeter"),
            ("gw-b", None, None, None),
        ]
    )
    assert lists["gw-b"] == ()
    assert [(d.device_id, d.services) for d in lists["gw-a"] or ()] == [
        ("hr-1", ("heart_rate",)),
        ("ox-1", ("pulse_oximeter",)),
    ]


def test_a_kind_unknown_to_the_catalogue_is_sent_without_services() -> None:
    (device,) = desired_lists([("gw-a", "hr-1", "F0:00:00:00:00:01", "heart_rate")])["gw-a"] or ()
    assert device.kind == "heart_rate"
    assert device.services == ()


def test_a_list_that_cannot_name_every_worn_device_is_held_not_sent() -> None:
    # A list without hr-1 would stop monitoring its patient: the gateway keeps what it has.
    lists = desired_lists(
        [
            ("gw-a", "hr-1", "F0:00:00:00:00:01", "Heart Rate!"),  # a kind no gateway reads
            ("gw-a", "hr-2", "F0:00:00:00:00:02", "heart_rate_strap"),
            ("gw-b", "hr-3", None, "heart_rate_strap"),  # worn, registered without an address
            ("gw-c", "hr-4", "F0:00:00:00:00:04", "heart_rate_strap"),
        ]
    )
    assert lists["gw-a"] is None
    assert lists["gw-b"] is None
    assert [d.device_id for d in lists["gw-c"] or ()] == ["hr-4"]
    published = {"gw-a": (_device("hr-2", "F0:00:00:00:00:02"),)}
    todo = plan(published, lists)
    assert set(todo.publish) == {"gw-c"}  # held gateways: nothing published
    assert todo.clear == frozenset()  # and nothing cleared


def test_only_changed_lists_are_published_and_gone_gateways_cleared() -> None:
    one = (_device("hr-1", "F0:00:00:00:00:01"),)
    two = (*one, _device("hr-2", "F0:00:00:00:00:02"))
    published = {"gw-a": one, "gw-b": one, "gw-gone": one}
    todo = plan(published, {"gw-a": one, "gw-b": two, "gw-new": ()})
    assert dict(todo.publish) == {"gw-b": two, "gw-new": ()}
    assert todo.clear == {"gw-gone"}


def test_nothing_to_do_when_nothing_changed() -> None:
    one = (_device("hr-1", "F0:00:00:00:00:01"),)
    todo = plan({"gw-a": one}, {"gw-a": one})
    assert not todo.publish
    assert not todo.clear
