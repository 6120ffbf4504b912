"""Wire payloads: valid ones round-trip, each kind of bad one is refused naming its field."""

from __future__ import annotations

import json
import pickle
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from nabd.contract.catalogue import METRICS
from nabd.contract.errors import ContractError, PayloadError
from nabd.contract.payloads import (
    ACK_SCHEMA,
    ALERT_SCHEMA,
    CMD_SCHEMA,
    MAX_ACKED,
    MAX_MESSAGE_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS,
    MAX_SEQ,
    MAX_STATUS_DEVICES,
    OBS_SCHEMA,
    STATUS_SCHEMA,
    Alert,
    AlertPriority,
    AlertState,
    DeviceConnection,
    DeviceStatus,
    GatewayCommand,
    GatewayState,
    GatewayStatus,
    IngestAck,
    ObservationBatch,
    OutboxStatus,
    Payload,
    Quality,
    Reading,
    ReconnectDevice,
    SetInterval,
    parse,
    parse_batch,
    to_json,
)
from nabd.contract.topics import ID_RE

# --- strategies: every payload the contract accepts --------------------------------------------

ids = st.from_regex(ID_RE, fullmatch=True)
uuids = st.uuids().map(str)
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
)
# Inside [EARLIEST, LATEST) whatever the offset.
times = st.datetimes(
    min_value=datetime(2020, 1, 2), max_value=datetime(2099, 12, 30), timezones=offsets
)
seqs = st.integers(min_value=0, max_value=MAX_SEQ)
other_flags: list[Quality] = [flag for flag in Quality if flag is not Quality.UNAVAILABLE]


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    row = draw(st.sampled_from(list(METRICS.values())))
    flags: set[Quality] = set(draw(st.sets(st.sampled_from(other_flags), max_size=3)))
    value: float | None
    if draw(st.integers(0, 9)) == 0:
        value = None
        flags.add(Quality.UNAVAILABLE)
    else:
        value = draw(st.floats(row.min_value, row.max_value, allow_nan=False))
    return Reading(
        device_id=draw(ids),
        seq=draw(seqs),
        metric=row.key,
        quality=tuple(draw(st.permutations(sorted(flags)))),
        value=value,
        unit=row.unit,
        device_time=None if Quality.DEVICE_CLOCK_UNSET in flags else draw(st.none() | times),
        received_at=draw(times),
    )


@st.composite
def batches(draw: st.DrawFn) -> ObservationBatch:
    return ObservationBatch(
        schema=OBS_SCHEMA,
        gateway_id=draw(ids),
        boot_id=draw(uuids),
        batch_seq=draw(seqs),
        sent_at=draw(times),
        readings=tuple(
            draw(
                st.lists(
                    readings(),
                    min_size=1,
                    max_size=20,
                    unique_by=lambda r: (r.device_id, r.seq, r.metric),
                )
            )
        ),
    )


@st.composite
def acks(draw: st.DrawFn) -> IngestAck:
    committed = draw(st.lists(seqs, min_size=1, max_size=50, unique=True))
    return IngestAck(
        schema=ACK_SCHEMA, gateway_id=draw(ids), boot_id=draw(uuids), committed=tuple(committed)
    )


@st.composite
def device_statuses(draw: st.DrawFn, device_id: str) -> DeviceStatus:
    return DeviceStatus(
        device_id=device_id,
        state=draw(st.sampled_from(DeviceConnection)),
        since=draw(times),
        last_reading_at=draw(st.none() | times),
        battery_percent=draw(st.none() | st.integers(0, 100)),
        rssi_dbm=draw(st.none() | st.integers(-127, 20)),
    )


@st.composite
def outbox_statuses(draw: st.DrawFn) -> OutboxStatus:
    return OutboxStatus(
        pending=draw(seqs),
        oldest_received_at=draw(st.none() | times),
        dropped_full=draw(seqs),
        dropped_expired=draw(seqs),
    )


@st.composite
def statuses(draw: st.DrawFn) -> GatewayStatus:
    device_ids = draw(st.lists(ids, max_size=5, unique=True))
    return GatewayStatus(
        schema=STATUS_SCHEMA,
        gateway_id=draw(ids),
        boot_id=draw(uuids),
        state=draw(st.sampled_from(GatewayState)),
        at=draw(times),
        software_version=draw(st.none() | st.from_regex(r"[0-9A-Za-z.+_-]{1,64}", fullmatch=True)),
        devices=tuple(draw(device_statuses(d)) for d in device_ids),
        outbox=draw(st.none() | outbox_statuses()),
    )


@st.composite
def commands(draw: st.DrawFn) -> GatewayCommand:
    command = draw(
        st.builds(ReconnectDevice, device_id=ids)
        | st.builds(SetInterval, device_id=ids, interval_s=st.integers(1, 86400))
    )
    return GatewayCommand(
        schema=CMD_SCHEMA, command_id=draw(uuids), issued_at=draw(times), command=command
    )


@st.composite
def alerts(draw: st.DrawFn) -> Alert:
    message = draw(
        st.text(
            st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=MAX_MESSAGE_CHARS
        )
    )
    return Alert(
        schema=ALERT_SCHEMA,
        alert_id=draw(uuids),
        patient_id=draw(ids),
        ward_id=draw(ids),
        kind=draw(st.from_regex(r"[a-z][a-z0-9_]{0,62}", fullmatch=True)),
        priority=draw(st.sampled_from(AlertPriority)),
        state=draw(st.sampled_from(AlertState)),
        raised_at=draw(times),
        message=message,
        metric=draw(st.none() | st.sampled_from(list(METRICS))),
    )


payloads = st.one_of(batches(), acks(), statuses(), commands(), alerts())


# --- round trips --------------------------------------------------------------------------------


@given(batch=batches())
def test_batch_round_trips(batch: ObservationBatch) -> None:
    raw = to_json(batch)
    assert parse_batch(raw) == batch
    assert to_json(parse_batch(raw)) == raw


@given(payload=payloads)
def test_every_payload_round_trips(payload: Payload) -> None:
    raw = to_json(payload)
    assert parse(type(payload), raw) == payload


@given(batch=batches())
def test_timestamps_come_out_in_utc(batch: ObservationBatch) -> None:
    parsed = json.loads(to_json(batch))
    stamps = [parsed["sent_at"]] + [r["received_at"] for r in parsed["readings"]]
    assert all(stamp.endswith("Z") for stamp in stamps)
    assert batch.sent_at.utcoffset() == timedelta(0)


def test_offsets_are_normalised_to_the_same_instant() -> None:
    paris = datetime(2025, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    reading = _reading(received_at=paris)
    assert reading.received_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert reading.received_at.tzinfo == UTC


@given(reading=readings(), order=st.randoms())
def test_quality_order_does_not_matter(reading: Reading, order: random.Random) -> None:
    shuffled = list(reading.quality)
    order.shuffle(shuffled)
    assert Reading(**{**reading.model_dump(), "quality": tuple(shuffled)}) == reading


def test_output_is_compact() -> None:
    raw = to_json(_batch())
    assert b" " not in raw
    assert b"\n" not in raw
    assert json.loads(raw)["schema"] == OBS_SCHEMA


def test_largest_possible_batch_fits_the_byte_limit() -> None:
    # Longest ids, sequence numbers, metric name, flags and timestamps the contract allows.
    stamp = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    # A device_time is longer than the device_clock_unset flag that would exclude it.
    flags = tuple(set(Quality) - {Quality.UNAVAILABLE, Quality.DEVICE_CLOCK_UNSET})
    reading = Reading(
        device_id="d" * 63,
        seq=MAX_SEQ,
        metric="pulse_amplitude_index",
        quality=flags,
        value=0.012345678901234568,
        unit="%",
        device_time=stamp,
        received_at=stamp,
    )
    largest = ObservationBatch(
        schema=OBS_SCHEMA,
        gateway_id="g" * 63,
        boot_id="ffffffff-ffff-ffff-ffff-ffffffffffff",
        batch_seq=MAX_SEQ,
        sent_at=stamp,
        readings=tuple(
            reading.model_copy(update={"seq": MAX_SEQ - i}) for i in range(MAX_READINGS)
        ),
    )
    raw = to_json(largest)
    assert len(raw) <= MAX_PAYLOAD_BYTES
    assert parse_batch(raw) == largest


# --- one good batch, and one mutation of it per rule ---------------------------------------------

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
BOOT = "3f1c2e7a-9b4d-4c1e-8f00-123456789abc"


def _reading(**changes: Any) -> Reading:
    fields: dict[str, Any] = {
        "device_id": "hr-1",
        "seq": 0,
        "metric": "heart_rate",
        "value": 72.0,
        "unit": "/min",
        "received_at": T0,
    }
    return Reading(**(fields | changes))


def _batch() -> ObservationBatch:
    return ObservationBatch(
        schema=OBS_SCHEMA,
        gateway_id="gw-1",
        boot_id=BOOT,
        batch_seq=7,
        sent_at=T0 + timedelta(seconds=1),
        readings=(
            _reading(device_time=T0 - timedelta(seconds=1)),
            _reading(
                device_id="ox-1",
                metric="spo2",
                value=None,
                unit="%",
                quality=(Quality.UNAVAILABLE,),
            ),
        ),
    )


GOOD = to_json(_batch())
Doc = dict[str, Any]


def _mutated(change: Callable[[Doc], object]) -> bytes:
    doc: Doc = json.loads(GOOD)
    change(doc)
    return json.dumps(doc).encode()  # json.dumps writes NaN/Infinity literals for non-finite floats


def _set(path: str, value: object) -> bytes:
    def change(doc: Doc) -> None:
        *parents, leaf = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[leaf] = value

    return _mutated(change)


def _drop(path: str) -> bytes:
    def change(doc: Doc) -> None:
        *parents, leaf = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[leaf]

    return _mutated(change)


def _distinct_readings(count: int) -> list[Doc]:
    reading: Doc = json.loads(GOOD)["readings"][0]
    return [reading | {"seq": i} for i in range(count)]


BAD_BATCHES: list[tuple[str, bytes, str]] = [
    # The payload as a whole.
    ("not_json", b"{readings: [}", ""),
    ("truncated_json", GOOD[:-1], ""),
    ("not_utf8", GOOD.replace(b"gw-1", b"gw-\xff"), ""),
    ("utf16", GOOD.decode().encode("utf-16"), ""),
    ("oversized", GOOD + b" " * MAX_PAYLOAD_BYTES, ""),
    ("top_level_array", b"[]", ""),
    ("top_level_string", b'"nabd.obs/1"', ""),
    # JSON that is not a finite number.
    ("nan_literal", _set("readings.0.value", float("nan")), "readings.0.value"),
    ("infinity_literal", _set("readings.0.value", float("inf")), "readings.0.value"),
    ("minus_infinity_literal", _set("readings.0.value", float("-inf")), "readings.0.value"),
    ("overflowing_number", GOOD.replace(b"72.0", b"1e999"), "readings.0.value"),
    # Closed schema.
    ("unknown_field", _set("patient_name", "Jane Doe"), "patient_name"),
    (
        "unknown_reading_field",
        _set("readings.0.patient_name", "Jane Doe"),
        "readings.0.patient_name",
    ),
    ("missing_schema", _drop("schema"), "schema"),
    ("wrong_schema", _set("schema", "nabd.obs/2"), "schema"),
    ("missing_value", _drop("readings.0.value"), "readings.0.value"),
    ("missing_received_at", _drop("readings.0.received_at"), "readings.0.received_at"),
    # Strict types.
    ("value_as_string", _set("readings.0.value", "72"), "readings.0.value"),
    ("value_as_bool", _set("readings.0.value", True), "readings.0.value"),
    ("seq_as_string", _set("readings.0.seq", "0"), "readings.0.seq"),
    ("seq_as_float", _set("readings.0.seq", 0.5), "readings.0.seq"),
    ("seq_negative", _set("readings.0.seq", -1), "readings.0.seq"),
    ("seq_beyond_bigint", _set("readings.0.seq", MAX_SEQ + 1), "readings.0.seq"),
    ("batch_seq_negative", _set("batch_seq", -1), "batch_seq"),
    ("readings_as_object", _set("readings", {"0": {}}), "readings"),
    # Timestamps.
    (
        "naive_received_at",
        _set("readings.0.received_at", "2025-03-01T10:00:00"),
        "readings.0.received_at",
    ),
    ("naive_sent_at", _set("sent_at", "2025-03-01T10:00:01"), "sent_at"),
    ("date_only", _set("sent_at", "2025-03-01"), "sent_at"),
    ("epoch_seconds", _set("sent_at", 1740823201), "sent_at"),
    (
        "unset_device_clock",
        _set("readings.0.device_time", "1970-01-01T00:00:00Z"),
        "readings.0.device_time",
    ),
    ("year_2100", _set("sent_at", "2100-01-01T00:00:00Z"), "sent_at"),
    ("not_a_time", _set("sent_at", "yesterday"), "sent_at"),
    # Catalogue.
    ("unknown_metric", _set("readings.0.metric", "heart_rate_avg"), "readings.0.metric"),
    ("wrong_unit", _set("readings.0.unit", "bpm"), "readings.0.unit"),
    ("unit_of_another_metric", _set("readings.0.unit", "%"), "readings.0.unit"),
    ("above_possible_range", _set("readings.0.value", 351), "readings.0.value"),
    ("below_possible_range", _set("readings.0.value", -1), "readings.0.value"),
    # Special values.
    ("null_without_flag", _set("readings.0.value", None), "readings.0.value"),
    ("value_with_unavailable_flag", _set("readings.1.value", 97.0), "readings.1.value"),
    ("unknown_flag", _set("readings.0.quality", ["wet"]), "readings.0.quality.0"),
    (
        "device_time_from_unset_clock",
        _set("readings.0.quality", ["device_clock_unset"]),
        "readings.0.device_time",
    ),
    (
        "repeated_flag",
        _set("readings.1.quality", ["unavailable", "unavailable"]),
        "readings.1.quality",
    ),
    # Ids.
    ("uppercase_gateway_id", _set("gateway_id", "GW-1"), "gateway_id"),
    ("wildcard_device_id", _set("readings.0.device_id", "hr+1"), "readings.0.device_id"),
    ("slash_device_id", _set("readings.0.device_id", "bed/4"), "readings.0.device_id"),
    ("boot_id_not_uuid", _set("boot_id", "boot-1"), "boot_id"),
    ("boot_id_uppercase", _set("boot_id", BOOT.upper()), "boot_id"),
    # Batch shape.
    ("no_readings", _set("readings", []), "readings"),
    ("too_many_readings", _set("readings", _distinct_readings(MAX_READINGS + 1)), "readings"),
    (
        "duplicate_reading",
        _mutated(lambda doc: doc["readings"].append(dict(doc["readings"][0], value=73.0))),
        "readings",
    ),
]


def test_good_batch_is_accepted() -> None:
    assert parse_batch(GOOD) == _batch()
    assert parse_batch(_set("readings", _distinct_readings(MAX_READINGS))).readings[-1].seq == (
        MAX_READINGS - 1
    )


@pytest.mark.parametrize(
    ("raw", "field"), [case[1:] for case in BAD_BATCHES], ids=[case[0] for case in BAD_BATCHES]
)
def test_bad_batch_is_rejected_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_batch(raw)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field or 'payload'}: ")
    assert caught.value.reason


def test_rejection_chains_the_validation_error() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_batch(_set("readings.0.value", 999))
    assert isinstance(caught.value.__cause__, ValidationError)
    assert "outside the possible range" in caught.value.reason


def test_rejection_of_non_utf8_chains_the_decode_error() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_batch(b'{"gateway_id": "\xff"}')
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


def test_duplicate_reading_is_named_by_index() -> None:
    raw = _mutated(lambda doc: doc["readings"].append(doc["readings"][0]))
    with pytest.raises(PayloadError, match=r"readings\.2 repeats .* readings\.0"):
        parse_batch(raw)


def test_same_seq_for_different_metrics_is_one_device_message() -> None:
    # A cuff's systolic, diastolic and mean share the device message's seq.
    cuff = [
        _reading(device_id="bp-1", metric=key, value=value, unit="mm[Hg]")
        for key, value in [
            ("systolic_bp", 120.0),
            ("diastolic_bp", 80.0),
            ("mean_arterial_pressure", 93.0),
        ]
    ]
    batch = _batch().model_copy(update={"readings": tuple(cuff)})
    assert len(parse_batch(to_json(batch)).readings) == 3


def test_payload_error_is_a_picklable_contract_value_error() -> None:
    error = PayloadError("readings.3.value", "not a number")
    assert isinstance(error, ContractError)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, in-process)
    assert (copy.field, copy.reason, str(copy)) == (error.field, error.reason, str(error))


def test_python_construction_is_strict_too() -> None:
    with pytest.raises(ValidationError):
        _reading(received_at=datetime(2025, 3, 1, 10, 0))  # naive
    with pytest.raises(ValidationError):
        _reading(value="72")
    with pytest.raises(ValidationError):
        _reading(value=None)
    with pytest.raises(ValidationError):
        _reading(unit="bpm")
    reading = _reading()
    with pytest.raises(ValidationError):
        reading.value = 80.0  # type: ignore[misc]


# --- the other payloads ---------------------------------------------------------------------------

ACK = to_json(IngestAck(schema=ACK_SCHEMA, gateway_id="gw-1", boot_id=BOOT, committed=(5, 6, 7)))
STATUS = to_json(
    GatewayStatus(
        schema=STATUS_SCHEMA,
        gateway_id="gw-1",
        boot_id=BOOT,
        state=GatewayState.ONLINE,
        at=T0,
        software_version="0.1.0+g1a2b3c",
        devices=(
            DeviceStatus(
                device_id="hr-1",
                state=DeviceConnection.CONNECTED,
                since=T0,
                last_reading_at=T0,
                battery_percent=80,
                rssi_dbm=-61,
            ),
        ),
        outbox=OutboxStatus(pending=12, oldest_received_at=T0),
    )
)
COMMAND = to_json(
    GatewayCommand(
        schema=CMD_SCHEMA,
        command_id="0b7e6a52-34c1-4d0e-9a57-6f1b1e2d3c4f",
        issued_at=T0,
        command=SetInterval(device_id="bp-1", interval_s=900),
    )
)
ALERT = to_json(
    Alert(
        schema=ALERT_SCHEMA,
        alert_id="9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f",
        patient_id="p-7f3a9c",
        ward_id="cardio-2",
        kind="spo2_low",
        priority=AlertPriority.HIGH,
        state=AlertState.RAISED,
        raised_at=T0,
        message="SpO2 below 90 % for 5 minutes",
        metric="spo2",
    )
)


def _edit(raw: bytes, path: str, value: object) -> bytes:
    doc: Doc = json.loads(raw)
    *parents, leaf = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[leaf] = value
    return json.dumps(doc).encode()


BAD_OTHERS: list[tuple[str, type[Payload], bytes, str]] = [
    ("ack_empty", IngestAck, _edit(ACK, "committed", []), "committed"),
    ("ack_repeated", IngestAck, _edit(ACK, "committed", [5, 5]), "committed"),
    ("ack_negative", IngestAck, _edit(ACK, "committed", [-1]), "committed.0"),
    ("ack_too_many", IngestAck, _edit(ACK, "committed", list(range(MAX_ACKED + 1))), "committed"),
    ("ack_wrong_schema", IngestAck, _edit(ACK, "schema", OBS_SCHEMA), "schema"),
    ("status_unknown_state", GatewayStatus, _edit(STATUS, "state", "sleeping"), "state"),
    (
        "status_version_with_space",
        GatewayStatus,
        _edit(STATUS, "software_version", "1.0 beta"),
        "software_version",
    ),
    ("status_naive_at", GatewayStatus, _edit(STATUS, "at", "2025-03-01T10:00:00"), "at"),
    (
        "status_device_state_unknown",
        GatewayStatus,
        _edit(STATUS, "devices.0.state", "sleeping"),
        "devices.0.state",
    ),
    (
        "status_battery_above_100",
        GatewayStatus,
        _edit(STATUS, "devices.0.battery_percent", 101),
        "devices.0.battery_percent",
    ),
    (
        "status_battery_fraction",
        GatewayStatus,
        _edit(STATUS, "devices.0.battery_percent", 50.5),
        "devices.0.battery_percent",
    ),
    (
        "status_battery_as_string",
        GatewayStatus,
        _edit(STATUS, "devices.0.battery_percent", "80"),
        "devices.0.battery_percent",
    ),
    (
        "status_rssi_positive",
        GatewayStatus,
        _edit(STATUS, "devices.0.rssi_dbm", 40),
        "devices.0.rssi_dbm",
    ),
    (
        "status_device_bad_id",
        GatewayStatus,
        _edit(STATUS, "devices.0.device_id", "HR/1"),
        "devices.0.device_id",
    ),
    (
        "status_device_unknown_field",
        GatewayStatus,
        _edit(STATUS, "devices.0.patient", "p-1"),
        "devices.0.patient",
    ),
    (
        "status_device_clock_unset",
        GatewayStatus,
        _edit(STATUS, "devices.0.since", "1970-01-01T00:00:00Z"),
        "devices.0.since",
    ),
    (
        "status_outbox_negative",
        GatewayStatus,
        _edit(STATUS, "outbox.pending", -1),
        "outbox.pending",
    ),
    (
        "status_outbox_dropped_null",
        GatewayStatus,
        _edit(STATUS, "outbox.dropped_full", None),
        "outbox.dropped_full",
    ),
    (
        "command_unknown_action",
        GatewayCommand,
        _edit(COMMAND, "command", {"action": "reboot"}),
        "command",
    ),
    (
        "command_zero_interval",
        GatewayCommand,
        _edit(COMMAND, "command.interval_s", 0),
        "command.set_interval.interval_s",
    ),
    (
        "command_interval_as_string",
        GatewayCommand,
        _edit(COMMAND, "command.interval_s", "900"),
        "command.set_interval.interval_s",
    ),
    (
        "command_bad_device",
        GatewayCommand,
        _edit(COMMAND, "command.device_id", "BP 1"),
        "command.set_interval.device_id",
    ),
    ("alert_unknown_priority", Alert, _edit(ALERT, "priority", "urgent"), "priority"),
    ("alert_unknown_state", Alert, _edit(ALERT, "state", "closed"), "state"),
    ("alert_patient_name", Alert, _edit(ALERT, "patient_id", "Jane Doe"), "patient_id"),
    ("alert_multiline_message", Alert, _edit(ALERT, "message", "line\nbreak"), "message"),
    (
        "alert_long_message",
        Alert,
        _edit(ALERT, "message", "x" * (MAX_MESSAGE_CHARS + 1)),
        "message",
    ),
    ("alert_empty_message", Alert, _edit(ALERT, "message", ""), "message"),
    ("alert_unknown_metric", Alert, _edit(ALERT, "metric", "sats"), "metric"),
    ("alert_kind_not_snake_case", Alert, _edit(ALERT, "kind", "SpO2 low"), "kind"),
    ("alert_extra_field", Alert, _edit(ALERT, "patient_name", "Jane Doe"), "patient_name"),
]


@pytest.mark.parametrize(
    ("model", "raw", "field"),
    [case[1:] for case in BAD_OTHERS],
    ids=[case[0] for case in BAD_OTHERS],
)
def test_bad_payload_is_rejected_naming_the_field(
    model: type[Payload], raw: bytes, field: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(model, raw)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("model", "raw"),
    [(IngestAck, ACK), (GatewayStatus, STATUS), (GatewayCommand, COMMAND), (Alert, ALERT)],
)
def test_good_payloads_are_accepted_and_not_interchangeable(
    model: type[Payload], raw: bytes
) -> None:
    assert to_json(parse(model, raw)) == raw
    with pytest.raises(PayloadError, match="schema"):
        parse(ObservationBatch, raw)


def test_status_repeating_a_device_is_rejected() -> None:
    doc = json.loads(STATUS)
    doc["devices"].append(doc["devices"][0])
    with pytest.raises(PayloadError) as caught:
        parse(GatewayStatus, json.dumps(doc).encode())
    assert caught.value.field == "devices"
    assert "devices.1 repeats device_id of devices.0" in caught.value.reason


def test_status_with_too_many_devices_is_rejected() -> None:
    doc = json.loads(STATUS)
    device = doc["devices"][0]
    doc["devices"] = [device | {"device_id": f"d-{i}"} for i in range(MAX_STATUS_DEVICES + 1)]
    with pytest.raises(PayloadError) as caught:
        parse(GatewayStatus, json.dumps(doc).encode())
    assert caught.value.field == "devices"


def test_status_without_devices_or_outbox_is_the_version_1_message() -> None:
    """Statuses written before devices and outbox existed (and every last will) still parse."""
    doc = json.loads(STATUS)
    del doc["devices"], doc["outbox"]
    status = parse(GatewayStatus, json.dumps(doc).encode())
    assert status.devices == ()
    assert status.outbox is None


@given(status=statuses())
def test_status_round_trips_with_devices_and_outbox(status: GatewayStatus) -> None:
    assert parse(GatewayStatus, to_json(status)) == status


@given(battery=st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_battery_outside_0_to_100_or_not_an_integer_is_rejected(battery: float) -> None:
    doc = json.loads(STATUS)
    doc["devices"][0]["battery_percent"] = battery
    valid = isinstance(battery, int) and 0 <= battery <= 100
    if valid:
        assert parse(GatewayStatus, json.dumps(doc).encode()).devices[0].battery_percent == battery
    else:
        with pytest.raises(PayloadError) as caught:
            parse(GatewayStatus, json.dumps(doc).encode())
        assert caught.value.field == "devices.0.battery_percent"
