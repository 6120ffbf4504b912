"""Byte-exact codecs for the Bluetooth SIG health GATT characteristics.

Pure functions over bytes, shared by the edge agent (which decodes what real devices send) and the
simulators (whose virtual devices encode with the same code). Each characteristic has a frozen
typed value, ``decode_<name>(bytes)`` and ``encode_<name>(value)``; :func:`decode` / :func:`encode`
dispatch by UUID / type. ``value.samples()`` flattens a value to ``(metric key, value or None,
flags)`` in the metric catalogue's canonical units.

Typed values keep the device's own unit (kPa, degF, lb, kg/L) and are quantised on construction to
what the wire carries, so ``decode(encode(x)) == x`` holds for every value; conversion to canonical
units happens in ``samples()`` and the ``*_mmhg`` / ``celsius`` / ``weight_kg`` style properties.
"""

from __future__ import annotations

from nabd.contract.gatt.blood_pressure import (
    BloodPressureMeasurement,
    BloodPressureStatus,
    IntermediateCuffPressure,
    PressureUnit,
    PulseRateRange,
    decode_blood_pressure_measurement,
    decode_intermediate_cuff_pressure,
    encode_blood_pressure_measurement,
    encode_intermediate_cuff_pressure,
)
from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.device import (
    BatteryLevel,
    DeviceInfoCharacteristic,
    DeviceInfoString,
    decode_battery_level,
    decode_device_info_string,
    encode_battery_level,
    encode_device_info_string,
)
from nabd.contract.gatt.errors import (
    GattDecodeError,
    GattError,
    GattValueError,
    InvalidDateTimeError,
    InvalidFieldError,
    TruncatedError,
    UnknownCharacteristicError,
)
from nabd.contract.gatt.ghs import (
    GhsControlOpCode,
    GhsControlPoint,
    HealthSensorFeatures,
    LiveHealthObservations,
    ObservationReassembler,
    SegmentHeader,
    StoredHealthObservations,
    segment,
    segment_stored,
)
from nabd.contract.gatt.ghs_metrics import observation_samples
from nabd.contract.gatt.ghs_observation import (
    CompoundComponent,
    CompoundValue,
    ElapsedTime,
    HealthObservation,
    NumericValue,
    ObservationBundle,
    ObservationClass,
    decode_observation,
    decode_observations,
    encode_observation,
)
from nabd.contract.gatt.glucose import (
    GlucoseConcentration,
    GlucoseMeasurement,
    GlucoseSensorStatus,
    GlucoseType,
    GlucoseUnit,
    SampleLocation,
    decode_glucose_measurement,
    encode_glucose_measurement,
)
from nabd.contract.gatt.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    decode_heart_rate_measurement,
    encode_heart_rate_measurement,
)
from nabd.contract.gatt.ieee11073 import (
    MedFloat,
    Special,
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
)
from nabd.contract.gatt.plx import (
    PlxContinuousMeasurement,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSpotCheckMeasurement,
    SpO2PulseRate,
    decode_plx_continuous_measurement,
    decode_plx_spot_check_measurement,
    encode_plx_continuous_measurement,
    encode_plx_spot_check_measurement,
)
from nabd.contract.gatt.registry import DECODERS, CharacteristicValue, decode, encode, uuid_of
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag
from nabd.contract.gatt.thermometer import (
    IntermediateTemperature,
    TemperatureMeasurement,
    TemperatureType,
    TemperatureUnit,
    decode_intermediate_temperature,
    decode_temperature_measurement,
    encode_intermediate_temperature,
    encode_temperature_measurement,
)
from nabd.contract.gatt.weight import (
    WeightMeasurement,
    WeightUnit,
    decode_weight_measurement,
    encode_weight_measurement,
)

__all__ = [
    "DECODERS",
    "BatteryLevel",
    "BloodPressureMeasurement",
    "BloodPressureStatus",
    "CharacteristicValue",
    "CompoundComponent",
    "CompoundValue",
    "DateTime",
    "DeviceInfoCharacteristic",
    "DeviceInfoString",
    "ElapsedTime",
    "GattDecodeError",
    "GattError",
    "GattValueError",
    "GhsControlOpCode",
    "GhsControlPoint",
    "GlucoseConcentration",
    "GlucoseMeasurement",
    "GlucoseSensorStatus",
    "GlucoseType",
    "GlucoseUnit",
    "HealthObservation",
    "HealthSensorFeatures",
    "HeartRateMeasurement",
    "IntermediateCuffPressure",
    "IntermediateTemperature",
    "InvalidDateTimeError",
    "InvalidFieldError",
    "LiveHealthObservations",
    "MedFloat",
    "MetricKey",
    "NumericValue",
    "ObservationBundle",
    "ObservationClass",
    "ObservationReassembler",
    "PlxContinuousMeasurement",
    "PlxDeviceSensorStatus",
    "PlxMeasurementStatus",
    "PlxSpotCheckMeasurement",
    "PressureUnit",
    "PulseRateRange",
    "Sample",
    "SampleFlag",
    "SampleLocation",
    "SegmentHeader",
    "SensorContact",
    "SpO2PulseRate",
    "Special",
    "StoredHealthObservations",
    "TemperatureMeasurement",
    "TemperatureType",
    "TemperatureUnit",
    "TruncatedError",
    "UnknownCharacteristicError",
    "WeightMeasurement",
    "WeightUnit",
    "decode",
    "decode_battery_level",
    "decode_blood_pressure_measurement",
    "decode_device_info_string",
    "decode_float",
    "decode_glucose_measurement",
    "decode_heart_rate_measurement",
    "decode_intermediate_cuff_pressure",
    "decode_intermediate_temperature",
    "decode_observation",
    "decode_observations",
    "decode_plx_continuous_measurement",
    "decode_plx_spot_check_measurement",
    "decode_sfloat",
    "decode_temperature_measurement",
    "decode_weight_measurement",
    "encode",
    "encode_battery_level",
    "encode_blood_pressure_measurement",
    "encode_device_info_string",
    "encode_float",
    "encode_glucose_measurement",
    "encode_heart_rate_measurement",
    "encode_intermediate_cuff_pressure",
    "encode_intermediate_temperature",
    "encode_observation",
    "encode_plx_continuous_measurement",
    "encode_plx_spot_check_measurement",
    "encode_sfloat",
    "encode_temperature_measurement",
    "encode_weight_measurement",
    "observation_samples",
    "segment",
    "segment_stored",
    "uuid_of",
]
