"""Attribution: registration to the publishing gateway, the patient at the sample's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nabd.ingest.attribution import Registry, attribute, unregistered_reason
from nabd.ingest.staging import Row

MON = datetime(2025, 3, 3, tzinfo=UTC)
TUE = MON + timedelta(days=1)


def _registry(*rows: tuple[object, ...]) -> Registry:
    return Registry.from_rows(rows)


REG = _registry(
    ("hr-1", "gw-1", "p-mon", MON, TUE, True, False),
    ("hr-1", "gw-1", "p-tue", TUE, None, True, False),
    ("ox-1", "gw-1", None, None, None, None, None),  # registered, never assigned
    ("hr-9", "gw-9", "p-9", None, None, False, False),
)


def test_a_reassigned_device_gives_each_sample_to_the_patient_of_its_time() -> None:
    assert REG.patient_at("hr-1", MON + timedelta(hours=12)) == "p-mon"
    assert REG.patient_at("hr-1", TUE) == "p-tue"  # [) ranges: the boundary is the new patient's
    assert REG.patient_at("hr-1", TUE - timedelta(microseconds=1)) == "p-mon"
    assert REG.patient_at("hr-1", MON - timedelta(microseconds=1)) is None
    assert REG.patient_at("ox-1", TUE) is None
    assert REG.patient_at("unknown", TUE) is None
    assert REG.patient_at("hr-9", datetime(2020, 1, 1, tzinfo=UTC)) == "p-9"  # unbounded


def test_the_first_device_not_registered_to_the_gateway_is_named() -> None:
    assert REG.unregistered("gw-1", ["hr-1", "ox-1", "hr-1"]) is None
    assert REG.unregistered("gw-1", ["hr-1", "hr-1", "zz", "hr-9", "zz"]) == (2, "zz", None)
    assert REG.unregistered("gw-1", ["hr-1", "hr-9", "zz"]) == (1, "hr-9", "gw-9")
    assert REG.unregistered("gw-9", ["hr-9"]) is None
    assert unregistered_reason("zz", "gw-1", None) == (
        "device 'zz' is not registered to gateway 'gw-1' (an unknown device)"
    )


def _row(device: str, t: datetime, metric_id: int = 1, seq: int = 0) -> Row:
    return (t, device, metric_id, seq, 70.0, [], t, "gw-1")


def test_rows_are_split_and_the_newest_per_patient_and_metric_is_kept() -> None:
    rows = [
        _row("hr-1", MON + timedelta(hours=1), seq=0),
        _row("hr-1", MON + timedelta(hours=3), seq=2),
        _row("hr-1", MON + timedelta(hours=2), seq=1),
        _row("hr-1", TUE + timedelta(hours=1), seq=3),
        _row("ox-1", TUE, metric_id=4),
    ]
    split = attribute(rows, REG)
    assert [r[0] for r in split.observed] == ["p-mon", "p-mon", "p-mon", "p-tue"]
    assert [r[1:] for r in split.observed] == rows[:4]
    assert split.unattributed == [rows[4]]
    assert split.latest == {("p-mon", 1): rows[1], ("p-tue", 1): rows[3]}
    assert split.patients == ["p-mon", "p-tue"]
    assert (split.first_time, split.last_time) == (rows[0][0], rows[3][0])


def test_only_an_assignment_covering_the_whole_span_attributes_without_a_check_per_row() -> None:
    assert REG.patients_throughout(MON, MON + timedelta(hours=23)) == {
        "hr-1": "p-mon",
        "hr-9": "p-9",
    }
    assert REG.patients_throughout(MON, TUE) == {"hr-9": "p-9"}  # hr-1 changed hands at TUE
    rows = [_row("hr-1", MON, seq=0), _row("hr-1", TUE, seq=1), _row("ox-1", TUE, seq=2)]
    split = attribute(rows, REG)
    assert [r[0] for r in split.observed] == ["p-mon", "p-tue"]
    assert split.unattributed == [rows[2]]
    assert (split.first_time, split.last_time) == (MON, TUE)


def test_a_device_registered_to_no_gateway_is_no_gateways() -> None:
    """nabd.care registers a device before it is worn; until then no gateway may send for it."""
    reg = Registry.from_rows([("new-1", None, None, None, None, None, None)])
    assert reg.unregistered("gw-1", ["new-1"]) == (0, "new-1", None)
