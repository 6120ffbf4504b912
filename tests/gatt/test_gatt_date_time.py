"""Date Time (0x2A08 layout): field ranges, unknown fields, wall-clock conversion."""

from __future__ import annotations

from datetime import datetime

import pytest

from nabd.contract.gatt.date_time import DateTime
from nabd.contract.gatt.errors import GattValueError


@pytest.mark.parametrize(
    "fields",
    [
        (1581, 1, 1, 0, 0, 0),  # before the Gregorian range
        (10000, 1, 1, 0, 0, 0),
        (2024, 13, 1, 0, 0, 0),
        (2023, 2, 29, 0, 0, 0),  # not a leap year
        (2024, 4, 31, 0, 0, 0),
        (2024, 1, 32, 0, 0, 0),
        (2024, 1, 1, 24, 0, 0),
        (2024, 1, 1, 0, 60, 0),
        (2024, 1, 1, 0, 0, 60),
    ],
)
def test_impossible_dates_are_rejected(fields: tuple[int, ...]) -> None:
    with pytest.raises(GattValueError, match="Date Time"):
        DateTime(*fields)


def test_unknown_fields_are_allowed_but_give_no_datetime() -> None:
    assert DateTime(0, 2, 29).to_datetime() is None  # 29 Feb of an unknown year is fine
    assert DateTime(2024, 0, 0, 12).to_datetime() is None
    assert not DateTime(2024, 5, 0).is_complete


def test_conversion_is_wall_clock_and_drops_sub_seconds() -> None:
    moment = datetime(2024, 2, 29, 13, 5, 9, 750_000)
    value = DateTime.from_datetime(moment)
    assert value == DateTime(2024, 2, 29, 13, 5, 9)
    assert value.to_datetime() == moment.replace(microsecond=0)
