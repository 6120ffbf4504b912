"""GatewayConfig: the devices a gateway reads, a whole versioned state, refused whole if bad."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.payloads import (
    MAX_CONFIG_DEVICES,
    GatewayConfig,
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
