"""The read-only "feature" characteristics the health services require, as bytes.

What a virtual device declares it supports, no more: a central that reads them learns the truth
about the messages :mod:`~nabd.simulators.ble.schedule` sends.

===========================  ======  ===========================================================
characteristic               UUID    value
===========================  ======  ===========================================================
Body Sensor Location (HRS)   0x2A38  1 (chest)
PLX Features                 0x2A60  Supported Features: device and sensor status (bit 1),
                                     spot-check time stamp (bit 3); then Device and Sensor
                                     Status Support (24 bits): sensor unconnected to user
Temperature Type (HTS)       0x2A1D  2 (body, general)
Blood Pressure Feature       0x2A49  bit 4 (measurement position detection)
Glucose Feature              0x2A51  bit 2 (strip insufficient sample detection)
Weight Scale Feature         0x2A9E  bit 0 (time stamp supported); resolutions 0 (not
                                     specified: the default 0.005 kg)
Health Sensor Features (GHS) 0x2BF3  one observation type, MDC_RESP_RATE (151562); no device
                                     specialization list
===========================  ======  ===========================================================
"""

from __future__ import annotations

from typing import Final

from nabd.contract.gatt import (
    HealthSensorFeatures,
    PlxDeviceSensorStatus,
    TemperatureType,
    encode,
)
from nabd.contract.gatt.ghs_metrics import MDC_RESP_RATE

__all__ = [
    "BLOOD_PRESSURE_FEATURE",
    "BODY_SENSOR_LOCATION",
    "GLUCOSE_FEATURE",
    "HEALTH_SENSOR_FEATURES",
    "PLX_FEATURES",
    "TEMPERATURE_TYPE",
    "WEIGHT_SCALE_FEATURE",
    "blood_pressure_feature",
    "body_sensor_location",
    "glucose_feature",
    "health_sensor_features",
    "plx_features",
    "temperature_type",
    "weight_scale_feature",
]

BODY_SENSOR_LOCATION: Final = 0x2A38
PLX_FEATURES: Final = 0x2A60
TEMPERATURE_TYPE: Final = 0x2A1D
BLOOD_PRESSURE_FEATURE: Final = 0x2A49
GLUCOSE_FEATURE: Final = 0x2A51
WEIGHT_SCALE_FEATURE: Final = 0x2A9E
HEALTH_SENSOR_FEATURES: Final = HealthSensorFeatures.UUID

_CHEST: Final = 1
_PLX_DEVICE_STATUS_SUPPORT: Final = 1 << 1
_PLX_TIMESTAMP_SUPPORT: Final = 1 << 3
_BP_POSITION_DETECTION: Final = 1 << 4
_GLUCOSE_SAMPLE_SIZE_DETECTION: Final = 1 << 2
_WEIGHT_TIME_STAMP: Final = 1 << 0


def body_sensor_location() -> bytes:
    return bytes([_CHEST])


def plx_features() -> bytes:
    """Supported Features (uint16), then the Device and Sensor Status Support field (24 bits),
    which is present because bit 1 says so."""
    supported = _PLX_DEVICE_STATUS_SUPPORT | _PLX_TIMESTAMP_SUPPORT
    status = int(PlxDeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER)
    return supported.to_bytes(2, "little") + status.to_bytes(3, "little")


def temperature_type() -> bytes:
    return bytes([TemperatureType.BODY])


def blood_pressure_feature() -> bytes:
    return _BP_POSITION_DETECTION.to_bytes(2, "little")


def glucose_feature() -> bytes:
    return _GLUCOSE_SAMPLE_SIZE_DETECTION.to_bytes(2, "little")


def weight_scale_feature() -> bytes:
    return _WEIGHT_TIME_STAMP.to_bytes(4, "little")


def health_sensor_features() -> bytes:
    return encode(HealthSensorFeatures(observation_types=(MDC_RESP_RATE,)))
