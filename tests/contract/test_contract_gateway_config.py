"""GatewayConfig: the devices a gateway reads, a whole versioned state; and the nearby devices
a gateway reports in its status. Refused whole if bad."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.payloads import (
    MAX_CONFIG_DEVICES,
    GatewayConfig,
    GatewayStatus,
    PayloadError,
    parse,
    to_json,
)
from nabd.contract.topics import ID_RE


def _device(n: int, **changes: Any) -> dict[str, Any]:
    device: dict[str, Any] = {
        "device_id": f"hr-{n}",
        "address": f"F0:0C:A2:E0:{n // 256:02X}:{n % 256:02X}",
        "kind": "heart_rate_strap",
        "services": ["heart_rate"],
    }
    return device | changes


def _config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "schema": "nabd.gwconfig/1",
        "gateway_id": "gw-1",
        "version": 7,
        "issued_at": "2026-12-06T13:00:00+01:00",
        "devices": [_device(1), _device(2)],
    }
    return config | changes


def _raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def test_a_good_config_round_trips_in_utc() -> None:
    config = parse(GatewayConfig, _raw(_config()))
    assert [d.device_id for d in config.devices] == ["hr-1", "hr-2"]
    assert config.issued_at.utcoffset() is not None
    assert config.issued_at.hour == 12
    assert parse(GatewayConfig, to_json(config)) == config


def test_an_empty_device_list_is_a_config_releasing_everything() -> None:
    assert parse(GatewayConfig, _raw(_config(devices=[]))).devices == ()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schema": "nabd.gwconfig/2"}, "schema"),
        ({"schema": "nabd.cmd/1"}, "schema"),
        ({"version": 0}, "version"),
        ({"version": -1}, "version"),
        ({"version": "8"}, "version"),
        ({"version": 1.5}, "version"),
        ({"version": 2**63}, "version"),
        ({"gateway_id": "GW/1"}, "gateway_id"),
        ({"gateway_id": "gw+"}, "gateway_id"),
        ({"issued_at": "2026-12-06T13:00:00"}, "issued_at"),
        ({"issued_at": "1970-01-01T00:00:00Z"}, "issued_at"),
        ({"devices": [_device(1), _device(1, address="F0:0C:A2:E0:99:99")]}, "devices"),
        ({"devices": [_device(1), _device(2, address=_device(1)["address"])]}, "devices"),
        ({"devices": [_device(1, address="f0:0c:a2:e0:00:01")]}, "devices.0.address"),
        ({"devices": [_device(1, address="F0-0C-A2-E0-00-01")]}, "devices.0.address"),
        ({"devices": [_device(1, device_id="hr/1")]}, "devices.0.device_id"),
        ({"devices": [_device(1, kind="Heart Rate")]}, "devices.0.kind"),
        ({"devices": [_device(1, services=["heart rate"])]}, "devices.0.services.0"),
        ({"devices": [_device(1, services=["heart_rate"] * 17)]}, "devices.0.services"),
        ({"devices": [_device(1, patient="p-1")]}, "devices.0.patient"),
        ({"devices": [_device(n) for n in range(MAX_CONFIG_DEVICES + 1)]}, "devices"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(GatewayConfig, _raw(_config(**changes)))
    assert caught.value.field == field


@given(
    gateway=st.from_regex(ID_RE, fullmatch=True),
    version=st.integers(1, 2**63 - 1),
    count=st.integers(0, 20),
)
def test_any_valid_config_round_trips(gateway: str, version: int, count: int) -> None:
    config = parse(
        GatewayConfig,
        _raw(
            _config(gateway_id=gateway, version=version, devices=[_device(n) for n in range(count)])
        ),
    )
    assert parse(GatewayConfig, to_json(config)) == config


def _status(nearby: list[dict[str, Any]]) -> bytes:
    return _raw(
        {
            "schema": "nabd.status/1",
            "gateway_id": "gw-1",
            "boot_id": "0b7e6a52-34c1-4d0e-9a57-6f1b1e2d3c4f",
            "state": "online",
            "at": "2026-12-06T13:00:00Z",
            "nearby": nearby,
        }
    )


def _nearby(address: str, **changes: Any) -> dict[str, Any]:
    heard = {"address": address, "services": ["heart_rate"], "rssi_dbm": -60,
             "heard_at": "2026-12-06T12:59:58Z"}  # fmt: skip
    return heard | changes


def test_a_status_may_list_nearby_devices() -> None:
    status = parse(GatewayStatus, _status([_nearby("F0:00:00:00:00:01")]))
    assert [(d.address, d.services) for d in status.nearby] == [
        ("F0:00:00:00:00:01", ("heart_rate",))
    ]


@pytest.mark.parametrize(
    ("nearby", "field"),
    [
        ([_nearby("F0:00:00:00:00:01"), _nearby("F0:00:00:00:00:01")], "nearby"),
        ([_nearby("f0:00:00:00:00:01")], "nearby.0.address"),
        # No advertised name on the wire: it may carry a person's name (extra fields forbidden).
        ([_nearby("F0:00:00:00:00:01", name="Polar H10")], "nearby.0.name"),
        ([_nearby("F0:00:00:00:00:01", rssi_dbm=21)], "nearby.0.rssi_dbm"),
        ([_nearby("F0:00:00:00:00:01", patient_id="p-1")], "nearby.0.patient_id"),
        ([_nearby(f"F0:00:00:00:00:{n:02X}") for n in range(65)], "nearby"),
    ],
)
def test_a_bad_nearby_list_is_refused_naming_the_field(
    nearby: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(GatewayStatus, _status(nearby))
    assert caught.value.field == field
