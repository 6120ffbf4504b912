"""Resource ids, summary periods, search parameters, tokens and settings: the pure parts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from nabd.interop.fhir import ids, search
from nabd.interop.fhir.auth import Caller, authenticate, new_token, token_digest
from nabd.interop.fhir.codes import BLOOD_PRESSURE_STREAM, NEWS2_STREAM, Systems
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
    ):
        text = str(obs_id)
        assert FHIR_ID.fullmatch(text), text
        assert ids.parse_observation_id(text) == obs_id


@pytest.mark.parametrize(
    "bad",
    ["", "x-1-2-3-0123456789abcdef", "s-1-2-3", "s-01-2-3-0123456789abcdef",
     "s-1-2-3-0123456789ABCDEF", "n-1-0123456789abcde", "b-1-2-0123456789abcdef-x"],
)  # fmt: skip
def test_malformed_observation_ids_are_not_found(bad: str) -> None:
    with pytest.raises(NotFoundError):
        ids.parse_observation_id(bad)


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
    precise = search.parse_date("gt2026-03-02T07:30:00.5Z")
    assert precise.start == instant + timedelta(microseconds=500001)


@pytest.mark.parametrize(
    "bad", ["ne2026-03-02", "2026-03", "2026-03-02T07:30Z", "2026-03-02T07:30:00", "today",
            "le9999-12-31"],
)  # fmt: skip
def test_bad_dates(bad: str) -> None:
    with pytest.raises(SearchError, match="date"):
        search.parse_date(bad)


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


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "patient"),
        ([("patient", "p.1"), ("subject", "p.1")], "patient"),
        ([("patient", "p_1")], "patient"),
        ([("patient", "p.1"), ("category", "vital-signs")], "unsupported"),
        ([("patient", "p.1"), ("_count", "101")], "_count"),
        ([("patient", "p.1"), ("_count", "-1")], "_count"),
        ([("patient", "p.1"), ("_count", "1"), ("_count", "2")], "once"),
        ([("patient", "p.1"), ("_cursor", "!!")], "_cursor"),
    ],
)
def test_bad_searches(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(SearchError, match=message):
        search.observation_search(params, SYSTEMS, default_count=50, max_count=100)


@given(
    TIMES,
    st.integers(0, 3),
    st.text(max_size=30),
    st.text(max_size=70),
    st.integers(-1, 2**63 - 1),
)
def test_cursors_round_trip(time: datetime, rank: int, key: str, device: str, seq: int) -> None:
    cursor = search.Cursor(time, rank, key, device, seq)
    token = cursor.encode()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert search.Cursor.decode(token) == cursor


@pytest.mark.parametrize("payload", ['["2026-03-02T08:00:00", 0, "", "", 0]', "[1, 2]", "{}"])
def test_cursors_the_server_did_not_issue(payload: str) -> None:
    import base64  # noqa: PLC0415

    token = base64.urlsafe_b64encode(payload.encode()).decode()
    with pytest.raises(SearchError, match="_cursor"):
        search.Cursor.decode(token)


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
