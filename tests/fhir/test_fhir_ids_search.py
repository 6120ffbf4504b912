"""Resource ids, summary periods, search parameters, tokens and settings: the pure parts."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from nabd.interop.fhir import ids, search
from nabd.interop.fhir.auth import Caller, authenticate, new_token, token_digest
from nabd.interop.fhir.codes import (
    BLOOD_PRESSURE_STREAM,
    NEWS2_STREAM,
    OBSERVATION_CATEGORY,
    Systems,
)
from nabd.interop.fhir.errors import NotFoundError, SearchError
from nabd.interop.fhir.settings import FhirSettings, TokenGrant
from nabd.interop.fhir.summaries import Summary, bucket_start, check_period

SYSTEMS = Systems("https://nabd.example.org/fhir", "https://hospital.example.org/sid/mrn")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
NABD_IDS = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z")
TIMES = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
DIGESTS = st.from_regex(r"\A[0-9a-f]{16}\Z")


@given(NABD_IDS)
def test_nabd_ids_map_to_fhir_ids_and_back(nabd_id: str) -> None:
    fhir_id = ids.to_fhir(nabd_id)
    assert FHIR_ID.fullmatch(fhir_id)
    assert ids.from_fhir(fhir_id) == nabd_id


@pytest.mark.parametrize("bad", ["p_1", "P1", "-p", "", "a" * 64, "p/1"])
def test_ids_no_nabd_id_maps_to_are_not_found(bad: str) -> None:
    with pytest.raises(NotFoundError):
        ids.from_fhir(bad)


@given(
    st.integers(0, 2**24),
    TIMES,
    st.integers(0, 2**63 - 1),
    DIGESTS,
    st.sampled_from([1, 10, 60, 300, 3600, 86400]),
)
def test_observation_ids_round_trip_and_are_fhir_ids(
    mdc: int, time: datetime, seq: int, digest: str, period: int
) -> None:
    start = bucket_start(time, period)
    for obs_id in (
        ids.SpotId(mdc, time, seq, digest),
        ids.SummaryId(mdc, start, period, digest),
        ids.PanelId(time, seq, digest),
        ids.News2Id(time, digest),
        ids.ManualId(seq),
    ):
        text = str(obs_id)
        assert FHIR_ID.fullmatch(text), text
        assert ids.parse_observation_id(text) == obs_id


@pytest.mark.parametrize(
    "bad",
    ["", "x-1-2-3-0123456789abcdef", "s-1-2-3", "s-01-2-3-0123456789abcdef",
     "s-1-2-3-0123456789ABCDEF", "n-1-0123456789abcde", "b-1-2-0123456789abcdef-x",
     "e-", "e-01", "e-1-2", "e-" + "z" * 13],
)  # fmt: skip
def test_malformed_observation_ids_are_not_found(bad: str) -> None:
    with pytest.raises(NotFoundError):
        ids.parse_observation_id(bad)


B36 = st.from_regex(r"\A(0|[1-9a-z][0-9a-z]{0,40})\Z")


@given(
    st.sampled_from(["s-{0}-{1}-{2}-{d}", "m-{0}-{1}-{2}-{d}", "b-{0}-{1}-{d}", "n-{0}-{d}"]),
    st.lists(B36, min_size=3, max_size=3),
    DIGESTS,
)
def test_observation_ids_with_any_numbers_decode_or_are_not_found(
    template: str, numbers: list[str], digest: str
) -> None:
    # Issue 17 item 8: s-...-zzzz... raised OverflowError (a 500) instead of not found.
    text = template.format(*numbers, d=digest)
    try:
        found = ids.parse_observation_id(text)
    except NotFoundError:
        return
    assert str(found) == text  # whatever decodes is an id Nabd could have issued


@given(st.text())
def test_any_text_is_an_observation_id_or_not_found(text: str) -> None:
    with contextlib.suppress(NotFoundError):
        ids.parse_observation_id(text)


def test_digest_is_the_one_sql_computes() -> None:
    # The SQL template hashes the same bytes: ids joined by U+001F, UTF-8.
    assert ids.digest("p_1", "hr-1") == ids.digest("p_1\x1fhr-1")
    assert ids.digest("p_1", "hr-1") != ids.digest("p_1hr-1")
    assert re.fullmatch(r"[0-9a-f]{16}", ids.digest("x"))
    assert "chr(31)" in ids.DIGEST_SQL


def test_flag_ids_are_canonical_uuids() -> None:
    text = "9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f"
    assert str(ids.parse_flag_id(text)) == text
    for bad in (text.upper(), text.replace("-", ""), "nope"):
        with pytest.raises(NotFoundError):
            ids.parse_flag_id(bad)


@given(TIMES, st.sampled_from([1, 15, 60, 300, 900, 3600, 86400]))
def test_buckets_start_on_period_boundaries(time: datetime, period: int) -> None:
    start = bucket_start(time, period)
    assert start <= time < start + timedelta(seconds=period)
    assert (start - datetime(2000, 1, 3, tzinfo=UTC)).total_seconds() % period == 0


@pytest.mark.parametrize("period", [0, -60, 7, 61, 100000])
def test_periods_must_divide_a_day(period: int) -> None:
    with pytest.raises(ValueError, match="divide a day"):
        check_period(period)


def test_a_summary_checks_itself() -> None:
    start = datetime(2026, 3, 1, 9, 41, tzinfo=UTC)
    fields: dict[str, Any] = {
        "patient_id": "p",
        "device_id": "d",
        "key": "heart_rate",
        "period_s": 60,
    }
    with pytest.raises(ValueError, match="start of a 60 s period"):
        Summary(**fields, start=start + timedelta(seconds=1), count=1, average=1.0, minimum=1.0,
                maximum=1.0)  # fmt: skip
    with pytest.raises(ValueError, match="exactly when"):
        Summary(**fields, start=start, count=0, average=1.0, minimum=1.0, maximum=1.0)
    with pytest.raises(ValueError, match="above maximum"):
        Summary(**fields, start=start, count=2, average=1.0, minimum=2.0, maximum=1.0)


# ---- search --------------------------------------------------------------------------------


def test_dates_with_prefixes() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    next_day = day + timedelta(days=1)
    assert search.parse_date("2026-03-02") == search.TimeRange(day, next_day)
    assert search.parse_date("ge2026-03-02") == search.TimeRange(start=day)
    assert search.parse_date("gt2026-03-02") == search.TimeRange(start=next_day)
    assert search.parse_date("le2026-03-02") == search.TimeRange(end=next_day)
    assert search.parse_date("lt2026-03-02") == search.TimeRange(end=day)
    instant = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert search.parse_date("ge2026-03-02T08:30:00+01:00") == search.TimeRange(start=instant)
    one_second = search.parse_date("2026-03-02T07:30:00Z")
    assert one_second == search.TimeRange(instant, instant + timedelta(seconds=1))
    precise = search.parse_date("gt2026-03-02T07:30:00.5Z")  # [.5, .6): a tenth of a second
    assert precise.start == instant + timedelta(microseconds=600000)


def test_partial_dates_stand_for_their_whole_period() -> None:
    # Issue 17 item 8: FHIR dates of any precision (year, month, minute) are accepted.
    march = search.TimeRange(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert search.parse_date("2026-03") == march
    december = search.parse_date("2026-12")
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert search.parse_date("ge2026") == search.TimeRange(start=datetime(2026, 1, 1, tzinfo=UTC))
    assert search.parse_date("lt2027") == search.TimeRange(end=datetime(2027, 1, 1, tzinfo=UTC))
    minute = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert search.parse_date("2026-03-02T09:30+02:00") == search.TimeRange(
        minute, minute + timedelta(minutes=1)
    )


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("9999-12-31", "out of range"),
        ("le9999-12-31", "out of range"),
        ("9999", "out of range"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("2026-12-31T23:59:60Z", "leap second"),
        ("ne2026-03-02", "prefix 'ne' is not supported"),
        ("sa2026-03-02", "prefix 'sa' is not supported"),
        ("2026-02-30", "not a valid calendar date"),
        ("0000-01-01", "not a valid calendar date"),
        ("2026-03-02T24:00:00Z", "not a valid calendar date"),
        ("2026-03-02T07:30:00", "not a FHIR date"),  # an instant needs its offset
        ("today", "not a FHIR date"),
        ("2026-3-2", "not a FHIR date"),
        ("٢٠٢٦-03-02", "not a FHIR date"),  # Arabic-Indic digits are not ASCII digits
        ("", "not a FHIR date"),
    ],
)
def test_bad_dates_say_precisely_why(bad: str, reason: str) -> None:
    with pytest.raises(SearchError, match=re.escape(reason)) as refused:
        search.parse_date(bad)
    message = str(refused.value)
    assert message.startswith("date: ")
    assert "\n" not in message


@given(st.text(max_size=40))
def test_any_date_text_is_a_range_or_a_search_error(text: str) -> None:
    try:
        found = search.parse_date(text)
    except SearchError as refused:
        message = str(refused)
    else:
        assert found.start <= found.end or found.empty
        return
    assert message.startswith("date: ")


def test_code_tokens() -> None:
    assert search.parse_code("http://loinc.org|8867-4", SYSTEMS) == {"heart_rate", "pulse_rate"}
    assert search.parse_code("8889-8", SYSTEMS) == {"pulse_rate"}
    assert search.parse_code("59408-5,2708-6", SYSTEMS) == {"spo2"}
    assert search.parse_code("urn:iso:std:iso:11073:10101|150020", SYSTEMS) == {
        BLOOD_PRESSURE_STREAM
    }
    assert search.parse_code("1104051000000101", SYSTEMS) == {NEWS2_STREAM}
    assert search.parse_code(f"{SYSTEMS.news2}|total", SYSTEMS) == {NEWS2_STREAM}
    assert search.parse_code("http://snomed.info/sct|8867-4", SYSTEMS) == frozenset()
    assert search.parse_code("|8867-4", SYSTEMS) == frozenset()
    assert search.parse_code("8480-6", SYSTEMS) == frozenset()  # a component, not the code
    with pytest.raises(SearchError):
        search.parse_code("8867-4,", SYSTEMS)


def test_observation_search_combines_parameters() -> None:
    wanted = search.observation_search(
        [("patient", "Patient/p.1"), ("code", "8867-4,8310-5"), ("code", "8867-4"),
         ("date", "ge2026-03-02"), ("date", "lt2026-03-03"), ("_count", "7"), ("_format", "json")],
        SYSTEMS, default_count=50, max_count=100,
    )  # fmt: skip
    assert wanted.patient_id == "p_1"
    assert wanted.streams == {"heart_rate", "pulse_rate"}
    assert wanted.time == search.TimeRange(
        datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    )
    assert wanted.page == search.Page(7)
    assert wanted.request.ignored == ()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "patient"),
        ([("patient", "p.1"), ("subject", "p.1")], "patient"),
        ([("patient", "p_1")], "patient"),
        ([("patient", "p.1"), ("code:text", "heart")], "modifiers are not supported"),
        ([("patient", "p.1"), ("_sort", "-_lastUpdated")], "_sort"),
        ([("patient", "p.1"), ("_count", "²")], "_count"),
        ([("patient", "p.1"), ("_count", "9" * 5000)], "_count"),
        ([("patient", "p.1"), ("_count", "101")], "_count"),
        ([("patient", "p.1"), ("_count", "-1")], "_count"),
        ([("patient", "p.1"), ("_count", "1"), ("_count", "2")], "once"),
        ([("patient", "p.1"), ("_cursor", "!!")], "_cursor"),
    ],
)
def test_bad_searches(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(SearchError, match=message):
        search.observation_search(params, SYSTEMS, default_count=50, max_count=100)


CURSOR_TEXT = st.from_regex(r"\A[a-z0-9_-]{0,64}\Z")


@given(TIMES, st.integers(0, 3), CURSOR_TEXT, CURSOR_TEXT, st.integers(-1, 2**63 - 1))
def test_cursors_round_trip(time: datetime, rank: int, key: str, device: str, seq: int) -> None:
    cursor = search.Cursor(time, rank, key, device, seq)
    token = cursor.encode()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert search.Cursor.decode(token) == cursor


@pytest.mark.parametrize(
    "payload",
    [
        '["2026-03-02T08:00:00", 0, "", "", 0]',
        "[1, 2]",
        "{}",
        '["2026-03-02T08:00:00+00:00", 0, "heart_rate\\u0000", "", 0]',  # NUL: was a 500
        '["2026-03-02T08:00:00+00:00", 0, "", "", 99999999999999999999999]',
        '["2026-03-02T08:00:00+00:00", 1e400, "", "", 0]',
        '["2026-03-02T08:00:00+00:00", true, "", "", 0]',
        "[" * 100000,
    ],
)
def test_cursors_the_server_did_not_issue(payload: str) -> None:
    token = base64.urlsafe_b64encode(payload.encode()).decode()
    with pytest.raises(SearchError, match="_cursor") as refused:
        search.Cursor.decode(token)
    assert len(str(refused.value)) < 200  # the token is quoted, not echoed whole


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=10,
)


@given(st.lists(JSON_VALUES, min_size=5, max_size=5) | JSON_VALUES)
def test_any_json_cursor_decodes_to_a_plausible_cursor_or_a_search_error(value: object) -> None:
    token = base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
    try:
        cursor = search.Cursor.decode(token)
    except SearchError:
        return
    assert cursor.plausible()
    assert "\x00" not in cursor.key + cursor.device


def test_category_and_sort_parameters() -> None:
    # Issue 17 item 8: Observation?patient=...&category=vital-signs was refused with 400.
    vital = search.parse_category("vital-signs")
    assert {"heart_rate", "spo2", "body_temperature", BLOOD_PRESSURE_STREAM} <= vital
    assert NEWS2_STREAM not in vital
    assert "glucose" not in vital
    assert search.parse_category(f"{OBSERVATION_CATEGORY}|survey") == {NEWS2_STREAM}
    assert search.parse_category("http://example.org|survey") == frozenset()
    assert search.parse_category("laboratory,activity") == {"glucose", "energy_expended"}
    wanted = search.observation_search(
        [("patient", "p.1"), ("category", "vital-signs"), ("code", "8867-4"), ("_sort", "-date")],
        SYSTEMS, default_count=50, max_count=100,
    )  # fmt: skip
    assert wanted.streams == {"heart_rate", "pulse_rate"}
    assert wanted.page == search.Page(50, search.END, descending=True)


def test_unknown_parameters_are_ignored_and_reported_unless_strict() -> None:
    params = [("patient", "p.1"), ("_total", "accurate"), ("patinet", "p.2"), ("_format", "json")]
    wanted = search.observation_search(params, SYSTEMS, default_count=5, max_count=10)
    assert wanted.request.ignored == ("_total", "patinet")
    assert wanted.request.applied == (("patient", "p.1"), ("_format", "json"))
    with pytest.raises(SearchError, match="unsupported search parameter"):
        search.observation_search(params, SYSTEMS, default_count=5, max_count=10, strict=True)


# ---- tokens and settings -------------------------------------------------------------------


def test_tokens_authenticate_by_digest() -> None:
    secret, other = new_token(), new_token()
    assert secret != other
    assert len(secret) >= 43
    grants = {
        "ehr": TokenGrant(sha256=token_digest(secret)),
        "ward": TokenGrant(sha256=token_digest(other), identity=True),
    }
    assert authenticate(f"Bearer {secret}", grants) == Caller("ehr", identity=False)
    assert authenticate(f"bearer {other}", grants) == Caller("ward", identity=True)
    for header in (None, "", "Bearer", "Bearer ", f"Basic {secret}", f"Bearer {secret}x",
                   f"Bearer {secret[:-1]}", secret):  # fmt: skip
        assert authenticate(header, grants) is None
    assert authenticate(f"Bearer {secret}", {}) is None


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = token_digest("s3cret")
    monkeypatch.setenv("NABD_FHIR_DATABASE_URL", "postgresql://fhir@db/nabd")
    monkeypatch.setenv("NABD_FHIR_TOKENS", f'{{"ehr-bridge": {{"sha256": "{digest}"}}}}')
    monkeypatch.setenv("NABD_FHIR_SYSTEM_BASE", "https://fhir.hospital.example/nabd")
    settings = FhirSettings()
    assert settings.tokens == {"ehr-bridge": TokenGrant(sha256=digest)}
    assert not settings.needs_identity
    assert settings.systems.patient == "https://fhir.hospital.example/nabd/sid/patient"
    assert settings.systems.mrn == "https://fhir.hospital.example/nabd/sid/mrn"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tokens", {"Bad Name": {"sha256": "0" * 64}}),
        ("tokens", {"ehr": {"sha256": "not-hex"}}),
        ("tokens", {"ehr": {"sha256": "0" * 64, "scope": "all"}}),
        ("system_base", "https://example.org/fhir/"),
        ("system_base", "nabd"),
        ("summary_period_s", 7),
        ("page_size", 5000),
    ],
)
def test_bad_settings(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        FhirSettings.model_validate({"database_url": "postgresql://x", field: value})
