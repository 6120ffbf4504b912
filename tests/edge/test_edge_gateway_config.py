"""The gateway's device list from the server: accepted only if its own and newer, kept on disk,
followed by start/stop changes; the edge.toml list only until a first list arrives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.errors import PayloadError
from nabd.edge.config import DeviceConfig
from nabd.edge.roster import Roster, Verdict, changes
from nabd.edge.sequence import SeqAllocator

FALLBACK = (DeviceConfig(id="hr-file", address="F0:00:00:00:00:0F", timezone="Europe/Paris"),)


def _config(version: int, *devices: tuple[str, str], gateway: str = "gw-1") -> bytes:
    document: dict[str, Any] = {
        "schema": "nabd.gwconfig/1",
        "gateway_id": gateway,
        "version": version,
        "issued_at": "2026-12-06T13:00:00Z",
        "devices": [
            {"device_id": d, "address": a, "kind": "heart_rate_strap", "services": ["heart_rate"]}
            for d, a in devices
        ],
    }
    return json.dumps(document).encode()


def _roster(tmp_path: Path) -> Roster:
    return Roster("gw-1", FALLBACK, tmp_path / "data" / "gateway-config.json")


def _ids(roster: Roster) -> list[str]:
    return [d.id for d in roster.devices]


def test_the_file_list_is_used_until_the_server_sends_one(tmp_path: Path) -> None:
    roster = _roster(tmp_path)
    assert _ids(roster) == ["hr-file"]
    assert roster.version is None
    assert roster.offer(_config(5, ("hr-1", "F0:00:00:00:00:01"))) == Verdict.APPLIED
    assert _ids(roster) == ["hr-1"]
    assert roster.changed.is_set()


def test_an_empty_server_list_releases_every_device(tmp_path: Path) -> None:
    roster = _roster(tmp_path)
    assert roster.offer(_config(5)) == Verdict.APPLIED
    assert roster.devices == ()


def test_an_older_or_equal_version_or_another_gateways_list_changes_nothing(
    tmp_path: Path,
) -> None:
    roster = _roster(tmp_path)
    roster.offer(_config(5, ("hr-1", "F0:00:00:00:00:01")))
    roster.changed.clear()
    assert roster.offer(_config(5, ("hr-2", "F0:00:00:00:00:02"))) == Verdict.OLD
    assert roster.offer(_config(4)) == Verdict.OLD
    assert roster.offer(_config(9, gateway="gw-2")) == Verdict.OTHER_GATEWAY
    assert roster.offer(b"") == Verdict.CLEARED
    assert _ids(roster) == ["hr-1"]
    assert not roster.changed.is_set()


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b"\xff", _config(0), json.dumps({"schema": "nabd.cmd/1"}).encode()]
)
def test_a_payload_that_is_no_configuration_is_refused_and_changes_nothing(
    tmp_path: Path, raw: bytes
) -> None:
    roster = _roster(tmp_path)
    with pytest.raises(PayloadError):
        roster.offer(raw)
    assert _ids(roster) == ["hr-file"]


def test_the_applied_list_survives_a_restart_without_the_broker(tmp_path: Path) -> None:
    roster = _roster(tmp_path)
    roster.offer(_config(5, ("hr-1", "F0:00:00:00:00:01")))
    again = _roster(tmp_path)
    assert (_ids(again), again.version) == (["hr-1"], 5)
    assert again.offer(_config(5)) == Verdict.OLD  # a replay after the restart too


def test_a_damaged_or_foreign_kept_list_falls_back_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "gateway-config.json"
    path.parent.mkdir()
    path.write_bytes(b"not json")
    assert _ids(_roster(tmp_path)) == ["hr-file"]
    path.write_bytes(_config(5, ("hr-1", "F0:00:00:00:00:01"), gateway="gw-2"))
    assert _ids(_roster(tmp_path)) == ["hr-file"]


def test_a_device_the_file_also_lists_keeps_its_time_zone(tmp_path: Path) -> None:
    roster = _roster(tmp_path)
    roster.offer(_config(5, ("hr-file", "F0:00:00:00:00:0F"), ("hr-1", "F0:00:00:00:00:01")))
    assert [d.timezone for d in roster.devices] == ["Europe/Paris", None]


def _device(device_id: str, address: str) -> DeviceConfig:
    return DeviceConfig(id=device_id, address=address)


def test_changes_start_new_stop_removed_and_restart_a_moved_address() -> None:
    running = {"a": "F0:00:00:00:00:0A", "b": "F0:00:00:00:00:0B", "c": "F0:00:00:00:00:0C"}
    wanted = [
        _device("a", "F0:00:00:00:00:0A"),
        _device("c", "F0:00:00:00:00:CC"),
        _device("d", "F0:00:00:00:00:0D"),
    ]
    todo = changes(running, wanted)
    assert todo.stop == ("b", "c")
    assert [d.id for d in todo.start] == ["c", "d"]


addresses = st.integers(0, 255).map(lambda n: f"F0:00:00:00:00:{n:02X}")
lists = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), addresses)


@given(running=lists, wanted=lists)
def test_after_the_changes_exactly_the_wanted_devices_run(
    running: dict[str, str], wanted: dict[str, str]
) -> None:
    todo = changes(running, [_device(d, a) for d, a in wanted.items()])
    after = {d: a for d, a in running.items() if d not in todo.stop}
    assert not after.keys() & {d.id for d in todo.start}  # nothing started twice
    after |= {d.id: d.address for d in todo.start}
    assert after == wanted
    assert set(todo.stop) <= running.keys()


def test_a_device_told_by_the_server_is_numbered_from_the_floor_never_lower() -> None:
    allocator = SeqAllocator({"hr-1": 10})
    allocator.raise_to("hr-1", 1_000)
    assert allocator.take("hr-1", ["heart_rate"]) == [1_000]
    allocator.raise_to("hr-1", 5)
    assert allocator.take("hr-1", ["heart_rate"]) == [1_001]
    allocator.raise_to("hr-2", 7)
    assert allocator.take("hr-2", ["heart_rate"]) == [7]
