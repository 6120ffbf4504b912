"""``nabd.edge.gatt.decode``: characteristic bytes -> readings in canonical units.

The byte codecs are tested in ``tests/gatt`` against the specifications; these tests check the
edge agent's flattening: one reading per sample and per RR interval, catalogue units, special
values as ``None`` + ``unavailable``, device time stamps (naive) and unset clocks, every UUID
spelling, and that nothing but ``GattDecodeError`` ever escapes.
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.catalogue import METRICS
from nabd.contract.gatt import (
    DECODERS,
    BloodPressureMeasurement,
    DateTime,
    GlucoseConcentration,
    GlucoseMeasurement,
    GlucoseType,
    GlucoseUnit,
    PlxSpotCheckMeasurement,
    PressureUnit,
    SampleLocation,
    WeightMeasurement,
    WeightUnit,
    encode_blood_pressure_measurement,
    encode_glucose_measurement,
    encode_observation,
    encode_plx_spot_check_measurement,
    encode_weight_measurement,
    segment,
    segment_stored,
)
from nabd.edge.gatt import (
    GattDecodeError,
    Reading,
    SampleFlag,
    SegmentedObservations,
    characteristic_uuid16,
    decode,
)
from nabd.simulators.ble.messages import respiration


def _by_metric(readings: list[Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    for reading in readings:
        out.setdefault(reading.metric, []).append(reading)
    return out


def test_heart_rate_gives_one_reading_per_rr_interval() -> None:
    # Flags 0x10: uint8 heart rate, RR intervals present; 72/min; RR 1024/1024 s and 512/1024 s.
    readings = decode(0x2A37, bytes([0x10, 72, 0x00, 0x04, 0x00, 0x02]))
    assert [(r.metric, r.value, r.unit) for r in readings] == [
        ("heart_rate", 72.0, "/min"),
        ("rr_interval", 1.0, "s"),
        ("rr_interval", 0.5, "s"),
    ]
    assert all(r.timestamp is None and not r.flags for r in readings)


def test_heart_rate_uint16_energy_and_lost_contact() -> None:
    # Flags 0x0D: uint16 format, contact supported but not detected, energy present.
    readings = _by_metric(decode("2A37", bytes([0x0D, 0x2C, 0x01, 0x0A, 0x00])))
    assert readings["heart_rate"][0].value == 300.0
    assert readings["heart_rate"][0].flags == {SampleFlag.SENSOR_CONTACT_LOST}
    assert (readings["energy_expended"][0].value, readings["energy_expended"][0].unit) == (
        10.0,
        "kJ",
    )


@pytest.mark.parametrize("special", [0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801])
def test_a_special_value_never_becomes_a_number(special: int) -> None:
    # PLX Continuous, no optional fields: SpO2 is a special SFLOAT, pulse rate 72.
    readings = _by_metric(
        decode(0x2A5F, bytes([0x00]) + special.to_bytes(2, "little") + b"\x48\x00")
    )
    spo2 = readings["spo2"][0]
    assert spo2.value is None
    assert SampleFlag.UNAVAILABLE in spo2.flags
    assert readings["pulse_rate"][0].value == 72.0


def test_fahrenheit_becomes_celsius_with_the_device_time() -> None:
    # Flags 0x03: Fahrenheit, time stamp. FLOAT 98.6 = mantissa 986, exponent -1.
    value = bytes.fromhex("03DA0300FFE8070301081E00")
    (reading,) = decode(0x2A1C, value)
    assert reading.metric == "body_temperature"
    assert reading.unit == "Cel"
    assert reading.value == pytest.approx(37.0, abs=1e-9)
    assert reading.timestamp == datetime(2024, 3, 1, 8, 30)  # naive: the device's wall clock
    assert not reading.clock_unset


def test_a_time_stamp_without_a_date_is_an_unset_clock() -> None:
    value = bytes.fromhex("026E0100FF00000000081E00")  # 36.6 Cel, year 0
    (reading,) = decode(0x2A1C, value)
    assert reading.timestamp is None
    assert reading.clock_unset


def test_plx_spot_check_from_a_clock_the_device_says_is_unset() -> None:
    value = encode_plx_spot_check_measurement(
        PlxSpotCheckMeasurement(
            spo2=95.0,
            pulse_rate=80.0,
            timestamp=DateTime(2000, 1, 1, 0, 5, 0),
            device_clock_not_set=True,
        )
    )
    readings = decode(0x2A5E, value)
    assert {r.metric for r in readings} == {"spo2", "pulse_rate"}
    assert all(r.timestamp is None and r.clock_unset for r in readings)


def test_kpa_become_mmhg() -> None:
    value = encode_blood_pressure_measurement(
        BloodPressureMeasurement(
            systolic=16.0,
            diastolic=10.7,
            mean_arterial=12.5,
            unit=PressureUnit.KPA,
            pulse_rate=70.0,
        )
    )
    readings = _by_metric(decode(0x2A35, value))
    assert readings["systolic_bp"][0].value == pytest.approx(120.0, abs=0.1)
    assert readings["diastolic_bp"][0].unit == "mm[Hg]"
    assert readings["pulse_rate"][0].value == 70.0


def test_glucose_in_kg_per_litre_becomes_mmol_per_litre_at_base_time_plus_offset() -> None:
    value = encode_glucose_measurement(
        GlucoseMeasurement(
            sequence_number=7,
            base_time=DateTime(2024, 3, 1, 8, 0, 0),
            time_offset=30,
            concentration=GlucoseConcentration(
                value=0.001,  # 100 mg/dL
                unit=GlucoseUnit.KG_PER_L,
                sample_type=GlucoseType.CAPILLARY_WHOLE_BLOOD,
                sample_location=SampleLocation.FINGER,
            ),
        )
    )
    (reading,) = decode(0x2A18, value)
    assert reading.unit == "mmol/L"
    assert reading.value == pytest.approx(100 / 18.0156, rel=1e-3)
    assert reading.timestamp == datetime(2024, 3, 1, 8, 30)


def test_a_control_solution_is_flagged_as_test_data() -> None:
    value = encode_glucose_measurement(
        GlucoseMeasurement(
            sequence_number=8,
            base_time=DateTime(2024, 3, 1, 8, 0, 0),
            concentration=GlucoseConcentration(
                value=0.001,
                unit=GlucoseUnit.KG_PER_L,
                sample_type=GlucoseType.CONTROL_SOLUTION,
                sample_location=SampleLocation.CONTROL_SOLUTION,
            ),
        )
    )
    (reading,) = decode(0x2A18, value)
    assert SampleFlag.TEST_DATA in reading.flags


def test_pounds_become_kilograms() -> None:
    value = encode_weight_measurement(WeightMeasurement(weight=154.0, unit=WeightUnit.IMPERIAL))
    (reading,) = decode(0x2A9D, value)
    assert (reading.metric, reading.unit) == ("body_weight", "kg")
    assert reading.value == pytest.approx(154.0 * 0.45359237, abs=0.01)


def test_battery_level() -> None:
    assert decode(0x2A19, b"\x57") == [
        Reading(metric="battery_level", value=87.0, unit="%", timestamp=None)
    ]


def test_device_information_strings_are_metadata_not_readings() -> None:
    assert decode(0x2A29, b"Nabd Test") == []


@pytest.mark.parametrize(
    "spelling", [0x2A37, "2A37", "2a37", "0x2A37", "00002a37-0000-1000-8000-00805f9b34fb"]
)
def test_every_uuid_spelling_names_the_same_characteristic(spelling: int | str) -> None:
    assert characteristic_uuid16(spelling) == 0x2A37


@pytest.mark.parametrize(
    "uuid",
    [0x2A00, 0x10000, -1, "beef", "12345678-0000-1000-8000-00805f9b34fb", "not a uuid"],
)
def test_unknown_characteristics_raise_gatt_decode_error(uuid: int | str) -> None:
    with pytest.raises(GattDecodeError):
        decode(uuid, b"\x00\x48")


@pytest.mark.parametrize("value", [b"", b"\x01\x48"])  # no Flags; a uint16 heart rate cut short
def test_a_missing_mandatory_field_raises_and_never_yields_a_partial_reading(value: bytes) -> None:
    with pytest.raises(GattDecodeError):
        decode(0x2A37, value)


@pytest.mark.parametrize("value", [b"\x10\x48\x00", b"\x08\x48\x0a", b"\x10\x48"])
def test_an_optional_field_cut_short_keeps_the_heart_rate(value: bytes) -> None:
    # RR flag with half an interval or none, energy expended cut short: the rate stays alone.
    assert [r.metric for r in decode(0x2A37, value)] == ["heart_rate"]


def test_gatt_decode_error_is_a_value_error() -> None:
    assert issubclass(GattDecodeError, ValueError)


@given(uuid=st.sampled_from(sorted(DECODERS)), data=st.binary(max_size=40))
def test_arbitrary_bytes_raise_nothing_but_gatt_decode_error(uuid: int, data: bytes) -> None:
    try:
        readings = decode(uuid, data)
    except GattDecodeError:
        return
    for reading in readings:
        row = METRICS[reading.metric]
        assert reading.unit == row.unit
        assert (reading.value is None) == (SampleFlag.UNAVAILABLE in reading.flags)
        assert reading.value is None or math.isfinite(reading.value)
        assert reading.timestamp is None or reading.timestamp.tzinfo is None


def test_a_stored_ghs_observation_is_a_record_and_a_live_one_is_not() -> None:
    observation = respiration(16.0, False, 1_780_000_000.0)
    assert observation is not None
    whole = encode_observation(observation)
    joined = SegmentedObservations()
    stored = [joined.push(0x2BDD, part) for part in segment_stored(whole, 7, 20)]
    assert stored[0] == (None, False)  # the first of two segments
    readings, lost = stored[-1]
    assert not lost
    assert readings is not None
    assert [(r.metric, r.value, r.record) for r in readings] == [("respiration_rate", 16.0, 7)]
    live = [joined.push(0x2B8B, part) for part in segment(whole, 20)]
    assert [r.record for r in live[-1][0] or []] == [None]
