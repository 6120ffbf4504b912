"""Hostile requests through real HTTP against the running API and a real database (issue 17).

The class, not examples: whatever id, cursor, query parameter or header a client sends, the
answer is never a 5xx and never a traceback; it is a valid resource (200) or a valid
OperationOutcome with a 4xx status. Then each behaviour the probe found wrong: search by
category and sort order, precise date messages, 406 for XML, 414 and 400 for oversized requests,
bounded audit rows, and the lenient (or strict) handling of unknown parameters.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nabd.interop.fhir import search
from nabd.interop.fhir.auth import token_digest
from nabd.interop.fhir.limits import AUDIT_QUERY_BYTES, MAX_PARAMS, MAX_TARGET_BYTES
from nabd.interop.fhir.settings import FhirSettings, TokenGrant
from tests.fhir.fhir_kit import EXPECTED_OBSERVATIONS, NEWS2_TIMES, Seeded, audit_rows
from tests.fhir.http_kit import Reply, Server, collect, serve
from tests.security.fuzz_budget import examples

pytestmark = pytest.mark.integration

TOKEN = "hostile-test-secret-0123456789abcdef"
HTTP_FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> Iterator[Server]:
    config = FhirSettings(
        database_url=seeded.fhir_url,
        tokens={"probe": TokenGrant(sha256=token_digest(TOKEN))},
        page_size=5,
    )
    with serve(config, seeded, TOKEN) as running:
        yield running


def assert_well_formed(reply: Reply) -> None:
    """A valid resource, or a valid OperationOutcome with a 4xx: never a 5xx or a traceback."""
    assert reply.status < 500, reply.body
    assert "Traceback" not in json.dumps(reply.body)
    resource = reply.resource()  # validates against the fhir.resources model
    if reply.status >= 400:
        assert resource.get_resource_type() == "OperationOutcome"
        assert resource.issue[0].diagnostics
        assert reply.headers["content-type"].startswith("application/fhir+json")


# ---- the class: arbitrary ids, cursors and parameters ----------------------------------------

HUGE = st.from_regex(r"\A[1-9a-z][0-9a-z]{12,40}\Z")
CRAFTED_IDS = st.builds(
    lambda kind, a, b, c: {
        "s": f"s-{a}-{b}-{c}-0123456789abcdef",
        "m": f"m-{a}-{b}-{c}-0123456789abcdef",
        "b": f"b-{a}-{b}-0123456789abcdef",
        "n": f"n-{a}-0123456789abcdef",
    }[kind],
    st.sampled_from("smbn"),
    HUGE,
    HUGE,
    HUGE,
)
ANY_TEXT = st.text(max_size=80)  # every code point hypothesis draws, NUL included
ANY_ID = ANY_TEXT.filter(lambda t: t not in ("", ".", "..")) | CRAFTED_IDS


@pytest.mark.parametrize(
    "crafted",
    ["s-1-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-1-0123456789abcdef",
     "m-1-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-1-0123456789abcdef",
     "b-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-1-0123456789abcdef",
     "n-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-0123456789abcdef",
     "s-zzzzzzzzzzzz-1-1-0123456789abcdef",  # an mdc code beyond integer
     "s-1-1-zzzzzzzzzzzzzzz-0123456789abcdef"],  # a seq beyond bigint
)  # fmt: skip
def test_crafted_observation_ids_are_404_not_500(server: Server, crafted: str) -> None:
    reply = server.get(f"/Observation/{crafted}")
    assert reply.status == 404
    assert_well_formed(reply)


def test_a_cursor_holding_nul_is_400_not_500(server: Server) -> None:
    raw = json.dumps(["2026-03-02T08:00:00+00:00", 0, "heart_rate\x00", "", 0])
    cursor = base64.urlsafe_b64encode(raw.encode()).decode()
    reply = server.get("/Observation", patient="p.1", _cursor=cursor)
    assert reply.status == 400
    assert_well_formed(reply)
    assert "_cursor" in reply.resource().issue[0].diagnostics


@HTTP_FUZZ
@given(st.sampled_from(["Patient", "Device", "Observation", "Flag"]), ANY_ID)
def test_any_id_on_any_resource_is_well_formed(server: Server, kind: str, fhir_id: str) -> None:
    assert_well_formed(server.get(f"/{kind}/{quote(fhir_id, safe='')}"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=8,
)
FORGED_CURSORS = st.builds(
    lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("="),
    st.lists(JSON_VALUES, min_size=5, max_size=5) | JSON_VALUES,
)
PLAUSIBLE_CURSORS = st.builds(
    search.Cursor,
    st.datetimes(timezones=st.timezones() | st.just(UTC)),
    st.integers(-1, 4),
    st.from_regex(r"\A[a-z0-9_-]{0,64}\Z"),
    st.from_regex(r"\A[a-z0-9_-]{0,64}\Z"),
    st.integers(-1, 2**63 - 1),
).map(search.Cursor.encode)
"""Cursors as this server would write them, with extreme times (years 1 and 9999, any offset),
ranks, keys and sequence numbers: they reach the SQL."""
CURSORS = FORGED_CURSORS | PLAUSIBLE_CURSORS
NAMES = st.sampled_from(
    ["patient", "subject", "code", "category", "date", "_count", "_sort", "_cursor", "_format",
     "code:not", "date:missing", "_total"]
) | ANY_TEXT  # fmt: skip
VALUES = (
    ANY_TEXT
    | CURSORS
    | st.integers().map(str)
    | st.from_regex(
        r"\A(eq|ge|gt|le|lt|ne|sa)?[0-9]{1,5}(-[0-9]{1,2}){0,2}(T[0-9:.]{1,12})?"
        r"(Z|[+-][0-9]{2}:[0-9]{2})?\Z"
    )
    | st.sampled_from(["p.1", "Patient/p.1", "vital-signs", "-date", "json", "xml", "9999-12-31"])
)
PARAMS = st.lists(st.tuples(NAMES, VALUES), max_size=6)


@HTTP_FUZZ
@given(st.sampled_from(["/Observation", "/Flag"]), CURSORS, st.sampled_from(["date", "-date"]))
def test_any_cursor_in_either_order_is_well_formed(
    server: Server, path: str, cursor: str, sort: str
) -> None:
    query = [("patient", "p.1"), ("_cursor", cursor), ("_sort", sort)]
    assert_well_formed(server.get(path, query=query))


@HTTP_FUZZ
@given(st.sampled_from(["/Observation", "/Flag", "/Device"]), st.booleans(), PARAMS)
def test_any_search_is_well_formed(
    server: Server, path: str, with_patient: bool, params: list[tuple[str, str]]
) -> None:
    query = [("patient", "p.1"), *params] if with_patient else params
    assert_well_formed(server.get(path, query=query))


@HTTP_FUZZ
@given(PARAMS)
def test_any_search_with_strict_handling_is_well_formed(
    server: Server, params: list[tuple[str, str]]
) -> None:
    reply = server.get(
        "/Observation", headers={"Prefer": "handling=strict"}, query=[("patient", "p.1"), *params]
    )
    assert_well_formed(reply)


@HTTP_FUZZ
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_any_accept_header_is_well_formed(server: Server, accept: str) -> None:
    assert_well_formed(server.get("/Patient/p.1", headers={"Accept": accept}))


# ---- refusals of the framework itself, and sizes ---------------------------------------------


def test_unknown_routes_and_methods_are_operation_outcomes(server: Server) -> None:
    for path in ("/Encounter/1", "/", "/Observation/a/b"):
        reply = server.get(path)
        assert reply.status == 404
        assert_well_formed(reply)


def test_an_oversized_request_target_is_414(server: Server) -> None:
    reply = server.get("/Observation", patient="p.1", x="a" * MAX_TARGET_BYTES)
    assert reply.status == 414
    assert_well_formed(reply)
    assert str(MAX_TARGET_BYTES) in reply.resource().issue[0].diagnostics


def test_too_many_parameters_is_400(server: Server) -> None:
    query = [("patient", "p.1")] + [("x", str(i)) for i in range(MAX_PARAMS)]
    reply = server.get("/Observation", query=query)
    assert reply.status == 400
    assert_well_formed(reply)


def test_the_audit_row_is_bounded_and_normalised(server: Server) -> None:
    # Issue 17 item 8: a 100 KB query string was kept whole in the audit row.
    owner = server.seeded.owner_url
    before = len(audit_rows(owner, "fhir_read"))
    padding = [(f"pad{i}", "x" * 60) for i in range(90)]  # ~7 KB, under the target limit
    first = server.get("/Observation", query=[*padding, ("patient", "p.1"), ("code", "8867-4")])
    second = server.get("/Observation", query=[("code", "8867-4"), ("patient", "p.1")])
    assert (first.status, second.status) == (200, 200)
    rows = audit_rows(owner, "fhir_read")[before:]
    assert len(rows) == 2
    details = [d for *_, d in rows]
    assert isinstance(details[0], dict)
    assert isinstance(details[1], dict)
    assert details[0]["query"] == details[1]["query"] == "code=8867-4&patient=p.1"
    assert len(details[0]["ignored"]) == 21  # 20 names and how many more
    assert details[0]["ignored"][-1] == "...[70 more]"
    with psycopg.connect(owner) as conn:
        sizes = conn.execute(
            "SELECT max(octet_length(details::text)) FROM audit_log WHERE seq > "
            "(SELECT max(seq) - 2 FROM audit_log)"
        ).fetchone()
    assert sizes is not None
    assert sizes[0] < 2 * AUDIT_QUERY_BYTES


def test_a_long_applied_query_is_cut_with_a_mark(server: Server) -> None:
    owner = server.seeded.owner_url
    before = len(audit_rows(owner, "fhir_read"))
    codes = ",".join(f"http://loinc.org|{i}-{i % 10}" for i in range(200))  # ~6 KB encoded
    assert server.get("/Observation", patient="p.1", code=codes).status == 200
    ((_, _, details),) = audit_rows(owner, "fhir_read")[before:]
    assert isinstance(details, dict)
    assert "...[truncated: " in details["query"]
    assert len(details["query"].encode()) < AUDIT_QUERY_BYTES + 40


# ---- content negotiation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        ({"Accept": "application/fhir+xml"}, {}, 406),
        ({"Accept": "application/xml, text/html"}, {}, 406),
        ({"Accept": "application/fhir+json;q=0, application/fhir+xml"}, {}, 406),
        ({}, {"_format": "xml"}, 406),
        ({"Accept": "application/fhir+json"}, {"_format": "application/fhir+xml"}, 406),
        ({"Accept": "application/fhir+json"}, {}, 200),
        ({"Accept": "application/json"}, {}, 200),
        ({"Accept": "*/*"}, {}, 200),
        ({"Accept": "application/fhir+xml;q=0.9, */*;q=0.1"}, {}, 200),
        ({"Accept": "application/fhir+xml"}, {"_format": "json"}, 200),  # _format wins
        ({}, {"_format": "application/fhir+json"}, 200),
    ],
)
def test_only_json_is_served_and_xml_gets_406(
    server: Server, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    for path in ("/Patient/p.1", "/metadata"):
        reply = server.get(path, headers=headers, query=list(params.items()))
        assert reply.status == status
        assert_well_formed(reply)


# ---- search by category, code, date and sort -------------------------------------------------


def test_the_connectathon_query_category_vital_signs(server: Server) -> None:
    reply = server.get("/Observation", patient="p.1", category="vital-signs", _count="100")
    found = collect(server, reply)
    categories = {e["resource"]["category"][0]["coding"][0]["code"] for e in found}
    assert categories == {"vital-signs"}
    codes = {e["resource"]["code"]["coding"][0]["code"] for e in found}
    assert {"8867-4", "2708-6", "85354-9", "8310-5", "8302-2"} <= codes
    news2 = collect(server, server.get("/Observation", patient="p.1", category="survey"))
    assert [e["resource"]["effectiveDateTime"] for e in news2] == [
        t.isoformat().replace("+00:00", "Z") for t in NEWS2_TIMES
    ]
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    both = server.get("/Observation", patient="p.1", category=f"{system}|vital-signs,survey")
    assert len(collect(server, both)) == len(found) + len(news2)
    mdc = server.get(
        "/Observation", patient="p.1", category="vital-signs",
        code="urn:iso:std:iso:11073:10101|147842",
    )  # fmt: skip
    assert [e["resource"]["code"]["coding"][0]["code"] for e in collect(server, mdc)] == [
        "8867-4"
    ] * 3


def test_sort_by_date_descending_pages_through_everything_in_reverse(server: Server) -> None:
    ascending = collect(server, server.get("/Observation", patient="p.1", _sort="date"))
    descending = collect(server, server.get("/Observation", patient="p.1", _sort="-date"))
    assert len(ascending) == EXPECTED_OBSERVATIONS + 1
    assert [e["fullUrl"] for e in descending] == [e["fullUrl"] for e in reversed(ascending)]
    small = collect(server, server.get("/Observation", patient="p.1", _sort="-date", _count="2"))
    assert [e["fullUrl"] for e in small] == [e["fullUrl"] for e in descending]


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("9999-12-31", "out of range"),
        ("ge2026-12-31T23:59:60Z", "leap second"),
        ("2026-03-02T08:00:00", "accepted: [prefix]YYYY"),
    ],
)
def test_dates_the_api_refuses_say_why(server: Server, date: str, reason: str) -> None:
    reply = server.get("/Observation", patient="p.1", date=date)
    assert reply.status == 400
    assert reason in reply.resource().issue[0].diagnostics


def test_partial_dates_select_their_period(server: Server) -> None:
    march = collect(server, server.get("/Observation", patient="p.1", date="2026-03"))
    assert len(march) == EXPECTED_OBSERVATIONS + 1
    minute = server.get("/Observation", patient="p.1", code="8867-4", date="2026-03-02T08:01Z")
    assert [e["resource"]["effectivePeriod"]["start"] for e in collect(server, minute)] == [
        "2026-03-02T08:01:00Z"
    ]
    assert collect(server, server.get("/Observation", patient="p.1", date="lt2026")) == []


def test_unknown_parameters_are_ignored_and_reported_or_refused_when_strict(
    server: Server,
) -> None:
    lenient = server.get("/Observation", patient="p.1", code="8867-4", _total="accurate")
    assert lenient.status == 200
    bundle = lenient.resource()
    outcomes = [e for e in bundle.entry if e.search.mode == "outcome"]
    assert len(outcomes) == 1
    assert "_total" in outcomes[0].resource.issue[0].diagnostics
    self_link = next(link.url for link in bundle.link if link.relation == "self")
    assert "_total" not in self_link
    assert "code=8867-4" in self_link
    strict = server.get(
        "/Observation", headers={"Prefer": "handling=strict"}, patient="p.1", _total="accurate"
    )
    assert strict.status == 400
    assert "_total" in strict.resource().issue[0].diagnostics


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (psycopg.DataError("text fields cannot contain NUL"), 400, "invalid"),
        (psycopg.errors.QueryCanceled("statement timeout"), 503, "too-costly"),
        (psycopg.OperationalError("connection refused"), 503, "transient"),
    ],
)
def test_database_refusals_no_check_caught_are_still_answered(
    error: Exception, status: int, code: str
) -> None:
    """The safety net behind the checks: what PostgreSQL refuses is never a 500."""
    from nabd.interop.fhir.api import _refusal  # noqa: PLC0415

    answer = _refusal(error)
    assert answer.status_code == status
    outcome = Reply(status, {}, json.loads(bytes(answer.body))).resource()
    assert outcome.issue[0].code == code
    assert "NUL" not in outcome.issue[0].diagnostics  # the database's words stay in the log
