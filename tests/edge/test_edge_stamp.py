"""Decoded samples -> contract readings: quality flags, device time, rejection of the impossible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from nabd.contract.payloads import Quality
from nabd.edge.clock import ClockWatch, DeviceTime, device_time
from nabd.edge.gatt import Reading as Sample
from nabd.edge.gatt import SampleFlag
from nabd.edge.stamp import stamp, usable

RECEIVED = datetime(2025, 3, 1, 9, 41, 17, tzinfo=UTC)
NO_TIME = DeviceTime(None, False)


def _sample(metric: str = "heart_rate", value: float | None = 72.0, *flags: SampleFlag) -> Sample:
    unit = {"heart_rate": "/min", "spo2": "%", "body_temperature": "Cel"}[metric]
    return Sample(metric=metric, value=value, unit=unit, timestamp=None, flags=frozenset(flags))


@pytest.mark.parametrize(
    ("flag", "quality"),
    [
        (SampleFlag.SENSOR_CONTACT_LOST, Quality.SENSOR_CONTACT_LOST),
        (SampleFlag.EARLY_ESTIMATE, Quality.EARLY_ESTIMATE),
        (SampleFlag.QUESTIONABLE, Quality.QUESTIONABLE),
        (SampleFlag.MOTION, Quality.ARTEFACT),
    ],
)
def test_sample_flags_become_quality_flags(flag: SampleFlag, quality: Quality) -> None:
    (reading,) = stamp(
        "hr-01", [_sample("heart_rate", 72.0, flag)], [5], RECEIVED, NO_TIME
    ).readings
    assert reading.quality == (quality,)
    assert reading.value == 72.0
    assert (reading.device_id, reading.seq, reading.received_at) == ("hr-01", 5, RECEIVED)


@pytest.mark.parametrize("flag", [SampleFlag.UNAVAILABLE, SampleFlag.INVALID])
def test_unavailable_and_invalid_values_are_not_recorded_as_numbers(flag: SampleFlag) -> None:
    value = None if flag is SampleFlag.UNAVAILABLE else 97.0
    (reading,) = stamp("plx-01", [_sample("spo2", value, flag)], [0], RECEIVED, NO_TIME).readings
    assert reading.value is None
    assert reading.quality == (Quality.UNAVAILABLE,)


def test_test_data_is_dropped_and_counted() -> None:
    kept, dropped = usable([_sample(), _sample("spo2", 99.0, SampleFlag.TEST_DATA)])
    assert [s.metric for s in kept] == ["heart_rate"]
    assert dropped == 1


def test_an_impossible_value_is_rejected_alone() -> None:
    samples = [_sample("heart_rate", 400.0), _sample("spo2", 97.0)]
    stamped = stamp("hr-01", samples, [1, 1], RECEIVED, NO_TIME)
    assert [r.metric for r in stamped.readings] == ["spo2"]
    (reason,) = stamped.rejected
    assert "heart_rate" in reason
    assert "400.0" in reason


def test_an_unset_device_clock_drops_the_time_and_flags_the_reading() -> None:
    time = device_time(datetime(2000, 1, 1, 0, 5), clock_unset=False, zone=ZoneInfo("UTC"))
    assert time == DeviceTime(None, True)
    (reading,) = stamp("hr-01", [_sample()], [0], RECEIVED, time).readings
    assert reading.device_time is None
    assert Quality.DEVICE_CLOCK_UNSET in reading.quality


def test_device_wall_clock_time_is_read_in_the_device_zone() -> None:
    time = device_time(
        datetime(2025, 3, 1, 10, 40), clock_unset=False, zone=ZoneInfo("Europe/Paris")
    )
    assert time == DeviceTime(datetime(2025, 3, 1, 9, 40, tzinfo=UTC), False)
    (reading,) = stamp("t-01", [_sample("body_temperature", 37.2)], [0], RECEIVED, time).readings
    assert reading.device_time == datetime(2025, 3, 1, 9, 40, tzinfo=UTC)


def test_a_flagged_unset_clock_wins_over_a_plausible_time() -> None:
    assert device_time(datetime(2025, 1, 1), clock_unset=True, zone=ZoneInfo("UTC")).unset


def test_clock_watch_estimates_the_offset_from_the_freshest_reading() -> None:
    watch = ClockWatch(timedelta(minutes=5))
    ahead = RECEIVED + timedelta(hours=1)
    for age in (timedelta(hours=3), timedelta(0), timedelta(hours=2)):  # stored, live, stored
        watch.observe(DeviceTime(ahead - age, False), RECEIVED)
    assert watch.offset == timedelta(hours=1)
    assert watch.off


def test_clock_watch_accepts_a_clock_within_tolerance() -> None:
    watch = ClockWatch(timedelta(minutes=5))
    watch.observe(DeviceTime(RECEIVED - timedelta(seconds=40), False), RECEIVED)
    assert watch.offset == timedelta(seconds=-40)
    assert not watch.off
    watch.observe(DeviceTime(None, True), RECEIVED)
    assert watch.off  # an unset clock is an off clock
