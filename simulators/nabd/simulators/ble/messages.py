"""Simulated samples -> the typed GATT values a real device of each kind would send.

Pure: a function per characteristic, from canonical values (NaN: no value) and the series'
``contact_lost`` flag to a :mod:`nabd.contract.gatt` value, which the contract's encoders turn
into bytes. What a device does with a missing value follows its specification:

==================  =========================================================================
characteristic      no contact (``contact_lost``)
==================  =========================================================================
Heart Rate 0x2A37   heart rate 0, sensor contact "supported, not detected", no RR intervals
                    (HRS has no special value; this is what chest straps send)
PLX 0x2A5F/0x2A5E   SpO2 and pulse rate SFLOAT NaN, Device and Sensor Status "sensor
                    unconnected to user"
HTS 0x2A1C          temperature FLOAT NaN
BLS 0x2A35          systolic, diastolic and MAP SFLOAT NaN, Measurement Status "improper
                    measurement position" (the cuff is not on the arm)
GLS 0x2A18          concentration SFLOAT NaN, Sensor Status "sample size insufficient"
WSS 0x2A9D          weight 0xFFFF, "Measurement Unsuccessful"
GHS 0x2B8B          respiratory rate FLOAT NaN, Measurement Status bit 2 "not available"
==================  =========================================================================

A value missing *without* ``contact_lost`` is a sample the device never took: no message at all
(the functions return ``None``). A single missing field of a multi-field value (SpO2 without
pulse rate) becomes that field's NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from nabd.contract.gatt import (
    BloodPressureMeasurement,
    BloodPressureStatus,
    DateTime,
    ElapsedTime,
    GlucoseConcentration,
    GlucoseMeasurement,
    GlucoseSensorStatus,
    GlucoseType,
    GlucoseUnit,
    HealthObservation,
    HeartRateMeasurement,
    IntermediateCuffPressure,
    IntermediateTemperature,
    MedFloat,
    NumericValue,
    ObservationClass,
    PlxContinuousMeasurement,
    PlxDeviceSensorStatus,
    PlxSpotCheckMeasurement,
    SampleLocation,
    SensorContact,
    Special,
    TemperatureMeasurement,
    TemperatureType,
    WeightMeasurement,
)

__all__ = [
    "MAX_RR_PER_NOTIFICATION",
    "blood_pressure",
    "device_time",
    "glucose",
    "heart_rate",
    "intermediate_cuff_pressure",
    "intermediate_temperature",
    "plx_continuous",
    "plx_spot_check",
    "respiration",
    "temperature",
    "weight",
]

MAX_RR_PER_NOTIFICATION: Final = 9
"""RR intervals that fit a notification at the default ATT MTU (23): 20 bytes = flags, an 8-bit
heart rate and 9 x 2 bytes (8 with a 16-bit heart rate). HRS asks a sensor to drop the oldest."""
_MMOL_PER_MOL: Final = 1000.0


def _missing(value: float) -> bool:
    return not math.isfinite(value)


def _med(value: float) -> MedFloat:
    return Special.NAN if _missing(value) else value


def device_time(true_time: float, clock_offset_s: float = 0.0) -> DateTime:
    """The device's wall clock (set to UTC) at ``true_time`` when it runs ``clock_offset_s``
    ahead: the Date Time field of a time-stamped measurement, to the second."""
    moment = datetime.fromtimestamp(true_time + clock_offset_s, tz=UTC)
    return DateTime.from_datetime(moment)


_ELAPSED_TIME_EPOCH: Final = 946_684_800
"""2000-01-01 00:00:00 UTC as a Unix time: the Elapsed Time Service's origin (GHS time stamps)."""
_MDC_RESP_RATE: Final = 151562
_MDC_DIM_RESP_PER_MIN: Final = 2784
_STATUS_NOT_AVAILABLE: Final = 0x0004


def respiration(
    rate: float, contact_lost: bool, true_time: float, clock_offset_s: float = 0.0
) -> HealthObservation | None:
    """A GHS numeric observation of MDC_RESP_RATE (breaths/min, to 0.1) with a UTC time stamp
    of the device clock, in whole seconds since 2000-01-01."""
    if _missing(rate) and not contact_lost:
        return None
    stamp = ElapsedTime(value=max(0, int(true_time + clock_offset_s) - _ELAPSED_TIME_EPOCH))
    value: MedFloat = Special.NAN if contact_lost or _missing(rate) else round(max(rate, 0.0), 1)
    return HealthObservation(
        kind=ObservationClass.NUMERIC,
        observation_type=_MDC_RESP_RATE,
        time=stamp,
        status=_STATUS_NOT_AVAILABLE if contact_lost else None,
        value=NumericValue(_MDC_DIM_RESP_PER_MIN, value),
    )


def heart_rate(
    bpm: float, contact_lost: bool, rr_intervals: Sequence[float] = ()
) -> HeartRateMeasurement | None:
    """A Heart Rate Measurement with sensor contact status and the newest RR intervals."""
    if contact_lost:
        return HeartRateMeasurement(heart_rate=0, sensor_contact=SensorContact.NOT_DETECTED)
    if _missing(bpm):
        return None
    rate = max(0, math.floor(bpm + 0.5))
    wide = rate > 0xFF
    room = MAX_RR_PER_NOTIFICATION - int(wide)
    rr = tuple(r for r in rr_intervals if math.isfinite(r) and 0 < r < 64.0)[-room:]
    return HeartRateMeasurement(
        heart_rate=rate,
        uint16_format=wide,
        sensor_contact=SensorContact.DETECTED,
        rr_intervals=rr,
    )


def _plx_status(contact_lost: bool) -> PlxDeviceSensorStatus | None:
    return PlxDeviceSensorStatus.SENSOR_UNCONNECTED_TO_USER if contact_lost else None


def plx_continuous(
    spo2: float, pulse_rate: float, contact_lost: bool
) -> PlxContinuousMeasurement | None:
    """A PLX Continuous Measurement (SpO2PR-Normal only)."""
    if not contact_lost and _missing(spo2) and _missing(pulse_rate):
        return None
    return PlxContinuousMeasurement(
        spo2=_med(spo2),
        pulse_rate=_med(pulse_rate),
        device_sensor_status=_plx_status(contact_lost),
    )


def plx_spot_check(
    spo2: float, pulse_rate: float, contact_lost: bool, stamp: DateTime
) -> PlxSpotCheckMeasurement | None:
    """A time-stamped PLX Spot-check Measurement."""
    if not contact_lost and _missing(spo2) and _missing(pulse_rate):
        return None
    return PlxSpotCheckMeasurement(
        spo2=_med(spo2),
        pulse_rate=_med(pulse_rate),
        timestamp=stamp,
        device_sensor_status=_plx_status(contact_lost),
    )


def temperature(
    celsius: float, contact_lost: bool, stamp: DateTime
) -> TemperatureMeasurement | None:
    """A final, time-stamped body temperature in Celsius."""
    if not contact_lost and _missing(celsius):
        return None
    return TemperatureMeasurement(
        temperature=Special.NAN if contact_lost else celsius,
        timestamp=stamp,
        temperature_type=TemperatureType.BODY,
    )


def intermediate_temperature(celsius: float) -> IntermediateTemperature | None:
    """The reading shown while the thermometer settles (no time stamp)."""
    if _missing(celsius):
        return None
    return IntermediateTemperature(temperature=celsius, temperature_type=TemperatureType.BODY)


def blood_pressure(
    systolic: float, diastolic: float, mean: float, contact_lost: bool, stamp: DateTime
) -> BloodPressureMeasurement | None:
    """A final, time-stamped cuff reading in mm[Hg]."""
    if not contact_lost and all(_missing(v) for v in (systolic, diastolic, mean)):
        return None
    if contact_lost:
        return BloodPressureMeasurement(
            systolic=Special.NAN,
            diastolic=Special.NAN,
            mean_arterial=Special.NAN,
            timestamp=stamp,
            status=BloodPressureStatus(improper_position=True),
        )
    return BloodPressureMeasurement(
        systolic=_med(systolic),
        diastolic=_med(diastolic),
        mean_arterial=_med(mean),
        timestamp=stamp,
    )


def intermediate_cuff_pressure(pressure: float) -> IntermediateCuffPressure:
    """The cuff pressure (mm[Hg]) while the cuff deflates towards a reading."""
    return IntermediateCuffPressure(cuff_pressure=float(math.floor(pressure + 0.5)))


def glucose(
    mmol_per_l: float, contact_lost: bool, sequence_number: int, stamp: DateTime
) -> GlucoseMeasurement | None:
    """A glucose record (capillary whole blood from a finger) in mol/L, as meters send it."""
    if not contact_lost and _missing(mmol_per_l):
        return None
    value: MedFloat = Special.NAN if contact_lost else mmol_per_l / _MMOL_PER_MOL
    return GlucoseMeasurement(
        sequence_number=sequence_number & 0xFFFF,
        base_time=stamp,
        time_offset=0,
        concentration=GlucoseConcentration(
            value=value,
            unit=GlucoseUnit.MOL_PER_L,
            sample_type=GlucoseType.CAPILLARY_WHOLE_BLOOD,
            sample_location=SampleLocation.FINGER,
        ),
        sensor_status=GlucoseSensorStatus.SAMPLE_SIZE_INSUFFICIENT if contact_lost else None,
    )


def weight(kg: float, contact_lost: bool, stamp: DateTime) -> WeightMeasurement | None:
    """A time-stamped weight in kg (rounded to the 0.005 kg grid); unsuccessful without contact."""
    if contact_lost:
        return WeightMeasurement(weight=None, timestamp=stamp)
    if _missing(kg):
        return None
    return WeightMeasurement(weight=kg, timestamp=stamp)
