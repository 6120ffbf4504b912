"""The flat form every decoded characteristic reduces to: ``(metric key, value or None, flags)``.

The edge agent turns samples into readings; it never needs to know which characteristic a sample
came from. Values are in the catalogue's canonical unit (``nabd.contract.catalogue``); ``None``
means the device sent a special value (NaN, NRes, +/-INFINITY, reserved) or "measurement
unsuccessful", and such a sample always carries :attr:`SampleFlag.UNAVAILABLE`.

How device status bits map to flags (the lead reconciles these with the payload ``Quality``):

=======================  ===================================================================
flag                     set by
=======================  ===================================================================
``unavailable``          special value; PLX "measurement unavailable"; weight 0xFFFF
``sensor_contact_lost``  HRS contact supported but not detected; PLX sensor unconnected to
                         user, displaced or disconnected
``early_estimate``       PLX measurement ongoing / early estimated data / signal analysis
                         ongoing; Intermediate Temperature; Intermediate Cuff Pressure
``questionable``         PLX questionable measurement, calibration ongoing, signal
                         irregularity, inadequate/poor/nonpulsatile signal, low perfusion,
                         questionable pulse, interference, unknown sensor; BLS cuff too loose,
                         irregular pulse, improper position; GLS result above/below the
                         device's range, sensor temperature too high/low
``invalid``              PLX invalid measurement, equipment or sensor malfunction; GLS sensor
                         malfunction, sample too small, strip insertion error, wrong strip,
                         strip pulled too soon, general device fault
``motion``               BLS body movement; PLX erratic signal (motion artefact)
``test_data``            PLX data for demonstration / for testing; GLS control solution
=======================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from nabd.contract.gatt.ieee11073 import MedFloat, Special

__all__ = ["MetricKey", "Sample", "SampleFlag", "sample"]


class MetricKey(StrEnum):
    """Catalogue keys the GATT codecs produce (a subset of ``nabd.contract.catalogue``)."""

    HEART_RATE = "heart_rate"
    RR_INTERVAL = "rr_interval"
    ENERGY_EXPENDED = "energy_expended"
    SPO2 = "spo2"
    PULSE_RATE = "pulse_rate"
    PULSE_AMPLITUDE_INDEX = "pulse_amplitude_index"
    RESPIRATION_RATE = "respiration_rate"
    BODY_TEMPERATURE = "body_temperature"
    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    MEAN_ARTERIAL_PRESSURE = "mean_arterial_pressure"
    GLUCOSE = "glucose"
    BODY_WEIGHT = "body_weight"
    BMI = "bmi"
    BODY_HEIGHT = "body_height"
    BATTERY_LEVEL = "battery_level"


class SampleFlag(StrEnum):
    """What the device said about one value; see the module docstring for the mapping."""

    UNAVAILABLE = "unavailable"
    SENSOR_CONTACT_LOST = "sensor_contact_lost"
    EARLY_ESTIMATE = "early_estimate"
    QUESTIONABLE = "questionable"
    INVALID = "invalid"
    MOTION = "motion"
    TEST_DATA = "test_data"


class Sample(NamedTuple):
    """One value of one metric, in the catalogue's canonical unit."""

    metric: MetricKey
    value: float | None
    flags: frozenset[SampleFlag]


def sample(metric: MetricKey, value: MedFloat, flags: Iterable[SampleFlag] = ()) -> Sample:
    """A sample; a special value becomes ``None`` flagged :attr:`SampleFlag.UNAVAILABLE`.

    So does a number the device itself flags unavailable (PLX Measurement Status bit 13,
    "measurement unavailable"): the number in the field is then not a measurement.
    """
    flags = frozenset(flags)
    if isinstance(value, Special) or SampleFlag.UNAVAILABLE in flags:
        return Sample(metric, None, flags | {SampleFlag.UNAVAILABLE})
    return Sample(metric, float(value), flags)
