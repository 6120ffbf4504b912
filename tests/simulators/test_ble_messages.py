"""The virtual devices' messages, for any value the simulator can produce: byte-exact encodings
that the edge agent decodes back to the value, and the right special values and flags when the
sensor has no contact."""

from __future__ import annotations

import math
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.gatt import PlxDeviceSensorStatus, encode
from nabd.contract.gatt import decode as decode_value
from nabd.edge.gatt import SampleFlag
from nabd.edge.gatt import decode as edge_decode
from nabd.simulators.ble import features, messages
from nabd.simulators.ble.identity import SERVICE_UUID, identity_of
from nabd.simulators.ble.peripheral import advertising_data
from nabd.simulators.devices import Device
from nabd.simulators.timebase import DEFAULT_START

STAMP = messages.device_time(DEFAULT_START + 3723.9)
LOST = {SampleFlag.UNAVAILABLE}


def _tenths(low: float, high: float) -> st.SearchStrategy[float]:
    """Values as the simulator quantises them: a tenth, half-up (so repr is short)."""
    return st.integers(round(low * 10), round(high * 10)).map(lambda n: n / 10)


def _read(data: bytes, uuid: int) -> dict[str, tuple[float | None, frozenset[SampleFlag]]]:
    assert encode(decode_value(uuid, data)) == data  # byte-exact both ways
    return {r.metric: (r.value, r.flags) for r in edge_decode(uuid, data)}


def test_device_time_is_the_utc_wall_clock_to_the_second() -> None:
    assert STAMP.to_datetime() == datetime(2025, 3, 1, 1, 2, 3)
    shifted = messages.device_time(DEFAULT_START, clock_offset_s=-30.0)
    assert shifted.to_datetime() == datetime(2025, 2, 28, 23, 59, 30)


@given(
    st.integers(0, 300),
    st.lists(st.integers(103, 3000).map(lambda n: n / 1024), max_size=14),
)
def test_heart_rate_round_trips_with_the_newest_rr_intervals(bpm: int, rr: list[float]) -> None:
    value = messages.heart_rate(float(bpm), False, rr)
    assert value is not None
    got = edge_decode(0x2A37, encode(value))
    assert [r.value for r in got if r.metric == "heart_rate"] == [float(bpm)]
    room = 9 if bpm <= 255 else 8
    assert [r.value for r in got if r.metric == "rr_interval"] == rr[-room:]
    assert len(encode(value)) <= 20  # fits a notification at the default ATT MTU
    assert all(not r.flags for r in got)


def test_heart_rate_without_contact_is_zero_flagged_and_without_beats() -> None:
    value = messages.heart_rate(math.nan, True, [0.8, 0.81])
    assert value is not None
    assert encode(value) == bytes([0x04, 0x00])  # contact supported, not detected; HR 0
    assert _read(encode(value), 0x2A37) == {
        "heart_rate": (0.0, frozenset({SampleFlag.SENSOR_CONTACT_LOST}))
    }
    assert messages.heart_rate(math.nan, False) is None  # no sample, no message


@given(st.integers(50, 100), st.integers(20, 250), st.booleans())
def test_oximeter_messages_round_trip(spo2: int, pulse: int, spot: bool) -> None:
    value = (
        messages.plx_spot_check(float(spo2), float(pulse), False, STAMP)
        if spot
        else messages.plx_continuous(float(spo2), float(pulse), False)
    )
    assert value is not None
    uuid = 0x2A5E if spot else 0x2A5F
    assert _read(encode(value), uuid) == {
        "spo2": (float(spo2), frozenset()),
        "pulse_rate": (float(pulse), frozenset()),
    }
    if spot:
        assert {r.timestamp for r in edge_decode(uuid, encode(value))} == {STAMP.to_datetime()}


def test_oximeter_without_contact_sends_nan_and_the_sensor_status() -> None:
    value = messages.plx_continuous(math.nan, math.nan, True)
    assert value is not None
    data = encode(value)
    # flags (status present), SpO2 NaN, PR NaN, Device and Sensor Status bit 11
    assert data == bytes([0x08, 0xFF, 0x07, 0xFF, 0x07, 0x00, 0x08, 0x00])
    flags = frozenset({SampleFlag.UNAVAILABLE, SampleFlag.SENSOR_CONTACT_LOST})
    assert _read(data, 0x2A5F) == {"spo2": (None, flags), "pulse_rate": (None, flags)}
    partial = messages.plx_continuous(97.0, math.nan, False)
    assert partial is not None
    assert _read(encode(partial), 0x2A5F)["pulse_rate"] == (None, frozenset(LOST))
    assert messages.plx_continuous(math.nan, math.nan, False) is None


@given(_tenths(30.0, 43.0))
def test_temperature_round_trips_as_a_float(celsius: float) -> None:
    final = messages.temperature(celsius, False, STAMP)
    early = messages.intermediate_temperature(celsius)
    assert final is not None
    assert early is not None
    assert _read(encode(final), 0x2A1C) == {"body_temperature": (celsius, frozenset())}
    assert _read(encode(early), 0x2A1E) == {
        "body_temperature": (celsius, frozenset({SampleFlag.EARLY_ESTIMATE}))
    }


def test_thermometer_without_contact_sends_float_nan() -> None:
    value = messages.temperature(math.nan, True, STAMP)
    assert value is not None
    assert encode(value)[1:5] == bytes([0xFF, 0xFF, 0x7F, 0x00])  # FLOAT NaN
    assert _read(encode(value), 0x2A1C) == {"body_temperature": (None, frozenset(LOST))}


@given(st.integers(60, 260), st.integers(30, 140), st.integers(40, 200))
def test_blood_pressure_round_trips(systolic: int, diastolic: int, mean: int) -> None:
    value = messages.blood_pressure(float(systolic), float(diastolic), float(mean), False, STAMP)
    assert value is not None
    assert _read(encode(value), 0x2A35) == {
        "systolic_bp": (float(systolic), frozenset()),
        "diastolic_bp": (float(diastolic), frozenset()),
        "mean_arterial_pressure": (float(mean), frozenset()),
    }
    cuff = messages.intermediate_cuff_pressure(systolic + 20.4)
    assert edge_decode(0x2A36, encode(cuff)) == []
    assert decode_value(0x2A36, encode(cuff)) == cuff


def test_cuff_without_contact_sends_nan_and_improper_position() -> None:
    value = messages.blood_pressure(math.nan, math.nan, math.nan, True, STAMP)
    assert value is not None
    flags = frozenset({SampleFlag.UNAVAILABLE, SampleFlag.QUESTIONABLE})
    assert _read(encode(value), 0x2A35) == {
        "systolic_bp": (None, flags),
        "diastolic_bp": (None, flags),
        "mean_arterial_pressure": (None, flags),
    }


@given(_tenths(1.0, 33.0), st.integers(0, 70000))
def test_glucose_round_trips_in_mol_per_litre(mmol: float, number: int) -> None:
    value = messages.glucose(mmol, False, number, STAMP)
    assert value is not None
    got = _read(encode(value), 0x2A18)
    assert math.isclose(got["glucose"][0] or 0.0, mmol, rel_tol=1e-12)
    assert got["glucose"][1] == frozenset()
    assert value.sequence_number == number % 65536


def test_glucose_meter_without_a_sample_reports_an_invalid_record() -> None:
    value = messages.glucose(math.nan, True, 3, STAMP)
    assert value is not None
    flags = frozenset({SampleFlag.UNAVAILABLE, SampleFlag.INVALID})
    assert _read(encode(value), 0x2A18) == {"glucose": (None, flags)}


@given(_tenths(30.0, 300.0))
def test_weight_round_trips(kg: float) -> None:
    value = messages.weight(kg, False, STAMP)
    assert value is not None
    assert _read(encode(value), 0x2A9D) == {"body_weight": (kg, frozenset())}
    unsuccessful = messages.weight(math.nan, True, STAMP)
    assert unsuccessful is not None
    assert encode(unsuccessful)[1:3] == b"\xff\xff"
    assert _read(encode(unsuccessful), 0x2A9D) == {"body_weight": (None, frozenset(LOST))}


def test_advertisements_fit_and_name_the_services() -> None:
    for device in Device:
        identity = identity_of("p-3f0e2a7c91d4", device)
        data = advertising_data(identity)
        assert len(data) <= 31
        uuids = SERVICE_UUID[device].to_bytes(2, "little") + (0x180F).to_bytes(2, "little")
        assert bytes([len(uuids) + 1, 0x03]) + uuids in data
        assert identity.name.encode() in data


def test_identities_are_stable_distinct_and_static_random() -> None:
    first = [identity_of("p-3f0e2a7c91d4", d) for d in Device]
    assert first == [identity_of("p-3f0e2a7c91d4", d) for d in Device]
    other = [identity_of("p-000000000001", d) for d in Device]
    addresses = {i.address for i in first + other}
    assert len(addresses) == 2 * len(Device)
    assert all(int(a[:2], 16) >= 0xC0 for a in addresses)
    assert len({i.device_id for i in first + other}) == 2 * len(Device)
    assert first[0].device_id.startswith("hrs-")


def test_the_declared_features_cover_what_is_sent() -> None:
    plx = features.plx_features()
    supported = int.from_bytes(plx[:2], "little")
    assert supported & 0b10  # device and sensor status support present
    support = int.from_bytes(plx[2:5], "little")
    sent = messages.plx_continuous(math.nan, math.nan, True)
    assert sent is not None
    assert sent.device_sensor_status == PlxDeviceSensorStatus(support)
    assert supported & 0b1000  # spot-check time stamps
    assert features.temperature_type() == bytes([2])
    assert int.from_bytes(features.blood_pressure_feature(), "little") == 1 << 4
    assert int.from_bytes(features.weight_scale_feature(), "little") & 1
