"""Dispatch by UUID and type, the error tree, unit conversions and the catalogue's metric keys."""

from __future__ import annotations

import pickle

import pytest

from nabd.contract.catalogue import METRICS
from nabd.contract.errors import ContractError
from nabd.contract.gatt import (
    BatteryLevel,
    BloodPressureMeasurement,
    CharacteristicValue,
    DateTime,
    DeviceInfoCharacteristic,
    DeviceInfoString,
    GattDecodeError,
    GhsControlOpCode,
    GhsControlPoint,
    GlucoseMeasurement,
    HealthSensorFeatures,
    HeartRateMeasurement,
    IntermediateCuffPressure,
    IntermediateTemperature,
    LiveHealthObservations,
    MetricKey,
    PlxContinuousMeasurement,
    PlxSpotCheckMeasurement,
    Special,
    StoredHealthObservations,
    TemperatureMeasurement,
    TruncatedError,
    UnknownCharacteristicError,
    WeightMeasurement,
    decode,
    encode,
    uuid_of,
)
from nabd.contract.gatt.registry import DECODERS
from nabd.contract.gatt.units import (
    convert,
    fahrenheit_to_celsius,
    glucose_kg_per_l_to_mmol_per_l,
    glucose_mol_per_l_to_mmol_per_l,
    inch_to_m,
    kpa_to_mmhg,
    pound_to_kg,
)

ONE_OF_EACH: list[CharacteristicValue] = [
    HeartRateMeasurement(heart_rate=72),
    PlxSpotCheckMeasurement(spo2=97, pulse_rate=72),
    PlxContinuousMeasurement(spo2=97, pulse_rate=72),
    TemperatureMeasurement(temperature=36.6),
    IntermediateTemperature(temperature=36.6),
    BloodPressureMeasurement(systolic=120, diastolic=80, mean_arterial=93),
    IntermediateCuffPressure(cuff_pressure=150),
    GlucoseMeasurement(sequence_number=1, base_time=DateTime(2024, 1, 1)),
    WeightMeasurement(weight=70),
    LiveHealthObservations(data=b"\x00"),
    StoredHealthObservations(record_number=7, data=b"\x00"),
    HealthSensorFeatures(observation_types=(151562,)),
    GhsControlPoint(GhsControlOpCode.START_SEND_LIVE_OBSERVATIONS),
    BatteryLevel(80),
    *(DeviceInfoString(kind, "x") for kind in DeviceInfoCharacteristic),
]


@pytest.mark.parametrize("value", ONE_OF_EACH, ids=lambda v: type(v).__name__)
def test_each_type_goes_through_its_own_uuid(value: CharacteristicValue) -> None:
    assert decode(uuid_of(value), encode(value)) == value


def test_every_decoder_has_an_encodable_type() -> None:
    assert sorted(uuid_of(value) for value in ONE_OF_EACH) == sorted(DECODERS)


def test_unknown_uuid() -> None:
    with pytest.raises(UnknownCharacteristicError, match="0x2A6E"):
        decode(0x2A6E, b"\x00")


def test_errors_belong_to_the_contract_tree_and_pickle() -> None:
    with pytest.raises(GattDecodeError) as caught:
        decode(0x2A37, b"")
    error = caught.value
    assert isinstance(error, TruncatedError)
    assert isinstance(error, ContractError)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (type(copy), copy.characteristic, copy.reason) == (
        TruncatedError,
        "Heart Rate Measurement (0x2A37)",
        error.reason,
    )


def test_metric_keys_are_catalogue_keys() -> None:
    assert {key.value for key in MetricKey} <= set(METRICS)


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"), [(212.0, 100.0), (32.0, 0.0), (-40.0, -40.0), (98.6, 37.0)]
)
def test_fahrenheit(fahrenheit: float, celsius: float) -> None:
    assert fahrenheit_to_celsius(fahrenheit) == pytest.approx(celsius, abs=1e-12)


def test_pressure_one_standard_atmosphere() -> None:
    assert kpa_to_mmhg(101.325) == pytest.approx(760.0, rel=1e-9)


def test_glucose_units() -> None:
    # 1 mmol/L of glucose is 180.156 mg/L = 1.80156e-4 kg/L.
    assert glucose_kg_per_l_to_mmol_per_l(1.80156e-4) == pytest.approx(1.0, rel=1e-12)
    # Clinical rule of thumb: mg/dL / 18 ~ mmol/L; 90 mg/dL = 9e-4 kg/L.
    assert glucose_kg_per_l_to_mmol_per_l(9e-4) == pytest.approx(90 / 18, rel=1e-3)
    assert glucose_mol_per_l_to_mmol_per_l(0.0055) == pytest.approx(5.5, rel=1e-12)


def test_length_and_mass() -> None:
    assert inch_to_m(12.0) == pytest.approx(0.3048, rel=1e-12)  # the international foot
    assert pound_to_kg(2.20462262185) == pytest.approx(1.0, rel=1e-11)


def test_special_values_pass_through_conversions() -> None:
    assert convert(Special.POSITIVE_INFINITY, kpa_to_mmhg) is Special.POSITIVE_INFINITY
    assert convert(10.0, kpa_to_mmhg) == pytest.approx(75.0061683)
