"""What care operations accept, before any database: ids, Bluetooth addresses, names, dates,
times and device kinds; every refusal says what is accepted."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.app.commands.device import KINDS
from nabd.care.errors import CareInputError
from nabd.care.values import (
    DEVICE_KINDS,
    Admission,
    DeviceSpec,
    PersonName,
    new_patient_id,
    parse_actor,
    parse_address,
    parse_birth_date,
    parse_id,
    parse_kind,
    parse_name,
    parse_time,
)

HEX = "0123456789abcdefABCDEF"


@given(st.lists(st.text(HEX, min_size=2, max_size=2), min_size=6, max_size=6))
def test_any_six_hex_pairs_are_an_address_in_upper_case(pairs: list[str]) -> None:
    address = ":".join(pairs)
    if address.upper() in {"00:00:00:00:00:00", "FF:FF:FF:FF:FF:FF"}:
        return
    assert parse_address(address) == address.upper()


@given(st.text(max_size=30))
def test_anything_else_is_refused_saying_what_an_address_looks_like(text: str) -> None:
    upper = text.strip().upper()
    parts = upper.split(":")
    if len(parts) == 6 and all(len(p) == 2 and set(p) <= set("0123456789ABCDEF") for p in parts):
        return
    with pytest.raises(CareInputError, match="six hex pairs"):
        parse_address(text)


@pytest.mark.parametrize(
    "address",
    [
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "AA-BB-CC-DD-EE-FF",
        "AABBCCDDEEFF",
        "AA:BB:CC:DD:EE",
        "AA:BB:CC:DD:EE:FF:00",
        "GG:BB:CC:DD:EE:FF",
        "",
    ],
)
def test_reserved_and_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(CareInputError, match=r"address"):
        parse_address(address)


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True))
def test_registry_ids_are_accepted(value: str) -> None:
    assert parse_id("ward", value) == value


@given(st.text(max_size=80))
def test_ids_outside_the_registry_rule_are_refused(value: str) -> None:
    cleaned = value.strip()
    ok = (
        0 < len(cleaned) <= 63
        and cleaned[0] in string.ascii_lowercase + string.digits
        and set(cleaned) <= set(string.ascii_lowercase + string.digits + "_-")
    )
    if ok:
        assert parse_id("device", value) == cleaned
    else:
        with pytest.raises(CareInputError, match=r"device id .* lower-case letters"):
            parse_id("device", value)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 1, 1)))
def test_past_birth_dates_are_accepted(born: date) -> None:
    assert parse_birth_date(born.isoformat(), today=date(2026, 1, 1)) == born


@given(st.dates(min_value=date(2026, 1, 2)) | st.dates(max_value=date(1899, 12, 31)))
def test_birth_dates_in_the_future_or_before_1900_are_refused(born: date) -> None:
    text = born.isoformat()
    with pytest.raises(CareInputError, match="birth date"):
        parse_birth_date(text, today=date(2026, 1, 1))


@pytest.mark.parametrize("text", ["06/12/1950", "1950-2-3", "19500203", "1950-02-30", "", "x"])
def test_birth_dates_not_written_yyyy_mm_dd_are_refused(text: str) -> None:
    with pytest.raises(CareInputError, match=r"YYYY-MM-DD|between"):
        parse_birth_date(text)


def test_times_need_an_offset_and_must_not_be_in_the_future() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_time("2026-12-06T09:30+01:00", now=now) == datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
    assert parse_time("2026-12-06T08:30Z", now=now) == datetime(2026, 12, 6, 8, 30, tzinfo=UTC)
    with pytest.raises(CareInputError, match="with its offset"):
        parse_time("2026-12-06T09:30", now=now)
    with pytest.raises(CareInputError, match="in the future"):
        parse_time((now + timedelta(hours=1)).isoformat(), now=now)


def test_names_split_into_given_and_family() -> None:
    assert parse_name("Amina Ben Salah") == PersonName("Amina Ben", "Salah")
    assert parse_name("BEN SALAH, Amina") == PersonName("Amina", "BEN SALAH")
    assert parse_name("  Dupont  ") == PersonName("", "Dupont")
    assert str(parse_name("Jean Dupont")) == "Jean Dupont"
    for bad in ("", "   ", ", Amina", "Jean\x1b[2JDupont"):
        with pytest.raises(CareInputError):
            parse_name(bad)


def test_the_actor_is_required_and_bounded() -> None:
    assert parse_actor("  Nurse   Ines ") == "Nurse Ines"
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(CareInputError, match="--by"):
            parse_actor(bad)


def test_kinds_are_the_documented_ones_and_others_are_refused() -> None:
    assert tuple(DEVICE_KINDS) == KINDS
    for kind in KINDS:
        assert parse_kind(kind) == kind
    with pytest.raises(CareInputError, match="heart_rate_strap, pulse_oximeter"):
        parse_kind("heart_rate")


def test_patient_ids_are_random_and_follow_the_registry_rule() -> None:
    ids = {new_patient_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(parse_id("patient", i) == i for i in ids)


def test_whole_requests_are_validated_on_construction() -> None:
    a = Admission.parse(
        ward="icu", bed="3", mrn=" 123/45 ", name="Jean Dupont", birth_date="1950-02-03"
    )
    assert (a.mrn, a.birth_date) == ("123/45", date(1950, 2, 3))
    d = DeviceSpec.parse(device_id="hr-1", kind="heart_rate_strap", address="f0:f1:f2:f3:f4:05")
    assert d.address == "F0:F1:F2:F3:F4:05"
    with pytest.raises(CareInputError, match="bed"):
        Admission.parse(ward="icu", bed="3 4", mrn="1", name="J D", birth_date=None)
