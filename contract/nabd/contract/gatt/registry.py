"""Codec lookup by characteristic UUID (decode) and by value type (encode).

The edge agent subscribes to a characteristic and calls :func:`decode` with its 16-bit UUID; the
simulators build a typed value and call :func:`encode`. Both tables list the same characteristics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from nabd.contract.gatt.blood_pressure import (
    BloodPressureMeasurement,
    IntermediateCuffPressure,
    decode_blood_pressure_measurement,
    decode_intermediate_cuff_pressure,
    encode_blood_pressure_measurement,
    encode_intermediate_cuff_pressure,
)
from nabd.contract.gatt.device import (
    BatteryLevel,
    DeviceInfoCharacteristic,
    DeviceInfoString,
    decode_battery_level,
    decode_device_info_string,
    encode_battery_level,
    encode_device_info_string,
)
from nabd.contract.gatt.errors import UnknownCharacteristicError
from nabd.contract.gatt.ghs import (
    GhsControlPoint,
    HealthSensorFeatures,
    LiveHealthObservations,
    StoredHealthObservations,
    decode_ghs_control_point,
    decode_health_sensor_features,
    decode_live_health_observations,
    decode_stored_health_observations,
    encode_ghs_control_point,
    encode_health_sensor_features,
    encode_live_health_observations,
    encode_stored_health_observations,
)
from nabd.contract.gatt.glucose import (
    GlucoseMeasurement,
    decode_glucose_measurement,
    encode_glucose_measurement,
)
from nabd.contract.gatt.heart_rate import (
    HeartRateMeasurement,
    decode_heart_rate_measurement,
    encode_heart_rate_measurement,
)
from nabd.contract.gatt.plx import (
    PlxContinuousMeasurement,
    PlxSpotCheckMeasurement,
    decode_plx_continuous_measurement,
    decode_plx_spot_check_measurement,
    encode_plx_continuous_measurement,
    encode_plx_spot_check_measurement,
)
from nabd.contract.gatt.thermometer import (
    IntermediateTemperature,
    TemperatureMeasurement,
    decode_intermediate_temperature,
    decode_temperature_measurement,
    encode_intermediate_temperature,
    encode_temperature_measurement,
)
from nabd.contract.gatt.weight import (
    WeightMeasurement,
    decode_weight_measurement,
    encode_weight_measurement,
)
from nabd.contract.gatt.wire import Buffer

__all__ = ["DECODERS", "CharacteristicValue", "decode", "encode", "uuid_of"]


CharacteristicValue: TypeAlias = (
    HeartRateMeasurement
    | PlxSpotCheckMeasurement
    | PlxContinuousMeasurement
    | TemperatureMeasurement
    | IntermediateTemperature
    | BloodPressureMeasurement
    | IntermediateCuffPressure
    | GlucoseMeasurement
    | WeightMeasurement
    | LiveHealthObservations
    | StoredHealthObservations
    | HealthSensorFeatures
    | GhsControlPoint
    | BatteryLevel
    | DeviceInfoString
)
"""Every typed value a decoder here returns."""

_MEASUREMENT_DECODERS: Final[dict[int, Callable[[Buffer], CharacteristicValue]]] = {
    HeartRateMeasurement.UUID: decode_heart_rate_measurement,
    PlxSpotCheckMeasurement.UUID: decode_plx_spot_check_measurement,
    PlxContinuousMeasurement.UUID: decode_plx_continuous_measurement,
    TemperatureMeasurement.UUID: decode_temperature_measurement,
    IntermediateTemperature.UUID: decode_intermediate_temperature,
    BloodPressureMeasurement.UUID: decode_blood_pressure_measurement,
    IntermediateCuffPressure.UUID: decode_intermediate_cuff_pressure,
    GlucoseMeasurement.UUID: decode_glucose_measurement,
    WeightMeasurement.UUID: decode_weight_measurement,
    LiveHealthObservations.UUID: decode_live_health_observations,
    StoredHealthObservations.UUID: decode_stored_health_observations,
    HealthSensorFeatures.UUID: decode_health_sensor_features,
    GhsControlPoint.UUID: decode_ghs_control_point,
    BatteryLevel.UUID: decode_battery_level,
}

DECODERS: Final[Mapping[int, Callable[[Buffer], CharacteristicValue]]] = MappingProxyType(
    _MEASUREMENT_DECODERS
    | {int(kind): partial(decode_device_info_string, kind) for kind in DeviceInfoCharacteristic}
)
"""16-bit characteristic UUID -> decoder."""

# Any: each encoder takes its own type; the table is only reached through ``encode``'s check.
_ENCODERS: Final[Mapping[type, Callable[[Any], bytes]]] = MappingProxyType(
    {
        HeartRateMeasurement: encode_heart_rate_measurement,
        PlxSpotCheckMeasurement: encode_plx_spot_check_measurement,
        PlxContinuousMeasurement: encode_plx_continuous_measurement,
        TemperatureMeasurement: encode_temperature_measurement,
        IntermediateTemperature: encode_intermediate_temperature,
        BloodPressureMeasurement: encode_blood_pressure_measurement,
        IntermediateCuffPressure: encode_intermediate_cuff_pressure,
        GlucoseMeasurement: encode_glucose_measurement,
        WeightMeasurement: encode_weight_measurement,
        LiveHealthObservations: encode_live_health_observations,
        StoredHealthObservations: encode_stored_health_observations,
        HealthSensorFeatures: encode_health_sensor_features,
        GhsControlPoint: encode_ghs_control_point,
        BatteryLevel: encode_battery_level,
        DeviceInfoString: encode_device_info_string,
    }
)


def decode(uuid: int, data: Buffer) -> CharacteristicValue:
    """Decode the value of characteristic ``uuid``; raises :class:`GattDecodeError` if malformed
    and :class:`UnknownCharacteristicError` for a UUID with no codec."""
    decoder = DECODERS.get(uuid)
    if decoder is None:
        raise UnknownCharacteristicError(f"no codec for characteristic 0x{uuid:04X}")
    return decoder(data)


def encode(value: CharacteristicValue) -> bytes:
    """The bytes of ``value`` as its characteristic carries them."""
    return _ENCODERS[type(value)](value)


def uuid_of(value: CharacteristicValue) -> int:
    """The 16-bit UUID of the characteristic that carries ``value``."""
    if isinstance(value, DeviceInfoString):
        return value.uuid
    return value.UUID
