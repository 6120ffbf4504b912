"""PLX Spot-check Measurement (0x2A5E) and PLX Continuous Measurement (0x2A5F), Pulse Oximeter
Service.

Spot-check: Flags (uint8), SpO2 and PR (SFLOAT each), Timestamp (Date Time, bit 0), Measurement
Status (16 bits, bit 1), Device and Sensor Status (24 bits, bit 2), Pulse Amplitude Index (SFLOAT,
bit 3); bit 4 "device clock is not set"; bits 5-7 reserved.

Continuous: Flags (uint8), SpO2PR-Normal (two SFLOAT), SpO2PR-Fast (bit 0), SpO2PR-Slow (bit 1),
Measurement Status (bit 2), Device and Sensor Status (bit 3), Pulse Amplitude Index (bit 4); bits
5-7 reserved.

Status bits the specification reserves (Measurement Status 0-4, Device and Sensor Status 16-23)
are ignored on receipt, as reserved status bits carry no meaning yet and shift no field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag
from typing import ClassVar, Final

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.fields import check_flag_bits, quantized, replace_field
from nabd.contract.gatt.ieee11073 import MedFloat
from nabd.contract.gatt.samples import MetricKey, Sample, SampleFlag, sample
from nabd.contract.gatt.wire import Buffer, Reader, Writer, parse

__all__ = [
    "PLX_CONTINUOUS_MEASUREMENT_UUID",
    "PLX_SPOT_CHECK_MEASUREMENT_UUID",
    "PlxContinuousMeasurement",
    "PlxDeviceSensorStatus",
    "PlxMeasurementStatus",
    "PlxSpotCheckMeasurement",
    "SpO2PulseRate",
    "decode_plx_continuous_measurement",
    "decode_plx_spot_check_measurement",
    "encode_plx_continuous_measurement",
    "encode_plx_spot_check_measurement",
]

PLX_SPOT_CHECK_MEASUREMENT_UUID: Final = 0x2A5E
PLX_CONTINUOUS_MEASUREMENT_UUID: Final = 0x2A5F
_SPOT_NAME: Final = "PLX Spot-check Measurement (0x2A5E)"
_CONTINUOUS_NAME: Final = "PLX Continuous Measurement (0x2A5F)"


class PlxMeasurementStatus(IntFlag):
    """Measurement Status field (bits 0-4 reserved)."""

    MEASUREMENT_ONGOING = 1 << 5
    EARLY_ESTIMATED_DATA = 1 << 6
    VALIDATED_DATA = 1 << 7
    FULLY_QUALIFIED_DATA = 1 << 8
    DATA_FROM_MEASUREMENT_STORAGE = 1 << 9
    DATA_FOR_DEMONSTRATION = 1 << 10
    DATA_FOR_TESTING = 1 << 11
    CALIBRATION_ONGOING = 1 << 12
    MEASUREMENT_UNAVAILABLE = 1 << 13
    QUESTIONABLE_MEASUREMENT_DETECTED = 1 << 14
    INVALID_MEASUREMENT_DETECTED = 1 << 15


class PlxDeviceSensorStatus(IntFlag):
    """Device and Sensor Status field (bits 16-23 reserved)."""

    EXTENDED_DISPLAY_UPDATE_ONGOING = 1 << 0
    EQUIPMENT_MALFUNCTION_DETECTED = 1 << 1
    SIGNAL_PROCESSING_IRREGULARITY_DETECTED = 1 << 2
    INADEQUATE_SIGNAL_DETECTED = 1 << 3
    POOR_SIGNAL_DETECTED = 1 << 4
    LOW_PERFUSION_DETECTED = 1 << 5
    ERRATIC_SIGNAL_DETECTED = 1 << 6
    NONPULSATILE_SIGNAL_DETECTED = 1 << 7
    QUESTIONABLE_PULSE_DETECTED = 1 << 8
    SIGNAL_ANALYSIS_ONGOING = 1 << 9
    SENSOR_INTERFERENCE_DETECTED = 1 << 10
    SENSOR_UNCONNECTED_TO_USER = 1 << 11
    UNKNOWN_SENSOR_CONNECTED = 1 << 12
    SENSOR_DISPLACED = 1 << 13
    SENSOR_MALFUNCTIONING = 1 << 14
    SENSOR_DISCONNECTED = 1 << 15


_MEASUREMENT_STATUS_BITS: Final = 0xFFE0
_DEVICE_SENSOR_STATUS_BITS: Final = 0x00FFFF

_M = PlxMeasurementStatus
_D = PlxDeviceSensorStatus
_MEASUREMENT_FLAGS: Final = (
    (_M.MEASUREMENT_UNAVAILABLE, SampleFlag.UNAVAILABLE),
    (_M.MEASUREMENT_ONGOING | _M.EARLY_ESTIMATED_DATA, SampleFlag.EARLY_ESTIMATE),
    (_M.QUESTIONABLE_MEASUREMENT_DETECTED | _M.CALIBRATION_ONGOING, SampleFlag.QUESTIONABLE),
    (_M.INVALID_MEASUREMENT_DETECTED, SampleFlag.INVALID),
    (_M.DATA_FOR_DEMONSTRATION | _M.DATA_FOR_TESTING, SampleFlag.TEST_DATA),
)
_DEVICE_FLAGS: Final = (
    (
        _D.SENSOR_UNCONNECTED_TO_USER | _D.SENSOR_DISPLACED | _D.SENSOR_DISCONNECTED,
        SampleFlag.SENSOR_CONTACT_LOST,
    ),
    (_D.SIGNAL_ANALYSIS_ONGOING, SampleFlag.EARLY_ESTIMATE),
    (
        _D.SIGNAL_PROCESSING_IRREGULARITY_DETECTED
        | _D.INADEQUATE_SIGNAL_DETECTED
        | _D.POOR_SIGNAL_DETECTED
        | _D.LOW_PERFUSION_DETECTED
        | _D.NONPULSATILE_SIGNAL_DETECTED
        | _D.QUESTIONABLE_PULSE_DETECTED
        | _D.SENSOR_INTERFERENCE_DETECTED
        | _D.UNKNOWN_SENSOR_CONNECTED,
        SampleFlag.QUESTIONABLE,
    ),
    (_D.EQUIPMENT_MALFUNCTION_DETECTED | _D.SENSOR_MALFUNCTIONING, SampleFlag.INVALID),
    (_D.ERRATIC_SIGNAL_DETECTED, SampleFlag.MOTION),
)


def _status_flags(
    measurement: PlxMeasurementStatus | None, device: PlxDeviceSensorStatus | None
) -> frozenset[SampleFlag]:
    flags = {flag for bits, flag in _MEASUREMENT_FLAGS if measurement and measurement & bits}
    flags |= {flag for bits, flag in _DEVICE_FLAGS if device and device & bits}
    return frozenset(flags)


def _check_status(
    owner: str, measurement: PlxMeasurementStatus | None, device: PlxDeviceSensorStatus | None
) -> None:
    if measurement is not None:
        check_flag_bits(owner, "measurement status", measurement, _MEASUREMENT_STATUS_BITS)
    if device is not None:
        check_flag_bits(owner, "device and sensor status", device, _DEVICE_SENSOR_STATUS_BITS)


@dataclass(frozen=True, slots=True)
class SpO2PulseRate:
    """One SpO2 (%) and pulse rate (/min) pair, as SFLOATs."""

    spo2: MedFloat
    pulse_rate: MedFloat

    def __post_init__(self) -> None:
        replace_field(self, "spo2", quantized("PLX", "SpO2", self.spo2))
        replace_field(self, "pulse_rate", quantized("PLX", "pulse rate", self.pulse_rate))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxSpotCheckMeasurement:
    """A decoded PLX Spot-check Measurement; SFLOAT fields are quantised on construction."""

    UUID: ClassVar[int] = PLX_SPOT_CHECK_MEASUREMENT_UUID

    spo2: MedFloat
    pulse_rate: MedFloat
    timestamp: DateTime | None = None
    measurement_status: PlxMeasurementStatus | None = None
    device_sensor_status: PlxDeviceSensorStatus | None = None
    pulse_amplitude_index: MedFloat | None = None
    device_clock_not_set: bool = False

    def __post_init__(self) -> None:
        replace_field(self, "spo2", quantized(_SPOT_NAME, "SpO2", self.spo2))
        replace_field(self, "pulse_rate", quantized(_SPOT_NAME, "pulse rate", self.pulse_rate))
        if self.pulse_amplitude_index is not None:
            pai = quantized(_SPOT_NAME, "pulse amplitude index", self.pulse_amplitude_index)
            replace_field(self, "pulse_amplitude_index", pai)
        _check_status(_SPOT_NAME, self.measurement_status, self.device_sensor_status)

    @property
    def measured_at(self) -> datetime | None:
        """The device's time stamp, unless absent, incomplete or from an unset clock."""
        if self.timestamp is None or self.device_clock_not_set:
            return None
        return self.timestamp.to_datetime()

    def samples(self) -> list[Sample]:
        """SpO2, pulse rate and pulse amplitude index, flagged from the status fields."""
        return _samples(
            self.spo2,
            self.pulse_rate,
            self.pulse_amplitude_index,
            _status_flags(self.measurement_status, self.device_sensor_status),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxContinuousMeasurement:
    """A decoded PLX Continuous Measurement; ``spo2``/``pulse_rate`` are SpO2PR-Normal."""

    UUID: ClassVar[int] = PLX_CONTINUOUS_MEASUREMENT_UUID

    spo2: MedFloat
    pulse_rate: MedFloat
    fast: SpO2PulseRate | None = None
    slow: SpO2PulseRate | None = None
    measurement_status: PlxMeasurementStatus | None = None
    device_sensor_status: PlxDeviceSensorStatus | None = None
    pulse_amplitude_index: MedFloat | None = None

    def __post_init__(self) -> None:
        name = _CONTINUOUS_NAME
        replace_field(self, "spo2", quantized(name, "SpO2", self.spo2))
        replace_field(self, "pulse_rate", quantized(name, "pulse rate", self.pulse_rate))
        if self.pulse_amplitude_index is not None:
            pai = quantized(name, "pulse amplitude index", self.pulse_amplitude_index)
            replace_field(self, "pulse_amplitude_index", pai)
        _check_status(name, self.measurement_status, self.device_sensor_status)

    def samples(self) -> list[Sample]:
        """SpO2PR-Normal and the pulse amplitude index; Fast/Slow stay on the object only,
        as they are other averages of the same quantity at the same instant."""
        return _samples(
            self.spo2,
            self.pulse_rate,
            self.pulse_amplitude_index,
            _status_flags(self.measurement_status, self.device_sensor_status),
        )


def _samples(
    spo2: MedFloat, pulse_rate: MedFloat, pai: MedFloat | None, flags: frozenset[SampleFlag]
) -> list[Sample]:
    out = [sample(MetricKey.SPO2, spo2, flags), sample(MetricKey.PULSE_RATE, pulse_rate, flags)]
    if pai is not None:
        out.append(sample(MetricKey.PULSE_AMPLITUDE_INDEX, pai, flags))
    return out


def _read_measurement_status(reader: Reader) -> PlxMeasurementStatus:
    return PlxMeasurementStatus(reader.u16("Measurement Status") & _MEASUREMENT_STATUS_BITS)


def _read_device_status(reader: Reader) -> PlxDeviceSensorStatus:
    raw = reader.u24("Device and Sensor Status")
    return PlxDeviceSensorStatus(raw & _DEVICE_SENSOR_STATUS_BITS)


def _read_spot(reader: Reader) -> PlxSpotCheckMeasurement:
    flags = reader.flags(0x1F)
    spo2, pulse_rate = reader.sfloat("SpO2"), reader.sfloat("PR")
    timestamp = reader.optional(flags & 0x01, lambda: reader.date_time_or_none("Timestamp"))
    measurement = reader.optional(flags & 0x02, lambda: _read_measurement_status(reader))
    device = reader.optional(flags & 0x04, lambda: _read_device_status(reader))
    pai = reader.optional(flags & 0x08, lambda: reader.sfloat("Pulse Amplitude Index"))
    return PlxSpotCheckMeasurement(
        spo2=spo2,
        pulse_rate=pulse_rate,
        timestamp=timestamp,
        measurement_status=measurement,
        device_sensor_status=device,
        pulse_amplitude_index=pai,
        device_clock_not_set=bool(flags & 0x10),
    )


def _read_pair(reader: Reader, name: str) -> SpO2PulseRate:
    return SpO2PulseRate(reader.sfloat(f"{name} SpO2"), reader.sfloat(f"{name} PR"))


def _read_continuous(reader: Reader) -> PlxContinuousMeasurement:
    flags = reader.flags(0x1F)
    spo2, pulse_rate = reader.sfloat("SpO2PR-Normal SpO2"), reader.sfloat("SpO2PR-Normal PR")
    fast = reader.optional(flags & 0x01, lambda: _read_pair(reader, "SpO2PR-Fast"))
    slow = reader.optional(flags & 0x02, lambda: _read_pair(reader, "SpO2PR-Slow"))
    measurement = reader.optional(flags & 0x04, lambda: _read_measurement_status(reader))
    device = reader.optional(flags & 0x08, lambda: _read_device_status(reader))
    pai = reader.optional(flags & 0x10, lambda: reader.sfloat("Pulse Amplitude Index"))
    return PlxContinuousMeasurement(
        spo2=spo2,
        pulse_rate=pulse_rate,
        fast=fast,
        slow=slow,
        measurement_status=measurement,
        device_sensor_status=device,
        pulse_amplitude_index=pai,
    )


def decode_plx_spot_check_measurement(data: Buffer) -> PlxSpotCheckMeasurement:
    """Decode a PLX Spot-check Measurement; raises :class:`GattDecodeError` if malformed."""
    return parse(_SPOT_NAME, data, _read_spot)


def decode_plx_continuous_measurement(data: Buffer) -> PlxContinuousMeasurement:
    """Decode a PLX Continuous Measurement; raises :class:`GattDecodeError` if malformed."""
    return parse(_CONTINUOUS_NAME, data, _read_continuous)


def _present(*fields: object) -> int:
    return sum(1 << bit for bit, field in enumerate(fields) if field)


def encode_plx_spot_check_measurement(value: PlxSpotCheckMeasurement) -> bytes:
    """The bytes a pulse oximeter indicates for ``value``."""
    flags = _present(
        value.timestamp is not None,
        value.measurement_status is not None,
        value.device_sensor_status is not None,
        value.pulse_amplitude_index is not None,
        value.device_clock_not_set,
    )
    out = Writer().u8(flags).sfloat(value.spo2).sfloat(value.pulse_rate)
    if value.timestamp is not None:
        out.date_time(value.timestamp)
    _write_tail(out, value.measurement_status, value.device_sensor_status)
    if value.pulse_amplitude_index is not None:
        out.sfloat(value.pulse_amplitude_index)
    return out.to_bytes()


def encode_plx_continuous_measurement(value: PlxContinuousMeasurement) -> bytes:
    """The bytes a pulse oximeter notifies for ``value``."""
    flags = _present(
        value.fast is not None,
        value.slow is not None,
        value.measurement_status is not None,
        value.device_sensor_status is not None,
        value.pulse_amplitude_index is not None,
    )
    out = Writer().u8(flags).sfloat(value.spo2).sfloat(value.pulse_rate)
    for pair in (value.fast, value.slow):
        if pair is not None:
            out.sfloat(pair.spo2).sfloat(pair.pulse_rate)
    _write_tail(out, value.measurement_status, value.device_sensor_status)
    if value.pulse_amplitude_index is not None:
        out.sfloat(value.pulse_amplitude_index)
    return out.to_bytes()


def _write_tail(
    out: Writer, measurement: PlxMeasurementStatus | None, device: PlxDeviceSensorStatus | None
) -> None:
    if measurement is not None:
        out.u16(int(measurement))
    if device is not None:
        out.u24(int(device))
